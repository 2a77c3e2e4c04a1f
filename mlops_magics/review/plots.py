"""Review plots as inline PNG: confusion matrices and ROC curves for classifiers, residuals for regressors."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def review_plots(task: str, y: Any, models: dict[str, Any], x: Any) -> str:
    """One PNG (base64) comparing the models (label -> model) on ``x``, ``y``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

    truth = np.asarray(y).ravel()
    count = len(models)
    if task == "classification":
        binary = len(np.unique(truth)) == 2
        figure, axes = plt.subplots(1, count + (1 if binary else 0), figsize=(3.6 * (count + binary), 3.2))
        axes = np.atleast_1d(axes)
        for axis, (label, model) in zip(axes, models.items(), strict=False):
            ConfusionMatrixDisplay.from_predictions(truth, model.predict(x), ax=axis, colorbar=False)
            axis.set_title(f"{label}: confusion matrix", fontsize=9)
        if binary:
            for label, model in models.items():
                if hasattr(model, "predict_proba"):
                    RocCurveDisplay.from_predictions(truth, model.predict_proba(x)[:, -1], ax=axes[-1], name=label)
            axes[-1].set_title("ROC", fontsize=9)
    else:
        figure, axis = plt.subplots(1, 1, figsize=(5, 3.2))
        for label, model in models.items():
            predicted = np.asarray(model.predict(x)).ravel()
            axis.scatter(predicted, truth - predicted, s=6, alpha=0.5, label=label)
        axis.axhline(0, color="grey", linewidth=0.8)
        axis.set_xlabel("predicted")
        axis.set_ylabel("residual")
        axis.legend(fontsize=8)
        axis.set_title("residuals", fontsize=9)
    return _png(figure)
