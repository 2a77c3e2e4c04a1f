"""Streamed profiles: data too large to hold (the monitor's window: millions of logged requests in thousands of
segments) summarised chunk by chunk, each chunk's column statistics folded into one running summary, so memory
holds one chunk and the summaries whatever the number of chunks.

A chunk's numeric and datetime columns get a ``KllSummary``: the fold merges it once per chunk, and KLL's error
bound holds under any number of merges (``QuantileSummary``'s holds for the one pass's two compressions only). The
rest is what the one pass keeps: exact moments, each level's rows (exact while a chunk has at most ``TOP_KEPT``
levels, and a numeric column at most ``NUMERIC_LEVELS`` values), a distinct sketch. The statistics are
``partition.ColumnStats``, written into a profile by the same ``profile.describe_column`` and compared by the same
drift code as a profiled column's. Left out, as nothing streamed needs them: correlations, duplicate rows, what
strings read as, alerts.

A column whose chunks disagree on its kind (numbers in one, strings in another) folds into kind "mixed", which keeps
counts only; a chunk in which a column has no value at all does not decide its kind. A chunk's statistics
serialise (``column_to_dict``), so the summary of data that does not change can be kept and folded again later; the
sketch of a numeric column whose every value is counted is not written but made again from the counts.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from mlops_magics.eda.columns import Kind, plan
from mlops_magics.eda.partition import NUMERIC_LEVELS, TOP_KEPT, ColumnStats, as_float, level_key
from mlops_magics.eda.profile import FORMAT_VERSION, Profile, describe_column
from mlops_magics.eda.sketches import DistinctSketch, KllSummary, Moments, hash_values, sorted_unique

DISTINCT_K = 256  # distinct hashes kept per column and chunk: exact below, within about 6% above (2 KB)
LEVELS_HELD = 1000  # levels a running count holds once it is incomplete (the largest; the rest are "other")
QUANTILE_KINDS = ("numeric", "datetime")


# --- one chunk ---------------------------------------------------------------------------------------------------
def chunk_columns(frame: pd.DataFrame) -> dict[str, ColumnStats]:
    """The statistics of each column of one chunk, its kind planned from the chunk's own dtypes."""
    kinds = plan(frame.dtypes)
    return {name: column_stats(frame.iloc[:, position], kind) for position, (name, kind) in enumerate(kinds.items())}


def column_stats(series: pd.Series, kind: Kind) -> ColumnStats:
    stats = ColumnStats(kind=kind, dtype=str(series.dtype), rows=len(series), top_complete=True)
    if kind == "numeric":
        _numeric(as_float(series, stats.dtype), stats)
    elif kind == "datetime":
        _datetime(series, stats)
    else:
        _levels(series, stats)
    return stats


def _numeric(values: np.ndarray, stats: ColumnStats) -> None:
    finite_mask = np.isfinite(values)
    stats.missing = int(np.isnan(values).sum())
    stats.infinite = int(values.size - finite_mask.sum()) - stats.missing
    ordered = np.sort(values[finite_mask])
    stats.zeros = int(ordered.size - np.count_nonzero(ordered))
    stats.moments = Moments.of(ordered)
    stats.summary = KllSummary.of_sorted(ordered)
    starts = np.concatenate(([True], ordered[1:] != ordered[:-1])) if ordered.size else np.empty(0, dtype=bool)
    distinct = ordered[starts]
    if distinct.size <= NUMERIC_LEVELS and not stats.infinite:  # few values: each one's rows (the profile's levels)
        counts = np.diff(np.append(np.flatnonzero(starts), ordered.size))
        stats.top = Counter(dict(zip(distinct.tolist(), counts.tolist(), strict=True)))
    else:
        stats.top_complete = False
    if stats.infinite:
        distinct = np.concatenate([distinct, np.unique(values[np.isinf(values)])])
    stats.distinct = DistinctSketch.of_hashes(hash_values(distinct), DISTINCT_K)


def _datetime(series: pd.Series, stats: ColumnStats) -> None:
    if isinstance(series.dtype, pd.ArrowDtype):
        series = series.astype("datetime64[ns]")
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    present = series.notna().to_numpy()
    stats.missing = int((~present).sum())
    nanos = series.to_numpy(dtype="datetime64[ns]").view(np.int64)[present]
    values = nanos.astype(np.float64)
    stats.moments = Moments.of(values)
    stats.summary = KllSummary.of_values(values)
    stats.top_complete = False
    stats.distinct = DistinctSketch.of_hashes(hash_values(sorted_unique(nanos)), DISTINCT_K)


