"""The drift statistics of two binned distributions (shares or counts per bin or category), and the p-values.

scipy is imported inside the functions that need it (its import costs a few tenths of a second): a profile, a magic
or the panel that never checks drift never pays it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PSI_FLOOR = 1e-4  # the share an empty bin is given before PSI's logarithm (then the shares are normalised again)


def shares_of(counts: np.ndarray) -> np.ndarray:
    total = float(counts.sum())
    return counts / total if total > 0 else np.zeros_like(counts, dtype=np.float64)


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index: sum of (c - r) * ln(c / r) over the bins' shares, an empty bin counted as
    ``PSI_FLOOR`` (so one empty bin costs a bounded amount, not infinity)."""
    r = _floored(reference)
    c = _floored(current)
    return float(np.sum((c - r) * np.log(c / r)))


def _floored(shares: np.ndarray) -> np.ndarray:
    raised = np.maximum(np.asarray(shares, dtype=np.float64), PSI_FLOOR)
    return raised / raised.sum()


def jensen_shannon(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance in base 2 (0: the same shares, 1: no category in common); what
    ``scipy.spatial.distance.jensenshannon(r, c, base=2)`` gives."""
    r = shares_of(np.asarray(reference, dtype=np.float64))
    c = shares_of(np.asarray(current, dtype=np.float64))
    middle = (r + c) / 2
    divergence = (_relative_entropy(r, middle) + _relative_entropy(c, middle)) / 2
    return float(np.sqrt(max(divergence, 0.0)))


def _relative_entropy(p: np.ndarray, q: np.ndarray) -> float:
    present = p > 0
    return float(np.sum(p[present] * np.log2(p[present] / q[present])))


@dataclass(frozen=True)
class ChiSquare:
    statistic: float
    dof: int
    p_value: float


def chi_square(reference: np.ndarray, current: np.ndarray) -> ChiSquare:
    """Pearson's chi-square test of homogeneity on the 2 x k table of row counts (reference, current) per category:
    do both come from one distribution? Categories with no rows on either side are left out; no continuity
    correction (what ``scipy.stats.chi2_contingency(table, correction=False)`` gives)."""
    table = np.vstack([reference, current]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    dof = table.shape[1] - 1
    if dof < 1 or np.any(table.sum(axis=1) == 0):
        return ChiSquare(0.0, max(dof, 0), 1.0)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    from scipy.stats import chi2

    return ChiSquare(statistic, dof, float(chi2.sf(statistic, dof)))


def ks_p_value(distance: float, reference_rows: float, current_rows: float) -> float:
    """The asymptotic two-sided p-value of a two-sample Kolmogorov-Smirnov distance, as ``scipy.stats.ks_2samp``
    computes it for large samples: the one-sample distribution at the effective size n m / (n + m)."""
    if reference_rows < 1 or current_rows < 1:
        return 1.0
    effective = round(reference_rows * current_rows / (reference_rows + current_rows))
    from scipy.stats import kstwo

    return float(np.clip(kstwo.sf(distance, max(effective, 1)), 0.0, 1.0))
