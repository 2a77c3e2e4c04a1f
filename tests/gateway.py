"""A real Dask Gateway for tests: ``dask-gateway-server`` with its local backend on free loopback ports.

The server runs as its own process (with its proxy, the Go binary shipped in its wheel); every cluster it starts
is a real scheduler process with real worker processes, each in a folder under ``clusters/``. Simple
authentication with a password made for the run: a client without it is refused, as on a shared gateway.
Stopping the fixture stops the server (which stops its clusters), then checks that no process it started is
left; any that is, is killed and named in the failure.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 30

CONFIG = """
import sys
from dask_gateway_server.options import Float, Integer, Options

c.DaskGateway.address = "127.0.0.1:{api_port}"
c.DaskGateway.log_level = "WARN"
c.Proxy.address = "127.0.0.1:{proxy_port}"  # HTTP (API, dashboards) and the schedulers' TLS on one port
c.Proxy.log_level = "warn"
c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.SimpleAuthenticator.password = open({password_file!r}).read().strip()
c.LocalBackend.clusters_directory = {clusters!r}
# Workers as this interpreter runs them (no dask-scheduler script on PATH in a virtualenv that is not activated).
c.ClusterConfig.scheduler_cmd = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
c.ClusterConfig.worker_cmd = [sys.executable, "-m", "distributed.cli.dask_worker"]
c.ClusterConfig.worker_memory = "1 G"
c.ClusterConfig.scheduler_memory = "1 G"
c.DBBackendBase.worker_status_period = 2
c.DBBackendBase.cluster_status_period = 2


def _options(options):
    return {{"worker_cores": options.worker_cores, "worker_memory": int(options.worker_memory * 2**30)}}


c.Backend.cluster_options = Options(
    Integer("worker_cores", 1, min=1, max=2, label="Worker cores"),
    Float("worker_memory", 1.0, min=0.25, max=2.0, label="Worker memory (GiB)"),
    handler=_options,
)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LocalGateway:
    """A running gateway: where it answers, its password, and the processes it started."""

    address: str  # what a client is given: http://127.0.0.1:PORT
    password: str
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def clusters_folder(self) -> Path:
        return self.folder / "clusters"

    @property
    def log(self) -> str:
        return (self.folder / "gateway.log").read_text(errors="replace")

    def env(self) -> dict[str, str]:
        """What a process needs to reach this gateway (dask config by environment, the password apart)."""
        return {"DASK_GATEWAY__ADDRESS": self.address, "DASK_GATEWAY_PASSWORD": self.password}

    def cluster_processes(self) -> list[psutil.Process]:
        """The schedulers and workers the gateway started and that still run (each works in its cluster's folder)."""
        found = []
        for process in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                ours = "distributed.cli.dask_" in " ".join(process.info["cmdline"] or [])
                ours = ours and Path(process.cwd()).is_relative_to(self.clusters_folder)
                if ours and process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
        return found

    def wait_for_no_clusters(self, timeout: float = 30) -> list[psutil.Process]:
        """The cluster processes still running after ``timeout`` (none, when every cluster was stopped)."""
        deadline = time.monotonic() + timeout
        left = self.cluster_processes()
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = self.cluster_processes()
        return left

    def running_clusters(self) -> list[str]:
        """The names of the clusters the gateway says are running (asked with the password, like a user)."""
        answer = httpx.get(f"{self.address}/api/v1/clusters/", auth=(getpass.getuser(), self.password), timeout=10)
        answer.raise_for_status()
        return [name for name, cluster in answer.json().items() if cluster["status"] in ("PENDING", "RUNNING")]


def start_gateway(folder: Path) -> LocalGateway:
    folder.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    password_file = folder / "password"
    password_file.write_text(password)
    password_file.chmod(0o600)
    (folder / "clusters").mkdir(exist_ok=True)
    api_port, proxy_port = _free_port(), _free_port()
    config = folder / "dask_gateway_config.py"
    config.write_text(
        textwrap.dedent(
            CONFIG.format(
                api_port=api_port, proxy_port=proxy_port, password_file=str(password_file), clusters=str(folder / "clusters")
            )
        )
    )
    with (folder / "gateway.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dask_gateway_server", "-f", str(config)],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    gateway = LocalGateway(f"http://127.0.0.1:{proxy_port}", password, folder, process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dask-gateway-server exited with {process.returncode}:\n{gateway.log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{gateway.address}/api/health", timeout=2).status_code == 200:
                return gateway
        time.sleep(0.1)
    stop_gateway(gateway)
    raise RuntimeError(f"dask-gateway-server did not answer within {START_TIMEOUT_S} s:\n{gateway.log}")


def stop_gateway(gateway: LocalGateway) -> list[str]:
    """Stop the server as its operator would (SIGTERM: it stops its clusters first); returns what had to be killed."""
    process = gateway.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_S)
    killed: list[str] = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the proxy and anything else of the server's own session
        killed.append(f"the server's process group {process.pid}")
    process.wait(timeout=10)
    for left in gateway.wait_for_no_clusters(timeout=5):
        with contextlib.suppress(psutil.Error):
            killed.append(" ".join(left.cmdline()))
            left.kill()
    return killed


@pytest.fixture(scope="module", name="gateway")
def gateway_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGateway]:
    """One real gateway for the tests of a module; after them, no scheduler, worker or proxy of it is left."""
    running = start_gateway(tmp_path_factory.mktemp("gateway"))
    yield running
    leftovers = [k for k in stop_gateway(running) if not k.startswith("the server's process group")]
    assert not leftovers, f"processes of the gateway were left running: {leftovers}"
