"""A notebook run the way jobs run it (nbclient, as `jupyter execute` does: the kernel is shut down right after the
last cell) never leaves a %%train run RUNNING: it is FINISHED with its model, or FAILED with the reason."""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
import nbformat
from nbclient import NotebookClient

from mlops_magics import tracking
from mlops_magics.workspace import Workspace

SETUP = (
    "%load_ext mlops_magics\n"
    "from sklearn.datasets import load_breast_cancer\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "X, y = load_breast_cancer(return_X_y=True, as_frame=True)"
)
# Writing this model takes longer than any kernel manager waits for a stopping kernel.
SLOW = """import time
class SlowToSave:
    def predict(self, x):
        return x.iloc[:, 0].to_numpy()
    def __getstate__(self):
        time.sleep(120)
        return self.__dict__
"""


def _execute(tmp_path: Path, *cells: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    return notebook


def _settled_run(workspace: Workspace, experiment: str, within: float = 60) -> mlflow.entities.Run:
    """The experiment's one run once it is no longer RUNNING (a stopped kernel's watcher may take a moment)."""
    tracking.mlflow_for(workspace)
    client = mlflow.MlflowClient(workspace.tracking_uri)
    deadline = time.monotonic() + within
    while True:
        (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
        if run.info.status != "RUNNING" or time.monotonic() > deadline:
            return run
        time.sleep(0.5)


def test_the_last_cell_trains_and_the_run_is_finished_with_its_model(workspace: Workspace, tmp_path: Path) -> None:
    _execute(
        tmp_path, SETUP, "%%train --data X,y --model cancer --experiment nb\nm = LogisticRegression(max_iter=5000).fit(X, y)"
    )
    run = _settled_run(workspace, "nb")
    assert run.info.status in ("FINISHED", "FAILED"), run.info.status
    if run.info.status == "FAILED":  # allowed on a slow machine, but only with the reason
        assert "stopped before this run's tracking finished" in run.data.tags["mlops.error"]
        return
    version = mlflow.MlflowClient(workspace.tracking_uri).get_model_version_by_alias("cancer", "challenger")
    assert version.run_id == run.info.run_id
    assert mlflow.pyfunc.load_model("models:/cancer@challenger").predict(load_x()[:3]).shape == (3,)


def load_x() -> object:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True, as_frame=True)[0]


def test_a_run_the_kernel_cannot_finish_is_failed_with_the_reason(workspace: Workspace, tmp_path: Path) -> None:
    began = time.monotonic()
    _execute(tmp_path, SETUP, SLOW, "%%train --data X,y --model slow --experiment slow\nm = SlowToSave()")
    run = _settled_run(workspace, "slow")
    assert time.monotonic() - began < 120  # the kernel did not hold its notebook until the model was written
    assert run.info.status == "FAILED"
    reason = run.data.tags["mlops.error"]
    assert "stopped before this run's tracking finished" in reason and "run the training cell again" in reason
