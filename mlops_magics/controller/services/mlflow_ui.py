"""The MLflow UI over the workspace's store: an ``mlflow server`` on loopback, owned by the controller."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import httpx

from mlops_magics.errors import MLOpsError
from mlops_magics.workspace import Workspace

START_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MlflowUi:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._process: subprocess.Popen[bytes] | None = None
        self._url: str | None = None
        self._lock = threading.RLock()  # start() stops what it started when it times out

    def status(self) -> dict[str, Any]:
        uri = self.workspace.tracking_uri
        if uri.startswith("http"):
            return {"status": "running", "url": uri, "external": True}
        running = self._process is not None and self._process.poll() is None
        return {"status": "running" if running else "stopped", "url": self._url if running else None, "external": False}

    def start(self) -> dict[str, Any]:
        with self._lock:
            if self.status()["status"] == "running":
                return self.status()
            self.workspace.ensure()
            self.workspace.artifacts.mkdir(parents=True, exist_ok=True)
            port = _free_port()
            env = dict(os.environ, PATH=f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}")
            env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no job runner: a UI needs none of it
            log = (self.workspace.home / "mlflow-ui.log").open("ab")
            self._process = subprocess.Popen(
                [
                    sys.executable, "-m", "mlflow", "server",
                    "--backend-store-uri", self.workspace.tracking_uri,
                    "--default-artifact-root", self.workspace.artifacts.resolve().as_uri(),
                    "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                    # Shown in a JupyterLab tab (another port, so another origin); it listens on loopback only.
                    "--x-frame-options", "NONE",
                ],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise MLOpsError(f"the MLflow UI exited at start (code {self._process.returncode}); see mlflow-ui.log")
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        self._url = url
                        return self.status()
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
            self.stop()
            raise MLOpsError(f"the MLflow UI did not answer within {START_TIMEOUT_S} s; see mlflow-ui.log")

    def stop(self) -> dict[str, Any]:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
            self._process, self._url = None, None
            return self.status()