def _levels(series: pd.Series, stats: ColumnStats) -> None:
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists, dicts): their text
        codes, uniques = pd.factorize(series.astype(str), use_na_sentinel=True)
        stats.value_types.add("unhashable")
    uniques = np.asarray(uniques, dtype=object)
    missing = codes < 0
    stats.missing = int(missing.sum())
    counts = np.bincount(codes[~missing], minlength=len(uniques))
    if stats.kind == "categorical" and series.dtype == object and len(uniques):
        stats.value_types.update(type(v).__name__ for v in uniques[:1000])
    if len(uniques) > TOP_KEPT:
        stats.top_complete = False
        keep = np.argpartition(counts, -TOP_KEPT)[-TOP_KEPT:]
    else:
        keep = np.arange(len(uniques))
    stats.top = Counter({level_key(uniques[i]): int(counts[i]) for i in keep})
    stats.distinct = DistinctSketch.of_hashes(hash_values(uniques) if len(uniques) else np.empty(0, np.uint64), DISTINCT_K)
    if stats.kind == "boolean":
        truth = np.asarray([bool(u) for u in uniques], dtype=np.float64)
        stats.moments = Moments.of(np.repeat(truth, counts))


# --- the fold ----------------------------------------------------------------------------------------------------
def empty_column(kind: Kind, dtype: str) -> ColumnStats:
    """A column with no rows yet, to fold chunks into (its sketches are its own: folding changes them in place)."""
    stats = ColumnStats(kind=kind, dtype=dtype, top_complete=True)
    if kind in QUANTILE_KINDS:
        stats.summary = KllSummary.empty()
    stats.distinct = DistinctSketch(np.empty(0, dtype=np.uint64), False)
    return stats


def fold(into: ColumnStats, part: ColumnStats) -> ColumnStats:
    """``into`` with ``part``'s rows added: ``into`` itself, changed in place, or the column that replaces it (when
    ``part`` decides the kind, or disagrees with it). ``part`` is left as it was."""
    if part.kind != into.kind:
        if _present(part) == 0 and into.kind != "mixed":  # a chunk without values does not decide the kind
            into.rows += part.rows
            into.missing += part.missing
            return into
        if _present(into) == 0 and into.kind != "mixed":
            adopted = empty_column(part.kind, part.dtype)
            adopted.rows, adopted.missing = into.rows, into.missing
            into = adopted
        else:
            mixed = ColumnStats(kind="mixed", dtype="mixed", rows=into.rows + part.rows, top_complete=False)
            mixed.missing = into.missing + part.missing
            return mixed
    into.rows += part.rows
    into.missing += part.missing
    into.infinite += part.infinite
    into.zeros += part.zeros
    if into.kind == "mixed":
        return into
    if part.dtype != into.dtype:
        into.dtype = "float64" if into.kind == "numeric" else into.dtype
    into.moments = into.moments.merge(part.moments)
    if isinstance(into.summary, KllSummary) and isinstance(part.summary, KllSummary):
        into.summary.merge(part.summary)
    into.top.update(part.top)
    into.top_complete = into.top_complete and part.top_complete
    if not into.top_complete:
        if into.kind == "numeric":
            into.top.clear()  # a numeric column's counts are used only while every value is counted
        elif len(into.top) > 2 * LEVELS_HELD:
            into.top = Counter(dict(into.top.most_common(LEVELS_HELD)))
    into.value_types |= part.value_types
    parts = [d for d in (into.distinct, part.distinct) if d is not None]
    into.distinct = DistinctSketch.combine(parts, DISTINCT_K)
    return into


def fold_columns(into: dict[str, ColumnStats], part: dict[str, ColumnStats], into_rows: int, part_rows: int) -> None:
    """Fold a chunk's columns into running ones (in place). A column one side lacks counts as missing in that side's
    rows (``into_rows``: rows folded so far; ``part_rows``: the chunk's)."""
    for name, stats in part.items():
        if name not in into:
            into[name] = empty_column(stats.kind, stats.dtype)
            into[name].rows = into[name].missing = into_rows
        into[name] = fold(into[name], stats)
    for name, stats in into.items():
        if name not in part:
            stats.rows += part_rows
            stats.missing += part_rows


def _present(stats: ColumnStats) -> int:
    return stats.rows - stats.missing


