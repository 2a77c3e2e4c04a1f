"""``python -m mlops_magics.controller --home DIR``: the controller process (faces start it on demand)."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlops_magics.controller.info import EXIT_LOCK_HELD, EXIT_WORKSPACE, ControllerInfo, read_info, remove_info, write_info
from mlops_magics.controller.lock import ControllerLock
from mlops_magics.controller.services.template import ServingTemplate
from mlops_magics.workspace import Workspace

log = logging.getLogger("mlops.controller")


def _reap_orphans(dead_pid: int) -> int:
    """Stop what a killed controller left behind (its Dask workers): its process group, which it led."""
    import psutil

    reaped = 0
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.pid != os.getpid() and os.getpgid(process.pid) == dead_pid:
                process.terminate()
                reaped += 1
        except (psutil.Error, ProcessLookupError):
            continue
    return reaped


def run(workspace: Workspace) -> int:
    workspace.ensure()
    lock = ControllerLock(workspace.controller_lock)
    if not lock.acquire():
        print(f"another controller already holds {workspace.controller_lock}", file=sys.stderr)
        return EXIT_LOCK_HELD
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The serving template first, before this process's own imports: its warm-up (seconds) then overlaps with
    # the controller's start, and a deploy right after a cold start waits the least.
    template = ServingTemplate(workspace)
    template.start()

    import uvicorn

    from mlops_magics.controller.app import ControllerItself, build_app
    from mlops_magics.controller.services.clusters import ClusterSupervisor
    from mlops_magics.controller.services.deployments import DeploymentSupervisor
    from mlops_magics.controller.services.jobs import JobSupervisor
    from mlops_magics.controller.services.mlflow_ui import MlflowUi
    from mlops_magics.controller.services.monitors import MonitorSupervisor
    from mlops_magics.errors import MLOpsError
    from mlops_magics.state import Event, open_state
    from mlops_magics.version import __version__

    try:
        sessions = open_state(workspace.state_db)
    except MLOpsError as exc:
        log.error("%s", exc.message)
        template.close()
        lock.release()
        return EXIT_WORKSPACE

    stale = read_info(workspace.controller_info)
    if stale is not None and stale.pid != os.getpid():
        reaped = _reap_orphans(stale.pid)
        with sessions.begin() as session:
            session.add(
                Event(
                    kind="controller.takeover",
                    subject=str(stale.pid),
                    message=f"previous controller (pid {stale.pid}) had died; {reaped} orphan process(es) stopped",
                )
            )
        log.warning("took over from dead controller pid %s (%s orphan processes stopped)", stale.pid, reaped)

    supervisor = ClusterSupervisor(sessions)
    token = secrets.token_urlsafe(32)
    started_at = datetime.now(timezone.utc).isoformat()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server: uvicorn.Server | None = None

    def request_shutdown() -> None:
        if server is not None:
            server.should_exit = True

    mlflow_ui = MlflowUi(workspace)
    deployments = DeploymentSupervisor(workspace, sessions, template)
    services: dict[str, Any] = {"clusters": supervisor, "deployments": deployments, "mlflow_ui": mlflow_ui}
    jobs = JobSupervisor(workspace, sessions, supervisor)
    services["jobs"] = jobs
    monitors = MonitorSupervisor(workspace, sessions, deployments, jobs)
    services["monitors"] = monitors
    deployments.swap_listeners.append(monitors.swapped)
    services["controller"] = ControllerItself(workspace, services, started_at, __version__, request_shutdown)
    app = build_app(workspace, services, token)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    write_info(
        workspace.controller_info,
        ControllerInfo(os.getpid(), sock.getsockname()[1], token, started_at, __version__),
    )
    log.info("controller pid %s serving on 127.0.0.1:%s for %s", os.getpid(), sock.getsockname()[1], workspace.home)

    def watch_lock() -> None:
        while server is not None and not server.should_exit:
            if not lock.still_ours():
                log.warning("the workspace's lock file is gone (workspace removed?); stopping")
                request_shutdown()
                return
            time.sleep(2)

    threading.Thread(target=watch_lock, name="watch-lock", daemon=True).start()
    threading.Thread(target=supervisor.restore, name="restore-clusters", daemon=True).start()
    threading.Thread(target=deployments.restore, name="restore-deployments", daemon=True).start()
    threading.Thread(target=jobs.restore, name="restore-jobs", daemon=True).start()
    monitors.restore()
    try:
        server.run(sockets=[sock])
    finally:
        log.info("controller stopping")
        supervisor.close_all()
        mlflow_ui.stop()
        deployments.close()
        jobs.close()
        monitors.close()
        remove_info(workspace.controller_info, os.getpid())
        lock.release()
    return 0


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # uvicorn stops gracefully on SIGTERM, then raises it again: exit through Python so cleanup runs.
    raise SystemExit(128 + signum)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m mlops_magics.controller")
    parser.add_argument("--home", type=Path, required=True, help="the workspace folder (.mlops)")
    args = parser.parse_args()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # outlive the terminal or kernel that started us
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sys.exit(run(Workspace(args.home.resolve())))


if __name__ == "__main__":
    main()
