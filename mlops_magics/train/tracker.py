"""The tracker interface ``%%train`` logs through, and its MLflow implementation: the system of record (the
registry, aliases, ``%review``, ``%deploy`` and the monitor stand on it). Other trackers (W&B, Comet, a team's
own) receive copies of its runs as mirrors (``mlops_magics.train.mirrors``, ``%%train --mirror``)."""

from __future__ import annotations

import json
import time
from importlib import metadata
from typing import Any, Protocol

from mlops_magics import tracking
from mlops_magics.errors import MLOpsError
from mlops_magics.workspace import Workspace

MAX_PARAM_LENGTH = 500
ERROR_TAG = "mlops.error"  # why a run FAILED, in words


class Tracker(Protocol):
    name: str
    tracking_uri: str | None  # where a run left unfinished by a stopped kernel can still be marked FAILED

    def start_run(self, experiment: str, run_name: str | None, tags: dict[str, str]) -> str: ...
    def log_batch(self, run_id: str, params: dict[str, Any], metrics: dict[str, float], tags: dict[str, str]) -> None: ...
    def log_text(self, run_id: str, text: str, path: str) -> None: ...
    def log_model(self, run_id: str, model: Any, example: Any) -> str: ...
    def register(self, name: str, run_id: str, model_uri: str, alias: str) -> str: ...
    def end_run(self, run_id: str, failed: bool = False, reason: str | None = None) -> None: ...
    def run_url(self, run_id: str) -> str | None: ...


def requirements_of(model: Any) -> list[str]:
    """Pinned requirements of the packages a model needs, read from installed metadata (no import scan)."""
    names = {"mlflow", "numpy", "pandas", "scikit-learn", "scipy", "skops", "cloudpickle"}
    for part in _parts(model):  # the model and every estimator inside it (a pipeline's, a ColumnTransformer's)
        top = type(part).__module__.split(".")[0]
        names.add({"sklearn": "scikit-learn"}.get(top, top))
    pinned = []
    for name in sorted(names):
        try:
            pinned.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pinned


def _parts(model: Any) -> list[Any]:
    try:
        params = model.get_params(deep=True) if hasattr(model, "get_params") else {}
    except Exception:  # an estimator whose get_params fails: its own module only
        params = {}
    return [model, *(value for value in params.values() if hasattr(value, "fit") and not isinstance(value, type))]


class MLflowTracker:
    name = "mlflow"

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.tracking_uri = workspace.tracking_uri
        self.mlflow = tracking.mlflow_for(workspace)
        self.client = self.mlflow.MlflowClient(workspace.tracking_uri)

    def start_run(self, experiment: str, run_name: str | None, tags: dict[str, str]) -> str:
        experiment_id = tracking.experiment_id(self.workspace, experiment)
        try:
            run = self.client.create_run(experiment_id, run_name=run_name, tags=tags)
        except Exception as exc:
            raise MLOpsError(f"MLflow at {self.workspace.tracking_uri} refused a new run: {exc}") from None
        return run.info.run_id

    def log_batch(self, run_id: str, params: dict[str, Any], metrics: dict[str, float], tags: dict[str, str]) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if v == v],  # NaN is not logged
            params=[Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in params.items()],
            tags=[RunTag(k, str(v)) for k, v in tags.items()],
        )

    def log_text(self, run_id: str, text: str, path: str) -> None:
        self.client.log_text(run_id, text, path)

    def log_model(self, run_id: str, model: Any, example: Any) -> str:
        import mlflow.pyfunc
        import mlflow.sklearn
        from mlflow.models import infer_signature
        from sklearn.base import BaseEstimator

        signature = infer_signature(example, model.predict(example)) if example is not None else None
        common = {"name": "model", "signature": signature, "input_example": example}
        # MLflow logs a model into the active run. Resumed here and left RUNNING afterwards, not ended (which would
        # mark it FINISHED): the run is finished by end_run() once its profile and registration are done too.
        self.mlflow.start_run(run_id=run_id, nested=self.mlflow.active_run() is not None)
        try:
            if isinstance(model, BaseEstimator):  # scikit-learn, and the sklearn APIs of XGBoost and LightGBM
                info = mlflow.sklearn.log_model(model, pip_requirements=requirements_of(model), **common, **_serialization(model))
            else:  # anything else with predict(): served through pyfunc
                from mlops_magics.train.pyfunc import PredictWrapper

                requirements = [*requirements_of(model), f"mlops-magics=={metadata.version('mlops-magics')}"]
                info = mlflow.pyfunc.log_model(python_model=PredictWrapper(model), pip_requirements=requirements, **common)
        finally:
            self.mlflow.end_run(status="RUNNING")
        return info.model_uri

    def register(self, name: str, run_id: str, model_uri: str, alias: str) -> str:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name)
        version = self.client.create_model_version(name, model_uri, run_id=run_id)
        self.client.set_registered_model_alias(name, alias, version.version)
        return str(version.version)

    def end_run(self, run_id: str, failed: bool = False, reason: str | None = None) -> None:
        if reason:
            self.client.set_tag(run_id, ERROR_TAG, reason[:5000])
        self.client.set_terminated(run_id, status="FAILED" if failed else "FINISHED")

    def run_url(self, run_id: str) -> str | None:
        uri = self.workspace.tracking_uri
        if uri.startswith("http"):
            run = self.client.get_run(run_id)
            return f"{uri.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run_id}"
        return None


def _serialization(model: Any) -> dict[str, Any]:
    """skops (no pickle) with the model's own types trusted; cloudpickle for models skops cannot write."""
    try:
        import skops.io

        written = skops.io.dumps(model)
        trusted = skops.io.get_untrusted_types(data=written)
        skops.io.loads(written, trusted=trusted)  # some functions are written but cannot be read back (a method)
        return {"serialization_format": "skops", "skops_trusted_types": trusted}
    except Exception:
        return {"serialization_format": "cloudpickle"}


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
