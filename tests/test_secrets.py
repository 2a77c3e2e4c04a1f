"""Deployment tokens and the workspace's secret files: owner-only modes, only a token's hash in ``state.db``,
never a token in a view, a log or a notebook's output; read back only on request; rotated at once; kept through
a kill -9 restart and a schema migration. Real controller, real deployments on real ports, a real kernel and a
real Jupyter server."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import text

from mlops_magics.api.deployments import DeploymentSpec
from mlops_magics.controller import Controller
from mlops_magics.errors import Conflict, InvalidInput
from mlops_magics.state.database import open_state
from mlops_magics.workspace import Workspace
from tests.test_serving import X, Y, deploy_with_token_in_a_kernel, free_port, register

ROW = {"dataframe_records": json.loads(X.head(1).to_json(orient="records"))}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def workspace_bytes(workspace: Workspace) -> bytes:
    """Every byte of ``state.db`` and the files SQLite keeps beside it."""
    return b"".join(path.read_bytes() for path in workspace.state_files if path.exists())


def invoke(view: dict, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(f"{view['url']}/invocations", json=ROW, headers=headers, timeout=30).status_code


def mlops(*words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlops_magics.cli", *words], capture_output=True, text=True, timeout=120)


# --- file modes ---------------------------------------------------------------------------------------------


def test_state_files_are_owner_only_and_an_older_workspace_is_closed_at_open(workspace: Workspace) -> None:
    workspace.ensure()
    assert mode(workspace.home) == 0o700
    sessions = open_state(workspace.state_db)
    with sessions.begin() as session:  # a write, so the WAL and its index exist
        session.execute(text("CREATE TABLE probe (x INTEGER)"))
    db, wal, shm = workspace.state_files
    assert db.exists() and wal.exists() and shm.exists()
    assert (mode(db), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    # A workspace made before: its files were 0644.
    for path in (db, wal, shm):
        os.chmod(path, 0o644)
    open_state(workspace.state_db)
    assert (mode(db), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    # The controller's calling card holds its API token.
    Controller(workspace, notify=lambda line: None).status()
    assert mode(workspace.controller_info) == 0o600


# --- the host rule ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "example.com"])
def test_a_host_beyond_loopback_needs_a_token_or_insecure(host: str) -> None:
    with pytest.raises(InvalidInput, match=r"^--host .* is reachable from other machines: add --token .* or --insecure"):
        DeploymentSpec.from_flags({"model": "m", "host": host})
    with pytest.raises(InvalidInput, match=r'^field `host`: .* set "token": true.* or "insecure": true'):
        DeploymentSpec.from_dict({"model": "m", "host": host})
    assert DeploymentSpec.from_flags({"model": "m", "host": host, "token": True}).token
    assert DeploymentSpec.from_dict({"model": "m", "host": host, "insecure": True}).insecure
    for loopback in ("127.0.0.1", "127.0.0.2", "localhost"):
        DeploymentSpec.from_flags({"model": "m", "host": loopback})


def test_the_cli_refuses_an_open_host_in_one_line_before_starting_anything(workspace: Workspace) -> None:
    refused = mlops("deploy", "cancer@champion", "--host", "0.0.0.0", "--port", str(free_port()))
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: --host 0.0.0.0 is reachable from other machines") and "--insecure" in refused.stderr
    assert refused.stderr.count("\n") == 1 and refused.stdout == ""
    assert not workspace.controller_info.exists()  # refused before a controller was needed


# --- a token deployment end to end ----------------------------------------------------------------------------


def test_a_token_is_hashed_private_out_of_views_kept_through_kill_9_and_rotated_at_once(workspace: Workspace) -> None:
    register(workspace, LogisticRegression(max_iter=5000).fit(X, Y))
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("secret", {"model": "cancer@challenger", "port": free_port(), "token": True})
    assert view["status"] == "healthy" and view["has_token"] is True and "token" not in view

    token = controller.deployment_token("secret")["token"]
    assert len(token) >= 43
    assert workspace.deployment_token("secret").read_text() == token
    assert mode(workspace.deployment_token("secret")) == 0o600 and mode(workspace.deployment("secret")) == 0o700
    assert mode(workspace.deployment_token_digest("secret")) == 0o600
    # state.db keeps the hash only; no view, event, log or argv has the token.
    assert token.encode() not in workspace_bytes(workspace)
    sha256 = hashlib.sha256(token.encode()).hexdigest()
    assert sha256.encode() in workspace_bytes(workspace)
    assert token not in json.dumps(controller.deployments()) + json.dumps(controller.deployment("secret"))
    assert token not in workspace.controller_log.read_text() + (workspace.deployment("secret") / "server.log").read_text()
    status = mlops("deploy", "status")
    assert "deployment 'secret': healthy" in status.stdout and token not in status.stdout + status.stderr
    printed = mlops("deploy", "token", "secret")
    assert printed.returncode == 0 and printed.stdout == f"{token}\n"

    # Over HTTP on its port: the token opens it, nothing else does.
    assert invoke(view, token) == 200
    assert invoke(view, None) == 401 and invoke(view, "nope") == 401 and invoke(view, sha256) == 401
    assert httpx.get(f"{view['url']}/health").status_code == 200  # open paths stay open

    # kill -9: the controller restarts it from the hash it has, and the same token still opens it.
    os.kill(view["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = controller.deployment("secret")
        if now["status"] == "healthy" and now["pid"] != view["pid"]:
            break
        time.sleep(0.1)
    assert now["status"] == "healthy" and now["pid"] != view["pid"]
    assert invoke(view, token) == 200 and invoke(view, None) == 401

    # A new token: accepted at once, and the old one refused at once, by the running deployment.
    rotated = mlops("deploy", "token", "secret", "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    fresh = rotated.stdout.strip()
    assert fresh != token and "no longer works" in rotated.stderr
    assert invoke(view, fresh) == 200 and invoke(view, token) == 401
    assert controller.deployment("secret")["pid"] == now["pid"]  # no restart was needed
    assert fresh.encode() not in workspace_bytes(workspace)

    # Stopped, its token ends with it.
    controller.stop_deployment("secret")
    assert not workspace.deployment_token("secret").exists()
    with pytest.raises(Conflict, match="without a token"):
        controller.deployment_token("secret")


def test_a_deployment_without_a_token_has_none_to_read(workspace: Workspace) -> None:
    register(workspace, LogisticRegression(max_iter=5000).fit(X, Y))
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("open", {"model": "cancer@challenger", "port": free_port()})
    assert view["has_token"] is False and invoke(view, None) == 200
    answer = mlops("deploy", "token", "open")
    assert answer.returncode == 2 and "takes requests without a token" in answer.stderr and answer.stdout == ""
    controller.stop_deployment("open")


OWN_APP = """import hashlib, hmac, http.server, os
EXPECTED = os.environ["MLOPS_SERVING_TOKEN_SHA256"]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        given = self.headers.get("Authorization", "").removeprefix("Bearer ")
        ok = self.path == "/" or hmac.compare_digest(hashlib.sha256(given.encode()).hexdigest(), EXPECTED)
        self.send_response(200 if ok else 401); self.end_headers(); self.wfile.write(b"hello" if ok else b"no")
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def test_your_own_app_gets_the_digest_and_is_restarted_with_the_new_one(workspace: Workspace, tmp_path: Path) -> None:
    app = tmp_path / "guarded.py"
    app.write_text(OWN_APP)
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("own", {"command": f"{sys.executable} {app}", "port": free_port(), "token": True})
    assert view["status"] == "healthy" and view["has_token"] is True
    token = controller.deployment_token("own")["token"]
    assert psutil.Process(view["pid"]).environ()["MLOPS_SERVING_TOKEN_SHA256"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(psutil.Process(view["pid"]).environ())

    def get(token: str) -> int:
        return httpx.get(f"{view['url']}/x", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code

    assert get(token) == 200 and get("nope") == 401
    fresh = controller.rotate_deployment_token("own")["token"]
    assert get(fresh) == 200 and get(token) == 401
    assert controller.deployment("own")["pid"] != view["pid"]  # it read the digest at its start: restarted
    controller.stop_deployment("own")


# --- the notebook -----------------------------------------------------------------------------------------


def test_deploy_token_in_a_kernel_keeps_the_token_out_of_every_output(kernel_factory, workspace: Workspace) -> None:
    kernel, deployed, port, token = deploy_with_token_in_a_kernel(kernel_factory, workspace)
    assert token not in deployed.text
    assert "`mlops deploy token web`" in deployed.stdout and "token = %deploy token web" in deployed.stdout
    # Asked for in Python: usable as the string it is, shown masked.
    held = kernel.run(
        "t = %deploy token web\n"
        "import httpx\n"
        f"print(httpx.post('http://127.0.0.1:{port}/invocations', json={ROW!r}, headers={{'Authorization': f'Bearer {{t}}'}}).status_code)"
    )
    assert held.status == "ok" and held.stdout.strip() == "200", held.text
    shown = kernel.run("%deploy token web")
    assert shown.status == "ok" and "hidden" in shown.text and token not in shown.text
    rotated = kernel.run("%deploy token web --rotate")
    fresh = Controller(workspace, notify=lambda line: None).deployment_token("web")["token"]
    assert "issued a new token for 'web'" in rotated.stdout and fresh != token and fresh not in rotated.text
    refused = kernel.run(f"%deploy cancer@challenger --name wide --host 0.0.0.0 --port {free_port()}")
    assert refused.status == "error" and "--host 0.0.0.0 is reachable from other machines" in refused.stderr
    assert "--insecure" in refused.stderr and "Traceback" not in refused.text
    listed = kernel.run("%deploy status")
    assert "'wide'" not in listed.stdout and token not in listed.text
    kernel.run("%deploy stop web")


# --- the REST face ----------------------------------------------------------------------------------------


@pytest.fixture
def jp_server_config(workspace: Workspace) -> dict:
    return {"ServerApp": {"jpserver_extensions": {"mlops_magics": True}, "allow_unauthenticated_access": False}}


async def test_rest_views_never_hold_the_token_and_an_explicit_post_does(jp_fetch, workspace: Workspace) -> None:
    register(workspace, LogisticRegression(max_iter=5000).fit(X, Y))
    body = json.dumps({"model": "cancer@challenger", "port": free_port(), "token": True})
    started = json.loads((await jp_fetch("mlops", "api", "deployments", "rest", method="PUT", body=body)).body)
    token = Controller(workspace, notify=lambda line: None).deployment_token("rest")["token"]
    listed = (await jp_fetch("mlops", "api", "deployments")).body.decode()
    one = (await jp_fetch("mlops", "api", "deployments", "rest")).body.decode()
    assert started["has_token"] is True and json.loads(one)["has_token"] is True
    assert token not in json.dumps(started) + listed + one
    revealed = await jp_fetch("mlops", "api", "deployments", "rest", "token", method="POST", body="{}")
    assert json.loads(revealed.body) == {"name": "rest", "token": token}
    assert revealed.headers["Cache-Control"] == "no-store"
    open_host = json.dumps({"model": "cancer@challenger", "port": free_port(), "host": "0.0.0.0"})
    with pytest.raises(Exception) as refused:
        await jp_fetch("mlops", "api", "deployments", "wide", method="PUT", body=open_host)
    assert refused.value.code == 400 and b"reachable from other machines" in refused.value.response.body
    await jp_fetch("mlops", "api", "deployments", "rest", method="DELETE")


# --- an existing workspace ----------------------------------------------------------------------------------

V3_DEPLOYMENTS = """CREATE TABLE deployments (
    name VARCHAR(64) NOT NULL, spec JSON NOT NULL, desired VARCHAR(16) NOT NULL, status VARCHAR(16) NOT NULL,
    reason TEXT, pid INTEGER, token VARCHAR(128), restarts INTEGER NOT NULL, created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL, PRIMARY KEY (name))"""


def _version_3_workspace(workspace: Workspace, rows: list[tuple[str, dict, str | None, str]]) -> None:
    """``state.db`` as schema version 3 wrote it: the plain token in ``deployments.token``, files 0644."""
    open_state(workspace.state_db)
    conn = sqlite3.connect(workspace.state_db, isolation_level=None)
    # What versions after 3 added or changed goes: every table but those of versions 1 and 2.
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    for table in set(tables) - {"clusters", "events", "profiles"}:
        conn.execute(f"DROP TABLE {table}")
    conn.execute(V3_DEPLOYMENTS)
    for name, spec, token, desired in rows:
        conn.execute(
            "INSERT INTO deployments VALUES (?, ?, ?, 'healthy', NULL, NULL, ?, 0, ?, ?)",
            (name, json.dumps(spec), desired, token, "2025-01-01 00:00:00.000000", "2025-01-01 00:00:00.000000"),
        )
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    for path in workspace.state_files:
        if path.exists():
            os.chmod(path, 0o644)


def test_the_migration_moves_plain_tokens_to_their_files_and_the_deployment_keeps_its_token(workspace: Workspace) -> None:
    register(workspace, LogisticRegression(max_iter=5000).fit(X, Y))
    token = "plain-token-of-an-older-workspace-" + "x" * 12
    port = free_port()
    spec = {"model": "cancer@challenger", "port": port, "token": True}
    wide = {"model": "cancer@challenger", "port": free_port(), "host": "0.0.0.0", "token": False}
    # 'wide' is stopped: restoring it would listen on every interface of the machine running the tests.
    _version_3_workspace(workspace, [("kept", spec, token, "running"), ("wide", wide, None, "stopped")])
    assert token.encode() in workspace_bytes(workspace)

    controller = Controller(workspace, notify=lambda line: None)
    controller.status()  # the controller opens (and so migrates) the workspace, and restores what should run
    assert token.encode() not in workspace_bytes(workspace)
    assert all(mode(path) == 0o600 for path in workspace.state_files if path.exists())
    assert workspace.deployment_token("kept").read_text() == token
    assert mode(workspace.deployment_token("kept")) == 0o600
    conn = sqlite3.connect(workspace.state_db)
    rows = dict(conn.execute("SELECT name, token_sha256 FROM deployments").fetchall())
    specs = {name: json.loads(text) for name, text in conn.execute("SELECT name, spec FROM deployments")}
    conn.close()
    assert rows == {"kept": hashlib.sha256(token.encode()).hexdigest(), "wide": None}
    assert specs["wide"]["insecure"] is True and "insecure" not in specs["kept"]  # served as before, now said

    # The restored deployment answers the token its clients already have.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and controller.deployment("kept")["status"] != "healthy":
        time.sleep(0.2)
    view = controller.deployment("kept")
    assert view["status"] == "healthy", view
    assert invoke(view, token) == 200 and invoke(view, None) == 401
    assert controller.deployment_token("kept")["token"] == token
    controller.stop_deployment("kept")
