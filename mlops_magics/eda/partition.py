"""The one pass: statistics of one partition (a pandas frame), and how partitions combine.

Everything here is mergeable: a ``PartitionStats`` of any set of partitions combines with another into the
statistics of their union. Profiles of pandas, Dask, CSV and Parquet data all come from these.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlops_magics.eda.columns import Kind
from mlops_magics.eda.content import ContentEvidence, evidence_of
from mlops_magics.eda.sketches import DistinctSketch, KllSummary, Moments, QuantileSummary, hash_values, sorted_unique

CHUNK_ROWS = 250_000  # rows a partition is profiled in at a time
TOP_KEPT = 200  # levels kept per categorical column and partition (exact when a column has fewer)
NUMERIC_LEVELS = 50  # a numeric column with this many values or fewer keeps their counts (classes of a target)
PAIRWISE_BLOCK_ROWS = 4_096  # rows of the numeric columns multiplied at a time (a block of 15 columns: 0.5 MB)
_ROW_HASH_PRIME = np.uint64(0x100000001B3)


@dataclass
class ColumnStats:
    kind: Kind
    dtype: str
    rows: int = 0
    missing: int = 0
    infinite: int = 0
    zeros: int = 0
    moments: Moments = field(default_factory=Moments)
    summary: QuantileSummary | KllSummary = field(default_factory=QuantileSummary.empty)  # KLL when streamed
    distinct: DistinctSketch | None = None
    top: Counter = field(default_factory=Counter)  # categorical and boolean levels -> rows
    top_complete: bool = True  # False once a partition had more levels than were kept
    value_types: set[str] = field(default_factory=set)  # Python types seen in an object column
    content: ContentEvidence | None = None  # what the strings of a categorical column read as


@dataclass
class PartitionStats:
    rows: int
    memory: int
    columns: dict[str, ColumnStats]
    row_hashes: np.ndarray
    sample: pd.DataFrame
    pearson: PairwiseMoments | None


@dataclass
class PairwiseMoments:
    """Per pair of numeric columns, over rows where both are finite: n, means, co-moment, second moments."""

    names: list[str]
    n: np.ndarray
    mean_x: np.ndarray  # mean of column i over rows where i and j are present
    mean_y: np.ndarray  # mean of column j over the same rows (= mean_x.T)
    cxy: np.ndarray
    cxx: np.ndarray  # second central moment of column i over rows where j is present
    cyy: np.ndarray

    @classmethod
    def of(cls, names: list[str], matrix: np.ndarray, means: np.ndarray | None = None) -> PairwiseMoments:
        """``means``: each column's mean over its finite values, when already known (else computed here)."""
        # Sums of values less their column's mean: raw sums cancel catastrophically (a constant column's
        # co-moments came out as rounding noise, and its "correlation" with everything as 1).
        if means is None:
            present = np.isfinite(matrix)
            means = np.where(present, matrix, 0.0).sum(axis=0) / np.maximum(present.sum(axis=0), 1)
        shift = np.asarray(means, dtype=np.float64)
        size = matrix.shape[1]
        n, sx, sxx, sxy = (np.zeros((size, size)) for _ in range(4))
        # Block by block, so each block's mask, values and squares stay in the core's cache while the four
        # products read them: over a chunk's whole matrix they were memory-bound (half the time, measured).
        for start in range(0, matrix.shape[0], PAIRWISE_BLOCK_ROWS):
            block = matrix[start : start + PAIRWISE_BLOCK_ROWS]
            present = np.isfinite(block)
            mask = present.astype(np.float64)
            values = block - shift
            np.copyto(values, 0.0, where=~present)  # missing cells count as 0 once shifted
            n += mask.T @ mask
            with np.errstate(invalid="ignore"):
                sx += values.T @ mask  # sum of column i where j is present
                sxy += values.T @ values
                values *= values
                sxx += values.T @ mask
        with np.errstate(invalid="ignore", divide="ignore"):
            shifted_x = np.where(n > 0, sx / n, 0.0)
            cxy = sxy - n * shifted_x * shifted_x.T
            cxx = sxx - n * shifted_x * shifted_x
        mean_x = np.where(n > 0, shifted_x + shift[:, None], 0.0)
        return cls(names, n, mean_x, mean_x.T, cxy, cxx, cxx.T)

    def merge(self, other: PairwiseMoments) -> PairwiseMoments:
        n = self.n + other.n
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(n > 0, self.n * other.n / n, 0.0)
            dx = other.mean_x - self.mean_x
            dy = other.mean_y - self.mean_y
            mean_x = np.where(n > 0, (self.n * self.mean_x + other.n * other.mean_x) / n, 0.0)
        mean_y = mean_x.T
        return PairwiseMoments(
            self.names,
            n,
            mean_x,
            mean_y,
            self.cxy + other.cxy + dx * dy * w,
            self.cxx + other.cxx + dx * dx * w,
            self.cyy + other.cyy + dy * dy * w,
        )

    def correlation(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            r = self.cxy / np.sqrt(self.cxx * self.cyy)
        r = np.where(self.n > 1, r, np.nan)
        np.fill_diagonal(r, np.where(np.diag(self.cxx) > 0, 1.0, np.nan))
        return np.clip(r, -1.0, 1.0)


def _numeric(values: np.ndarray, stats: ColumnStats) -> np.ndarray:
    """Statistics of one float64 column (NaN = missing); returns its row hashes."""
    finite_mask = np.isfinite(values)
    nan_mask = np.isnan(values)
    stats.missing += int(nan_mask.sum())
    stats.infinite += int(values.size - finite_mask.sum() - nan_mask.sum())
    finite = values[finite_mask]
    stats.zeros += int(finite.size - np.count_nonzero(finite))
    stats.moments = Moments.of(finite)
    ordered = finite  # a copy already: sorted in place
    ordered.sort()
    stats.summary = QuantileSummary.of_sorted(ordered)
    if ordered.size:
        starts = np.concatenate(([True], ordered[1:] != ordered[:-1]))
        distinct = ordered[starts]
        if distinct.size <= NUMERIC_LEVELS:  # few values: count each (cheap, the values are sorted)
            counts = np.diff(np.append(np.flatnonzero(starts), ordered.size))
            stats.top = Counter(dict(zip(distinct.tolist(), counts.tolist(), strict=True)))
        else:
            stats.top_complete = False
        if stats.infinite:
            distinct = np.concatenate([distinct, np.unique(values[np.isinf(values)])])
        stats.distinct = DistinctSketch.of_hashes(hash_values(distinct))
    else:
        stats.distinct = DistinctSketch.of_hashes(np.empty(0, dtype=np.uint64))
    if stats.infinite:
        stats.top_complete = False  # levels count finite values only
    return hash_values(values)


def _datetime(series: pd.Series, stats: ColumnStats) -> np.ndarray:
    if isinstance(series.dtype, pd.ArrowDtype):  # a Parquet date column (date32/date64), as Dask and files read it
        series = series.astype("datetime64[ns]")
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    present = series.notna().to_numpy()
    stats.missing += int((~present).sum())
    nanos = series.to_numpy(dtype="datetime64[ns]").view(np.int64)
    values = nanos[present].astype(np.float64)
    stats.moments = Moments.of(values)
    ordered = np.sort(values)
    stats.summary = QuantileSummary.of_sorted(ordered)
    stats.distinct = DistinctSketch.of_hashes(hash_values(sorted_unique(nanos[present])))
    return hash_values(np.where(present, nanos, np.iinfo(np.int64).min))


def _levels(series: pd.Series, stats: ColumnStats) -> np.ndarray:
    """Categorical and boolean columns: exact level counts (top ``TOP_KEPT``), distinct sketch, row hashes."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists, dicts): profile their text
        codes, uniques = pd.factorize(series.astype(str), use_na_sentinel=True)
        stats.value_types.add("unhashable")
    uniques = np.asarray(uniques, dtype=object)
    missing = codes < 0
    stats.missing += int(missing.sum())
    counts = np.bincount(codes[~missing], minlength=len(uniques))
    if stats.kind == "categorical" and series.dtype == object and len(uniques):
        probe = uniques if len(uniques) <= 1000 else uniques[:1000]
        stats.value_types.update(type(v).__name__ for v in probe)
    if stats.kind == "categorical":
        stats.content = evidence_of(uniques, counts)
    if len(uniques) > TOP_KEPT:
        stats.top_complete = False
        keep = np.argpartition(counts, -TOP_KEPT)[-TOP_KEPT:]
    else:
        keep = np.arange(len(uniques))
    stats.top = Counter({level_key(uniques[i]): int(counts[i]) for i in keep})
    unique_hashes = hash_values(uniques) if len(uniques) else np.empty(0, dtype=np.uint64)
    stats.distinct = DistinctSketch.of_hashes(unique_hashes)
    if stats.kind == "boolean":
        truth = np.asarray([bool(u) for u in uniques], dtype=np.float64)
        stats.moments = Moments.of(np.repeat(truth, counts))
    row_hashes = np.zeros(len(codes), dtype=np.uint64)
    if len(uniques):
        row_hashes[~missing] = unique_hashes[codes[~missing]]
    return row_hashes


def level_key(value: object) -> str | bool | int | float:
    return value if isinstance(value, (str, bool, int, float)) else str(value)


def partition_stats(frame: pd.DataFrame, kinds: dict[str, Kind], sample_rows: int, seed: int) -> PartitionStats:
    """Statistics of one partition, plus its row hashes (duplicates) and a uniform sample (correlations)."""
    columns: dict[str, ColumnStats] = {}
    row_hashes = np.zeros(len(frame), dtype=np.uint64)
    numeric_names = [name for name, kind in kinds.items() if kind == "numeric"]
    # The numeric columns as one column-major float64 matrix: each column contiguous for its statistics,
    # the whole for the Pearson co-moments, with one copy of the data.
    matrix = np.empty((len(frame), len(numeric_names)), order="F")
    for position, (name, kind) in enumerate(kinds.items()):
        series = frame.iloc[:, position]
        stats = ColumnStats(kind=kind, dtype=str(series.dtype), rows=len(series))
        if kind == "numeric":
            column = numeric_names.index(name)
            matrix[:, column] = as_float(series, stats.dtype)
            hashes = _numeric(matrix[:, column], stats)
        elif kind == "datetime":
            hashes = _datetime(series, stats)
        else:
            hashes = _levels(series, stats)
        columns[name] = stats
        row_hashes *= _ROW_HASH_PRIME
        row_hashes ^= hashes
    means = np.array([columns[name].moments.mean for name in numeric_names])
    pearson = PairwiseMoments.of(numeric_names, matrix, means) if len(numeric_names) >= 2 else None
    take = min(len(frame), sample_rows)
    sample = frame.sample(n=take, random_state=seed) if take < len(frame) else frame
    return PartitionStats(
        rows=len(frame),
        memory=_memory(frame, sample),
        columns=columns,
        row_hashes=row_hashes,
        sample=sample.reset_index(drop=True),
        pearson=pearson,
    )


def chunk_quota(sample_rows: int, chunks: int) -> int:
    """Sample rows each chunk of a partition keeps: the partition's ``sample_rows`` split over its chunks."""
    return max(1, -(-sample_rows // max(chunks, 1)))


def row_chunks(frame: pd.DataFrame, rows: int) -> list[pd.DataFrame]:
    """The frame in chunks of ``rows`` rows (the last one shorter; an empty frame is one empty chunk)."""
    return [frame.iloc[s : s + rows] for s in range(0, len(frame), rows)] or [frame]


def chunked_stats(
    frame: pd.DataFrame, kinds: dict[str, Kind], sample_rows: int, seed: int, rows: int = CHUNK_ROWS
) -> list[PartitionStats]:
    """A partition in chunks of ``rows`` rows: bounded temporaries, and faster (the chunks' matrices stay in
    cache). Chunk ``i`` samples with ``seed + i``, as the local threads do, so a cluster gives the same profile."""
    chunks = row_chunks(frame, rows)
    share = chunk_quota(sample_rows, len(chunks))
    return [partition_stats(chunk, kinds, share, seed + i) for i, chunk in enumerate(chunks)]


def _memory(frame: pd.DataFrame, sample: pd.DataFrame) -> int:
    """Bytes in memory; object columns (whose strings must be visited) estimated from the sample."""
    shallow = frame.memory_usage(deep=False, index=False)
    objects = [c for c in frame.columns if frame[c].dtype == object]
    if not objects or not len(sample):
        return int(shallow.sum())
    deep = sample[objects].memory_usage(deep=True, index=False).sum() * len(frame) / len(sample)
    return int(shallow.drop(objects).sum() + deep)


def as_float(series: pd.Series, dtype: str) -> np.ndarray:
    if dtype.startswith("timedelta"):
        series = series.dt.total_seconds()
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def combine_columns(parts: list[ColumnStats]) -> ColumnStats:
    first = parts[0]
    merged = ColumnStats(kind=first.kind, dtype=first.dtype)
    for part in parts:
        merged.rows += part.rows
        merged.missing += part.missing
        merged.infinite += part.infinite
        merged.zeros += part.zeros
        merged.moments = merged.moments.merge(part.moments)
        merged.top.update(part.top)
        merged.top_complete &= part.top_complete
        merged.value_types |= part.value_types
        if part.content is not None:
            merged.content = part.content if merged.content is None else merged.content.merge(part.content)
    merged.summary = QuantileSummary.combine((p.summary for p in parts), points=4 * 2048)
    merged.distinct = DistinctSketch.combine(p.distinct for p in parts if p.distinct is not None)
    return merged


def combine_samples(parts: list[PartitionStats], sample_rows: int, seed: int) -> pd.DataFrame:
    """A uniform sample of the union: each partition contributes in proportion to its rows."""
    total = sum(p.rows for p in parts)
    if total == 0:
        return parts[0].sample.iloc[:0] if parts else pd.DataFrame()
    pieces = []
    for index, part in enumerate(parts):
        want = min(len(part.sample), round(sample_rows * part.rows / total))
        if want:
            pieces.append(part.sample.sample(n=want, random_state=seed + index) if want < len(part.sample) else part.sample)
    return pd.concat(pieces, ignore_index=True) if pieces else parts[0].sample.iloc[:0]


def combine_pearson(parts: list[PartitionStats]) -> PairwiseMoments | None:
    merged: PairwiseMoments | None = None
    for part in parts:
        if part.pearson is not None:
            merged = part.pearson if merged is None else merged.merge(part.pearson)
    return merged


def value_counts_top(top: Counter, limit: int) -> list[tuple[Any, int]]:
    return top.most_common(limit)
