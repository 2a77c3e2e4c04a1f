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


IMBALANCED_TARGET = 0.2  # a target class below this share of an even split (10% of two classes) is rare
_PLAIN_TYPES = {"str", "int", "float", "unhashable"}  # numbers and words: the content evidence tells those apart


def _level_text(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _classes(column: dict[str, Any]) -> list[list[Any]] | None:
    """Every value with its rows when a column has few (levels of a category, a boolean, a numeric 0/1)."""
    if column["kind"] == "numeric":
        return column.get("levels")
    if column["kind"] in ("categorical", "boolean") and column.get("levels_complete"):
        return column.get("levels")
    return None


def _target_alerts(name: str, column: dict[str, Any]) -> list[dict[str, Any]]:
    """A class target is imbalanced when its rarest class is rare; skew and zeros say nothing about classes."""
    classes = _classes(column)
    count = column["count"]
    if not classes or len(classes) < 2 or not count:
        return []
    value, rows = min(classes, key=lambda level: level[1])
    share = rows / count
    if share >= IMBALANCED_TARGET / len(classes):
        return []
    message = f"{name} (the target) is imbalanced: its rarest class {_level_text(value)!s} is {share:.1%} of rows"
    return [_alert("imbalanced", message, name, rarest=[value, rows])]


def _content_alerts(name: str, column: dict[str, Any]) -> list[dict[str, Any]]:
    """What a column of strings really holds, when that is not categories."""
    content, evidence = column.get("content"), column.get("evidence") or {}
    examples, shares = evidence.get("examples", {}), evidence.get("shares", {})
    if content == "date":
        span = f" ({evidence['date_min'][:10]} to {evidence['date_max'][:10]})" if evidence.get("date_min") else ""
        return [_alert("dates_as_text", f"{name} holds dates as text{span}; parse it with pd.to_datetime", name)]
    if content == "text":
        words = evidence.get("mean_words", 0)
        return [_alert("free_text", f"{name} is free text ({words:.0f} words a value), not a category", name)]
    if content == "mixed":
        message = (
            f"{name} mixes numbers ({shares.get('numbers', 0):.0%}, e.g. {examples.get('number', '')!r}) "
            f"and words ({shares.get('words', 0):.0%}, e.g. {examples.get('word', '')!r})"
        )
        return [_alert("mixed_types", message, name)]
    if content != "number":
        return []
    example = examples.get("number", "")
    found = [_alert("numbers_as_text", f"{name} holds numbers as text (e.g. {example!r}); convert it with pd.to_numeric", name)]
    if evidence.get("inconsistent_format"):
        message = (
            f"{name} writes numbers inconsistently: {examples.get('grouped', '')!r} next to {examples.get('ungrouped', '')!r} "
            "(thousand separators in some values only)"
        )
        found.append(_alert("inconsistent_format", message, name))
    return found


def column_alerts(column: dict[str, Any], rows: int, target: str | None = None) -> list[dict[str, Any]]:
    name, kind = column["name"], column["kind"]
    count, missing, distinct = column["count"], column["missing"], column["distinct"]
    content = column.get("content")
    found: list[dict[str, Any]] = []
    if rows and missing == rows:
        return [_alert("all_missing", f"{name} has no values (all {rows:,} missing)", name)]
    if missing and missing / rows >= HIGH_MISSING:
        found.append(_alert("high_missing", f"{name} is {missing / rows:.0%} missing", name))
    if distinct == 1:
        found.append(_alert("constant", f"{name} has one value only", name))
    other_types = set(column.get("value_types") or []) - _PLAIN_TYPES
    if other_types and len(column["value_types"]) > 1 and content != "mixed":
        types = ", ".join(column["value_types"])
        found.append(_alert("mixed_types", f"{name} mixes value types ({types})", name))
    found.extend(_content_alerts(name, column))
    # Dates, sentences and amounts are varied by nature: their many values are neither levels nor identifiers
    # (nor are the numbers among words: their mixing is the alert).
    as_levels = kind == "categorical" and content in (None, "category", "mixed")
    unique_share = 0.99 if column["distinct_exact"] else 0.95  # an estimated count is within a few percent
    unique = count > 1 and distinct > 1 and distinct >= count * unique_share
    integers = (kind == "numeric" and column.get("integer_valued")) or (
        content == "number" and (column.get("evidence") or {}).get("integers")
    )
    if unique and (as_levels or integers):
        found.append(_alert("id_like", f"{name} is unique per row (an identifier?)", name))
    elif as_levels and content != "mixed" and distinct > HIGH_CARDINALITY and distinct < count:
        found.append(_alert("high_cardinality", f"{name} has {distinct:,} distinct values", name))
    is_target = name == target
    if is_target:
        found.extend(_target_alerts(name, column))
    # A 0/1 column, or a target of a few classes, is not "skewed" and its zeros are a class, not a problem.
    binary = distinct <= 2
    classes = is_target and _classes(column) is not None
    if kind == "numeric":
        skew = column.get("skew")
        if skew is not None and abs(skew) > SKEWED and not binary and not classes:
            found.append(_alert("skewed", f"{name} is skewed (skew {skew:.1f})", name))
        if column.get("infinite"):
            found.append(_alert("infinite", f"{name} has {column['infinite']:,} infinite values", name))
        if count and column.get("zeros", 0) / count > MANY_ZEROS and not binary and not classes:
            found.append(_alert("zeros", f"{name} is {column['zeros'] / count:.0%} zeros", name))
    levels = _classes(column) if (kind != "numeric" or binary) else None
    if levels and not is_target:
        score = _imbalance(levels, count, distinct)
        if score > IMBALANCE:
            top = max(levels, key=lambda level: level[1])
            found.append(_alert("imbalanced", f"{name} is imbalanced ({top[1] / count:.0%} is one level)", name))
    return found


def frame_alerts(profile: dict[str, Any], target: str | None = None) -> list[dict[str, Any]]:
    overview = profile["overview"]
    found: list[dict[str, Any]] = []
    if overview["rows"] == 0:
        return [_alert("empty", "the data has no rows")]
    for column in profile["columns"].values():
        found.extend(column_alerts(column, overview["rows"], target))
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
