"""A plan as plain scikit-learn code a person reads and edits: a ``ColumnTransformer`` named ``prep`` whose steps
each carry the finding they answer, the imports by name, and the rows to drop before fitting."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from mlops_magics.prep.decide import Decision, Plan

NAME = "prep"  # the variable the code defines

# Where each name the code may use comes from, in the order the imports are written.
_FROM = {
    "sklearn.compose": ("ColumnTransformer",),
    "sklearn.impute": ("SimpleImputer",),
    "sklearn.pipeline": ("make_pipeline",),
    "sklearn.preprocessing": ("FunctionTransformer", "OneHotEncoder", "PowerTransformer", "StandardScaler"),
    "skrub": ("ApplyToCols", "DatetimeEncoder", "StringEncoder", "ToCategorical", "ToDatetime", "ToFloat"),
}
# What each recipe does, in a word (the --explain table's "done" for a column where nothing was found).
RECIPES = {
    "number": "median, scaled",
    "text_number": "to float, median, scaled",
    "date": "year, month, day, seconds, scaled",
    "category": "one-hot",
    "strings": "a string encoder",
    "flag": "one flag",
}
TREES = {**RECIPES, "number": "as they are", "text_number": "to float", "date": "year, month, day, seconds"}
TREES["category"] = "a native category"


def recipes_for(model: str) -> dict[str, str]:
    return TREES if model == "trees" else RECIPES


# Plain columns of one recipe share a step, named after what they are.
_GROUPS = {"number": "numbers", "category": "categories", "flag": "flags"}

FINITE = (
    'FunctionTransformer(np.nan_to_num, kw_args={"nan": np.nan, "posinf": np.nan, "neginf": np.nan}, '
    'feature_names_out="one-to-one")'
)
# Any value as text (a column mixing numbers and words; what a string encoder reads): missing ones read "None"/"nan".
AS_TEXT = 'FunctionTransformer(np.asarray, kw_args={"dtype": str}, feature_names_out="one-to-one")'


@dataclass(frozen=True)
class Step:
    name: str
    transformer: str
    columns: list[str]
    comment: str


def _levels(decision: Decision, encoder: str, parse: list[str]) -> str:
    imputer = ['SimpleImputer(strategy="most_frequent")'] if decision.impute else []
    return _chain([*parse, *imputer, encoder])


def _transformer(decision: Decision, trees: bool) -> str:
    """The step for one decision; for trees, what the model does itself (missing values, order) is left to it."""
    recipe = decision.recipe
    scaled = [] if trees else ["StandardScaler()"]
    if recipe == "number":
        parts = [FINITE] if decision.finite else []
        if not trees:  # always: a served row may miss a value the training data never missed
            indicator = ", add_indicator=True" if decision.indicator else ""
            parts.append(f'SimpleImputer(strategy="median"{indicator})')
        if decision.transform == "log1p":
            parts.append('FunctionTransformer(np.log1p, feature_names_out="one-to-one")')
        elif decision.transform == "power":
            parts.append("PowerTransformer()")
        return _chain([*parts, *scaled]) if parts or scaled else '"passthrough"'
    if recipe == "text_number":
        imputed = ['SimpleImputer(strategy="median")'] if decision.impute else []
        return _chain(["ApplyToCols(ToFloat())", *imputed, *scaled])
    if recipe == "date":
        parse = ["ApplyToCols(ToDatetime())"] if decision.parse else []
        imputed = ['SimpleImputer(strategy="median")'] if decision.impute else []
        return _chain([*parse, "ApplyToCols(DatetimeEncoder())", *imputed, *scaled])
    if recipe == "strings":
        # Seeded: the same code fits the same model twice.
        return _chain([AS_TEXT, "ApplyToCols(StringEncoder(random_state=0))"]) + '.set_output(transform="pandas")'
    dense = ", sparse_output=False" if trees else ""  # a frame with the native categories beside them
    if recipe == "flag":
        return _levels(decision, f'OneHotEncoder(drop="if_binary", handle_unknown="ignore"{dense})', [])
    if decision.mixed:  # numbers and words: all read as text, a missing value is a level of its own
        return _chain([AS_TEXT, f'OneHotEncoder(handle_unknown="ignore"{dense})'])
    if trees:  # the model's own categories (categorical_features="from_dtype")
        return "ApplyToCols(ToCategorical())"
    # Categories: None and NaN alike as missing, whatever a request sends.
    return _levels(decision, 'OneHotEncoder(handle_unknown="ignore")', ["ApplyToCols(ToCategorical())"])


def _chain(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "make_pipeline(" + ", ".join(parts) + ")"


def _step_name(column: str, taken: set[str]) -> str:
    """A step's name: the column's, when ColumnTransformer can take it (no ``__``), else made from it."""
    name = column if column and "__" not in column else re.sub(r"_+", "_", column).strip("_") or "column"
    base, number = name, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name)
    return name


def steps(plan: Plan) -> list[Step]:
    kept, trees = plan.kept, plan.model == "trees"
    taken = {g for recipe, g in _GROUPS.items() if any(d.plain and d.recipe == recipe for d in kept)}
    found = []
    for decision in kept:
        if decision.plain and decision.recipe in _GROUPS:
            continue
        columns = [decision.column]
        comment = f"{decision.column}: " + "; ".join(decision.findings) if decision.findings else decision.column
        found.append(Step(_step_name(decision.column, taken), _transformer(decision, trees), columns, comment))
    for recipe, group in _GROUPS.items():
        plain = [d for d in kept if d.plain and d.recipe == recipe]
        if plain:
            comment = f"{group}: {recipes_for(plan.model)[recipe]} (nothing found)"
            found.append(Step(group, _transformer(plain[0], trees), [d.column for d in plain], comment))
    return found


def definition(plan: Plan) -> str:
    """The ``prep`` definition (its imports apart, in ``imports``)."""
    body = [f"{NAME} = ColumnTransformer(", "    ["]
    for step in steps(plan):
        body.append(f"        # {_one_line(step.comment)}")
        body.append(f"        ({_literal(step.name)}, {step.transformer}, {_literal(step.columns)}),")
    body += [
        "    ],",
        '    remainder="drop",  # every column not named above (the target too) is left out',
        "    sparse_threshold=0,",
        ")"
        + ('.set_output(transform="pandas")  # the categories reach the model as categories' if plan.model == "trees" else ""),
    ]
    return "\n".join(body)


def imports(text: str) -> str:
    lines = [line for marker, line in (("np.", "import numpy as np"), ("pd.", "import pandas as pd")) if marker in text]
    for module, names in _FROM.items():
        used = [name for name in names if f"{name}(" in text]
        if used:
            lines.append(f"from {module} import {', '.join(used)}")
    return "\n".join(lines)


def pipeline_code(plan: Plan) -> str:
    """The imports and the ``prep`` definition: what runs to make the estimator."""
    text = definition(plan)
    return imports(text) + "\n\n" + text


def _literal(value: str | list[str]) -> str:
    """A Python literal of a name or a list of names (JSON's is one, with double quotes, for any character)."""
    return json.dumps(value, ensure_ascii=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def rows_code(plan: Plan, data: str | None) -> list[str]:
    """The rows to drop before fitting: statements on ``data`` when its name is known, else comments."""
    lines = []
    if plan.duplicates:
        share = plan.duplicates / plan.rows
        lines.append((f"{data} = {data}.drop_duplicates()", f"{plan.duplicates:,} duplicate rows ({share:.1%})"))
    if plan.target is not None and plan.target_missing:
        statement = f"{data} = {data}.dropna(subset=[{_literal(plan.target)}])"
        lines.append((statement, f"{plan.target_missing:,} rows have no {plan.target}"))
    if data is None:
        return [f"# {why}: drop them before fitting" for _, why in lines]
    return [f"{statement}  # {why}" for statement, why in lines]


def code(plan: Plan, data: str | None = None) -> str:
    """The whole cell: a header, the rows to drop, ``prep``, and what was left and why."""
    what = f"for {plan.target} ({plan.task})" if plan.target else "(no target given)"
    source = f"profile {plan.profile_id}" if plan.profile_id else "a profile"
    header = [
        _one_line(f"# Data preparation {what}, from {source}: {plan.title}, {plan.rows:,} rows x {plan.columns} columns."),
        "# Written by %prep from the profile's findings; each step says what it answers. Edit freely: put it in front",
        "# of a model inside %%train, and the deployed model takes the raw columns.",
    ]
    text = definition(plan)
    parts = ["\n".join(header), imports(text), "\n".join(rows_code(plan, data)), text]
    dropped = [f"#   {_one_line(d.column)}: {'; '.join(d.findings)}" for d in plan.dropped]
    left = [f"#   {_one_line(item.message)}: {item.reason}" for item in plan.left]
    notes = []
    if dropped:
        notes += ["# Dropped (not named in the transformer):", *dropped]
    if left:
        notes += ["# Found and left as they are:", *left]
    notes += [f"# {_one_line(note)}" for note in plan.target_notes]
    if plan.task:
        model = "HistGradientBoostingClassifier" if plan.task == "classification" else "HistGradientBoostingRegressor"
        native = 'categorical_features="from_dtype"' if plan.model == "trees" else ""
        notes.append(f"# In %%train: model = make_pipeline({NAME}, {model}({native})).fit(X_train, y_train)")
    parts.append("\n".join(notes))
    return "\n\n".join(part for part in parts if part) + "\n"
