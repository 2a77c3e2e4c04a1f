"""MLflow as the workspace's record: the tracking URI and artifact root every face uses."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from mlops_magics.errors import MLOpsError, TrackingUnavailable
from mlops_magics.workspace import Workspace

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


def point_process_at(workspace: Workspace) -> None:
    """This process's MLflow, imported now or later, reads and writes the workspace's runs and models.

    The environment variable does it, which MLflow reads whenever it needs a URI: nothing is imported here, and a
    kernel's own ``mlflow.pyfunc.load_model("models:/name@alias")`` finds the workspace's registry (MLflow's
    registry follows the tracking URI unless ``MLFLOW_REGISTRY_URI`` says otherwise), not a new ``mlflow.db`` in
    the working folder. A tracking URI the user set stays, and so does a registry URI.
    """
    if os.environ.get(TRACKING_URI_ENV):
        return
    workspace.ensure()  # SQLite opens the file but does not make its folder
    os.environ[TRACKING_URI_ENV] = workspace.tracking_uri


def mlflow_for(workspace: Workspace) -> Any:
    """The mlflow module pointed at the workspace's store (or ``MLFLOW_TRACKING_URI``)."""
    # Artifact downloads draw progress bars on stderr; in a notebook cell they are noise.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    # Creating the SQLite store prints migration chatter at INFO; people need none of it.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    workspace.ensure()
    uri = workspace.tracking_uri
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
    mlflow.set_tracking_uri(uri)
    return mlflow


def _check_server(uri: str) -> None:
    """Fail at once, before anything is logged, when a remote tracking server does not answer.

    (MLflow's own client retries for minutes, and a run could be left half-logged.)
    """
    import httpx

    try:
        response = httpx.get(f"{uri.rstrip('/')}/health", timeout=5)
    except httpx.HTTPError as exc:
        raise MLOpsError(f"the MLflow tracking server at {uri} does not answer ({exc}); nothing was logged") from None
    if response.status_code >= 500:
        raise MLOpsError(f"the MLflow tracking server at {uri} answers {response.status_code}; nothing was logged")


def unavailable(workspace: Workspace, exc: Exception) -> MLOpsError:
    return TrackingUnavailable(f"MLflow at {workspace.tracking_uri} cannot be used: {type(exc).__name__}: {exc}")


def experiment_id(workspace: Workspace, name: str) -> str:
    """The id of experiment ``name``, created with its artifacts in the workspace when it is new."""
    mlflow = mlflow_for(workspace)
    try:
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if workspace.tracking_uri.startswith("sqlite:"):
            location = (workspace.artifacts / name).resolve().as_uri()
        return mlflow.create_experiment(name, artifact_location=location)
    except Exception as exc:  # an unreachable or misconfigured tracking server
        raise MLOpsError(f"MLflow at {workspace.tracking_uri} cannot be used: {type(exc).__name__}: {exc}") from None


def log_artifacts(workspace: Workspace, files: list[Path], artifact_path: str, experiment: str) -> str:
    """Log files to the active run, or to a new run of ``experiment``; return the run id."""
    mlflow = mlflow_for(workspace)
    try:
        active = mlflow.active_run()
        if active is not None:
            for file in files:
                mlflow.log_artifact(str(file), artifact_path)
            return active.info.run_id
        with mlflow.start_run(experiment_id=experiment_id(workspace, experiment)) as run:
            for file in files:
                mlflow.log_artifact(str(file), artifact_path)
            return run.info.run_id
    except MLOpsError:
        raise
    except Exception as exc:
        raise MLOpsError(f"could not log to MLflow at {workspace.tracking_uri}: {type(exc).__name__}: {exc}") from None
