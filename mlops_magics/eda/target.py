"""Each feature's relation to the target, on the profile's uniform sample, strongest first.

A category explains a target by chance in proportion to its levels: a column with a level per row (an ID, a
timestamp written as text, free text) reaches η = 1 and Cramér's V = 1 by construction. So the measures are
corrected for the number of levels (adjusted η², bias-corrected Cramér's V, both 0 in expectation under
independence), and columns with about one level per row are not ranked at all but listed apart with the reason.
Dates and numbers stored as text are parsed and measured as what they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops_magics.eda.content import parse_dates
from mlops_magics.eda.correlations import MAX_LEVELS_FOR_CRAMERS_V, contingency, level_codes

NEARLY_UNIQUE = 0.5  # levels per sampled row above which no correction is trustworthy
MEASURES_NOTE = (
    "η and Cramér's V are corrected for the number of levels (a column with many levels explains a target by "
    "chance); columns with about one level per row are listed apart, not ranked."
)


def _as_number(series: pd.Series, column: dict[str, Any]) -> pd.Series | None:
    """The column as floats when it holds numbers or dates (also when written as text); else None."""
    content = column.get("content")
    if column["kind"] == "numeric":
        values = pd.to_numeric(series, errors="coerce")
    elif column["kind"] == "datetime":
        values = pd.Series(pd.to_datetime(series).to_numpy(dtype="datetime64[ns]").view(np.int64), index=series.index)
        values = values.where(series.notna())
    elif content == "number":
        values = pd.to_numeric(series.astype("string").str.replace(r"[\s,$€£¥%]", "", regex=True), errors="coerce")
    elif content == "date":
        values = _dates_as_numbers(series)
    else:
        return None
    return values.astype(np.float64).replace([np.inf, -np.inf], np.nan)


def _dates_as_numbers(series: pd.Series) -> pd.Series:
    """Dates written as text, as nanoseconds: each distinct value parsed once, in the format that reads them."""
    codes, uniques = pd.factorize(series)
    nanos = np.full(len(uniques) + 1, np.nan)  # the last slot answers code -1 (missing)
    if len(uniques):
        parsed, _ = parse_dates([str(u) for u in uniques])
        nanos[:-1] = np.where(parsed.notna(), parsed.asi8, np.nan)
    return pd.Series(nanos[codes], index=series.index)


def _adjusted_eta(codes: np.ndarray, values: np.ndarray) -> float:
    """η from η² adjusted for the number of groups k: 1 - (1 - η²)(n - 1)/(n - k), floored at 0."""
    keep = (codes >= 0) & np.isfinite(values)
    codes, values = codes[keep], values[keep]
    n = values.size
    if n < 3 or np.var(values) == 0:
        return float("nan")
    _, groups = np.unique(codes, return_inverse=True)
    k = int(groups.max()) + 1
    if k < 2 or n - k < 2:
        return float("nan")
    sums, sizes = np.bincount(groups, weights=values), np.bincount(groups)
    mean = values.mean()
    between = float((sizes * (sums / sizes - mean) ** 2).sum())
    total = float(((values - mean) ** 2).sum())
    eta2 = between / total
    adjusted = 1.0 - (1.0 - eta2) * (n - 1) / (n - k)
    return float(np.sqrt(max(adjusted, 0.0)))


def _corrected_cramers_v(table: np.ndarray) -> float:
    """Bergsma's bias-corrected Cramér's V."""
    n = table.sum()
    r, k = table.shape
    if min(r, k) < 2 or n < 2:
        return float("nan")
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    phi2 = max(chi2 / n - (k - 1) * (r - 1) / (n - 1), 0.0)
    r_corr, k_corr = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    scale = min(k_corr - 1, r_corr - 1)
    return float(np.sqrt(phi2 / scale)) if scale > 0 else float("nan")


def _spearman(x: pd.Series, y: pd.Series) -> float:
    pair = pd.DataFrame({"x": x.to_numpy(), "y": y.to_numpy()}).dropna()
    if len(pair) < 3:
        return float("nan")
    return float(pair["x"].rank().corr(pair["y"].rank()))


def _set_apart(name: str, column: dict[str, Any], levels: int, rows: int) -> str | None:
    """Why a column is not ranked, or None when it is."""
    if column.get("content") == "text":
        return "free text: each value is its own level, so η = 1 by construction"
    unique = column["count"] > 1 and column["distinct"] > 1 and column["distinct"] >= 0.95 * column["count"]
    if unique:
        return "unique per row: η = 1 by construction, likely an ID/date/text"
    if rows and levels > NEARLY_UNIQUE * rows:
        return f"nearly unique per row ({levels:,} levels in {rows:,} sampled rows): too many levels to measure"
    return None


def relation_to_target(sample: pd.DataFrame, target: str, columns: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Ranked associations (strongest first) and the columns set apart, each with its reason."""
    target_numbers = _as_number(sample[target], columns[target])
    target_codes = level_codes(sample[target])
    ranked: list[dict[str, Any]] = []
    apart: list[dict[str, Any]] = []
    for name, column in columns.items():
        if name == target:
            continue
        numbers = _as_number(sample[name], column)
        measure = ""
        if numbers is not None and target_numbers is not None:
            score, measure = _spearman(numbers, target_numbers), "Spearman ρ"
        elif numbers is not None:
            score, measure = _adjusted_eta(target_codes[0], numbers.to_numpy()), "correlation ratio η (adjusted)"
        else:
            codes = level_codes(sample[name])
            reason = _set_apart(name, column, codes[1], int((codes[0] >= 0).sum()))
            if reason is not None:
                apart.append({"column": name, "reason": reason})
                continue
            if target_numbers is not None:
                score, measure = _adjusted_eta(codes[0], target_numbers.to_numpy()), "correlation ratio η (adjusted)"
            else:
                table = contingency(codes, target_codes)
                usable = max(table.shape) <= 10 * MAX_LEVELS_FOR_CRAMERS_V
                score = _corrected_cramers_v(table) if usable else float("nan")
                measure = "Cramér's V (bias-corrected)"
        if column.get("content") in ("date", "number"):
            measure += f" (parsed from text as {'dates' if column['content'] == 'date' else 'numbers'})"
        ranked.append({"column": name, "measure": measure, "score": None if np.isnan(score) else round(score, 4)})
    ranked.sort(key=lambda r: -abs(r["score"]) if r["score"] is not None else 1.0)
    return {"column": target, "associations": ranked, "set_apart": apart, "note": MEASURES_NOTE}
