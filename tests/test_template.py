"""The serving template: model deployments fork from a warm, pre-imported process (real processes, real HTTP);
a deployment killed with -9 is back in well under 2 s; ``MLOPS_SERVING_TEMPLATE=0`` starts fresh processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest
from sklearn.linear_model import LogisticRegression

from mlops_magics.controller import Controller
from mlops_magics.controller.info import read_info
from mlops_magics.controller.services.template import ServingTemplate, TemplateUnavailable
from mlops_magics.workspace import Workspace
from tests.test_serving import X, Y, free_port, post, register

ROW = {"dataframe_records": json.loads(X.head(1).to_json(orient="records"))}


def _templates(workspace: Workspace) -> list[psutil.Process]:
    """The workspace's live templates. The deployments they fork (and those deployments' workers) share their
    command line, but a deployment leads a session of its own and a worker's parent is a deployment."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "mlops_magics.serving.template" in cmdline and str(workspace.home) in cmdline:
            try:
                if process.status() == psutil.STATUS_ZOMBIE or os.getsid(process.pid) == process.pid:
                    continue
                parent = process.parent()
                if parent is None or "mlops_magics.serving.template" not in parent.cmdline():
                    found.append(process)
            except (psutil.Error, ProcessLookupError):
                continue
    return found


def _gone(workspace: Workspace, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _templates(workspace):
            return True
        time.sleep(0.05)
    return False


def _gone_or_zombie(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _first_200(view: dict, began: float, limit: float) -> float:
    while True:
        try:
            if post(view, ROW).status_code == 200:
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        assert time.monotonic() - began < limit, f"no 200 within {limit} s"
        time.sleep(0.01)


def test_a_model_deployment_forks_from_the_template_and_is_back_fast_after_kill_9(workspace: Workspace) -> None:
    register(workspace, LogisticRegression(max_iter=5000).fit(X, Y))
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("cancer", {"model": "cancer@challenger", "port": free_port(), "token": True})
    assert view["status"] == "healthy"
    assert post(view, ROW).status_code == 200
    assert post(view, ROW, token=False).status_code == 401  # the token reached it (through its environment only)
    controller_pid = read_info(workspace.controller_info).pid
    deployment = psutil.Process(view["pid"])
    (template,) = _templates(workspace)
    assert deployment.ppid() == template.pid != controller_pid
    assert "mlops_magics.serving.template" in template.cmdline()
    assert os.getsid(deployment.pid) == deployment.pid  # a session of its own: it outlives controller and template
    assert template.ppid() == controller_pid
    token = controller.deployment_token("cancer")["token"]
    assert token not in " ".join(deployment.cmdline()) and token not in str(deployment.environ())

    workers = deployment.children()
    os.kill(view["pid"], signal.SIGKILL)
    began = time.monotonic()
    while not all(map(_gone_or_zombie, workers)) and time.monotonic() - began < 2:  # they die with it, must not answer
        time.sleep(0.002)
    recovered = _first_200(view, began, limit=2.0)
    print(f"\nkill -9 of the deployment process -> first 200 again: {recovered:.3f} s")
    now = controller.deployment("cancer")
    assert now["pid"] != view["pid"] and now["restarts"] >= 1
    assert psutil.Process(now["pid"]).ppid() == template.pid
    assert "Application startup complete" in (workspace.deployments / "cancer" / "server.log").read_text()

    # The controller goes away: the template with it (its stdin closed), the deployment stays up.
    controller.shutdown()
    assert _gone(workspace), "the template outlived its controller"
    assert httpx.get(f"{view['url']}/health").status_code == 200
    controller.stop_deployment("cancer")  # a new controller adopts it, then stops it


def test_with_the_template_off_deployments_start_as_fresh_processes(workspace: Workspace, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_SERVING_TEMPLATE", "0")  # read by the controller, which inherits our environment
    register(workspace, LogisticRegression(max_iter=5000).fit(X, Y))
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("cancer", {"model": "cancer@challenger", "port": free_port()})
    assert post(view, ROW, token=False).status_code == 200
    assert psutil.Process(view["pid"]).ppid() == read_info(workspace.controller_info).pid
    assert "mlops_magics.serving" in psutil.Process(view["pid"]).cmdline()
    assert not _templates(workspace)
    controller.stop_deployment("cancer")


def test_the_template_starts_only_the_serving_module_and_exits_when_its_pipe_closes(workspace: Workspace) -> None:
    workspace.ensure()
    template = ServingTemplate(workspace, enabled=True)
    template.start()
    try:
        with pytest.raises(TemplateUnavailable, match="starts only `python -m mlops_magics.serving`"):
            template.spawn([sys.executable, "-c", "print('hello')"], {}, str(workspace.home / "x.log"), str(workspace.home))
        pid = template.pid
        assert pid is not None  # a refused request leaves it running
        assert psutil.Process(pid).children() == []
        # One that dies young is not started again at once (a broken install must not loop on imports): the
        # supervisor starts a fresh process meanwhile.
        os.kill(pid, signal.SIGKILL)
        while template.pid is not None:
            time.sleep(0.01)
        with pytest.raises(TemplateUnavailable, match="failed recently"):
            template.spawn([sys.executable, "-m", "mlops_magics.serving"], {}, str(workspace.home / "x.log"), str(workspace.home))
        assert template.pid is None
    finally:
        template.close()
    assert template.pid is None and _gone(workspace)
    off = ServingTemplate(workspace, enabled=False)
    with pytest.raises(TemplateUnavailable, match="MLOPS_SERVING_TEMPLATE=0"):
        off.spawn([sys.executable, "-m", "mlops_magics.serving"], {}, "x.log", ".")


def test_the_template_builds_mlflows_package_map_once_for_every_deployment_it_forks() -> None:
    """MLflow maps every installed distribution's files when a process first loads a model (~1.2 s of each
    deployment's start); the template builds it before it forks, so that its deployments inherit it."""
    code = (
        "from mlops_magics.serving.template import preload\n"
        "missing = preload()\n"
        "from mlflow.utils import requirements_utils\n"
        "print(requirements_utils._MODULES_TO_PACKAGES is not None and 'sklearn' in requirements_utils._MODULES_TO_PACKAGES, missing)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "True []", done.stdout + done.stderr[-2000:]


def test_a_first_deployment_says_it_warms_the_template_and_the_controller_warms_it_at_its_start(
    kernel_factory, workspace: Workspace
) -> None:
    register(workspace, LogisticRegression(max_iter=5000).fit(X, Y))
    kernel = kernel_factory()
    port = free_port()
    first = kernel.run(f"%load_ext mlops_magics\n%deploy cancer@challenger --name first --port {port}")
    assert first.status == "ok", first.text
    lines = first.stdout.splitlines()
    assert lines[0].startswith("first deployment of this workspace: warming the serving template (~"), first.stdout
    assert lines[1].startswith("deployment 'first': healthy"), first.stdout
    controller = Controller(workspace, notify=lambda line: None)
    template = controller.status()["serving_template"]
    assert template["state"] == "ready" and template["warm_up_s"] > 0, template
    recorded = json.loads((workspace.deployments / "template.json").read_text())["seconds"]
    assert 0 < recorded < 120
    second = kernel.run(f"%deploy cancer@challenger --name second --port {free_port()}")
    assert second.stdout.startswith("deployment 'second': healthy"), second.text
    # A new controller warms its template at its start, before anything is deployed: the watcher sees it ready.
    controller.shutdown()
    assert _gone(workspace)
    controller.status()
    deadline = time.monotonic() + 120
    while controller.status()["serving_template"]["state"] != "ready":
        assert time.monotonic() < deadline, controller.status()
        time.sleep(0.2)
    for name in ("first", "second"):
        controller.stop_deployment(name)
