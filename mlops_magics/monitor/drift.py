"""Drift of one feature: its reference and current summaries, as a profile keeps them, compared.

The inputs are two columns of profiles (``Profile.columns[name]``: JSON-native dicts): the reference never has to be
read again, only its summary. A column is compared one of two ways:

- ``quantiles`` — a numeric column of many values: from the two quantile summaries (``distribution.Distribution``),
  normalised Wasserstein-1, Kolmogorov-Smirnov distance with its p-value, PSI over 20 bins at the reference's
  quantiles;
- ``counts`` — a categorical or boolean column, and a numeric one of few values (the profile keeps each value's
  exact count when a column has 50 values or fewer): Jensen-Shannon distance, chi-square test, PSI over the
  categories. A quantile summary of a few-valued column would show steps at different places on both sides, which
  Kolmogorov-Smirnov reads as drift; exact counts do not. The Wasserstein distance of the counts is reported
  beside, for a feature whose values are ordered.

The verdict rests on effect sizes (see ``thresholds``), the p-value beside them only vetoes a difference that could
be noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from mlops_magics.eda.sketches import QuantileSummary
from mlops_magics.monitor.distribution import Distribution, ks_distance, wasserstein_distance
from mlops_magics.monitor.statistics import chi_square, jensen_shannon, ks_p_value, psi, shares_of
from mlops_magics.monitor.thresholds import Thresholds

Verdict = Literal["drift", "no drift", "not comparable", "schema change", "no data"]
Method = Literal["quantiles", "counts"]

PSI_BINS = 20  # bins at the reference's quantiles (why 20: see ``thresholds``)
HISTOGRAM_BINS = 20  # bars of the reference-vs-current plot of a numeric feature
HISTOGRAM_LEVELS = 20  # bars of a feature compared by counts (the rest is one "other" bar)
OTHER = "(other)"  # the rows of levels a profile did not list, and of levels beyond the plotted ones


@dataclass(frozen=True)
class Histogram:
    """Shares of rows per bar, reference beside current: numeric bars between ``edges`` (the end bars hold the rows
    beyond them too), or one bar per ``labels`` entry (values or categories)."""

    reference: list[float]
    current: list[float]
    edges: list[float] | None = None
    labels: list[str] | None = None


@dataclass(frozen=True)
class Statistics:
    """What was measured (None: not measured by this feature's method)."""

    wasserstein: float | None = None  # Wasserstein-1 / reference std
    ks: float | None = None
    ks_p_value: float | None = None
    psi: float | None = None
    jensen_shannon: float | None = None
    chi_square: float | None = None
    chi_square_dof: int | None = None
    chi_square_p_value: float | None = None


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str  # the reference's kind (numeric, categorical, boolean, datetime), else the current's
    verdict: Verdict
    reason: str  # one line: why this verdict
    method: Method | None = None
    effect: str | None = None  # the statistic the verdict rests on: the one furthest over (or nearest) its threshold
    effect_size: float | None = None
    threshold: float | None = None
    p_value: float | None = None  # the test's p-value beside it (Kolmogorov-Smirnov or chi-square)
    statistics: Statistics = Statistics()
    reference_rows: int = 0  # values compared (rows less missing ones)
    current_rows: int = 0
    missing_share: tuple[float, float] | None = None  # reference, current
    histogram: Histogram | None = None

    @property
    def drifted(self) -> bool:
        return self.verdict == "drift"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def feature_drift(
    name: str,
    reference: dict[str, Any] | None,
    current: dict[str, Any] | None,
    thresholds: Thresholds | None = None,
) -> FeatureDrift:
    """Drift of feature ``name`` between its reference and current profile columns (None: not on that side)."""
    thresholds = thresholds or Thresholds()
    if reference is None or current is None:
        present = reference if reference is not None else current
        kind = present["kind"] if present is not None else "unknown"
        where = "current data" if current is None else "reference"
        return FeatureDrift(name, kind, "schema change", f"not in the {where}")
    kind = reference["kind"]
    missing_share = (float(reference["missing_share"]), float(current["missing_share"]))
    if current["count"] == 0:
        if current["missing"]:
            reason = f"every value missing in the current data ({current['missing']:,} rows)"
            return FeatureDrift(name, kind, "schema change", reason, missing_share=missing_share)
        return FeatureDrift(name, kind, "no data", "no rows in the current data", missing_share=missing_share)
    if current["kind"] != kind:
        reason = f"kind changed from {kind} to {current['kind']}"
        return FeatureDrift(name, kind, "schema change", reason, missing_share=missing_share)
    if reference["count"] == 0:
        return FeatureDrift(name, kind, "not comparable", "no values in the reference", missing_share=missing_share)
    if kind == "datetime":
        reason = "a datetime column: its values move on with time, so it is not tested for drift"
        return FeatureDrift(name, kind, "not comparable", reason, missing_share=missing_share)
    if kind == "numeric" and not _few_values(reference, current):
        measured = _by_quantiles(reference, current)
    else:
        measured = _by_counts(reference, current, numeric=kind == "numeric")
    if measured is None:
        reason = "no finite values on one side"
        return FeatureDrift(name, kind, "not comparable", reason, missing_share=missing_share)
    return _judged(name, kind, measured, thresholds, missing_share)


@dataclass(frozen=True)
class _Measured:
    method: Method
    statistics: Statistics
    reference_rows: int
    current_rows: int
    histogram: Histogram


def _few_values(reference: dict[str, Any], current: dict[str, Any]) -> bool:
    """Compared by exact counts: both sides kept each value's count, and the reference's values repeat (a column
    of few values, not a small sample of many)."""
    levels = reference.get("levels")
    return bool(levels) and "levels" in current and reference["count"] >= 2 * len(levels)


# --- numbers of many values: the quantile summaries ------------------------------------------------------------


def _distribution(column: dict[str, Any]) -> Distribution | None:
    summary = QuantileSummary.from_dict(column["summary"])
    if not summary.values.size:
        return None
    return Distribution.of_summary(summary, column.get("min"), column.get("max"))


def _by_quantiles(reference: dict[str, Any], current: dict[str, Any]) -> _Measured | None:
    ref, cur = _distribution(reference), _distribution(current)
    if ref is None or cur is None:
        return None
    scale = reference.get("std") or 0.0
    distance = wasserstein_distance(ref, cur)
    ks = ks_distance(ref, cur)
    edges = np.unique(ref.quantiles(np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    statistics = Statistics(
        wasserstein=distance / scale if scale > 0 else None,
        ks=ks,
        ks_p_value=ks_p_value(ks, ref.rows, cur.rows),
        psi=psi(_binned(ref, edges), _binned(cur, edges)),
    )
    return _Measured("quantiles", statistics, round(ref.rows), round(cur.rows), _numeric_histogram(ref, cur))


def _binned(distribution: Distribution, edges: np.ndarray) -> np.ndarray:
    """Shares of rows in (-inf, e1], (e1, e2], ..., (ek, inf)."""
    return np.diff(np.concatenate(([0.0], distribution.cdf(edges), [1.0])))


def _numeric_histogram(ref: Distribution, cur: Distribution) -> Histogram:
    ends = np.concatenate([ref.quantiles(np.array([0.005, 0.995])), cur.quantiles(np.array([0.005, 0.995]))])
    low, high = float(ends.min()), float(ends.max())
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    inner = edges[1:-1]
    return Histogram(
        reference=_binned(ref, inner).tolist(),
        current=_binned(cur, inner).tolist(),
        edges=edges.tolist(),
    )


# --- categories, booleans and numbers of few values: exact counts ---------------------------------------------


def _by_counts(reference: dict[str, Any], current: dict[str, Any], *, numeric: bool) -> _Measured | None:
    labels, ref_counts, cur_counts = _count_table(reference, current, numeric=numeric)
    if not ref_counts.sum() or not cur_counts.sum():
        return None
    test = chi_square(ref_counts, cur_counts)
    ref_shares, cur_shares = shares_of(ref_counts), shares_of(cur_counts)
    statistics = Statistics(
        wasserstein=_counts_wasserstein(labels, ref_counts, cur_counts, reference) if numeric else None,
        psi=psi(ref_shares, cur_shares),
        jensen_shannon=jensen_shannon(ref_shares, cur_shares),
        chi_square=test.statistic,
        chi_square_dof=test.dof,
        chi_square_p_value=test.p_value,
    )
    histogram = _levels_histogram(labels, ref_shares, cur_shares, ordered=numeric)
    return _Measured("counts", statistics, int(ref_counts.sum()), int(cur_counts.sum()), histogram)


def _count_table(
    reference: dict[str, Any], current: dict[str, Any], *, numeric: bool
) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Labels and both sides' counts, the last label ``OTHER`` when some rows are in no listed level.

    A profile lists a categorical column's most frequent levels only (``levels_complete`` says whether that is all):
    a level listed on one side is kept when the other side lists it too or lists all of its levels (then the level
    really has no rows there); otherwise its rows go to "other" on both sides, so both count the same thing.
    """

    def key(value: Any) -> Any:
        return float(value) if numeric else str(value)

    ref_levels = {key(v): n for v, n in reference.get("levels", [])}
    cur_levels = {key(v): n for v, n in current.get("levels", [])}
    labels_of = {key(v): v for v, _ in [*reference.get("levels", []), *current.get("levels", [])]}
    ref_complete = numeric or bool(reference.get("levels_complete"))
    cur_complete = numeric or bool(current.get("levels_complete"))
    keys = [
        k
        for k in dict.fromkeys([*ref_levels, *cur_levels])
        if (k in ref_levels or ref_complete) and (k in cur_levels or cur_complete)
    ]
    if numeric:
        keys.sort()
    ref_counts = [ref_levels.get(k, 0) for k in keys]
    cur_counts = [cur_levels.get(k, 0) for k in keys]
    ref_other = reference["count"] - sum(ref_counts)
    cur_other = current["count"] - sum(cur_counts)
    labels: list[Any] = [labels_of[k] for k in keys]
    if ref_other > 0 or cur_other > 0:
        labels.append(OTHER)
        ref_counts.append(max(ref_other, 0))
        cur_counts.append(max(cur_other, 0))
    return labels, np.asarray(ref_counts, dtype=np.float64), np.asarray(cur_counts, dtype=np.float64)


def _counts_wasserstein(
    labels: list[Any], ref_counts: np.ndarray, cur_counts: np.ndarray, reference: dict[str, Any]
) -> float | None:
    """Wasserstein-1 of exact counts of numbers, over the reference's standard deviation."""
    scale = reference.get("std") or 0.0
    if scale <= 0 or (labels and labels[-1] == OTHER):
        return None
    values = [float(v) for v in labels]
    ref = Distribution.of_counts(values, ref_counts)
    cur = Distribution.of_counts(values, cur_counts)
    return wasserstein_distance(ref, cur) / scale


def _levels_histogram(labels: list[Any], ref_shares: np.ndarray, cur_shares: np.ndarray, *, ordered: bool) -> Histogram:
    """One bar per value (numbers in order) or category (the reference's largest first), at most
    ``HISTOGRAM_LEVELS`` bars and the rest in one "other" bar."""
    listed = [i for i, label in enumerate(labels) if label != OTHER]
    if not ordered:
        listed.sort(key=lambda i: (-ref_shares[i], -cur_shares[i]))
    shown = listed[:HISTOGRAM_LEVELS]
    if ordered and len(listed) > HISTOGRAM_LEVELS:
        shown = sorted(sorted(listed, key=lambda i: -(ref_shares[i] + cur_shares[i]))[:HISTOGRAM_LEVELS])
    rest = [i for i in range(len(labels)) if i not in set(shown)]
    names = [_label(labels[i]) for i in shown]
    reference = [float(ref_shares[i]) for i in shown]
    current = [float(cur_shares[i]) for i in shown]
    if rest:
        names.append(OTHER)
        reference.append(float(ref_shares[rest].sum()))
        current.append(float(cur_shares[rest].sum()))
    return Histogram(reference=reference, current=current, labels=names)


def _label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- the verdict -----------------------------------------------------------------------------------------------


def _judged(
    name: str, kind: str, measured: _Measured, thresholds: Thresholds, missing_share: tuple[float, float]
) -> FeatureDrift:
    s = measured.statistics
    if measured.method == "quantiles":
        candidates = [("wasserstein", s.wasserstein, thresholds.wasserstein), ("psi", s.psi, thresholds.psi)]
        test, p_value = "Kolmogorov-Smirnov", s.ks_p_value
    else:
        candidates = [("jensen_shannon", s.jensen_shannon, thresholds.jensen_shannon), ("psi", s.psi, thresholds.psi)]
        test, p_value = "chi-square", s.chi_square_p_value
    chosen = [(n, v, t) for n, v, t in candidates if v is not None and n in thresholds.tests]
    if not chosen:
        measured_by = " or ".join(n for n, _, _ in candidates)
        reason = f"measured by {measured_by}, none of the tests asked for ({', '.join(thresholds.tests)})"
        return FeatureDrift(name, kind, "not comparable", reason, statistics=s, missing_share=missing_share)
    effect, size, threshold = max(chosen, key=lambda c: c[1] / c[2])
    assert p_value is not None
    if size <= threshold:
        verdict: Verdict = "no drift"
        reason = f"{effect} {size:.3g} within {threshold:g}"
    elif p_value >= thresholds.p_value:
        verdict = "no drift"
        reason = f"{effect} {size:.3g} over {threshold:g}, but {test} p = {p_value:.2g}: too few rows to tell from noise"
    else:
        verdict = "drift"
        reason = f"{effect} {size:.3g} over {threshold:g} ({test} p = {p_value:.2g})"
    return FeatureDrift(
        feature=name,
        kind=kind,
        verdict=verdict,
        reason=reason,
        method=measured.method,
        effect=effect,
        effect_size=size,
        threshold=threshold,
        p_value=p_value,
        statistics=s,
        reference_rows=measured.reference_rows,
        current_rows=measured.current_rows,
        missing_share=missing_share,
        histogram=measured.histogram,
    )
