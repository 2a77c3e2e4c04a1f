"""What a model is for (classification or regression) and the metrics that judge it, by default and by name.

Training and review both score models here, so a review compares exactly what training logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn import metrics as sk

from mlops_magics.errors import InvalidInput
from mlops_magics.train.direction import HIGHER_IS_BETTER

Task = Literal["classification", "regression"]

DEFAULTS: dict[Task, tuple[str, ...]] = {
    "classification": ("accuracy", "f1", "roc_auc"),
    "regression": ("rmse", "mae", "r2"),
}


def task_of(model: Any) -> Task:
    estimator_type = getattr(model, "_estimator_type", None)
    if estimator_type is None:
        try:
            from sklearn.base import is_classifier

            estimator_type = "classifier" if is_classifier(model) else None
        except Exception:  # not a scikit-learn object: judge by its methods
            estimator_type = None
    if estimator_type == "classifier" or hasattr(model, "predict_proba") or hasattr(model, "classes_"):
        return "classification"
    return "regression"


def _binary(y: np.ndarray) -> bool:
    return len(np.unique(y)) <= 2


def _f1(y: np.ndarray, pred: np.ndarray, _model: Any, _x: Any) -> float:
    return float(sk.f1_score(y, pred, average="binary" if _binary(y) else "macro", pos_label=_positive(y)))


def _positive(y: np.ndarray) -> Any:
    labels = np.unique(y)
    return labels[-1] if len(labels) == 2 else 1


def _roc_auc(y: np.ndarray, _pred: np.ndarray, model: Any, x: Any) -> float:
    if not hasattr(model, "predict_proba"):
        raise ValueError("the model has no predict_proba")
    proba = np.asarray(model.predict_proba(x))
    if _binary(y):
        return float(sk.roc_auc_score(y, proba[:, -1]))
    return float(sk.roc_auc_score(y, proba, multi_class="ovr"))


Scorer = Callable[[np.ndarray, np.ndarray, Any, Any], float]
SCORERS: dict[str, Scorer] = {
    "accuracy": lambda y, p, m, x: float(sk.accuracy_score(y, p)),
    "balanced_accuracy": lambda y, p, m, x: float(sk.balanced_accuracy_score(y, p)),
    "f1": _f1,
    "precision": lambda y, p, m, x: float(
        sk.precision_score(y, p, average="binary" if _binary(y) else "macro", pos_label=_positive(y), zero_division=0)
    ),
    "recall": lambda y, p, m, x: float(
        sk.recall_score(y, p, average="binary" if _binary(y) else "macro", pos_label=_positive(y), zero_division=0)
    ),
    "roc_auc": _roc_auc,
    "rmse": lambda y, p, m, x: float(np.sqrt(sk.mean_squared_error(y, p))),
    "mae": lambda y, p, m, x: float(sk.mean_absolute_error(y, p)),
    "r2": lambda y, p, m, x: float(sk.r2_score(y, p)),
}


def check_metric(name: str) -> str:
    if name not in SCORERS:
        raise InvalidInput(f"unknown metric {name!r}; known metrics: {', '.join(sorted(SCORERS))}")
    return name


@dataclass
class Scores:
    """Metric values, and for each metric that has none, why: nothing is dropped without a word."""

    values: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # metric -> why it has no value
    rows: int = 0
    unlabelled: int = 0  # rows whose target is missing: not scored

    def notes(self, label: str, flag: str) -> list[str]:
        """What a person should know about these scores, one line each (``label``: train/eval, ``flag``: --data)."""
        lines = []
        if self.unlabelled == self.rows and self.rows:
            lines.append(f"{flag}: every target value is missing (NaN); no {label} metrics")
        elif self.unlabelled:
            lines.append(
                f"{flag}: {self.unlabelled} of {self.rows} target values are missing (NaN); "
                f"{label} metrics are computed on the other {self.rows - self.unlabelled} rows"
            )
        if self.skipped and self.unlabelled != self.rows:
            lines.extend(f"{label}_{name} not computed: {why}" for name, why in self.skipped.items())
        return lines


def _rows(data: Any, keep: np.ndarray) -> Any:
    return data.iloc[keep] if hasattr(data, "iloc") else data[keep]


def evaluate(model: Any, x: Any, y: Any, names: tuple[str, ...] | None = None) -> Scores:
    """The named (or the task's default) metrics of ``model`` on ``x``, ``y``, with the reason for each one missing.

    Rows whose target is missing are left out (and counted): a metric over them would be undefined.
    """
    task = task_of(model)
    wanted = names or DEFAULTS[task]
    truth = np.asarray(y).ravel()
    missing = np.asarray(pd.isna(truth), dtype=bool).reshape(-1)
    scores = Scores(rows=len(truth), unlabelled=int(missing.sum()))
    if scores.unlabelled == scores.rows:
        scores.values = dict.fromkeys(wanted, float("nan"))
        scores.skipped = dict.fromkeys(wanted, "every target value is missing")
        return scores
    if scores.unlabelled:
        keep = np.flatnonzero(~missing)
        x, truth = _rows(x, keep), truth[keep]
    try:
        predicted = np.asarray(model.predict(x)).ravel()
    except Exception as exc:
        raise InvalidInput(f"the model cannot predict on this data: {type(exc).__name__}: {exc}") from None
    for name in wanted:
        try:
            scores.values[name] = SCORERS[check_metric(name)](truth, predicted, model, x)
        except InvalidInput:
            raise
        except (ValueError, TypeError) as exc:  # a metric that does not apply to this model or these labels
            scores.values[name] = float("nan")
            scores.skipped[name] = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return scores


def score(model: Any, x: Any, y: Any, names: tuple[str, ...] | None = None) -> dict[str, float]:
    """The named (or the task's default) metrics of ``model`` on ``x``, ``y``; NaN where one does not apply."""
    return evaluate(model, x, y, names).values


def better(metric: str, challenger: float, champion: float) -> float:
    """How much better the challenger is (positive = better), whichever way the metric points."""
    return challenger - champion if metric in HIGHER_IS_BETTER else champion - challenger
