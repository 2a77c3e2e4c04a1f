"""The deployments supervisor treats each record apart: a bad record in state.db neither stops restoring the
others nor the health watcher, and restoring at controller start retries with the backoff of a crash restart.

Real controller, real deployment processes: `--command` deployments of ``python -m http.server`` (cheap)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from mlops_magics.controller import Controller
from mlops_magics.state import ClusterRecord, DeploymentRecord, open_state
from mlops_magics.workspace import Workspace
from tests.conftest import stop_controller


@pytest.fixture(autouse=True)
def no_server_left(workspace: Workspace) -> Iterator[None]:
    """A failing test must not leave its servers behind (deployments outlive their controller on purpose)."""
    yield
    stop_controller(workspace)
    for process in psutil.process_iter(["cmdline", "cwd"]):
        if process.info["cwd"] == str(workspace.home.parent) and "http.server" in " ".join(process.info["cmdline"] or []):
            with contextlib.suppress(psutil.Error):
                process.kill()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def web_server(port: int) -> str:
    # exec: the deployment's pid is the server's own, so kill -9 of it frees the port
    return f"exec {sys.executable} -m http.server {port} --bind 127.0.0.1"


def save_record(workspace: Workspace, name: str, spec: dict[str, Any], status: str = "healthy") -> None:
    """A record as an older version (or a hand edit) could have left it: wanted running, spec unchecked."""
    with open_state(workspace.state_db).begin() as session:
        session.add(DeploymentRecord(name=name, spec=spec, desired="running", status=status))


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_a_bad_record_does_not_stop_supervision_of_the_others(workspace: Workspace) -> None:
    controller = Controller(workspace, notify=lambda line: None)
    port = free_port()
    web = controller.deploy("web", {"command": web_server(port), "port": port})
    assert web["status"] == "healthy"
    controller.shutdown()  # the deployment outlives it; the next controller adopts it
    save_record(workspace, "badspec", {"model": "nosuchmodel", "port": True})

    def bad_marked() -> dict[str, Any] | None:
        views = {v["name"]: v for v in controller.deployments()}
        return views if views.get("badspec", {}).get("status") == "failed" else None

    views = wait_for("the bad record marked failed", bad_marked)
    assert "field `port`: must be a whole number 1-65535 (got true)" in views["badspec"]["reason"]
    assert views["badspec"]["url"] is None
    assert views["web"]["status"] == "healthy" and views["web"]["pid"] == web["pid"]

    os.kill(web["pid"], signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        now = controller.deployment("web")
        return now if now["status"] == "healthy" and now["pid"] != web["pid"] else None

    back = wait_for("the killed deployment restarted", restarted, timeout=30)
    assert back["restarts"] >= 1
    assert httpx.get(web["url"], timeout=5).status_code == 200
    # The bad record can be stopped like any other.
    assert controller.stop_deployment("badspec")["status"] == "stopped"
    controller.stop_deployment("web")


def test_restore_at_start_retries_with_backoff(workspace: Workspace, tmp_path: Path) -> None:
    """A deployment that cannot start when the controller starts is retried, not given up (it used to be
    marked stopped for good on the first failed start)."""
    Controller(workspace).status()  # a workspace with a state.db
    Controller(workspace).shutdown()
    port, ready = free_port(), tmp_path / "ready"
    save_record(workspace, "late", {"command": f"test -f {ready} && {web_server(port)}", "port": port}, status="stopped")
    controller = Controller(workspace, notify=lambda line: None)

    def failed_once() -> dict[str, Any] | None:
        view = controller.deployment("late")
        return view if view["reason"] and "exited while starting" in view["reason"] else None

    first = wait_for("a failed start, shown on the record", failed_once, timeout=30)
    assert first["status"] in ("unhealthy", "failed", "starting")
    ready.touch()

    def healthy() -> dict[str, Any] | None:
        view = controller.deployment("late")
        return view if view["status"] == "healthy" else None

    view = wait_for("the deployment started on a later try", healthy, timeout=40)
    assert httpx.get(view["url"], timeout=5).status_code == 200
    assert controller.deployment("late")["spec"]["port"] == port
    controller.stop_deployment("late")


def test_a_bad_cluster_record_is_marked_and_the_others_come_back(workspace: Workspace) -> None:
    Controller(workspace).status()
    Controller(workspace).shutdown()
    with open_state(workspace.state_db).begin() as session:
        session.add(ClusterRecord(name="a-bad", spec={"factory_kwargs": "x"}, desired="running", status="running"))
        session.add(ClusterRecord(name="b-good", spec={"workers": 1}, desired="running", status="running"))
    controller = Controller(workspace, notify=lambda line: None)

    def settled() -> dict[str, Any] | None:
        views = {v["name"]: v for v in controller.clusters()}
        return views if {v["status"] for v in views.values()} == {"failed", "running"} else None

    views = wait_for("the bad cluster marked failed and the good one running", settled, timeout=120)
    assert views["a-bad"]["status"] == "failed"
    assert 'field `factory_kwargs`: must be a JSON object (got "x")' in views["a-bad"]["reason"]
    assert views["b-good"]["status"] == "running" and views["b-good"]["workers"] == 1
    controller.stop_cluster("b-good")
