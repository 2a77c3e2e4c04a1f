"""Mirrors by name, found through the ``mlops_magics.mirrors`` entry point group (the built-in ones too), and
checked before the cell runs: an unknown name, or a mirror whose package is not installed, is a one-line error."""

from __future__ import annotations

import importlib.util
import os
from importlib import metadata

from mlops_magics.errors import MLOpsError
from mlops_magics.train.mirrors.base import Mirror

GROUP = "mlops_magics.mirrors"
DEFAULT_ENV = "MLOPS_MIRRORS"  # the workspace's mirrors when %%train names none, e.g. "wandb,comet"
# As declared in pyproject.toml; used when the installed metadata predates them (a checkout not reinstalled).
BUILT_IN = {
    "comet": "mlops_magics.train.mirrors.comet:CometMirror",
    "wandb": "mlops_magics.train.mirrors.wandb:WandbMirror",
}


def available() -> dict[str, metadata.EntryPoint]:
    found = {name: metadata.EntryPoint(name, value, GROUP) for name, value in BUILT_IN.items()}
    found.update({entry.name: entry for entry in metadata.entry_points(group=GROUP)})
    return found


def names(asked: str | None) -> tuple[str, ...]:
    """``--mirror wandb,comet``; without it, ``MLOPS_MIRRORS``; ``none`` turns the default off."""
    text = asked if asked is not None else os.environ.get(DEFAULT_ENV, "")
    parts = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    return () if parts == ("none",) else parts


def load(asked: tuple[str, ...]) -> list[Mirror]:
    found = available()
    mirrors = []
    for name in asked:
        if name not in found:
            raise MLOpsError(f"unknown mirror {name!r}; known: {', '.join(sorted(found))}")
        try:
            mirror = found[name].load()()
        except Exception as exc:
            raise MLOpsError(f"mirror {name!r} could not be loaded: {type(exc).__name__}: {exc}") from None
        if importlib.util.find_spec(mirror.requires) is None:
            raise MLOpsError(f"mirror {name!r} needs {mirror.requires}: pip install 'mlops-magics[{mirror.extra}]'")
        mirrors.append(mirror)
    return mirrors
