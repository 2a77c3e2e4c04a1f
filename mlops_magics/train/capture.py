"""Find what a training cell produced: the fitted model, and the data named by ``--data`` / ``--eval``."""

from __future__ import annotations

from typing import Any

from mlops_magics.errors import InvalidInput


def _fitted(value: Any) -> bool:
    if not hasattr(value, "predict") or isinstance(value, type):
        return False
    try:
        from sklearn.base import BaseEstimator
        from sklearn.utils.validation import check_is_fitted

        if isinstance(value, BaseEstimator):
            check_is_fitted(value)
    except ImportError:
        return True
    except Exception:  # NotFittedError, or an estimator that cannot tell: count only fitted ones
        return False
    return True


Snapshot = dict[str, tuple[int, bool]]


def snapshot(namespace: dict[str, Any]) -> Snapshot:
    """What each variable is before the cell runs (its identity, and whether it is a fitted model)."""
    return {key: (id(value), _fitted(value)) for key, value in namespace.items() if not key.startswith("_")}


def _is_model(value: Any, fitted: bool) -> bool:
    if fitted:
        return _fitted(value)
    return hasattr(value, "predict") and hasattr(value, "get_params") and not isinstance(value, type)


def find_model(namespace: dict[str, Any], before: Snapshot, name: str | None, fitted: bool = True) -> tuple[str, Any]:
    """The model the cell produced: ``name`` when given, else the one fitted model the cell created or fitted.

    With ``fitted=False`` (a search fits it) an unfitted estimator the cell created is accepted.
    """
    if name is not None:
        if name not in namespace:
            raise InvalidInput(f"--model-var {name!r} is not a variable of this kernel")
        if not _is_model(namespace[name], fitted):
            raise InvalidInput(f"{name!r} is not a fitted model (it needs predict() and to be fitted)")
        return name, namespace[name]
    touched = [
        key for key, value in namespace.items() if not key.startswith("_") and (key not in before or before[key][0] != id(value))
    ]
    # A model fitted in place (model.fit(X, y)) keeps its identity: it counts when it was not fitted before. An
    # unfitted estimator the cell did not touch is not this cell's (a search takes only what the cell created).
    fitted_in_place = [k for k in before if k in namespace and not before[k][1] and k not in touched] if fitted else []
    candidates: list[str] = []
    for key in touched + fitted_in_place:
        # ``model = pipe.fit(X, y)`` names one model twice: it is the new name's.
        if _is_model(namespace[key], fitted) and all(namespace[key] is not namespace[other] for other in candidates):
            candidates.append(key)
    if len(candidates) == 1:
        return candidates[0], namespace[candidates[0]]
    looked = ", ".join(sorted(touched)) or "none"
    if not candidates:
        raise InvalidInput(
            f"no fitted model found among the variables this cell set ({looked}); fit one in the cell, "
            "or name it with --model-var NAME"
        )
    raise InvalidInput(f"several fitted models in this cell ({', '.join(sorted(candidates))}); pick one with --model-var")


def pair_names(spec: str | None, flag: str) -> list[str] | None:
    """``X,y`` as two names; checked before the cell runs, so a typo costs no training."""
    if spec is None:
        return None
    names = [part.strip() for part in spec.split(",")]
    if len(names) != 2 or not all(names):
        raise InvalidInput(f"{flag} takes two variable names, features and target: {flag} X_train,y_train")
    return names


def pair(namespace: dict[str, Any], spec: str | None, flag: str) -> tuple[Any, Any] | None:
    """``X,y`` named on the command line, looked up in the kernel."""
    names = pair_names(spec, flag)
    if names is None:
        return None
    missing = [n for n in names if n not in namespace]
    if missing:
        raise InvalidInput(f"{flag}: {', '.join(missing)} not defined in this kernel")
    return namespace[names[0]], namespace[names[1]]
