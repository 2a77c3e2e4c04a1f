"""What logged request rows come to, as a check needs it: the inputs' column statistics, the answered predictions',
and the traffic (rows, requests, error counts, per-request latency). Summaries of any sets of rows fold into the
summary of their union (``fold``), so a window is summarised segment by segment, in bounded memory, and a finished
segment's summary can be kept and folded again by every later window that holds it (``cache``).

A request's rows are logged together, in one segment, so the requests of a window are counted segment by segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlops_magics.eda.partition import ColumnStats
from mlops_magics.eda.profile import Profile
from mlops_magics.eda.sketches import KllSummary
from mlops_magics.eda.stream import (
    chunk_columns,
    column_from_dict,
    column_to_dict,
    empty_column,
    fold,
    fold_columns,
    streamed_profile,
)

INPUT = "input."
PREDICTION = "prediction"


@dataclass
class RequestSummary:
    rows: int = 0
    requests: int = 0
    server_errors: int = 0  # rows answered with status >= 500
    client_errors: int = 0  # rows answered 4xx
    latency: KllSummary = field(default_factory=KllSummary.empty)  # per request, in ms
    first: float | None = None  # epoch seconds of the earliest row
    last: float | None = None
    inputs: dict[str, ColumnStats] = field(default_factory=dict)  # without the "input." prefix
    predictions: ColumnStats | None = None  # of answered rows (status < 400, a prediction)
    prediction_lists: bool = False  # some answered row's prediction is a list (several outputs): not profiled

    def fold(self, part: RequestSummary) -> RequestSummary:
        """This summary with ``part``'s rows added (in place; ``part`` is left as it was)."""
        fold_columns(self.inputs, part.inputs, self.rows, part.rows)
        if part.predictions is not None:
            if self.predictions is None:
                self.predictions = empty_column(part.predictions.kind, part.predictions.dtype)
            self.predictions = fold(self.predictions, part.predictions)
        self.rows += part.rows
        self.requests += part.requests
        self.server_errors += part.server_errors
        self.client_errors += part.client_errors
        self.latency.merge(part.latency)
        self.first = _earliest(self.first, part.first)
        self.last = _latest(self.last, part.last)
        self.prediction_lists = self.prediction_lists or part.prediction_lists
        return self

    def latency_percentiles(self) -> tuple[float, float] | None:
        """p50 and p95 of the per-request latency (None: no requests)."""
        if not self.latency.n:
            return None
        p50, p95 = self.latency.quantiles([0.5, 0.95])
        return p50, p95

    def inputs_profile(self, title: str, chunks: int) -> Profile:
        return streamed_profile(self.inputs, self.rows, title=title, source=title, chunks=chunks)

    def predictions_profile(self) -> Profile | None:
        """A profile of the answered predictions (one column, ``prediction``), or None when there are none."""
        if self.predictions is None or self.predictions.rows == 0:
            return None
        return streamed_profile({PREDICTION: self.predictions}, self.predictions.rows, title="predictions", source="", chunks=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "requests": self.requests,
            "server_errors": self.server_errors,
            "client_errors": self.client_errors,
            "latency": column_to_dict(_latency_column(self.latency)),
            "first": self.first,
            "last": self.last,
            "inputs": [[name, column_to_dict(stats)] for name, stats in self.inputs.items()],
            "predictions": column_to_dict(self.predictions) if self.predictions is not None else None,
            "prediction_lists": self.prediction_lists,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestSummary:
        """The summary ``to_dict`` wrote; ``ValueError`` for anything else."""
        try:
            latency = column_from_dict(data["latency"]).summary
            if not isinstance(latency, KllSummary):
                raise ValueError("no latency sketch")
            return cls(
                rows=int(data["rows"]),
                requests=int(data["requests"]),
                server_errors=int(data["server_errors"]),
                client_errors=int(data["client_errors"]),
                latency=latency,
                first=_time(data["first"]),
                last=_time(data["last"]),
                inputs={str(name): column_from_dict(stats) for name, stats in data["inputs"]},
                predictions=column_from_dict(data["predictions"]) if data["predictions"] is not None else None,
                prediction_lists=bool(data["prediction_lists"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a request summary: {type(exc).__name__}: {exc}") from None


def summarise(rows: pd.DataFrame) -> RequestSummary:
    """The summary of logged request rows (a segment's columns: request_id, row, input.*, prediction, latency_ms,
    status, time)."""
    status = rows["status"].to_numpy(dtype=np.int64)
    per_request = rows.drop_duplicates("request_id")
    times = rows["time"]
    inputs = rows[[c for c in rows.columns if c.startswith(INPUT)]]
    summary = RequestSummary(
        rows=len(rows),
        requests=len(per_request),
        server_errors=int(np.count_nonzero(status >= 500)),
        client_errors=int(np.count_nonzero((status >= 400) & (status < 500))),
        latency=KllSummary.of_values(_finite(per_request["latency_ms"].to_numpy(dtype=np.float64))),
        first=times.min().timestamp() if len(rows) else None,
        last=times.max().timestamp() if len(rows) else None,
        inputs=chunk_columns(inputs.rename(columns=lambda c: c.removeprefix(INPUT))),
    )
    answered = rows["prediction"][(status < 400) & rows["prediction"].notna().to_numpy()]
    if len(answered) and answered.dtype == object and answered.map(lambda p: isinstance(p, (list, dict, np.ndarray))).any():
        summary.prediction_lists = True
    elif len(answered):
        summary.predictions = chunk_columns(answered.reset_index(drop=True).to_frame(PREDICTION))[PREDICTION]
    return summary


def _latency_column(latency: KllSummary) -> ColumnStats:
    stats = empty_column("numeric", "float64")
    stats.summary = latency
    stats.rows = latency.n
    stats.top_complete = False  # its values are not counted: the sketch is all there is
    return stats


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _time(value: Any) -> float | None:
    return None if value is None else float(value)


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)
