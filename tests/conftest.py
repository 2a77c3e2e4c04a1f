"""Shared fixtures: a throwaway workspace per test (its controller stopped afterwards) and real kernels."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_client.manager import KernelManager

from mlops_magics.controller import Controller
from mlops_magics.controller.info import read_info
from mlops_magics.workspace import HOME_ENV, Workspace

pytest_plugins = ("pytest_jupyter.jupyter_server",)


def stop_controller(workspace: Workspace) -> None:
    """Stop the workspace's controller however it is (answering or not), and what it started.

    Deployments outlive the controller on purpose (the next one adopts them), so they are stopped apart —
    after the controller, whose watcher would otherwise restart them.
    """
    Controller(workspace).shutdown()
    info = read_info(workspace.controller_info)
    if info is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(info.pid, signal.SIGKILL)
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        ours = "mlops_magics.serving" in cmdline and str(workspace.home) in cmdline
        ours = ours or ("mlops_magics.jobs.runner" in cmdline and str(workspace.runs) in cmdline)  # job runs
        if ours:
            with contextlib.suppress(ProcessLookupError, PermissionError, psutil.Error):
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(autouse=True)
def _tracking_uri_stays_in_its_test() -> Iterator[None]:
    """%load_ext and the CLI point their process's MLflow at a workspace (MLFLOW_TRACKING_URI, tracking.py); run in
    this process, the next test would write its runs to that workspace instead of its own."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    home = tmp_path / ".mlops"
    monkeypatch.setenv(HOME_ENV, str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ws = Workspace(home)
    yield ws
    stop_controller(ws)


@pytest.fixture
def controller(workspace: Workspace) -> Controller:
    return Controller(workspace, notify=lambda line: None)


@dataclass
class KernelRun:
    status: str
    stdout: str = ""
    stderr: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    payload: list[dict[str, Any]] = field(default_factory=list)  # e.g. set_next_input: the cell the code inserts

    @property
    def text(self) -> str:
        plain = "\n".join(r.get("text/plain", "") for r in self.results)
        return "\n".join((self.stdout, self.stderr, plain, self.error))


class Kernel:
    """A real IPython kernel (ipykernel) in its own process, as JupyterLab would start it."""

    def __init__(self, workspace: Workspace, cwd: Path) -> None:
        self.manager = KernelManager(kernel_name="python3")
        env = dict(os.environ, **{HOME_ENV: str(workspace.home)})
        self.manager.start_kernel(env=env, cwd=str(cwd))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 180) -> KernelRun:
        run = KernelRun(status="")

        def hook(message: dict[str, Any]) -> None:
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    run.stdout += content["text"]
                else:
                    run.stderr += content["text"]
            elif kind in ("execute_result", "display_data"):
                run.results.append(content["data"])
            elif kind == "error":
                run.error = f"{content['ename']}: {content['evalue']}"

        reply = self.client.execute_interactive(code, output_hook=hook, timeout=timeout)
        run.status = reply["content"]["status"]
        run.payload = reply["content"].get("payload", [])
        return run

    def restart(self) -> None:
        self.manager.restart_kernel(now=True)
        self.client.wait_for_ready(timeout=60)

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel_factory(workspace: Workspace, tmp_path: Path) -> Iterator[Callable[[], Kernel]]:
    kernels: list[Kernel] = []

    def start() -> Kernel:
        kernel = Kernel(workspace, tmp_path)
        kernels.append(kernel)
        return kernel

    yield start
    for kernel in kernels:
        kernel.shutdown()
