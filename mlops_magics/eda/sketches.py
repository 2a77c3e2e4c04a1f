"""Mergeable summaries of one column, computed per partition and combined in any order.

- ``Moments``: exact count, mean, central moments (to the 4th), min, max — combined with Pébay's formulas.
- ``QuantileSummary``: weighted order statistics; exact up to ``POINTS`` values, then within about
  1/``POINTS`` of rank per compression (two compressions at most: partition, then final). What a profile's
  one pass keeps, and the form every summary is written in (``to_dict``: sorted values and their weights).
- ``KllSummary``: Apache DataSketches' KLL sketch, whose rank error stays within its bound however many times it
  is merged, in whatever order: what the monitor keeps per log segment and folds over a window.
- ``DistinctSketch``: the K smallest distinct 64-bit hashes (KMV); exact below K distinct values, else an
  estimate with a relative error near 1/sqrt(K).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

POINTS = 2048
DISTINCT_K = 4096
KLL_K = 2800  # rank error within 0.001 at 99% confidence (``get_normalized_rank_error``); exact up to 2800 values
TAIL = 256  # smallest and largest values a KllSummary keeps exactly
_HASH_SPACE = float(2**64)


@dataclass
class Moments:
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    m3: float = 0.0
    m4: float = 0.0
    minimum: float = np.inf
    maximum: float = -np.inf
    total: float = 0.0

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        """Moments of finite float64 values (callers drop NaN and inf first)."""
        n = int(values.size)
        if n == 0:
            return cls()
        total = float(values.sum())
        mean = total / n  # what values.mean() computes, without summing again
        d = values - mean
        d2 = d * d
        m2 = float(d2.sum())
        d *= d2  # the cubes and fourth powers in place of two more temporaries
        d2 *= d2
        return cls(
            n=n,
            mean=mean,
            m2=m2,
            m3=float(d.sum()),
            m4=float(d2.sum()),
            minimum=float(values.min()),
            maximum=float(values.max()),
            total=total,
        )

    def merge(self, other: Moments) -> Moments:
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n_a, n_b = self.n, other.n
        n = n_a + n_b
        delta = other.mean - self.mean
        delta_n = delta / n
        m2 = self.m2 + other.m2 + delta * delta_n * n_a * n_b
        m3 = (
            self.m3
            + other.m3
            + delta * delta_n * delta_n * n_a * n_b * (n_a - n_b)
            + 3.0 * delta_n * (n_a * other.m2 - n_b * self.m2)
        )
        m4 = (
            self.m4
            + other.m4
            + delta * delta_n**3 * n_a * n_b * (n_a * n_a - n_a * n_b + n_b * n_b)
            + 6.0 * delta_n * delta_n * (n_a * n_a * other.m2 + n_b * n_b * self.m2)
            + 4.0 * delta_n * (n_a * other.m3 - n_b * self.m3)
        )
        return Moments(
            n=n,
            mean=self.mean + delta_n * n_b,
            m2=m2,
            m3=m3,
            m4=m4,
            minimum=min(self.minimum, other.minimum),
            maximum=max(self.maximum, other.maximum),
            total=self.total + other.total,
        )

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof=1), as pandas gives it."""
        return float(np.sqrt(self.m2 / (self.n - 1))) if self.n > 1 else float("nan")

    @property
    def skew(self) -> float:
        """Adjusted Fisher-Pearson skewness, as pandas' ``Series.skew``."""
        n = self.n
        if n < 3 or self.m2 == 0:
            return float("nan") if n < 3 else 0.0
        g1 = np.sqrt(n) * self.m3 / self.m2**1.5
        return float(g1 * np.sqrt(n * (n - 1)) / (n - 2))

    @property
    def kurtosis(self) -> float:
        """Excess kurtosis with the bias correction pandas' ``Series.kurt`` uses."""
        n = self.n
        if n < 4 or self.m2 == 0:
            return float("nan") if n < 4 else 0.0
        g2 = n * self.m4 / (self.m2 * self.m2) - 3.0
        return float((n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0))


