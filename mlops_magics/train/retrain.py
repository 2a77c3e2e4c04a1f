"""Retraining: fit a registered model's pipeline, with the same hyper-parameters, on new data."""

from __future__ import annotations

from typing import Any

from mlops_magics.errors import InvalidInput, NotFound


def model_uri(spec: str) -> str:
    """``name@alias`` or ``name/version`` -> ``models:/...``."""
    if "@" in spec:
        name, _, alias = spec.partition("@")
        if name and alias:
            return f"models:/{name}@{alias}"
    elif "/" in spec:
        name, _, version = spec.partition("/")
        if name and version.isdigit():
            return f"models:/{name}/{version}"
    raise InvalidInput(f"{spec!r} does not name a model version; use NAME@ALIAS (e.g. cancer@champion) or NAME/VERSION")


def load(tracker: Any, spec: str) -> Any:
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.sklearn.load_model(model_uri(spec))
    except MlflowException as exc:
        raise NotFound(f"no model {spec!r} in the registry ({str(exc).splitlines()[0]})") from None


def refit(tracker: Any, spec: str, x: Any, y: Any) -> Any:
    from sklearn.base import clone

    model = clone(load(tracker, spec))
    try:
        return model.fit(x, y)
    except Exception as exc:
        raise InvalidInput(f"{type(model).__name__} could not be fitted on this data: {type(exc).__name__}: {exc}") from None
