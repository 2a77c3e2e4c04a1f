"""What the REST harness stands on: a real Jupyter server with the extension on a free port, a workspace with
something in it, the routes of api/openapi.yaml, hostile names, and how long the property-based runs may take.

The server is a subprocess (not pytest-jupyter's in-process one) because schemathesis and the names property call
it with blocking clients; it serves a throwaway root whose workspace is the only place it may write.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import yaml
from hypothesis import strategies as st

from mlops_magics.workspace import HOME_ENV, Workspace
from tests.conftest import stop_controller

REPO = Path(__file__).parents[1]
SPEC_PATH = REPO / "api" / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_PATH.read_text())
HTTP_METHODS = ("get", "put", "patch", "post", "delete")

# How much generated input a run gets: small inside `make test`, large under `make fuzz` (docs/security.md).
EXAMPLES = int(os.environ.get("MLOPS_FUZZ_EXAMPLES", "20"))
SECONDS = int(os.environ.get("MLOPS_FUZZ_SECONDS", "60"))

# Operations whose success starts a real process (a Dask cluster, a deployment running a command, the MLflow UI):
# only their negative space is generated, and a guard makes sure none of them is ever started by the harness.
PROCESS_STARTING = ("PUT /mlops/api/clusters/{name}", "PUT /mlops/api/deployments/{name}", "PUT /mlops/api/mlflow-ui")
# Operations that change state but start nothing: fuzzed in full (on a throwaway workspace, where the names they
# are given do not exist or are the harness's own). A new PUT/PATCH/POST/DELETE must join one of the two lists
# before it is fuzzed: a test refuses to run schemathesis over an operation nobody has looked at.
FUZZED_CHANGES = (
    "PATCH /mlops/api/clusters/{name}",
    "DELETE /mlops/api/clusters/{name}",
    "DELETE /mlops/api/deployments/{name}",
    "POST /mlops/api/deployments/{name}/rollback",
    "POST /mlops/api/deployments/{name}/token",
    "POST /mlops/api/deployments/{name}/check",  # a one-shot drift check: reads the request log, changes nothing
    # Jobs: the harness's root holds no notebook, so no job can be made and no run started.
    "PUT /mlops/api/jobs/{name}",
    "DELETE /mlops/api/jobs/{name}",
    "POST /mlops/api/jobs/{name}/pause",
    "POST /mlops/api/jobs/{name}/resume",
    "POST /mlops/api/jobs/{name}/runs",
    "POST /mlops/api/jobs/{name}/runs/{number}/cancel",
    "POST /mlops/api/jobs/{name}/token",
    "DELETE /mlops/api/jobs/{name}/token",
    "POST /mlops/api/jobs/{name}/trigger",
    # Monitors: the harness's workspace serves no deployment, so no monitor can be made and nothing is checked.
    "PUT /mlops/api/monitors/{name}",
    "DELETE /mlops/api/monitors/{name}",
    "POST /mlops/api/monitors/{name}/pause",
    "POST /mlops/api/monitors/{name}/resume",
    "POST /mlops/api/monitors/{name}/check",
)


def operations() -> list[str]:
    """Every operation of the spec as ``METHOD /path``."""
    return [f"{m.upper()} {path}" for path, item in SPEC["paths"].items() for m in item if m in HTTP_METHODS]


def job_token_paths() -> set[str]:
    """The spec paths whose operations take a job's trigger token instead of Jupyter's."""
    return {
        path
        for path, item in SPEC["paths"].items()
        if any({"jobToken": []} in item[m].get("security", []) for m in item if m in HTTP_METHODS)
    }


@dataclass(frozen=True)
class PathParameter:
    name: str
    pattern: str
    noun: str  # how the server's message names it ("cluster name 'x' is not accepted")


@dataclass(frozen=True)
class NamedRoute:
    """A spec path with one path parameter, and the methods the spec declares for it."""

    path: str
    methods: tuple[str, ...]
    parameter: PathParameter

    def with_segment(self, segment: str) -> str:
        """The path with ``segment`` as this parameter and a valid value in any other (so this one is judged)."""
        path = self.path.replace("{" + self.parameter.name + "}", segment)
        for name, valid in VALID_PATH_VALUES.items():
            path = path.replace("{" + name + "}", valid)
        return path


# A well-formed value of each path parameter, for the ones a probe does not aim at.
VALID_PATH_VALUES = {"name": "harness", "number": "1", "profile_id": "p1", "experiment_id": "1", "run_id": "r1"}


def _resolve(item: dict) -> dict:
    if "$ref" in item:
        node: dict = SPEC
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        return node
    return item


def _noun(path: str, name: str) -> str:
    if name == "name":
        resource = path.removeprefix("/mlops/api/").split("/")[0]
        nouns = {"clusters": "cluster name", "deployments": "deployment name", "jobs": "job name", "monitors": "monitor name"}
        return nouns[resource]
    return {"number": "run number"}.get(name, name.replace("_", " "))


def named_routes() -> list[NamedRoute]:
    """Every spec path that takes a path parameter, read from the spec so a new route is covered by itself."""
    routes = []
    for path, item in SPEC["paths"].items():
        parameters = [_resolve(p) for p in item.get("parameters", [])]
        for parameter in (p for p in parameters if p["in"] == "path"):
            methods = tuple(m.upper() for m in item if m in HTTP_METHODS)
            checked = PathParameter(parameter["name"], parameter["schema"]["pattern"], _noun(path, parameter["name"]))
            routes.append(NamedRoute(path, methods, checked))
    return routes


# --- hostile names --------------------------------------------------------------------------------------------------

# Pieces a traversal or an injection is made of, as they would be typed on the wire.
# fmt: off
_FRAGMENTS = [
    "..", ".", "%2E%2E", "%2e", "%2F", "%2f", "%5C", "%00", "%0A", "%0D", "%20", "%3F", "%23", "%25", "%252F",
    "%C0%AE", "%E2%80%AE", "%EF%BC%8F", "~", "shutdown", "etc", "passwd", "a", "0", "-", "_", ":", ";", "%3B",
]
_CLASSICS = [
    "..", ".", "...", "%2E%2E", "..%2F..%2Fshutdown", "..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd",
    "..%5C..%5Cwindows", "%00", "a%00b", "x" * 300, "%2E", "%252E%252E%252F", "%C0%AE%C0%AE%C0%AF", "%FF%FE",
    "..%00", "CON", "nul", "a%0Ab", "%E2%80%AE", "%F0%9F%98%80", "a" * 64 + "b",
]
# fmt: on


@dataclass(frozen=True)
class HostileName:
    """A path segment as sent, and whether it is one whole segment of valid UTF-8 (then the name check must refuse
    it by name); other forms may also miss the route (404) or find another one (405)."""

    segment: str
    whole: bool


def _encoded(text: str) -> HostileName:
    return HostileName(quote(text, safe=""), whole=True)


def hostile_names() -> st.SearchStrategy[HostileName]:
    """Traversal, encoded separators, NUL and control characters, very long, unicode, dots, as names and ids."""
    raw = st.one_of(
        st.sampled_from(_CLASSICS),
        st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=8).map("".join),
        st.lists(st.sampled_from(["..", ".", "/", "\\", "%2F", "a"]), min_size=1, max_size=6).map("/".join),
    ).map(lambda segment: HostileName(segment, whole=False))
    encoded = st.one_of(
        st.text(min_size=1, max_size=80).map(_encoded),  # any unicode, control characters and NUL included
        st.text(alphabet="./\\%", min_size=1, max_size=12).map(_encoded),
        st.integers(65, 5000).map(lambda n: _encoded("n" * n)),  # longer than any pattern allows
        st.sampled_from(["..", ".", "../shutdown", "a/b", "é", "Ａ", "x\x00", "名前", "a b", "a?b", "a#b"]).map(_encoded),
    )
    return st.one_of(raw, encoded)


def refused_by_pattern(name: HostileName, pattern: str) -> bool:
    """Whether the name fails the parameter's pattern as sent and as decoded (a valid name is not hostile)."""
    return all(re.fullmatch(pattern, form) is None for form in (name.segment, unquote(name.segment)))


