"""Associations between columns: Pearson (exact, from the one pass), Spearman and Cramér's V (on the sample)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats.contingency import association

from mlops_magics.eda.partition import PairwiseMoments
from mlops_magics.eda.sketches import QuantileSummary

MAX_LEVELS_FOR_CRAMERS_V = 100


def _matrix(names: list[str], values: np.ndarray) -> dict[str, Any]:
    rounded = np.round(values.astype(float), 4)
    return {"columns": names, "matrix": [[None if np.isnan(v) else float(v) for v in row] for row in rounded]}


def pearson(moments: PairwiseMoments | None) -> dict[str, Any] | None:
    if moments is None:
        return None
    return _matrix(moments.names, moments.correlation())


def spearman(sample: pd.DataFrame, names: list[str], summaries: dict[str, QuantileSummary]) -> dict[str, Any] | None:
    """Spearman's ρ: Pearson of the sample's values mapped to their mid-rank in the whole data.

    The ranks come from the exact pass's quantile summaries (no sort of the sample), so ties get mid-ranks.
    """
    if len(names) < 2 or len(sample) < 3:
        return None
    ranked = np.empty((len(sample), len(names)))
    for j, name in enumerate(names):
        values = sample[name].to_numpy(dtype=np.float64, na_value=np.nan)
        ranked[:, j] = summaries[name].mid_rank(values) if name in summaries else np.nan
        ranked[~np.isfinite(values), j] = np.nan
    return _matrix(names, PairwiseMoments.of(names, ranked).correlation())


def _codes(series: pd.Series) -> tuple[np.ndarray, int]:
    try:
        codes, uniques = pd.factorize(series)
    except TypeError:
        codes, uniques = pd.factorize(series.astype(str))
    return codes, len(uniques)


def contingency(a: tuple[np.ndarray, int], b: tuple[np.ndarray, int]) -> np.ndarray:
    """Counts of each pair of levels over rows where both are present."""
    (codes_a, levels_a), (codes_b, levels_b) = a, b
    both = (codes_a >= 0) & (codes_b >= 0)
    flat = codes_a[both].astype(np.int64) * levels_b + codes_b[both]
    table = np.bincount(flat, minlength=levels_a * levels_b).reshape(levels_a, levels_b)
    return table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]


def _cramer(table: np.ndarray) -> float:
    return float(association(table, method="cramer")) if min(table.shape) > 1 else float("nan")


def cramers_v(sample: pd.DataFrame, names: list[str]) -> dict[str, Any] | None:
    coded = {n: _codes(sample[n]) for n in names}
    usable = [n for n in names if 1 < coded[n][1] <= MAX_LEVELS_FOR_CRAMERS_V]
    if len(usable) < 2:
        return None
    size = len(usable)
    values = np.eye(size)
    for i in range(size):
        for j in range(i + 1, size):
            values[i, j] = values[j, i] = _cramer(contingency(coded[usable[i]], coded[usable[j]]))
    return _matrix(usable, values)


def correlation_ratio(categories: pd.Series, values: pd.Series) -> float:
    """η: how much of a number's variance the categories explain (0..1)."""
    frame = pd.DataFrame({"c": categories.astype(str), "v": pd.to_numeric(values, errors="coerce")}).dropna()
    frame = frame[np.isfinite(frame["v"])]
    if len(frame) < 3 or frame["v"].var() == 0:
        return float("nan")
    groups = frame.groupby("c")["v"]
    between = (groups.count() * (groups.mean() - frame["v"].mean()) ** 2).sum()
    total = ((frame["v"] - frame["v"].mean()) ** 2).sum()
    return float(np.sqrt(between / total))


def association_with(sample: pd.DataFrame, target: str, kinds: dict[str, str]) -> list[dict[str, Any]]:
    """Each feature's association with the target, on the sample, strongest first."""
    numeric_target = kinds[target] in ("numeric", "datetime")
    rows = []
    for name, kind in kinds.items():
        if name == target:
            continue
        feature_numeric = kind in ("numeric", "datetime")
        if feature_numeric and numeric_target:
            pair = sample[[name, target]].apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan)
            score, measure = float(pair.corr(method="spearman").iloc[0, 1]), "Spearman ρ"
        elif feature_numeric:
            score, measure = correlation_ratio(sample[target], sample[name]), "correlation ratio η"
        elif numeric_target:
            score, measure = correlation_ratio(sample[name], sample[target]), "correlation ratio η"
        else:
            table = contingency(_codes(sample[name]), _codes(sample[target]))
            usable = max(table.shape) <= 10 * MAX_LEVELS_FOR_CRAMERS_V
            score, measure = (_cramer(table) if usable else float("nan")), "Cramér's V"
        rows.append({"column": name, "measure": measure, "score": None if np.isnan(score) else round(score, 4)})
    return sorted(rows, key=lambda r: -abs(r["score"]) if r["score"] is not None else 1.0)
