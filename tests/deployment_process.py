"""A model deployment process started as the controller starts it (``python -m mlops_magics.serving``), on a real
port, with the limits a test wants (body size, header timeout, connection cap); and the models it serves."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from mlops_magics.workspace import Workspace
from tests.test_serving import free_port

# A model with a bug of its own: it fails (RuntimeError, not a refusal of its input) on penguins over 10 t.
FAULTY_MODEL = """
import mlflow.pyfunc
import numpy as np


class Faulty(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        if (model_input["body_mass_g"] > 10_000).any():
            raise RuntimeError("the lookup table stops at 10 t")
        return np.where(model_input["body_mass_g"] > 4500, "Gentoo", "Adelie")


mlflow.models.set_model(Faulty())
"""


def register_penguins(workspace: Workspace) -> None:
    """The imputing, one-hot encoding pipeline of ``test_serving_inputs`` as ``penguins`` version 1."""
    from mlops_magics.train.background import WRITER
    from mlops_magics.train.run import TrainRequest, track
    from mlops_magics.train.tracker import MLflowTracker
    from tests.test_serving_inputs import penguins, pipeline

    x, y = penguins()
    result = track(
        MLflowTracker(workspace), pipeline().fit(x, y), TrainRequest(experiment="fuzz", data=(x, y), model_name="penguins")
    )
    WRITER.flush()
    assert result.error is None and result.version == "1", result.error


def save_faulty(folder: Path) -> Path:
    """``FAULTY_MODEL`` saved as an MLflow model folder (served by its path; MLflow's models from code: the file
    travels with the model). Saved, not logged: no tracking state of this process changes."""
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    from tests.test_serving_inputs import penguins

    code = folder / "faulty_model.py"
    code.write_text(FAULTY_MODEL)
    x = penguins(20)[0]
    model = folder / "faulty"
    signature = infer_signature(x, ["Adelie"] * len(x))
    mlflow.pyfunc.save_model(path=str(model), python_model=str(code), signature=signature, input_example=x.head(3))
    return model


@dataclass
class DeploymentProcess:
    name: str
    url: str
    port: int
    process: subprocess.Popen[bytes]
    folder: Path

    @property
    def state(self) -> dict[str, Any]:
        try:
            return json.loads((self.folder / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def worker(self) -> psutil.Process:
        return psutil.Process(self.state["workers"][0])

    def log(self) -> str:
        return (self.folder / "server.log").read_text(errors="replace")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def start(workspace: Workspace, name: str, model: str, *flags: str) -> DeploymentProcess:
    """The deployment process, healthy, with ``flags`` (``--max-body 65536``, ``--header-timeout 2`` ...)."""
    folder = workspace.home / "test-deployments" / name
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        sys.executable, "-m", "mlops_magics.serving", "--name", name, "--model", model, "--port", str(port),
        "--requests-dir", str(workspace.requests / name), "--state-file", str(folder / "state.json"),
        "--control-file", str(folder / "control.json"), *flags,
    ]  # fmt: skip
    env = dict(os.environ, MLOPS_HOME=str(workspace.home))
    with (folder / "server.log").open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out, env=env, cwd=workspace.home.parent, start_new_session=True)
    deployment = DeploymentProcess(name, f"http://127.0.0.1:{port}", port, process, folder)
    deadline = time.monotonic() + 120
    while deployment.state.get("status") != "healthy":
        assert process.poll() is None, f"the deployment exited: {deployment.log()[-2000:]}"
        assert time.monotonic() < deadline, f"not healthy in 120 s: {deployment.log()[-2000:]}"
        time.sleep(0.1)
    assert httpx.get(f"{deployment.url}/ping").status_code == 200
    return deployment


def peak_rss(process: psutil.Process) -> int:
    """The most resident memory the process has had (VmHWM), in bytes: a body held whole shows here even after
    it is freed."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")