# --- the profile ---------------------------------------------------------------------------------------------------
def streamed_profile(columns: dict[str, ColumnStats], rows: int, *, title: str, source: str, chunks: int) -> Profile:
    """A profile of folded columns: the same columns as ``profile.build`` writes (each numeric summary with every
    item its KLL sketch retained), without correlations, duplicates or alerts."""
    described = {name: describe_column(name, stats, points=None) for name, stats in columns.items()}
    missing_cells = sum(c["missing"] for c in described.values())
    kinds = [stats.kind for stats in columns.values()]
    data: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "title": title,
        "source": source,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "engine": {"partitions": chunks, "chunks": chunks, "where": "streamed", "sampled_rows": None},
        "overview": {
            "rows": rows,
            "columns": len(columns),
            "memory_bytes": 0,
            "missing_cells": missing_cells,
            "missing_share": missing_cells / (rows * len(columns)) if rows and columns else 0.0,
            "duplicate_rows": 0,
            "kinds": {kind: kinds.count(kind) for kind in sorted(set(kinds))},
        },
        "columns": described,
        "correlations": {"pearson": None, "spearman": None, "cramers_v": None, "sample_rows": 0},
        "target": None,
        "alerts": [],
    }
    return Profile(data)


# --- kept summaries ------------------------------------------------------------------------------------------------
def column_to_dict(stats: ColumnStats) -> dict[str, Any]:
    """JSON-native but for the sketches, which are bytes (``kll``, ``distinct.hashes``)."""
    m = stats.moments
    return {
        "kind": stats.kind,
        "dtype": stats.dtype,
        "rows": stats.rows,
        "missing": stats.missing,
        "infinite": stats.infinite,
        "zeros": stats.zeros,
        "moments": [m.n, m.mean, m.m2, m.m3, m.m4, _finite(m.minimum), _finite(m.maximum), m.total],
        "kll": stats.summary.to_bytes() if isinstance(stats.summary, KllSummary) and not _counted(stats) else None,
        "distinct": None
        if stats.distinct is None
        else {"hashes": stats.distinct.hashes.astype("<u8").tobytes(), "saturated": stats.distinct.saturated},
        "top": [[value, n] for value, n in stats.top.items()],
        "top_complete": stats.top_complete,
        "value_types": sorted(stats.value_types),
    }


def column_from_dict(data: dict[str, Any]) -> ColumnStats:
    """The statistics ``column_to_dict`` wrote; ``ValueError`` for anything else."""
    try:
        n, mean, m2, m3, m4, low, high, total = data["moments"]
        moments = Moments(
            int(n), float(mean), float(m2), float(m3), float(m4), _bound(low, np.inf), _bound(high, -np.inf), float(total)
        )
        kind = data["kind"]
        if kind not in ("numeric", "boolean", "datetime", "categorical", "mixed"):
            raise ValueError(f"unknown kind {kind!r}")
        stats = ColumnStats(
            kind=kind,
            dtype=str(data["dtype"]),
            rows=int(data["rows"]),
            missing=int(data["missing"]),
            infinite=int(data["infinite"]),
            zeros=int(data["zeros"]),
            moments=moments,
            top=Counter({_key(value): int(count) for value, count in data["top"]}),
            top_complete=bool(data["top_complete"]),
            value_types={str(t) for t in data["value_types"]},
        )
        if data["kll"] is not None:
            stats.summary = KllSummary.from_bytes(bytes(data["kll"]))
        elif kind == "numeric" and stats.top_complete:  # written without its sketch: every value counted
            values = np.array(sorted(stats.top), dtype=np.float64)
            stats.summary = KllSummary.of_sorted(np.repeat(values, [stats.top[v] for v in values.tolist()]))
        elif kind in QUANTILE_KINDS:
            raise ValueError(f"a {kind} column without its quantile sketch")
        if data["distinct"] is not None:
            hashes = np.frombuffer(data["distinct"]["hashes"], dtype="<u8").astype(np.uint64)
            stats.distinct = DistinctSketch(hashes, bool(data["distinct"]["saturated"]))
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"not a column summary: {type(exc).__name__}: {exc}") from None
    return stats


def _counted(stats: ColumnStats) -> bool:
    """A numeric column whose every value is counted: its sketch is not written, but made again from the counts."""
    if stats.kind != "numeric" or not stats.top_complete or stats.infinite or len(stats.top) > NUMERIC_LEVELS:
        return False
    return isinstance(stats.summary, KllSummary) and stats.summary.n == sum(stats.top.values())


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _bound(value: float | None, otherwise: float) -> float:
    return otherwise if value is None else float(value)


def _key(value: Any) -> str | bool | int | float:
    if not isinstance(value, (str, bool, int, float)):
        raise ValueError(f"a level {value!r} is not a string or a number")
    return value
