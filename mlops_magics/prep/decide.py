"""What to do with each column, read from a profile's statistics and alerts alone (never the data): every alert
is answered by a step or left with its reason, and the same profile always gives the same decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mlops_magics.errors import InvalidInput

FORMAT = 1  # the profile format these rules read (eda.profile.FORMAT_VERSION; prep sits below eda)
DROP_MISSING = 0.5  # a column at least this share missing is dropped: an imputed majority is made up
INDICATOR_MISSING = 0.05  # from this share missing, the imputer adds a missing-value indicator
ONE_HOT_LEVELS = 50  # beyond this many levels (eda.alerts.HIGH_CARDINALITY) a string encoder, not one column per level
IMBALANCED_TARGET = 0.2  # a class below this share of an even split is rare (eda.alerts.IMBALANCED_TARGET)
CLASS_LEVELS = 20  # a numeric target with at most this many whole values is a class label

Task = Literal["classification", "regression"]
# The model the code prepares for: linear (and most others: one-hot, imputed, scaled) or trees (gradient-boosted
# trees such as HistGradientBoosting: native categories, missing values left to the model, no monotone transforms).
Model = Literal["linear", "trees"]
# How a column is prepared; render.py turns each into scikit-learn / skrub steps.
Recipe = Literal["drop", "number", "text_number", "date", "category", "strings", "flag"]


@dataclass(frozen=True)
class Decision:
    column: str
    recipe: Recipe
    findings: tuple[str, ...] = ()  # what the profile found, each with what answers it ("skew 4.8 → log1p")
    answers: tuple[str, ...] = ()  # the alert kinds it answers
    impute: bool = False  # has missing values (or may, once parsed): an imputer first
    indicator: bool = False  # the imputer adds a missing-value indicator
    transform: Literal["log1p", "power", None] = None  # a skewed number's transform
    finite: bool = False  # infinities are made missing first
    parse: bool = False  # dates written as text: parsed first
    mixed: bool = False  # numbers and words in one column: read as text

    @property
    def plain(self) -> bool:
        """Nothing found: prepared with the others of its recipe in one step."""
        return not self.findings


@dataclass(frozen=True)
class Left:
    """An alert deliberately left as it is, and why."""

    column: str | None
    kind: str
    message: str
    reason: str


@dataclass(frozen=True)
class Plan:
    title: str
    rows: int
    columns: int
    target: str | None
    task: Task | None
    decisions: list[Decision]
    left: list[Left]
    duplicates: int = 0
    target_missing: int = 0
    target_notes: list[str] = field(default_factory=list)
    profile_id: str | None = None
    model: Model = "linear"

    @property
    def kept(self) -> list[Decision]:
        return [d for d in self.decisions if d.recipe != "drop"]

    @property
    def dropped(self) -> list[Decision]:
        return [d for d in self.decisions if d.recipe == "drop"]


def decide(
    profile: dict[str, Any],
    target: str | None = None,
    task: Task | None = None,
    profile_id: str | None = None,
    model: Model = "linear",
) -> Plan:
    """The plan for ``profile`` (a profile's JSON); ``target`` defaults to the one it was profiled with."""
    _check_format(profile, profile_id)
    columns: dict[str, dict[str, Any]] = profile["columns"]
    overview = profile["overview"]
    if overview["rows"] == 0:
        raise InvalidInput("the data has no rows: nothing to prepare")
    target = target if target is not None else (profile.get("target") or {}).get("column")
    if target is not None:
        task = _task(target, columns, overview["rows"], task)
    by_column: dict[str | None, list[dict[str, Any]]] = {}
    for alert in profile["alerts"]:
        by_column.setdefault(alert.get("column"), []).append(alert)
    decisions, left = [], []
    for name, column in columns.items():
        if name == target:
            continue
        alerts = by_column.get(name, [])
        decision = _decide_column(name, column, {a["kind"] for a in alerts}, int(overview.get("duplicate_rows") or 0), model)
        decisions.append(decision)
        left.extend(_left(name, alerts, decision))
    if not any(d.recipe != "drop" for d in decisions):
        why = "; ".join(f"{d.column}: {', '.join(d.findings)}" for d in decisions) or "the data has no column but the target"
        raise InvalidInput(f"no usable feature: {why}")
    correlated = [a for a in profile["alerts"] if a["kind"] == "high_correlation"]
    left.extend(_frame_left(correlated, {d.column for d in decisions if d.recipe == "drop"}, target))
    notes = []
    if target is not None:
        notes = _target_notes(target, columns[target], task, {a["kind"] for a in by_column.get(target, [])})
    return Plan(
        title=profile.get("title", ""),
        rows=overview["rows"],
        columns=overview["columns"],
        target=target,
        task=task,
        decisions=decisions,
        left=left,
        duplicates=int(overview.get("duplicate_rows") or 0),
        target_missing=int(columns[target]["missing"]) if target is not None else 0,
        target_notes=notes,
        profile_id=profile_id,
        model=model,
    )


def _check_format(profile: dict[str, Any], profile_id: str | None) -> None:
    named = f"profile {profile_id}" if profile_id else "this profile"
    again = "profile the data again with %eda (or mlops eda)"
    if not isinstance(profile, dict) or profile.get("format") != FORMAT:
        found = profile.get("format") if isinstance(profile, dict) else None
        raise InvalidInput(f"{named} is in format {found!r}, not {FORMAT}, the one %prep reads: {again}")
    needed = ("kind", "count", "missing", "missing_share", "distinct")
    for column in profile.get("columns", {}).values():
        if any(key not in column for key in needed):
            raise InvalidInput(f"{named} was made by an older version and lacks what %prep reads: {again}")


def _task(target: str, columns: dict[str, dict[str, Any]], rows: int, asked: Task | None) -> Task:
    if target not in columns:
        raise InvalidInput(f"target column {target!r} is not in the profile; columns are {list(columns)}")
    column = columns[target]
    if column["missing"] == rows:
        raise InvalidInput(f"target column {target!r} has no values (all {rows:,} missing): nothing to learn from")
    if column["distinct"] <= 1:
        raise InvalidInput(f"target column {target!r} has one value only: there is nothing to predict")
    numeric = column["kind"] == "numeric"
    whole_levels = numeric and column.get("integer_valued") and column.get("levels") and column["distinct"] <= CLASS_LEVELS
    guessed: Task = "regression" if numeric and not whole_levels else "classification"
    if asked == "regression" and not numeric:
        kind = column["kind"]
        raise InvalidInput(f"target column {target!r} holds {kind} values: regression needs numbers; ask for classification")
    return asked or guessed


def _share(value: float) -> str:
    return f"{value:.0%}" if value >= 0.1 else f"{value:.1%}"


def _decide_column(name: str, column: dict[str, Any], kinds: set[str], duplicates: int, model: Model) -> Decision:
    count, distinct, missing_share = column["count"], column["distinct"], column["missing_share"]
    if "all_missing" in kinds:
        return Decision(name, "drop", ("no values → dropped",), ("all_missing",))
    if "constant" in kinds or distinct <= 1:
        return Decision(name, "drop", ("one value only → dropped",), ("constant",))
    if "id_like" in kinds:
        return Decision(name, "drop", (f"ID-like, {distinct:,} distinct of {count:,} → dropped",), ("id_like",))
    if _unique_once_deduplicated(column, duplicates):
        found = (f"ID-like, {distinct:,} distinct of {count:,} ({duplicates:,} duplicate rows) → dropped",)
        return Decision(name, "drop", found, tuple({"high_cardinality"} & kinds))
    if missing_share >= DROP_MISSING:
        return Decision(name, "drop", (f"{_share(missing_share)} missing → dropped",), ("high_missing",))
    missing = column["missing"] > 0
    answered = {"high_missing"} & kinds
    kind, content = column["kind"], column.get("content")
    trees = model == "trees"
    if kind == "numeric":
        return _number(name, column, kinds, missing, trees)
    if kind == "boolean" or column.get("value_types") == ["bool"]:  # True/False with None: an object column
        findings = (f"{_share(missing_share)} missing → most-frequent, one flag",) if missing else ()
        return Decision(name, "flag", findings, tuple(answered), impute=missing)
    parts = "year, month, day, seconds" + ("" if trees else ", scaled")
    if kind == "datetime":
        found = (f"dates{_missing_text(missing_share)} → {parts}",)
        return Decision(name, "date", found, tuple(answered), impute=not trees)
    if content == "date":
        found = (f"dates as text{_missing_text(missing_share)} → parsed: {parts}",)
        return Decision(name, "date", found, ("dates_as_text", *answered), impute=not trees, parse=True)
    if content == "number":
        found = (f"numbers as text{_missing_text(missing_share)} → to float" + ("" if trees else ", median"),)
        return Decision(name, "text_number", found, ("numbers_as_text", *answered), impute=not trees)
    if content == "text":
        words = (column.get("evidence") or {}).get("mean_words", 0)
        return Decision(name, "strings", (f"free text ({words:.0f} words a value) → a string encoder",), ("free_text", *answered))
    if content == "mixed" or kind == "mixed" or "mixed_types" in kinds:
        wide = distinct > ONE_HOT_LEVELS
        encoder = "a string encoder" if wide else "one-hot, missing as a level"
        found = (f"mixes value types{_missing_text(missing_share)} → read as text, {encoder}",)
        return Decision(name, "strings" if wide else "category", found, ("mixed_types", *answered), impute=missing, mixed=True)
    if distinct > ONE_HOT_LEVELS:
        found = (f"{distinct:,} levels{_missing_text(missing_share)} → a string encoder",)
        return Decision(name, "strings", found, ("high_cardinality", *answered))
    if trees:  # the model's own categories: one split groups levels, missing values go where they fit best
        found = f"{distinct} levels" + (f", {_share(missing_share)} missing" if missing else "") + " → a native category"
        return Decision(name, "category", (found,), tuple(answered))
    if missing:  # missing as a level of its own: imputed with the commonest, a model would place those rows wrongly
        found = f"{distinct} levels, {_share(missing_share)} missing → one-hot, missing as a level"
        return Decision(name, "category", (found,), tuple(answered))
    return Decision(name, "category")


def _unique_once_deduplicated(column: dict[str, Any], duplicates: int) -> bool:
    """An identifier that the duplicate rows repeat: unique per row once they are dropped (eda's id_like counts
    the repeats, so it says "high cardinality", or nothing of an integer column, instead)."""
    count, distinct = column["count"] - duplicates, column["distinct"]
    if not duplicates or count < 2 or distinct < 2:
        return False
    content = column.get("content")
    levels = column["kind"] == "categorical" and content in (None, "category")
    integers = (column["kind"] == "numeric" and column.get("integer_valued")) or (
        content == "number" and (column.get("evidence") or {}).get("integers")
    )
    return bool(levels or integers) and distinct >= count * (0.99 if column.get("distinct_exact") else 0.95)


def _missing_text(share: float) -> str:
    return f", {_share(share)} missing" if share else ""


def _number(name: str, column: dict[str, Any], kinds: set[str], missing: bool, trees: bool) -> Decision:
    findings, answers = [], [k for k in ("high_missing",) if k in kinds]
    finite = bool(column.get("infinite"))
    if finite:
        findings.append(f"{column['infinite']:,} infinite values → made missing" + ("" if trees else ", then imputed"))
        answers.append("infinite")
    share = column["missing_share"]
    indicator = share >= INDICATOR_MISSING and not trees
    if missing and trees:
        findings.append(f"{_share(share)} missing → left to the model (it splits on missing values)")
    elif missing:
        findings.append(f"{_share(share)} missing → median" + (", with a missing-value indicator" if indicator else ""))
    transform: Literal["log1p", "power", None] = None
    if "skewed" in kinds:
        skew = column.get("skew") or 0.0
        minimum = column.get("min")
        if trees:
            findings.append(f"skew {skew:.1f} → kept (a tree splits on order, a monotone transform changes nothing)")
        else:
            transform = "log1p" if minimum is not None and minimum >= 0 else "power"
            findings.append(f"skew {skew:.1f} → " + ("log1p" if transform == "log1p" else "Yeo-Johnson power transform"))
        answers.append("skewed")
    return Decision(
        name,
        "number",
        tuple(findings),
        tuple(answers),
        impute=(missing or finite) and not trees,
        indicator=indicator and missing,
        transform=transform,
        finite=finite,
    )


# Alerts that no step answers, each with why it is left.
_LEAVE = {
    "zeros": "zeros are values; kept as they are",
    "imbalanced": "a feature's dominant level is information, not a defect; kept",
    "inconsistent_format": "values written with thousand separators do not parse and become missing; fix them at the source",
}


def _left(name: str, alerts: list[dict[str, Any]], decision: Decision) -> list[Left]:
    if decision.recipe == "drop":
        return [Left(name, a["kind"], a["message"], "the column is dropped") for a in alerts if a["kind"] not in decision.answers]
    return [
        Left(name, a["kind"], a["message"], _LEAVE.get(a["kind"], "no step needed for it"))
        for a in alerts
        if a["kind"] not in decision.answers and a["kind"] != "high_correlation"
    ]


def _frame_left(correlated: list[dict[str, Any]], dropped: set[str], target: str | None) -> list[Left]:
    left = []
    for alert in correlated:
        pair = set(alert.get("columns") or [])
        if target in pair:
            why = "a feature that close to the target: kept, but check that it is not the answer leaking in"
        elif dropped & pair:
            why = "one of the pair is dropped already"
        else:
            why = "both kept: a regularised or tree model copes; drop one if the model must be explained"
        left.append(Left(None, alert["kind"], alert["message"], why))
    return left


def _target_notes(target: str, column: dict[str, Any], task: Task | None, kinds: set[str]) -> list[str]:
    notes = []
    if task == "regression" and "skewed" in kinds:  # the prep transforms features only: the target is the model's
        minimum = column.get("min")
        how = "func=np.log1p, inverse_func=np.expm1" if minimum is not None and minimum >= 0 else "transformer=PowerTransformer()"
        notes.append(
            f"{target}: skew {column.get('skew') or 0.0:.1f} → consider fitting the model on a transformed target: "
            f"TransformedTargetRegressor(model, {how})"
        )
    if task == "classification":
        levels = column.get("levels") or column.get("top") or []
        count = column["count"]
        if levels and count:
            value, rows = min(levels, key=lambda level: level[1])
            share = rows / count
            if share < IMBALANCED_TARGET / len(levels):  # as eda.alerts says of a target
                notes.append(
                    f"{target}: rarest class {value!s} is {_share(share)} of rows (imbalanced) → split with "
                    "stratify=y and consider class_weight='balanced'"
                )
            else:
                notes.append(f"{target}: {len(levels)} classes, the rarest {_share(share)} of rows → split with stratify=y")
    return notes
