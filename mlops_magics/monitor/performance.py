"""The model's performance on live traffic: a window's answered requests joined with their feedback labels on
(request_id, row), scored with the metrics ``%%train`` logs, beside the values the run of the served version
logged (its eval metrics, else its train metrics).

Limits make it a verdict: ``--min accuracy=0.85`` (a metric that is better large must stay at or above it),
``--max rmse=3`` (one that is better small must stay at or below it); a metric past its limit is "decay". The
request log holds the model's predictions, not its probabilities, so metrics of probabilities (ROC-AUC) are listed
as not computed. Fewer than ``MIN_LABELLED`` labelled rows judge nothing: "not enough feedback".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlops_magics.errors import InvalidInput
from mlops_magics.monitor.feedback import Feedback
from mlops_magics.monitor.window import Skipped, WindowData, WindowRows
from mlops_magics.train.direction import HIGHER_IS_BETTER

MIN_LABELLED = 30
CLASSIFICATION = ("accuracy", "f1", "roc_auc", "balanced_accuracy", "precision", "recall")
REGRESSION = ("rmse", "mae", "r2")
DEFAULTS = {"classification": ("accuracy", "f1", "roc_auc"), "regression": REGRESSION}
FROM_PROBABILITIES = frozenset({"roc_auc"})
NO_PROBABILITIES = "needs the model's probabilities; the request log holds its predictions"

Bound = Literal["min", "max"]
PerformanceVerdict = Literal["decay", "no decay", "not enough feedback"]


@dataclass(frozen=True)
class Limit:
    """``--min accuracy=0.85``: accuracy must stay at or above 0.85; ``--max rmse=3``: rmse at or below 3."""

    metric: str
    bound: Bound
    value: float

    def crossed_by(self, value: float) -> bool:
        return value < self.value if self.bound == "min" else value > self.value

    def describe(self) -> str:
        return f"--{self.bound} {self.metric}={self.value:g}"


def limits_from(minimums: Mapping[str, str] | None = None, maximums: Mapping[str, str] | None = None) -> list[Limit]:
    """``--min NAME=VALUE`` for metrics better large, ``--max NAME=VALUE`` for metrics better small."""
    limits = []
    for bound, pairs in (("min", minimums or {}), ("max", maximums or {})):
        for name, text in pairs.items():
            metric = name.strip().lower()
            if metric not in CLASSIFICATION + REGRESSION:
                known = ", ".join(CLASSIFICATION + REGRESSION)
                raise InvalidInput(f"--{bound}: no metric named {name!r}; known: {known}")
            try:
                value = float(text)
            except ValueError:
                raise InvalidInput(f"--{bound} {metric}: {text!r} is not a number") from None
            if value != value:
                raise InvalidInput(f"--{bound} {metric}: {text!r} is not a number")
            higher = metric in HIGHER_IS_BETTER
            if (bound == "min") != higher:
                other, way = ("max", "smaller") if bound == "min" else ("min", "larger")
                raise InvalidInput(
                    f"--{bound} {metric}: {metric} is better {way}, so its limit is a {other}imum: --{other} {metric}={text}"
                )
            limits.append(Limit(metric, bound, value))  # type: ignore[arg-type]
    tasks = {"classification" if limit.metric in CLASSIFICATION else "regression" for limit in limits}
    if len(tasks) > 1:
        raise InvalidInput("--min/--max: metrics of classification and of regression together; a model is one of the two")
    return limits


@dataclass(frozen=True)
class MetricResult:
    metric: str
    value: float | None  # None: not computed (see ``note``)
    reference: float | None  # the run's value (its eval metric, else its train metric); None: not logged
    limit: Limit | None = None
    note: str = ""

    @property
    def crossed(self) -> bool:
        return self.limit is not None and self.value is not None and self.limit.crossed_by(self.value)


@dataclass
class Performance:
    verdict: PerformanceVerdict
    reason: str
    labelled: int  # rows of the window with a label (answered requests only)
    task: str | None = None
    reference: str | None = None  # "eval" or "train": which of the run's metrics stand beside
    metrics: list[MetricResult] = field(default_factory=list)
    limits: list[Limit] = field(default_factory=list)
    feedback_segments: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def decayed(self) -> list[str]:
        return [m.metric for m in self.metrics if m.crossed]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["decayed"] = self.decayed
        return out


def performance(
    data: WindowData | WindowRows,
    feedback: Feedback,
    run_metrics: Mapping[str, float],
    task: str | None = None,
    limits: Sequence[Limit] = (),
) -> Performance:
    """The window's performance on its labelled rows against ``run_metrics`` (the served version's run: eval_X,
    train_X) and ``limits``; ``task`` is the run's (classification or regression), else read from its metrics'
    names, else from the labels."""
    limits = list(limits)
    common: dict[str, Any] = {"limits": limits, "feedback_segments": feedback.segments_read, "skipped": feedback.skipped}
    joined = _joined(data, feedback)
    if isinstance(joined, str):
        return Performance("not enough feedback", joined, 0, **common)
    labelled = len(joined)
    if labelled < MIN_LABELLED:
        return Performance("not enough feedback", f"not enough feedback ({labelled} labelled rows)", labelled, **common)
    task = _task(task, run_metrics, limits, joined["label"])
    reference, logged = _reference(run_metrics, task)
    names = list(dict.fromkeys([*(logged or DEFAULTS[task]), *(limit.metric for limit in limits)]))
    truth, predicted = _aligned(joined, task)
    by_metric = {limit.metric: limit for limit in limits}
    results = []
    for name in names:
        value, note = _score(name, truth, predicted)
        beside = run_metrics.get(f"{reference}_{name}") if reference else None
        beside = float(beside) if beside is not None and beside == beside else None
        results.append(MetricResult(name, value, beside, by_metric.get(name), note))
    crossed = [m for m in results if m.crossed]
    on = f"on {labelled:,} labelled rows"
    if crossed:
        words = "; ".join(_crossing(m) for m in crossed)
        return Performance("decay", f"{words} {on}", labelled, task, reference, results, **common)
    unjudged = [m.metric for m in results if m.limit is not None and m.value is None]
    if limits and len(unjudged) < len(limits):
        held = ", ".join(m.limit.describe() for m in results if m.limit is not None and m.value is not None)  # type: ignore[union-attr]
        reason = f"within the limits ({held}) {on}"
    elif limits:
        reason = f"no limit could be judged ({', '.join(unjudged)} not computed) {on}"
    else:
        reason = f"measured {on} (no --min/--max limit set)"
    return Performance("no decay", reason, labelled, task, reference, results, **common)


def _crossing(metric: MetricResult) -> str:
    limit = metric.limit
    assert limit is not None and metric.value is not None
    side = "below the minimum" if limit.bound == "min" else "above the maximum"
    beside = f" (the model's was {metric.reference:.4g})" if metric.reference is not None else ""
    return f"{metric.metric} {metric.value:.4g} {side} {limit.value:g}{beside}"


def _joined(data: WindowData | WindowRows, feedback: Feedback) -> pd.DataFrame | str:
    """The window's answered rows that have a label: request_id, row, prediction, label; or why there are none."""
    traffic = data.traffic
    if not data.rows:
        return "not enough feedback (0 labelled rows): no requests in the window"
    answered = traffic[(traffic["status"].astype(int) < 400) & traffic["prediction"].notna()]
    lists = answered["prediction"].map(lambda p: isinstance(p, (list, dict, np.ndarray))).any()
    if lists or data.prediction_lists:
        return "predictions are lists (several outputs per row): not scored against labels"
    answered = answered[["request_id", "row", "prediction"]].astype({"request_id": str, "row": "int64"})
    labels = feedback.labels[feedback.labels["label"].notna()]
    return answered.merge(labels[["request_id", "row", "label"]], on=["request_id", "row"], how="inner")


