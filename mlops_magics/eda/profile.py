"""A profile: the JSON-native result of the one pass (small: kilobytes per column), and how it is built.

A profile is also a model's drift baseline: each numeric column keeps a compact quantile summary and each
categorical column its level counts, which ``compare`` (and the monitor) test new data against.

A column's ``summary`` is written in one form whatever sketch made it: ``{"values": [...], "weights": [...]}``, the
kept values in ascending order and the rows each stands for (``QuantileSummary.to_dict``). The one pass keeps its
own points (``BASELINE_POINTS`` of them in a saved profile); a streamed profile (``stream``) writes the retained
items of its KLL sketches, each weighted by the rows it stands for. Readers (``compare``, the monitor's drift) read
that form only, so profiles saved by every version of format 1 load and compare alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlops_magics.eda import alerts, correlations
from mlops_magics.eda.content import verdict
from mlops_magics.eda.partition import (
    NUMERIC_LEVELS,
    ColumnStats,
    PartitionStats,
    combine_columns,
    combine_pearson,
    combine_samples,
)
from mlops_magics.eda.sketches import KllSummary, QuantileSummary, sorted_unique
from mlops_magics.eda.target import relation_to_target
from mlops_magics.errors import InvalidInput

if TYPE_CHECKING:
    from mlops_magics.prep.decide import Model, Task
    from mlops_magics.prep.suggestion import Suggestion

FORMAT_VERSION = 1
QUANTILES = {"1%": 0.01, "5%": 0.05, "25%": 0.25, "50%": 0.5, "75%": 0.75, "95%": 0.95, "99%": 0.99}
HISTOGRAM_BINS = 24
BASELINE_POINTS = 256  # quantile points kept in the saved profile per numeric column
LEVELS_KEPT = 50  # level counts kept in the saved profile per categorical column
TOP_SHOWN = 10


def _clean(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _histogram(stats: ColumnStats, summary: QuantileSummary) -> dict[str, list[float]]:
    low, high = stats.moments.minimum, stats.moments.maximum
    if not np.isfinite(low):
        return {"edges": [], "counts": []}
    if low == high:
        return {"edges": [low, high], "counts": [stats.moments.n]}
    integer = stats.kind == "numeric" and float(low).is_integer() and float(high).is_integer()
    if integer and high - low < HISTOGRAM_BINS:
        edges = np.arange(low, high + 2) - 0.5
    else:
        edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    return {"edges": edges.tolist(), "counts": summary.histogram(edges).tolist()}


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def describe_column(name: str, stats: ColumnStats, points: int | None = BASELINE_POINTS) -> dict[str, Any]:
    """A column of the profile from its statistics; ``points``: quantile points its summary keeps (None: all)."""
    summary = stats.summary.points() if isinstance(stats.summary, KllSummary) else stats.summary
    count = stats.rows - stats.missing
    distinct = stats.distinct.estimate if stats.distinct is not None else 0
    column: dict[str, Any] = {
        "name": name,
        "kind": stats.kind,
        "dtype": stats.dtype,
        "count": count,
        "missing": stats.missing,
        "missing_share": stats.missing / stats.rows if stats.rows else 0.0,
        "distinct": min(distinct, count),
        "distinct_exact": stats.distinct is None or not stats.distinct.saturated,
    }
    if stats.kind in ("numeric", "datetime"):
        m = stats.moments
        quantiles = summary.quantiles(list(QUANTILES.values()))
        column.update(
            mean=_clean(m.mean) if m.n else None,
            std=_clean(m.std),
            min=_clean(m.minimum),
            max=_clean(m.maximum),
            quantiles={k: _clean(v) for k, v in zip(QUANTILES, quantiles, strict=True)},
            histogram=_histogram(stats, summary),
            summary=(summary if points is None else summary.compressed(points)).to_dict(),
        )
    if stats.kind == "numeric":
        m = stats.moments
        integer_valued = bool(m.n) and all(float(v).is_integer() for v in summary.values[:: max(1, summary.values.size // 64)])
        column.update(
            sum=_clean(m.total),
            skew=_clean(m.skew),
            kurtosis=_clean(m.kurtosis),
            zeros=stats.zeros,
            infinite=stats.infinite,
            integer_valued=integer_valued,
        )
        if stats.top_complete and 0 < len(stats.top) <= NUMERIC_LEVELS:  # few values: each one's rows (classes)
            column["levels"] = [[_plain(value), n] for value, n in stats.top.most_common()]
    if stats.kind in ("categorical", "boolean"):
        levels = stats.top.most_common(LEVELS_KEPT)
        column.update(
            top=[[value, n] for value, n in levels[:TOP_SHOWN]],
            levels=[[value, n] for value, n in levels],
            levels_complete=stats.top_complete and len(stats.top) <= LEVELS_KEPT,
            other=count - sum(n for _, n in levels[:TOP_SHOWN]),
        )
        if stats.kind == "boolean":
            column["mean"] = _clean(stats.moments.mean) if stats.moments.n else None
    if stats.kind == "categorical":
        found = verdict(stats.content, column["distinct"], count) if stats.content is not None else {"content": "category"}
        column["content"] = found.pop("content")
        column["evidence"] = found
    meaningful = sorted(stats.value_types - {"NoneType", "float"}) if stats.value_types else []
    if stats.value_types and "float" in stats.value_types and meaningful:
        meaningful = sorted(stats.value_types - {"NoneType"})
    column["value_types"] = meaningful
    return column


@dataclass
class Profile:
    data: dict[str, Any]

    # --- access --------------------------------------------------------------------------------------
    @property
    def title(self) -> str:
        return self.data["title"]

    @property
    def rows(self) -> int:
        return self.data["overview"]["rows"]

    @property
    def columns(self) -> dict[str, dict[str, Any]]:
        return self.data["columns"]

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return self.data["alerts"]

    def column(self, name: str) -> dict[str, Any]:
        return self.data["columns"][name]

    def suggest(
        self,
        target: str | None = None,
        task: str | None = None,
        *,
        profile_id: str | None = None,
        data: str | None = None,
        model: str = "linear",
    ) -> Suggestion:
        """The data preparation this profile asks for (%prep): the code, its decisions, the estimator it makes.
        ``target`` defaults to the one profiled with; ``data``: the variable the code drops rows from; ``model``:
        linear (one-hot, imputed, scaled: most models) or trees (gradient-boosted trees: native categories)."""
        from mlops_magics.prep.suggestion import suggest

        return suggest(self.data, target=target, task=_task(task), profile_id=profile_id, data=data, model=_model(model))

    def summary(self) -> dict[str, Any]:
        """The profile in a few flat values (what another tracker shows beside a run): its overview and alerts."""
        overview = self.data["overview"]
        return {
            "rows": overview["rows"],
            "columns": overview["columns"],
            "missing_share": round(float(overview["missing_share"]), 6),
            "duplicate_rows": overview["duplicate_rows"],
            "alerts": len(self.alerts),
            **{f"kinds.{kind}": count for kind, count in overview["kinds"].items()},
            "alert_messages": "\n".join(alert["message"] for alert in self.alerts),
        }

    # --- persistence ---------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(self.data, separators=(",", ":"), default=_json_default)

    @classmethod
    def from_json(cls, text: str) -> Profile:
        return cls(json.loads(text))

    @classmethod
    def load(cls, path: Path) -> Profile:
        return cls.from_json(path.read_text())

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)
        return path

    # --- display -------------------------------------------------------------------------------------
    def html(self) -> str:
        from mlops_magics.eda.report import render

        return render(self)

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        overview = self.data["overview"]
        return f"<Profile {self.title!r}: {overview['rows']:,} rows x {overview['columns']} columns, {len(self.alerts)} alert(s)>"


def _task(task: str | None) -> Task | None:
    if task not in (None, "classification", "regression"):
        raise InvalidInput(f"task {task!r} is not known; use classification or regression")
    return task  # type: ignore[return-value]


def _model(model: str) -> Model:
    if model not in ("linear", "trees"):
        raise InvalidInput(f"model {model!r} is not known; use linear or trees")
    return model  # type: ignore[return-value]


def _json_default(value: object) -> object:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return str(value)


def build(
    parts: list[PartitionStats],
    kinds: dict[str, str],
    *,
    title: str,
    source: str,
    target: str | None,
    sample_rows: int,
    seed: int,
    engine: dict[str, Any],
) -> Profile:
    rows = sum(p.rows for p in parts)
    merged = {name: combine_columns([p.columns[name] for p in parts]) for name in kinds} if parts else {}
    columns = {name: describe_column(name, stats) for name, stats in merged.items()}
    summaries: dict[str, QuantileSummary] = {n: s.summary for n, s in merged.items() if s.kind == "numeric"}
    hashes = np.concatenate([p.row_hashes for p in parts]) if parts else np.empty(0, dtype=np.uint64)
    duplicates = int(hashes.size - sorted_unique(hashes).size) if kinds else 0
    sample = combine_samples(parts, sample_rows, seed) if parts else pd.DataFrame(columns=list(kinds))
    numeric = [n for n, k in kinds.items() if k == "numeric"]
    categorical = [n for n, k in kinds.items() if k in ("categorical", "boolean")]
    missing_cells = sum(c["missing"] for c in columns.values())
    data: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "title": title,
        "source": source,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "engine": engine,
        "overview": {
            "rows": rows,
            "columns": len(kinds),
            "memory_bytes": sum(p.memory for p in parts),
            "missing_cells": missing_cells,
            "missing_share": missing_cells / (rows * len(kinds)) if rows and kinds else 0.0,
            "duplicate_rows": duplicates,
            "kinds": {kind: list(kinds.values()).count(kind) for kind in sorted(set(kinds.values()))},
        },
        "columns": columns,
        "correlations": {
            "pearson": correlations.pearson(combine_pearson(parts)),
            "spearman": correlations.spearman(sample, numeric, summaries),
            "cramers_v": correlations.cramers_v(sample, categorical),
            "sample_rows": len(sample),
        },
        "target": None,
    }
    if target is not None and len(sample):
        data["target"] = relation_to_target(sample, target, columns)
    data["alerts"] = alerts.frame_alerts(data, target)
    return Profile(data)
