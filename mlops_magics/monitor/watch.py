"""After a swap: the new model version's first window against the previous version's last one, from the request
log and the feedback labels, judged "worse" (roll back), "kept" or still "watching".

The previous side is the monitor's window ending at the swap, its rows served by the previous version; the new side
is what the new version served since the swap, for up to one window (a duration after the swap, or its first N
rows). Two figures are compared, each only once both sides have enough rows to say something:

- the error rate (rows answered 5xx): worse when the new version's is higher by more than ``margin`` (a share:
  0.05 is five points), after ``MIN_ROWS`` rows;
- the performance on feedback labels, by the task's primary metric (f1, rmse as ``%review`` gates by): worse when
  lower by more than ``margin`` (a metric better large, absolute) or higher by more than ``margin`` of the previous
  value (one better small, relative), after ``MIN_LABELLED`` labelled rows on each side.

The watch ends when the new version is found worse (roll back), or when its window is complete (kept).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlops_magics.monitor.feedback import Feedback, read_feedback
from mlops_magics.monitor.performance import MIN_LABELLED, performance
from mlops_magics.monitor.window import Window, WindowData, WindowRows, plan_window, read_rows
from mlops_magics.train.direction import HIGHER_IS_BETTER

MIN_ROWS = 50
PRIMARY = {"classification": "f1", "regression": "rmse"}
Outcome = Literal["watching", "kept", "roll back"]


@dataclass(frozen=True)
class Side:
    """One version's figures: rows served, the share that failed, its primary metric on labelled rows."""

    version: str | None
    rows: int
    error_rate: float | None
    metric: str | None = None
    value: float | None = None
    labelled: int = 0


@dataclass(frozen=True)
class Judgement:
    outcome: Outcome
    message: str
    previous: Side
    new: Side
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "message": self.message,
            "previous": self.previous.__dict__,
            "new": self.new.__dict__,
        }


def judge(
    folder: Path,
    window: Window,
    version: str | None,
    previous_version: str | None,
    swapped_at: float,
    margin: float,
    run_metrics: Mapping[str, float] | None = None,
    task: str | None = None,
    now: float | None = None,
) -> Judgement:
    """Judge the version served since ``swapped_at`` (epoch seconds) against the one before, from ``folder``'s
    request log and feedback labels."""
    now = time.time() if now is None else now
    elapsed = max(1, int(now - swapped_at) + 1)
    since = Window(f"{elapsed}s", seconds=elapsed)
    # The new version's rows since the swap (about one window: the watch ends once it is complete), in order, so
    # that its first N rows can be taken; the previous window summarised, as a check reads it (bounded memory).
    new_data = read_rows(folder, since, version, now=now)
    if window.rows is not None:
        new_data = new_data.head(window.rows)
    planned = plan_window(folder, window, now=swapped_at)
    previous_feedback = read_feedback(folder, planned.since) if planned.parts else None
    previous_data = planned.read(previous_version, previous_feedback.labels if previous_feedback is not None else None)
    new_feedback = read_feedback(folder, swapped_at) if new_data.rows else None
    new = _side(new_data, version, new_feedback, run_metrics or {}, task)
    previous = _side(previous_data, previous_version, previous_feedback, run_metrics or {}, task)
    reasons = _worse(previous, new, margin)
    if reasons:
        message = f"v{version} is worse than v{previous_version}: " + "; ".join(reasons)
        return Judgement("roll back", message, previous, new, reasons)
    complete = new.rows >= window.rows if window.rows is not None else now - swapped_at >= (window.seconds or 0)
    if complete:
        return Judgement(
            "kept",
            f"v{version} is not worse than v{previous_version} over its first window: {_figures(previous, new)}",
            previous,
            new,
        )
    return Judgement("watching", f"watching v{version}'s first window: {_figures(previous, new)}", previous, new)


def _side(
    data: WindowData | WindowRows,
    version: str | None,
    feedback: Feedback | None,
    run_metrics: Mapping[str, float],
    task: str | None,
) -> Side:
    if not data.rows:
        return Side(version, 0, None)
    error_rate = data.error_rate
    if feedback is None:
        return Side(version, data.rows, error_rate)
    found = performance(data, feedback, run_metrics, task)
    metric = PRIMARY.get(found.task or "")
    value = next((m.value for m in found.metrics if m.metric == metric), None)
    if value is None and found.metrics and found.task:  # the run logged no primary metric: its first one computed
        computed = [m for m in found.metrics if m.value is not None]
        metric, value = (computed[0].metric, computed[0].value) if computed else (metric, None)
    return Side(version, data.rows, error_rate, metric, value, found.labelled)


def _worse(previous: Side, new: Side, margin: float) -> list[str]:
    reasons = []
    if new.rows >= MIN_ROWS and new.error_rate is not None:
        before = previous.error_rate or 0.0
        if new.error_rate > before + margin:
            reasons.append(f"{new.error_rate:.1%} of {new.rows:,} rows failed (5xx), against {before:.1%} before")
    comparable = (
        new.metric is not None
        and new.metric == previous.metric
        and new.value is not None
        and previous.value is not None
        and min(new.labelled, previous.labelled) >= MIN_LABELLED
    )
    if comparable:
        assert new.metric is not None and new.value is not None and previous.value is not None
        if new.metric in HIGHER_IS_BETTER:
            worse = new.value < previous.value - margin
        else:
            worse = new.value > previous.value * (1 + margin)
        if worse:
            reasons.append(f"{new.metric} {new.value:.4g} on {new.labelled:,} labelled rows, against {previous.value:.4g} before")
    return reasons


def _figures(previous: Side, new: Side) -> str:
    def said(side: Side) -> str:
        parts = [f"{side.rows:,} rows"]
        if side.error_rate is not None:
            parts.append(f"{side.error_rate:.1%} failed")
        if side.value is not None:
            parts.append(f"{side.metric} {side.value:.4g} on {side.labelled:,} labels")
        return f"v{side.version} " + ", ".join(parts)

    return f"{said(new)}; before: {said(previous)}"
