"""Any object with ``predict`` (not a scikit-learn estimator) is logged as an MLflow pyfunc through this wrapper."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc


class PredictWrapper(mlflow.pyfunc.PythonModel):
    """Serves ``model.predict``; the model itself travels as a cloudpickled artifact of the wrapper."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return self.model.predict(model_input)
