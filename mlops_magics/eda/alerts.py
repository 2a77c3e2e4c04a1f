"""Alerts a person should see before modelling: each rule is one line of data, not a wall of text."""

from __future__ import annotations

import math
from typing import Any

HIGH_MISSING = 0.2
HIGH_CARDINALITY = 50
SKEWED = 2.0
MANY_ZEROS = 0.5
IMBALANCE = 0.5
HIGH_CORRELATION = 0.9


def _alert(kind: str, message: str, column: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "column": column, "message": message, **extra}


def _imbalance(top: list[list[Any]], count: int, distinct: int) -> float:
    """1 - normalised entropy of the level shares (0 balanced .. 1 one level only); as ydata-profiling."""
    if distinct < 2 or count == 0 or not top:
        return 0.0
    shares = [c / count for _, c in top if c]
    entropy = -sum(p * math.log(p) for p in shares)
    return 1.0 - entropy / math.log(distinct)


def column_alerts(column: dict[str, Any], rows: int) -> list[dict[str, Any]]:
    name, kind = column["name"], column["kind"]
    count, missing, distinct = column["count"], column["missing"], column["distinct"]
    found: list[dict[str, Any]] = []
    if rows and missing == rows:
        return [_alert("all_missing", f"{name} has no values (all {rows:,} missing)", name)]
    if missing and missing / rows >= HIGH_MISSING:
        found.append(_alert("high_missing", f"{name} is {missing / rows:.0%} missing", name))
    if distinct == 1:
        found.append(_alert("constant", f"{name} has one value only", name))
    if column.get("value_types") and len(column["value_types"]) > 1:
        types = ", ".join(column["value_types"])
        found.append(_alert("mixed_types", f"{name} mixes value types ({types})", name))
    if kind in ("categorical",) and distinct > HIGH_CARDINALITY and distinct < count:
        found.append(_alert("high_cardinality", f"{name} has {distinct:,} distinct values", name))
    unique_share = 0.99 if column["distinct_exact"] else 0.95  # an estimated count is within a few percent
    unique = count > 1 and distinct > 1 and distinct >= count * unique_share
    if unique and (kind == "categorical" or (kind == "numeric" and column.get("integer_valued"))):
        found.append(_alert("id_like", f"{name} is unique per row (an identifier?)", name))
    if kind == "numeric":
        skew = column.get("skew")
        if skew is not None and abs(skew) > SKEWED:
            found.append(_alert("skewed", f"{name} is skewed (skew {skew:.1f})", name))
        if column.get("infinite"):
            found.append(_alert("infinite", f"{name} has {column['infinite']:,} infinite values", name))
        if count and column.get("zeros", 0) / count > MANY_ZEROS:
            found.append(_alert("zeros", f"{name} is {column['zeros'] / count:.0%} zeros", name))
    if kind in ("categorical", "boolean") and column.get("levels_complete", False):
        score = _imbalance(column.get("levels", []), count, distinct)
        if score > IMBALANCE:
            found.append(_alert("imbalanced", f"{name} is imbalanced ({column['top'][0][1] / count:.0%} is one level)", name))
    return found


def frame_alerts(profile: dict[str, Any]) -> list[dict[str, Any]]:
    overview = profile["overview"]
    found: list[dict[str, Any]] = []
    if overview["rows"] == 0:
        return [_alert("empty", "the data has no rows")]
    for column in profile["columns"].values():
        found.extend(column_alerts(column, overview["rows"]))
    if overview["duplicate_rows"]:
        share = overview["duplicate_rows"] / overview["rows"]
        found.append(_alert("duplicates", f"{overview['duplicate_rows']:,} duplicate rows ({share:.1%})"))
    for method in ("pearson", "cramers_v"):
        matrix = (profile.get("correlations") or {}).get(method)
        if not matrix:
            continue
        names = matrix["columns"]
        for i, row in enumerate(matrix["matrix"]):
            for j in range(i + 1, len(names)):
                value = row[j]
                if value is not None and abs(value) >= HIGH_CORRELATION:
                    found.append(
                        _alert(
                            "high_correlation",
                            f"{names[i]} and {names[j]} are highly correlated ({method} {value:.2f})",
                            names[i],
                            columns=[names[i], names[j]],
                        )
                    )
    return found
