"""The controller: one per workspace under concurrent starts, taken over after kill -9, stoppable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from mlops_magics.controller import Controller
from mlops_magics.controller.info import read_info
from mlops_magics.workspace import Workspace


def _controller_processes(workspace: Workspace) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "mlops_magics.controller" in cmdline and str(workspace.home) in cmdline:
            found.append(process)
    return found


def _wait_dead(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still alive")


def test_started_on_demand_with_log_and_private_info(controller: Controller, workspace: Workspace) -> None:
    status = controller.status()
    assert status["workspace"] == str(workspace.home)
    assert psutil.pid_exists(status["pid"])
    assert workspace.controller_log.exists()
    assert oct(workspace.controller_info.stat().st_mode & 0o777) == "0o600"
    # The API refuses a caller without the token.
    import httpx

    info = read_info(workspace.controller_info)
    assert httpx.get(f"{info.url}/status").status_code == 401
    assert httpx.get(f"{info.url}/status", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_concurrent_starts_give_one_controller(workspace: Workspace) -> None:
    """Four processes ask for the controller at the same moment: exactly one runs, all four get it."""
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from mlops_magics.controller import Controller
        from mlops_magics.workspace import Workspace
        print(Controller(Workspace(Path({str(workspace.home)!r}))).ensure().pid)
        """
    )
    callers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    pids = {caller.communicate(timeout=90)[0].strip() for caller in callers}
    assert all(caller.returncode == 0 for caller in callers)
    assert len(pids) == 1
    # Processes that lost the race for the lock exit by themselves (they may still be importing now).
    deadline = time.monotonic() + 60
    while len(running := _controller_processes(workspace)) > 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p.pid for p in running] == [int(pids.pop())]


def test_kill_9_is_detected_and_taken_over(workspace: Workspace) -> None:
    notices: list[str] = []
    controller = Controller(workspace, notify=notices.append)
    first = controller.status()["pid"]
    os.kill(first, signal.SIGKILL)
    _wait_dead(first)
    # The stale info file and lock file are still there; the next call starts a new controller and says so.
    assert read_info(workspace.controller_info).pid == first
    second = controller.status()["pid"]
    assert second != first
    assert notices == [f"mlops: the controller (pid {first}) had stopped; started a new one (pid {second})"]
    assert len(_controller_processes(workspace)) == 1


def test_second_controller_process_exits_while_one_holds_the_lock(controller: Controller, workspace: Workspace) -> None:
    controller.ensure()
    result = subprocess.run(
        [sys.executable, "-m", "mlops_magics.controller", "--home", str(workspace.home)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "another controller already holds" in result.stderr


def test_cli_controller_start_status_stop(workspace: Workspace) -> None:
    def mlops(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mlops_magics.cli", *args], capture_output=True, text=True)

    assert mlops("controller", "status").returncode == 1
    started = mlops("controller", "start")
    assert started.returncode == 0, started.stderr
    assert "controller running: pid" in started.stdout
    status = mlops("controller", "status")
    assert status.returncode == 0 and "0 cluster(s)" in status.stdout
    pid = read_info(workspace.controller_info).pid
    stopped = mlops("controller", "stop")
    assert f"controller (pid {pid}) stopped" in stopped.stdout
    _wait_dead(pid)
    assert not workspace.controller_info.exists()
    assert mlops("controller", "stop").stdout.strip() == "controller was not running"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_the_controller_cleanly(controller: Controller, workspace: Workspace, signum: int) -> None:
    pid = controller.status()["pid"]
    os.kill(pid, signum)
    _wait_dead(pid)
    assert not workspace.controller_info.exists()


def test_controller_stops_when_its_workspace_is_removed(controller: Controller, workspace: Workspace) -> None:
    """Deleting the workspace under a running controller must not let a second one run beside it."""
    import shutil

    pid = controller.status()["pid"]
    shutil.rmtree(workspace.home)
    _wait_dead(pid, timeout=15)
    assert controller.status()["pid"] != pid
    assert len(_controller_processes(workspace)) == 1
