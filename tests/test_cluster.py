"""Dask clusters owned by the controller: real LocalClusters, started, scaled, shared, stopped, restored."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest
from distributed import Client

from mlops_magics.controller import Controller
from mlops_magics.errors import Conflict, InvalidInput, NotFound
from mlops_magics.workspace import Workspace


def test_local_cluster_lifecycle(controller: Controller) -> None:
    view = controller.start_cluster("default", {"workers": 2, "threads_per_worker": 1, "memory_limit": "1GiB"})
    assert view["status"] == "running"
    assert (view["workers"], view["threads"], view["memory"]) == (2, 2, 2 * 2**30)
    assert view["scheduler_address"].startswith("tcp://127.0.0.1:")
    # The dashboard answers, on loopback.
    assert view["dashboard_link"].startswith("http://127.0.0.1:")
    assert httpx.get(view["dashboard_link"], timeout=10, follow_redirects=True).status_code == 200
    # Work runs on it.
    with Client(view["scheduler_address"], set_as_default=False) as client:
        assert client.submit(sum, [1, 2, 3]).result(timeout=30) == 6
    assert controller.scale_cluster("default", {"workers": 1})["workers"] == 1
    assert controller.scale_cluster("default", {"workers": 3})["workers"] == 3
    assert controller.clusters()[0]["spec"]["workers"] == 3
    stopped = controller.stop_cluster("default")
    assert stopped["status"] == "stopped"
    assert controller.clusters() == []


def test_cluster_errors_are_clear(controller: Controller) -> None:
    with pytest.raises(NotFound, match="no cluster named 'ghost'"):
        controller.cluster("ghost")
    with pytest.raises(InvalidInput, match=r"field `workers`: must be 1-10000 \(got 0\)"):
        controller.start_cluster("default", {"workers": 0})
    with pytest.raises(InvalidInput, match="could not reach a Dask scheduler at tcp://127.0.0.1:9"):
        controller.start_cluster("remote", {"kind": "address", "address": "tcp://127.0.0.1:9"})
    with pytest.raises(InvalidInput, match="unknown factory"):
        controller.start_cluster("f", {"kind": "factory", "factory": "no_such_module.Cluster"})
    controller.start_cluster("default", {"workers": 1})
    with pytest.raises(Conflict, match="already running"):
        controller.start_cluster("default", {"workers": 1})
    with pytest.raises(InvalidInput, match=r"field `workers`: must be 1-10000 \(got 0\)"):
        controller.scale_cluster("default", {"workers": 0})


def test_connect_to_an_existing_scheduler_and_factory(controller: Controller) -> None:
    own = controller.start_cluster("own", {"workers": 1})
    remote = controller.start_cluster("remote", {"kind": "address", "address": own["scheduler_address"]})
    assert remote["status"] == "running" and remote["workers"] == 1
    with pytest.raises(InvalidInput, match="run elsewhere; scale it where it runs"):
        controller.scale_cluster("remote", {"workers": 2})
    built = controller.start_cluster(
        "built",
        {
            "kind": "factory",
            "factory": "distributed.LocalCluster",
            "factory_kwargs": {"n_workers": 0, "processes": False, "dashboard_address": ":0"},
            "workers": 1,
        },
    )
    assert built["status"] == "running"
    assert controller.scale_cluster("built", {"workers": 2})["workers"] == 2
    controller.stop_cluster("remote")
    # Stopping our connection to somebody else's scheduler leaves that scheduler alone.
    assert controller.cluster("own")["workers"] == 1


def test_cluster_is_restored_after_the_controller_is_killed(workspace: Workspace) -> None:
    notices: list[str] = []
    controller = Controller(workspace, notify=notices.append)
    before = controller.start_cluster("default", {"workers": 1})
    pid = controller.status()["pid"]
    workers = [p for p in psutil.Process(pid).children(recursive=True)]
    assert workers, "a LocalCluster has worker processes"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    view = controller.cluster("default")
    while view["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        view = controller.cluster("default")
    assert notices and "had stopped; started a new one" in notices[0]
    assert view["status"] == "running" and view["workers"] == 1
    assert view["scheduler_address"] != before["scheduler_address"]
    # The dead controller's workers did not linger as orphans.
    deadline = time.monotonic() + 20
    while any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)


def test_cluster_cli(workspace: Workspace) -> None:
    def mlops(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mlops_magics.cli", "cluster", *args], capture_output=True, text=True, timeout=240
        )

    started = mlops("start", "--workers", "1")
    assert started.returncode == 0, started.stderr
    assert "cluster 'default' running at tcp://127.0.0.1:" in started.stdout
    assert "1 worker(s)" in mlops("status").stdout
    assert "2 worker(s)" in mlops("scale", "2").stdout
    assert "cluster 'default' is stopped" in mlops("stop").stdout
    bad = mlops("start", "--workers", "0")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: workers must be a whole number >= 1 (got 0)"