def _task(task: str | None, run_metrics: Mapping[str, float], limits: Sequence[Limit], labels: pd.Series) -> str:
    if task in DEFAULTS:
        return task  # type: ignore[return-value]
    names = {name.split("_", 1)[-1] for name in run_metrics} | {limit.metric for limit in limits}
    if names & set(REGRESSION):
        return "regression"
    if names & set(CLASSIFICATION):
        return "classification"
    values = pd.to_numeric(labels, errors="coerce")
    if values.notna().all() and labels.dtype.kind == "f" and not np.all(np.mod(values, 1) == 0):
        return "regression"
    return "classification"


def _reference(run_metrics: Mapping[str, float], task: str) -> tuple[str | None, list[str]]:
    """Which of the run's metrics stand beside (eval, else train) and the task's metrics it logged."""
    family = CLASSIFICATION if task == "classification" else REGRESSION
    for prefix in ("eval", "train"):
        logged = [name.removeprefix(f"{prefix}_") for name in run_metrics if name.startswith(f"{prefix}_")]
        logged = [name for name in logged if name in family]
        if logged:
            return prefix, logged
    return None, []


def _aligned(joined: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions of one kind: numbers when both sides are, else strings (a label sent as "1")."""
    truth, predicted = joined["label"], joined["prediction"]
    if task == "regression":
        return pd.to_numeric(truth, errors="coerce").to_numpy(float), pd.to_numeric(predicted, errors="coerce").to_numpy(float)
    as_numbers = [pd.to_numeric(side.map(_bool_as_int), errors="coerce") for side in (truth, predicted)]
    if all(side.notna().all() for side in as_numbers):
        return as_numbers[0].to_numpy(float), as_numbers[1].to_numpy(float)
    return truth.astype(str).to_numpy(), predicted.astype(str).to_numpy()


def _bool_as_int(value: Any) -> Any:
    return int(value) if isinstance(value, (bool, np.bool_)) else value


def _score(name: str, truth: np.ndarray, predicted: np.ndarray) -> tuple[float | None, str]:
    from mlops_magics.train.metrics import SCORERS

    if name in FROM_PROBABILITIES:
        return None, NO_PROBABILITIES
    keep = ~(pd.isna(truth) | pd.isna(predicted))
    if not keep.all():
        truth, predicted = truth[keep], predicted[keep]
    try:
        value = SCORERS[name](truth, predicted, None, None)
    except (ValueError, TypeError) as exc:
        text = str(exc).strip().splitlines()
        return None, text[0][:160] if text else type(exc).__name__
    return (value, "") if value == value else (None, "undefined on these rows")
