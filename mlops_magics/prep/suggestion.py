"""A profile's suggested preparation as an object: the code (what %prep inserts), the decisions as a table
(``--explain``), the estimator the code makes, and the same as JSON for the panel."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from mlops_magics.prep import render
from mlops_magics.prep.decide import Model, Plan, Task, decide


@dataclass(frozen=True)
class Suggestion:
    plan: Plan
    code: str  # the whole cell

    def pipeline(self) -> Any:
        """The unfitted ``prep`` estimator the code defines (the code run here, as the cell would run it)."""
        namespace: dict[str, Any] = {}
        exec(compile(render.pipeline_code(self.plan), "<%prep>", "exec"), namespace)  # our own generated code
        return namespace[render.NAME]

    def table(self) -> list[dict[str, str]]:
        """One row per column and per alert left: what was found, what is done."""
        plan, rows = self.plan, []
        for decision in plan.decisions:
            pairs = [finding.partition(" → ")[::2] for finding in decision.findings]
            found = "; ".join(found for found, _ in pairs) or "nothing"
            done = "; ".join(done for _, done in pairs) or render.recipes_for(plan.model)[decision.recipe]
            rows.append(_row(decision.column, found, done))
        rows += [_row(item.column or "(columns)", item.message, f"left: {item.reason}") for item in plan.left]
        if plan.duplicates:
            rows.append(_row("(rows)", f"{plan.duplicates:,} duplicate rows", "drop them before fitting"))
        if plan.target_missing:
            rows.append(_row("(rows)", f"{plan.target_missing:,} rows without {plan.target}", "drop them before fitting"))
        for note in plan.target_notes:
            found, _, done = note.partition(" → ")
            rows.append(_row(plan.target or "", found.split(": ", 1)[-1], done))
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile_id": self.plan.profile_id,
            "target": self.plan.target,
            "task": self.plan.task,
            "model": self.plan.model,
            "code": self.code,
            "decisions": self.table(),
        }

    def __repr__(self) -> str:
        width = max((len(row["column"]) for row in self.table()), default=6)
        lines = [f"{row['column']:<{width}}  {row['found']} → {row['done']}" for row in self.table()]
        return "\n".join([f"<Suggestion for {self.plan.target or 'no target'}: {len(self.plan.kept)} columns kept>", *lines])

    def _repr_html_(self) -> str:
        keys = ("column", "found", "done")
        head = "".join(f"<th style='text-align:left'>{key}</th>" for key in keys)
        cells = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(row[key])}</td>" for key in keys) + "</tr>"
            for row in self.table()
        )
        return f"<table class='mlops-prep'><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"


def _row(column: str, found: str, done: str) -> dict[str, str]:
    return {"column": column, "found": found, "done": done}


def suggest(
    profile: dict[str, Any],
    *,
    target: str | None = None,
    task: Task | None = None,
    profile_id: str | None = None,
    data: str | None = None,
    model: Model = "linear",
) -> Suggestion:
    """The preparation ``profile`` (a profile's JSON) asks for; ``data``: the variable the rows are dropped from."""
    plan = decide(profile, target, task, profile_id, model)
    return Suggestion(plan, render.code(plan, data))
