"""Clusters from a real Dask Gateway (dask-gateway-server, local backend: real scheduler and worker processes):
started from %cluster, scaled, used by %eda and %%train --search, stopped; adopted by a controller that was killed;
refused with one clear line when the gateway, its password or its options are wrong — the password never stored."""

from __future__ import annotations

import getpass
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from mlops_magics import cluster as cluster_core
from mlops_magics.api.clusters import ClusterSpec
from mlops_magics.controller import Controller
from mlops_magics.errors import InvalidInput
from mlops_magics.workspace import Workspace
from tests.gateway import LocalGateway, gateway_fixture  # noqa: F401 (the fixture `gateway`)
from tests.test_jobs import notebook, wait_for


@pytest.fixture
def credentials(gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """The password in the environment only, as a user would export it; the controller and kernels inherit it."""
    monkeypatch.setenv("DASK_GATEWAY_PASSWORD", gateway.password)
    monkeypatch.delenv("DASK_GATEWAY_USER", raising=False)


def no_secret_in(home: Path, secret: str) -> list[Path]:
    """Every file of the workspace that holds ``secret`` (none, when it was never written)."""
    needle = secret.encode()
    return [p for p in home.rglob("*") if p.is_file() and needle in p.read_bytes()]


def gateway_name(view: dict) -> str:
    return view["scheduler_address"].rpartition("/")[2]


def parquet_folder(folder: Path, files: int = 3, rows: int = 4_000) -> Path:
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True)
    for i in range(files):
        pd.DataFrame(
            {
                "amount": rng.gamma(2.0, 50.0, rows),
                "tenure": rng.integers(0, 120, rows),
                "region": rng.choice(["eu", "us", "apac"], rows),
            }
        ).to_parquet(folder / f"part-{i}.parquet")
    return folder


def test_a_gateway_cluster_from_the_notebook_runs_eda_and_a_search(
    kernel_factory, workspace: Workspace, gateway: LocalGateway, credentials: None, tmp_path: Path
) -> None:
    data = parquet_folder(tmp_path / "transactions")
    kernel = kernel_factory()
    assert kernel.run("%load_ext mlops_magics").status == "ok"
    started = kernel.run(
        f"client = %cluster start --gateway {gateway.address} --auth simple --workers 1 "
        "--option worker_cores=1 --option worker_memory=0.5"
    )
    assert started.status == "ok", started.text
    assert "starting Dask Gateway at" in started.stdout and "(worker_cores=1, worker_memory=0.5)" in started.stdout
    assert "cluster 'default' running at gateway://127.0.0.1:" in started.stdout, started.text
    (name,) = gateway.running_clusters()
    # The dashboard link is the gateway's own (proxied), and it answers.
    link = kernel.run("print(client.dashboard_link)").stdout.strip()
    assert link == f"{gateway.address}/clusters/{name}/status"
    assert httpx.get(link, timeout=10, follow_redirects=True).status_code == 200

    scaled = kernel.run("%cluster scale 2")
    assert "2 worker(s), 2 thread(s), 1.0 GiB" in scaled.stdout, scaled.text  # the options: 1 core, 0.5 GiB each
    assert len(gateway.cluster_processes()) == 3  # its scheduler and two workers, started by the gateway

    # %eda on a Parquet folder: each file is read and summarised by a task on the gateway's workers.
    profiled = kernel.run(f"p = %eda {data}\nprint(p.data['engine']['where'], p.data['engine']['partitions'], p.rows)")
    assert profiled.status == "ok", profiled.text
    assert "dask cluster 3 12000" in profiled.stdout, profiled.text

    kernel.run(
        "from sklearn.datasets import load_breast_cancer\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "X, y = load_breast_cancer(return_X_y=True, as_frame=True)\n"
    )
    searched = kernel.run(
        "%%train --data X,y --search grid --space 'logisticregression__C=0.1,1' --cv 2 --experiment gateway\n"
        "pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))\n"
    )
    assert searched.status == "ok", searched.text
    ran = kernel.run("print(sorted(client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))))")
    assert "'chunked_stats'" in ran.stdout and "'fit_fold'" in ran.stdout, ran.text  # both ran on the cluster

    stopped = kernel.run("%cluster stop")
    assert "cluster 'default' is stopped" in stopped.stdout, stopped.text
    assert gateway.running_clusters() == []
    assert gateway.wait_for_no_clusters() == []
    assert no_secret_in(workspace.home, gateway.password) == []


