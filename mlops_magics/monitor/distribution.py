"""A column's distribution as a profile keeps it, read back as a cumulative distribution function.

A quantile summary (``eda.sketches.QuantileSummary``) is a list of order statistics, each standing for a weight of
rows. Read back here as a piecewise-linear CDF:

- a kept value that stands for rows on its own (a compressed summary of continuous data) is a point of the CDF at the
  middle of its rows: its rank range [a, b] gives the knot (value, (a + b) / 2), and the CDF runs straight between
  such knots — the same reading as ``QuantileSummary.quantiles``, whose inverse this is;
- a value kept more than once (the rows of a tie), and every value of an exact summary (weights of 1: the data
  itself), is an atom: the CDF jumps from a to b at it, as the empirical CDF does;
- the two ends run out to zero and one over half the neighbouring gap (never past the column's min and max), so the
  half-weights at the ends are spread as the next gaps are, not piled on the end values.

Exact value counts (the levels a profile keeps for a column of few values) are all atoms.

Both functions are piecewise linear between their knots, so the largest difference of two of them (Kolmogorov-Smirnov)
is found at the knots of either, and the area between them (Wasserstein-1) is summed exactly interval by interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlops_magics.eda.sketches import QuantileSummary


@dataclass(frozen=True)
class Distribution:
    """A CDF through ``knots`` (non-decreasing) with ``shares`` (non-decreasing, 0 to 1): linear between knots,
    a jump where two knots share a value (right-continuous: the value at a jump is the upper one)."""

    knots: np.ndarray
    shares: np.ndarray
    rows: float

    @classmethod
    def of_summary(cls, summary: QuantileSummary, low: float | None = None, high: float | None = None) -> Distribution:
        """The summary's CDF; ``low``/``high``: the column's min and max, which the ends never run past."""
        values, weights = summary.values, summary.weights
        total = float(weights.sum())
        starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
        distinct = values[starts]
        kept = np.diff(np.append(starts, values.size))  # how many times each distinct value is kept
        after = np.cumsum(weights)[np.append(starts[1:], values.size) - 1] / total
        before = np.concatenate(([0.0], after[:-1]))
        exact = bool(np.all(weights == 1.0))
        atom = (kept > 1) | exact
        knots: list[np.ndarray] = []
        shares: list[np.ndarray] = []
        # Each distinct value gives one knot (its middle) or two (an atom: the jump's foot and top), in order.
        twice = np.where(atom, 2, 1)
        knot_values = np.repeat(distinct, twice)
        first_of = np.cumsum(twice) - twice
        knot_shares = np.repeat((before + after) / 2, twice)
        knot_shares[first_of[atom]] = before[atom]
        knot_shares[first_of[atom] + 1] = after[atom]
        if not atom[0]:
            gap = (distinct[1] - distinct[0]) / 2 if distinct.size > 1 else 0.0
            start = distinct[0] - gap if low is None else max(low, distinct[0] - gap)
            knots.append(np.array([start]))
            shares.append(np.array([0.0]))
        knots.append(knot_values)
        shares.append(knot_shares)
        if not atom[-1]:
            gap = (distinct[-1] - distinct[-2]) / 2 if distinct.size > 1 else 0.0
            end = distinct[-1] + gap if high is None else min(high, distinct[-1] + gap)
            knots.append(np.array([end]))
            shares.append(np.array([1.0]))
        return cls(np.concatenate(knots), np.concatenate(shares), total)

    @classmethod
    def of_counts(cls, values: Sequence[float], counts: Sequence[float]) -> Distribution:
        """Exact counts of each value: every value an atom."""
        order = np.argsort(np.asarray(values, dtype=np.float64), kind="stable")
        ordered = np.asarray(values, dtype=np.float64)[order]
        weights = np.asarray(counts, dtype=np.float64)[order]
        total = float(weights.sum())
        after = np.cumsum(weights) / total
        before = np.concatenate(([0.0], after[:-1]))
        return cls(np.repeat(ordered, 2), np.column_stack([before, after]).ravel(), total)

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """Share of rows at or below each point."""
        return self._between(points, np.searchsorted(self.knots, points, side="right"))

    def cdf_below(self, points: np.ndarray) -> np.ndarray:
        """Share of rows strictly below each point (the left limit of the CDF)."""
        return self._between(points, np.searchsorted(self.knots, points, side="left"))

    def _between(self, points: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """The line from knot ``upper - 1`` to knot ``upper`` at each point (0 before the first, 1 after the last)."""
        last = self.knots.size - 1
        hi = np.clip(upper, 0, last)
        lo = np.clip(upper - 1, 0, last)
        span = self.knots[hi] - self.knots[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            along = np.where(span > 0, (points - self.knots[lo]) / span, 1.0)
        inside = self.shares[lo] + (self.shares[hi] - self.shares[lo]) * np.clip(along, 0.0, 1.0)
        return np.where(upper == 0, 0.0, np.where(upper > last, 1.0, inside))

    def quantiles(self, qs: np.ndarray) -> np.ndarray:
        """The smallest value whose CDF reaches each share (the inverse of ``cdf``)."""
        upper = np.clip(np.searchsorted(self.shares, qs, side="left"), 1, self.knots.size - 1)
        lo, hi = upper - 1, upper
        rise = self.shares[hi] - self.shares[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            along = np.where(rise > 0, (qs - self.shares[lo]) / rise, 0.0)
        return self.knots[lo] + (self.knots[hi] - self.knots[lo]) * np.clip(along, 0.0, 1.0)


def ks_distance(a: Distribution, b: Distribution) -> float:
    """The largest difference of the two CDFs: at a knot of either, from the left or at it."""
    grid = np.union1d(a.knots, b.knots)
    at = np.abs(a.cdf(grid) - b.cdf(grid))
    below = np.abs(a.cdf_below(grid) - b.cdf_below(grid))
    return float(max(at.max(), below.max()))


def wasserstein_distance(a: Distribution, b: Distribution) -> float:
    """The area between the two CDFs (Wasserstein-1, in the column's units), exact for these piecewise-linear CDFs.

    Between two neighbouring knots of either the difference d runs straight from d0 (just after the left knot) to
    d1 (just before the right one); its absolute area is the trapezoid when d keeps its sign, else two triangles.
    """
    grid = np.union1d(a.knots, b.knots)
    if grid.size < 2:
        return 0.0
    start = a.cdf(grid[:-1]) - b.cdf(grid[:-1])
    end = a.cdf_below(grid[1:]) - b.cdf_below(grid[1:])
    width = np.diff(grid)
    same_sign = start * end >= 0
    size = np.abs(start) + np.abs(end)
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = np.where(size > 0, (start * start + end * end) / (2 * size), 0.0)
    area = np.where(same_sign, size / 2, crossing) * width
    return float(area.sum())