@dataclass
class QuantileSummary:
    values: np.ndarray  # sorted
    weights: np.ndarray  # rows each value stands for

    @classmethod
    def empty(cls) -> QuantileSummary:
        return cls(np.empty(0), np.empty(0))

    @classmethod
    def of_sorted(cls, ordered: np.ndarray, points: int = POINTS) -> QuantileSummary:
        n = ordered.size
        if n <= points:
            return cls(ordered.astype(np.float64, copy=True), np.ones(n))
        # Midpoints of equal-rank slices: each kept value stands for n / points rows.
        picks = ((np.arange(points) + 0.5) * (n / points)).astype(np.int64)
        return cls(ordered[picks].astype(np.float64), np.full(points, n / points))

    @classmethod
    def combine(cls, parts: Iterable[QuantileSummary], points: int = POINTS) -> QuantileSummary:
        parts = [p for p in parts if p.values.size]
        if not parts:
            return cls.empty()
        values = np.concatenate([p.values for p in parts])
        weights = np.concatenate([p.weights for p in parts])
        order = np.argsort(values, kind="stable")
        values, weights = values[order], weights[order]
        if values.size <= points:
            return cls(values, weights)
        cumulative = np.cumsum(weights)
        total = cumulative[-1]
        targets = (np.arange(points) + 0.5) * (total / points)
        picks = np.minimum(np.searchsorted(cumulative, targets, side="left"), values.size - 1)
        return cls(values[picks], np.full(points, total / points))

    @property
    def total(self) -> float:
        return float(self.weights.sum())

    def quantiles(self, qs: Sequence[float]) -> list[float]:
        if not self.values.size:
            return [float("nan")] * len(qs)
        cumulative = np.cumsum(self.weights) - self.weights / 2
        return [float(v) for v in np.interp(np.asarray(qs) * self.total, cumulative, self.values)]

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """Share of rows <= each point."""
        if not self.values.size:
            return np.zeros(len(points))
        cumulative = np.cumsum(self.weights)
        index = np.searchsorted(self.values, points, side="right")
        below = np.where(index > 0, cumulative[np.maximum(index - 1, 0)], 0.0)
        return below / self.total

    def mid_rank(self, points: np.ndarray) -> np.ndarray:
        """Share of rows below each point plus half of those equal to it (the mid-rank, scaled to 0..1)."""
        values = self.values
        if not values.size:
            return np.full(len(points), np.nan)
        cumulative = np.concatenate([[0.0], np.cumsum(self.weights)])
        # One search per point: the kept values equal to a point end where its run of equal values ends.
        left = search_left(values, np.asarray(points, dtype=np.float64))
        last = np.minimum(left, values.size - 1)
        starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
        run_ends = np.repeat(np.append(starts[1:], values.size), np.diff(np.append(starts, values.size)))
        right = np.where(values[last] == points, run_ends[last], left)
        return (cumulative[left] + cumulative[right]) / (2 * self.total)

    def histogram(self, edges: np.ndarray) -> np.ndarray:
        """Rows per bin [e_i, e_i+1), the last bin closed, estimated from the summary."""
        if not self.values.size:
            return np.zeros(len(edges) - 1, dtype=np.int64)
        cumulative = np.concatenate([[0.0], np.cumsum(self.weights)])
        left = np.searchsorted(self.values, edges[:-1], side="left")
        right = np.searchsorted(self.values, edges[1:], side="left")
        right[-1] = self.values.size
        return np.rint(cumulative[right] - cumulative[left]).astype(np.int64)

    def compressed(self, points: int) -> QuantileSummary:
        return QuantileSummary.combine([self], points)

    def to_dict(self) -> dict[str, Any]:
        return {"values": self.values.tolist(), "weights": self.weights.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantileSummary:
        return cls(np.asarray(data["values"], dtype=np.float64), np.asarray(data["weights"], dtype=np.float64))


class KllSummary:
    """Quantiles of a stream of float64 values: a KLL sketch (``datasketches.kll_doubles_sketch``; doubles, so that
    timestamps in nanoseconds keep their precision) and the ``TAIL`` smallest and largest values, exactly.

    ``QuantileSummary.combine`` re-picks its kept points at each merge, so its error grows with a chain of merges
    (0.11 of rank after 1,000 folded windows of a drifting column, ``benchmarks/RESULTS.md``); KLL's stays within
    its bound (0.0014 measured at k=1400). Rank is not all, though: in a long tail a retained item stands for rows
    that may lie far from it, which moves the area between two CDFs (Wasserstein-1). Measured on a lognormal column
    folded from 200 windows, against the reference's own 256-point summary (whose error alone is 0.005 of a standard
    deviation): 0.015 at k=1400; 0.008 with the 128 extremes of each side kept exactly; 0.006 at k=2800 with 256.
    So ``points`` reads the tails from the exact extremes and the body from the sketch. The sketch is randomised:
    the same data may give slightly different summaries. datasketches is imported when a sketch is first made (its
    import costs about 0.15 s).
    """

    def __init__(self, sketch: Any, low: np.ndarray, high: np.ndarray) -> None:
        self.sketch = sketch
        self.low = low  # the TAIL smallest values (all of them when fewer), ascending
        self.high = high  # the TAIL largest, ascending

    @classmethod
    def empty(cls, k: int = KLL_K) -> KllSummary:
        from datasketches import kll_doubles_sketch

        return cls(kll_doubles_sketch(k), np.empty(0), np.empty(0))

    @classmethod
    def of_values(cls, values: np.ndarray, k: int = KLL_K) -> KllSummary:
        """A sketch of finite float64 values (callers drop NaN and inf first)."""
        summary = cls.empty(k)
        if values.size:
            values = np.ascontiguousarray(values, dtype=np.float64)
            summary.sketch.update(values)
            summary.low, summary.high = _smallest(values, TAIL), _largest(values, TAIL)
        return summary

    @classmethod
    def of_sorted(cls, ordered: np.ndarray, k: int = KLL_K) -> KllSummary:
        """``of_values`` of values already in ascending order (the tails are their ends)."""
        summary = cls.empty(k)
        if ordered.size:
            ordered = np.ascontiguousarray(ordered, dtype=np.float64)
            summary.sketch.update(ordered)
            summary.low, summary.high = ordered[:TAIL].copy(), ordered[-TAIL:].copy()
        return summary

    def merge(self, other: KllSummary) -> KllSummary:
        """This summary with ``other``'s values added (in place; ``other`` is unchanged)."""
        if other.n:
            self.sketch.merge(other.sketch)
            self.low = _smallest(np.concatenate([self.low, other.low]), TAIL)
            self.high = _largest(np.concatenate([self.high, other.high]), TAIL)
        return self

    @property
    def n(self) -> int:
        return int(self.sketch.n)

    def quantiles(self, qs: Sequence[float]) -> list[float]:
        return self.points().quantiles(qs)

    def points(self) -> QuantileSummary:
        """Sorted values, each with the rows it stands for (the form a profile writes): every value while the
        sketch holds them all; else the values beyond the ``TAIL``-th smallest and largest exactly, and between those
        two the sketch's retained items, their weights scaled to the rows known to lie there."""
        if not self.n:
            return QuantileSummary.empty()
        items = np.array(list(self.sketch), dtype=np.float64).reshape(-1, 2)
        if not self.sketch.is_estimation_mode():
            items = items[np.argsort(items[:, 0], kind="stable")]
            return QuantileSummary(items[:, 0].copy(), items[:, 1].copy())
        # The weights iteration gives are wrong after a merge of sketches of unequal sizes (datasketches 5.2: they
        # can sum to the items retained, not to n); the sketch's own CDF is right: each retained value stands for
        # the rows between the one before it and itself.
        values = np.unique(items[:, 0])
        shares = np.asarray(self.sketch.get_cdf(values.tolist(), True), dtype=np.float64)[:-1]
        weights = np.diff(np.concatenate(([0.0], shares))) * self.n
        if self.low.size < TAIL:
            return QuantileSummary(values, weights)
        low_cut, high_cut = self.low[-1], self.high[0]
        below, above = self.low[self.low < low_cut], self.high[self.high > high_cut]
        body = (values >= low_cut) & (values <= high_cut)
        if low_cut > high_cut or not weights[body].sum():
            return QuantileSummary(values, weights)
        scaled = weights[body] * ((self.n - below.size - above.size) / weights[body].sum())
        return QuantileSummary(
            np.concatenate([below, values[body], above]),
            np.concatenate([np.ones(below.size), scaled, np.ones(above.size)]),
        )

    def to_bytes(self) -> bytes:
        """The tails' sizes (two little-endian uint32), the tails (float64), then the sketch's own bytes. A sketch
        that holds every value holds its tails too: they are left out (sizes 0)."""
        low, high = (self.low, self.high) if self.sketch.is_estimation_mode() else (np.empty(0), np.empty(0))
        head = np.array([low.size, high.size], dtype="<u4").tobytes()
        return head + low.astype("<f8").tobytes() + high.astype("<f8").tobytes() + bytes(self.sketch.serialize())

    @classmethod
    def from_bytes(cls, data: bytes) -> KllSummary:
        """The summary ``to_bytes`` wrote; ``ValueError`` for bytes that are not one."""
        from datasketches import kll_doubles_sketch

        if len(data) < 8:
            raise ValueError("not a KLL summary: too short")
        sizes = np.frombuffer(data[:8], dtype="<u4").astype(np.int64)
        end = 8 + 8 * int(sizes.sum())
        if sizes.max() > TAIL or len(data) < end:
            raise ValueError("not a KLL summary: its tails do not fit")
        tails = np.frombuffer(data[8:end], dtype="<f8").astype(np.float64)
        try:
            sketch = kll_doubles_sketch.deserialize(bytes(data[end:]))
        except (RuntimeError, IndexError, ValueError) as exc:
            raise ValueError(f"not a KLL sketch: {exc}") from None
        low, high = tails[: sizes[0]], tails[sizes[0] :]
        if not sketch.is_estimation_mode() and sketch.n:
            values = np.sort(np.array([item for item, _ in sketch], dtype=np.float64))
            low, high = values[:TAIL], values[-TAIL:]
        if low.size != min(sketch.n, TAIL) or high.size != low.size:
            raise ValueError("not a KLL summary: its tails and its sketch disagree")
        return cls(sketch, low, high)


def _smallest(values: np.ndarray, count: int) -> np.ndarray:
    return np.sort(np.partition(values, count - 1)[:count]) if values.size > count else np.sort(values)


def _largest(values: np.ndarray, count: int) -> np.ndarray:
    return np.sort(np.partition(values, values.size - count)[-count:]) if values.size > count else np.sort(values)


def search_left(ordered: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``np.searchsorted(ordered, points)`` for float64 points, about twice as fast for many points in random order.

    The points are searched in (nearly) sorted order: each binary search then takes the branches the previous one
    took and reads what it read. The order comes from one sort of 64-bit keys, the point's bits (ordered as the
    numbers are) with the low bits replaced by its position, so it is a permutation; the results do not depend on
    it, only the speed does.
    """
    n = points.size
    if n < 4096 or n > 1 << 32:
        return np.searchsorted(ordered, points)
    low = (n - 1).bit_length()
    bits = np.ascontiguousarray(points, dtype=np.float64).view(np.uint64)
    keys = np.where(bits >> np.uint64(63), ~bits, bits | np.uint64(1 << 63))
    keys &= ~np.uint64((1 << low) - 1)
    keys |= np.arange(n, dtype=np.uint64)
    keys.sort()
    order = (keys & np.uint64((1 << low) - 1)).astype(np.intp)
    found = np.empty(n, dtype=np.intp)
    found[order] = np.searchsorted(ordered, points[order])
    return found


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based: numpy's hash-based ``unique`` is far slower on 64-bit hashes)."""
    if values.size == 0:
        return values
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def hash_values(values: np.ndarray) -> np.ndarray:
    """Stable 64-bit hashes of any values (the same value hashes the same in every partition and process)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiuMm" and values.dtype.itemsize == 8:
        return _mixed(values.view(np.uint64).copy())
    try:
        return pd.util.hash_array(values)
    except TypeError:  # mixed or unhashable objects: hash their text
        return pd.util.hash_array(values.astype(str))


_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def _mixed(bits: np.ndarray) -> np.ndarray:
    """``pd.util.hash_array`` of 64-bit numbers, whose bits these are: the same mixing, in place, through one
    scratch array instead of a temporary per step (a column of a 250k-row chunk is hashed twice)."""
    scratch = np.right_shift(bits, np.uint64(30))
    bits ^= scratch
    bits *= _MIX_1
    np.right_shift(bits, np.uint64(27), out=scratch)
    bits ^= scratch
    bits *= _MIX_2
    np.right_shift(bits, np.uint64(31), out=scratch)
    bits ^= scratch
    return bits


@dataclass
class DistinctSketch:
    hashes: np.ndarray  # sorted distinct hashes, at most K
    saturated: bool  # True when values were dropped (then the count is an estimate)

    @classmethod
    def of_hashes(cls, hashes: np.ndarray, k: int = DISTINCT_K) -> DistinctSketch:
        if hashes.size > 4 * k:
            # The k smallest without sorting them all: the k + 1 smallest hashes hold them when no two of those
            # are equal (then more than k are distinct); when some are, the whole sort below settles it.
            smallest = sorted_unique(np.partition(hashes, k)[: k + 1])
            if smallest.size > k:
                return cls(smallest[:k].copy(), True)
        unique = sorted_unique(hashes)
        if unique.size <= k:
            return cls(unique, False)
        return cls(unique[:k].copy(), True)  # a copy: a view would keep the whole hash array alive

    @classmethod
    def combine(cls, parts: Iterable[DistinctSketch], k: int = DISTINCT_K) -> DistinctSketch:
        parts = list(parts)
        if not parts:
            return cls(np.empty(0, dtype=np.uint64), False)
        merged = cls.of_hashes(np.concatenate([p.hashes for p in parts]), k)
        if any(p.saturated for p in parts):
            # Hashes above the smallest saturated cut-off were dropped somewhere: keep only those below it.
            cut = min(p.hashes[-1] for p in parts if p.saturated)
            kept = merged.hashes[merged.hashes <= cut]
            return cls(kept, True)
        return merged

    @property
    def estimate(self) -> int:
        if not self.saturated:
            return int(self.hashes.size)
        k = self.hashes.size
        return round((k - 1) / ((float(self.hashes[-1]) + 1.0) / _HASH_SPACE))
