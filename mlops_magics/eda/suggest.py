"""%prep and `mlops prep`: a saved profile (by id), a Profile, or data — profiled first and kept, as %eda
keeps it — turned into the preparation it asks for. The faces only parse and show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_magics import names
from mlops_magics.eda.profile import Profile
from mlops_magics.prep.suggestion import Suggestion
from mlops_magics.workspace import Workspace


@dataclass(frozen=True)
class Prepared:
    suggestion: Suggestion
    profile_id: str | None
    profiled: bool  # the data was profiled (and the profile kept) to answer


def suggest_for(
    workspace: Workspace,
    data: Any,
    *,
    name: str | None = None,
    target: str | None = None,
    task: str | None = None,
    model: str = "linear",
    progress: bool = True,
) -> Prepared:
    """``data``: a Profile, a saved profile's id, or data %eda takes; ``name``: the variable the code drops rows
    from (when the data is one)."""
    if isinstance(data, Profile):  # the rows are dropped from data this face does not hold: said in comments
        return Prepared(data.suggest(target, task, model=model), None, profiled=False)
    if isinstance(data, str) and names.PROFILE_ID.fullmatch(data):
        from mlops_magics.eda import store

        profile = store.load(workspace, data)
        return Prepared(profile.suggest(target, task, profile_id=data, model=model), data, profiled=False)
    from mlops_magics.eda.run import run_eda

    result = run_eda(workspace, data, name=name, target=target, progress=progress)
    suggestion = result.profile.suggest(target, task, profile_id=result.saved.id, data=name, model=model)
    return Prepared(suggestion, result.saved.id, profiled=True)
