"""Any object with ``predict`` (not a scikit-learn estimator) is logged as an MLflow pyfunc through this wrapper."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc


class PredictWrapper(mlflow.pyfunc.PythonModel):
    """Serves ``model.predict``; the model itself travels as a cloudpickled artifact of the wrapper."""

    def __init__(self, model: Any) -> None:
        self.model = model

    # model_input has no type hint on purpose: MLflow reads one as the input schema, and warns at every logging
    # that Any cannot be one.
    def predict(self, context: Any, model_input, params: dict[str, Any] | None = None) -> Any:  # noqa: ANN001
        return self.model.predict(model_input)
