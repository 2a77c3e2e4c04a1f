"""Load what a deployment serves: a registered model (``models:/name@alias``, ``name@alias``, ``name/3``) or a
``runs:/`` URI, through pyfunc, with its signature's input columns and an example to check it answers."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops_magics.errors import InvalidInput, NotFound
from mlops_magics.serving.app import ServedModel
from mlops_magics.serving.inputs import columns_of
from mlops_magics.serving.versions import pin


def model_uri(spec: str) -> str:
    if spec.startswith(("models:/", "runs:/", "file:", "/")):
        return spec
    if "@" in spec or "/" in spec:
        from mlops_magics.train.retrain import model_uri as registry_uri

        return registry_uri(spec)
    return f"models:/{spec}@champion"


def load(spec: str, name: str) -> tuple[ServedModel, pd.DataFrame | None]:
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    uri = model_uri(spec)
    try:
        # An alias is resolved once, here: the version loaded is the version recorded (and what a rollback
        # returns to), even if the alias moves while it loads.
        pinned, version = pin(uri)
        loaded = mlflow.pyfunc.load_model(pinned)
    except MlflowException as exc:
        raise NotFound(f"cannot load {uri}: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise NotFound(f"cannot load {uri}: {exc}") from None
    meta = loaded.metadata
    example = None
    try:
        example = meta.load_input_example(meta.artifact_path) if hasattr(meta, "load_input_example") else None
    except Exception:  # an example is a convenience for the health check, not a requirement
        example = None
    columns = columns_of(meta)
    predict = _predictor(loaded, meta, columns)
    served = ServedModel(uri=uri, name=name, predict=predict, columns=columns, version=version, pinned=pinned)
    return served, example if isinstance(example, pd.DataFrame) else None


# Signature types our input check converts to exactly what MLflow's own schema enforcement gives.
_SAME_AS_MLFLOW = ("double", "long", "string", "boolean")


def _predictor(loaded: Any, meta: Any, columns: list[Any] | None) -> Any:
    """The flavor's own ``predict`` when our check (``inputs.read``) already gave the frame exactly the types
    MLflow's schema enforcement would (it costs as much as the prediction itself on small batches); else
    pyfunc's ``predict``."""
    predict = getattr(loaded, "_predict_fn", None)  # the method pyfunc itself calls (MLmodel's pyfunc_predict_fn)
    if columns is None or not callable(predict):
        return loaded.predict
    for hint in ("_is_signature_from_type_hint", "_is_type_hint_from_example"):
        if getattr(meta, hint, lambda: True)():  # pyfunc converts the frame for these: let it
            return loaded.predict
    kinds = [str(getattr(spec, "type", "")).split(".")[-1].lower() for spec in meta.signature.inputs.inputs]
    if not all(kind in _SAME_AS_MLFLOW for kind in kinds) or getattr(meta.signature, "params", None):
        return loaded.predict
    return predict


def check_answers(model: ServedModel, example: pd.DataFrame | None) -> None:
    """A new model must predict its own input example before it takes traffic."""
    if example is None:
        return
    try:
        model.predict(example)
    except Exception as exc:
        raise InvalidInput(f"{model.uri} fails on its own input example: {type(exc).__name__}: {exc}") from None