# --- a real server --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Served:
    """A running Jupyter server with the extension: where it listens, its token, the root and workspace it owns."""

    url: str
    token: str
    root: Path
    workspace: Workspace

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}


def _server_environment(base: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    # Jupyter's own files (runtime, config, data) stay in the throwaway folder too.
    for key, folder in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_CONFIG_DIR", "config"), ("IPYTHONDIR", "ipython")):
        (base / folder).mkdir(exist_ok=True)
        env[key] = str(base / folder)
    env[HOME_ENV] = str(home)
    return env


@contextlib.contextmanager
def served_jupyter(base: Path) -> Iterator[Served]:
    """``jupyter server`` on a free loopback port over ``base/root``; its workspace is ``base/root/.mlops``.

    Jupyter's authentication settings are left at their defaults (allow_unauthenticated_access is True), as a
    user's JupyterLab runs: the routes must refuse a caller without the token by themselves."""
    root = base / "root"
    root.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(root / ".mlops")
    token, port = secrets.token_hex(16), free_port()
    argv = [
        sys.executable, "-m", "jupyter_server", f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",
        "--ServerApp.jpserver_extensions={'mlops_magics': True}",
    ]  # fmt: skip
    log = (base / "jupyter.log").open("wb")
    process = subprocess.Popen(argv, env=_server_environment(base, workspace.home), stdout=log, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", token, root, workspace)
    try:
        _wait_until_answering(served, process, base / "jupyter.log")
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        stop_controller(workspace)


def _wait_until_answering(served: Served, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{served.url}/mlops/api/status", headers=served.auth, timeout=5).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"jupyter server did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


# --- something to read ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    profile_id: str
    experiment_id: str
    run_id: str
    model: str


def seed_workspace(workspace: Workspace) -> Seeded:
    """A saved profile, an experiment whose run logged a NaN metric, and a registered model with an alias: the
    GET routes then answer real records, and their shapes are checked against the spec."""
    import mlflow
    import pandas as pd

    from mlops_magics.eda.run import run_eda

    workspace.ensure()
    frame = pd.DataFrame({"x": [1.0, 2.0, 2.5, None], "label": ["a", "b", "a", "b"]})
    saved = run_eda(workspace, frame, name="harness", title="Harness", target="label", progress=False).saved
    client = mlflow.MlflowClient(workspace.tracking_uri)
    experiment_id = client.create_experiment("harness", artifact_location=workspace.artifacts.as_uri())
    run = client.create_run(experiment_id, run_name="seeded")
    client.log_metric(run.info.run_id, "accuracy", 0.9)
    client.log_metric(run.info.run_id, "loss", float("nan"))  # the panel must get null, the spec must allow it
    client.log_param(run.info.run_id, "alpha", "0.1")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("harness-model")
    version = client.create_model_version("harness-model", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias("harness-model", "champion", version.version)
    return Seeded(saved.id, experiment_id, run.info.run_id, "harness-model")


def listing(folder: Path) -> set[str]:
    """Every path below ``folder``, and what lies beside it (where a traversal out of it would land first).
    Names only: a file made or removed shows, a file written to does not."""
    return {str(path) for path in folder.rglob("*")} | {str(path) for path in folder.parent.iterdir()}


def settled(workspace: Workspace, timeout: float = 60) -> None:
    """Wait until the workspace's controller has written what it writes on start (its serving template warms up
    in the background, then records itself)."""
    from mlops_magics.controller import Controller

    deadline = time.monotonic() + timeout
    while Controller(workspace).status()["serving_template"]["state"] == "warming" and time.monotonic() < deadline:
        time.sleep(0.3)
    previous: set[str] = set()
    while (now := listing(workspace.home)) != previous and time.monotonic() < deadline:
        previous = now
        time.sleep(1)