def running(controller: Controller, name: str, timeout: float = 60) -> dict:
    """The cluster's view once a (re)started controller has restored it."""
    deadline = time.monotonic() + timeout
    view = controller.cluster(name)
    while view["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        view = controller.cluster(name)
    return view


def test_cli_start_and_a_controller_that_was_killed_or_stopped_reconnects(
    workspace: Workspace,
    gateway: LocalGateway,
    credentials: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The gateway and its auth from dask config, as a JupyterHub deployment sets them (the password by template).
    monkeypatch.setenv("DASK_GATEWAY__ADDRESS", gateway.address)
    monkeypatch.setenv("DASK_GATEWAY__AUTH__TYPE", "basic")
    monkeypatch.setenv("DASK_GATEWAY__AUTH__KWARGS", "{'password': '{DASK_GATEWAY_PASSWORD}'}")

    def mlops(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "mlops_magics.cli", "cluster", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=240)

    started = mlops("start", "--gateway", "--workers", "1")
    assert started.returncode == 0, started.stderr
    assert "cluster 'default' running at gateway://" in started.stdout and "1 worker(s)" in started.stdout
    controller = Controller(workspace, notify=lambda line: None)
    before = controller.cluster("default")
    assert (before["spec"]["address"], before["spec"]["auth"]) == (gateway.address, None)  # the URL kept
    assert before["dashboard_link"].startswith(f"{gateway.address}/clusters/")
    (name,) = gateway.running_clusters()
    assert gateway_name(before) == name

    os.kill(controller.status()["pid"], signal.SIGKILL)
    after = running(controller, "default")  # a new controller starts, restores its clusters, and answers
    assert (after["scheduler_address"], after["workers"]) == (before["scheduler_address"], 1)
    assert gateway.running_clusters() == [name]  # the same cluster, reconnected: no second one
    assert f"reconnected to gateway cluster {name}" in workspace.controller_log.read_text()
    assert controller.scale_cluster("default", {"workers": 2})["workers"] == 2

    # A graceful stop lets it run on in its gateway; gone from the gateway meanwhile, the next controller starts
    # a new one, as last scaled.
    controller.shutdown()
    assert gateway.running_clusters() == [name]
    auth = (getpass.getuser(), gateway.password)
    httpx.delete(f"{gateway.address}/api/v1/clusters/{name}", auth=auth, timeout=10).raise_for_status()
    renewed = running(controller, "default")
    assert renewed["scheduler_address"] != before["scheduler_address"] and renewed["workers"] == 2, renewed

    assert "cluster 'default' is stopped" in mlops("stop").stdout
    assert gateway.running_clusters() == []
    assert gateway.wait_for_no_clusters() == []
    assert no_secret_in(workspace.home, gateway.password) == []


def gateway_spec(gateway: LocalGateway, **fields: object) -> ClusterSpec:
    return ClusterSpec.from_dict({"kind": "gateway", "address": gateway.address, "workers": 1, **fields})


def test_what_is_wrong_is_one_line_without_the_secret(gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_GATEWAY_PASSWORD", "not-the-password")
    with pytest.raises(InvalidInput) as refused:
        cluster_core.build(gateway_spec(gateway, auth="simple"), "the test")
    assert f"the Dask Gateway at {gateway.address} refused the credentials (auth simple)" in refused.value.message
    assert "not-the-password" not in refused.value.message

    monkeypatch.delenv("DASK_GATEWAY_PASSWORD")
    with pytest.raises(InvalidInput, match="DASK_GATEWAY_PASSWORD is not in the environment of the test"):
        cluster_core.build(gateway_spec(gateway, auth="simple"), "the test")
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    with pytest.raises(InvalidInput, match="JUPYTERHUB_API_TOKEN is not in the environment"):
        cluster_core.build(gateway_spec(gateway, auth="jupyterhub"), "the test")

    monkeypatch.setenv("DASK_GATEWAY_PASSWORD", gateway.password)
    with pytest.raises(InvalidInput) as unknown:
        cluster_core.build(gateway_spec(gateway, auth="simple", options={"gpus": 4}), "the test")
    assert "has no cluster option 'gpus'; it offers: worker_cores (now 1), worker_memory (now 1.0)" in unknown.value.message
    with pytest.raises(InvalidInput, match="cluster option worker_cores=9 is refused by the gateway"):
        cluster_core.build(gateway_spec(gateway, auth="simple", options={"worker_cores": 9}), "the test")
    with pytest.raises(InvalidInput, match="could not reach a Dask Gateway at http://127.0.0.1:9 "):
        cluster_core.build(ClusterSpec.from_dict({"kind": "gateway", "address": "http://127.0.0.1:9"}), "the test")
    assert gateway.running_clusters() == []  # nothing was left half-started


def test_a_job_with_a_gateway_cluster_of_its_own_leaves_none_behind(
    controller: Controller, workspace: Workspace, gateway: LocalGateway, credentials: None
) -> None:
    """Succeeded, failed or cancelled, the run's gateway cluster is stopped in the gateway afterwards."""
    notebook(
        workspace.root / "ok.ipynb",
        "import os\nfrom distributed import Client\nclient = Client()  # the run's gateway cluster, as for a local one",
        "print('workers', len(client.scheduler_info()['workers']), 'answer', client.submit(lambda: 21 * 2).result())\n"
        "print('address', os.environ['DASK_SCHEDULER_ADDRESS'])\nclient.close()",
    )
    notebook(workspace.root / "fails.ipynb", "from distributed import Client\nclient = Client()", "raise ValueError('bad')")
    notebook(workspace.root / "slow.ipynb", "import time\ntime.sleep(120)")
    cluster = {"kind": "gateway", "address": gateway.address, "auth": "simple", "workers": 1}
    shared = controller.start_cluster("default", cluster)  # the workspace's: a job may use it instead
    for name in ("ok", "fails", "slow"):
        controller.put_job(name, {"notebook": f"{name}.ipynb", "cluster": cluster})
        controller.run_job(name, {})
    controller.put_job("shared", {"notebook": "ok.ipynb", "cluster": "workspace"})
    controller.run_job("shared", {})
    deadline = time.monotonic() + 120
    while "started in" not in "\n".join(controller.run_logs("slow", "1", 50)["lines"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert controller.cancel_run("slow", "1")["state"] == "cancelled"

    done = wait_for(controller, "ok", 1, timeout=180)
    lines = "\n".join(controller.run_logs("ok", "1", 200)["lines"])
    assert done["state"] == "succeeded", (done, lines)
    assert "workers 1 answer 42" in lines and "address gateway://127.0.0.1:" in lines, lines
    assert "cluster stopped" in lines, lines
    failed = wait_for(controller, "fails", 1, timeout=180)
    assert failed["state"] == "failed" and "bad" in failed["reason"], failed
    for name in ("fails", "slow"):
        assert "cluster stopped" in "\n".join(controller.run_logs(name, "1", 200)["lines"])
    used = wait_for(controller, "shared", 1, timeout=180)
    lines = "\n".join(controller.run_logs("shared", "1", 200)["lines"])
    assert used["state"] == "succeeded" and f"address {shared['scheduler_address']}" in lines, (used, lines)
    assert "cluster stopped" not in lines
    # The runs' own clusters are gone; the workspace's runs on, untouched.
    assert gateway.running_clusters() == [gateway_name(shared)]
    assert controller.stop_cluster("default")["status"] == "stopped"
    assert gateway.running_clusters() == []
    assert gateway.wait_for_no_clusters() == []
    assert no_secret_in(workspace.home, gateway.password) == []
    tls_key = "PRIVATE KEY-----"  # a gateway cluster's credentials: in memory and in the kernel only
    assert [p for p in workspace.home.rglob("*") if p.is_file() and tls_key.encode() in p.read_bytes()] == []
