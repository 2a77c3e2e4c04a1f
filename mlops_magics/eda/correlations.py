"""Associations between columns: Pearson (exact, from the one pass), Spearman and Cramér's V (on the sample).

Each feature's relation to a target is ``target.relation_to_target``."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

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
    ranked = np.empty((len(sample), len(names)), order="F")

    def rank(j: int) -> None:
        values = sample[names[j]].to_numpy(dtype=np.float64, na_value=np.nan)
        ranked[:, j] = summaries[names[j]].mid_rank(values) if names[j] in summaries else np.nan
        ranked[~np.isfinite(values), j] = np.nan

    # Columns ranked on every core: numpy's binary searches let go of the GIL (~0.3 s of 100,000 x 15 on one).
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(rank, range(len(names))))
    return _matrix(names, PairwiseMoments.of(names, ranked).correlation())


def level_codes(series: pd.Series) -> tuple[np.ndarray, int]:
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
    """Cramér's V of a table without empty rows or columns: scipy.stats.contingency.association(table,
    method="cramer"), computed here (importing scipy.stats costs a profile ~0.4 s)."""
    if min(table.shape) < 2:
        return float("nan")
    observed = table.astype(np.float64)
    n = observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / n / (min(table.shape) - 1)))


def cramers_v(sample: pd.DataFrame, names: list[str]) -> dict[str, Any] | None:
    coded = {n: level_codes(sample[n]) for n in names}
    usable = [n for n in names if 1 < coded[n][1] <= MAX_LEVELS_FOR_CRAMERS_V]
    if len(usable) < 2:
        return None
    size = len(usable)
    values = np.eye(size)
    for i in range(size):
        for j in range(i + 1, size):
            values[i, j] = values[j, i] = _cramer(contingency(coded[usable[i]], coded[usable[j]]))
    return _matrix(usable, values)
