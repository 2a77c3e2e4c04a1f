"""Hyper-parameter search on the Dask cluster (scikit-learn's searches over joblib's Dask backend)."""

from __future__ import annotations

import contextlib
from typing import Any

from mlops_magics.errors import InvalidInput

KINDS = ("grid", "random")


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            continue
    return text


def parse_space(text: str) -> dict[str, list[Any]]:
    """``"C=0.1,1,10 penalty=l1,l2"`` -> ``{"C": [0.1, 1, 10], "penalty": ["l1", "l2"]}``."""
    space: dict[str, list[Any]] = {}
    for word in text.split():
        name, sep, values = word.partition("=")
        if not sep or not name or not values:
            raise InvalidInput(f'--space: {word!r} is not NAME=V1,V2,...; e.g. --space "C=0.1,1,10 penalty=l1,l2"')
        space[name] = [_value(v) for v in values.split(",") if v != ""]
    if not space:
        raise InvalidInput('--space is empty; e.g. --space "C=0.1,1,10 penalty=l1,l2"')
    return space


def run_search(
    estimator: Any, x: Any, y: Any, kind: str, space: dict[str, list[Any]], cv: int, trials: int | None, seed: int = 0
) -> Any:
    """The fitted search (best model refitted on all the data); trials run on the cluster when one is connected."""
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    if kind not in KINDS:
        raise InvalidInput(f"--search {kind!r} is not known; use grid or random")
    known = set(estimator.get_params(deep=True))
    unknown = sorted(set(space) - known)
    if unknown:
        raise InvalidInput(f"--space names {unknown} that {type(estimator).__name__} does not have; it has {sorted(known)}")
    base = clone(estimator)
    if kind == "grid":
        search = GridSearchCV(base, space, cv=cv, n_jobs=-1, refit=True)
    else:
        search = RandomizedSearchCV(base, space, n_iter=trials or 10, cv=cv, n_jobs=-1, refit=True, random_state=seed)
    with _backend(x, y):
        search.fit(x, y)
    return search


def _backend(x: Any, y: Any) -> contextlib.AbstractContextManager[Any]:
    try:
        from distributed import default_client

        default_client()
    except (ImportError, ValueError):
        return contextlib.nullcontext()
    import joblib

    # The data goes to the workers once, not with every trial.
    return joblib.parallel_backend("dask", scatter=[x, y])
