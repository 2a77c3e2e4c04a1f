"""The small interface a mirror implements, and the run it is given: everything already logged in MLflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

LOCATION_TAG = "mlops.mirror.{name}"  # in MLflow: the mirror's run URL or offline path
ERROR_TAG = "mlops.mirror.{name}.error"  # in MLflow: why the mirror failed


@dataclass(frozen=True)
class MirroredRun:
    """One MLflow run as a mirror receives it."""

    experiment: str
    run_name: str
    run_id: str  # the MLflow run's id: the link back
    mlflow_url: str | None
    params: dict[str, Any]
    metrics: dict[str, float]
    tags: dict[str, str]
    trials: list[dict[str, Any]] = field(default_factory=list)  # a search's trials: params and scores each
    profile: dict[str, Any] = field(default_factory=dict)  # the training data's profile, summarised (Profile.summary)


@dataclass(frozen=True)
class Mirrored:
    location: str  # the mirror's run URL, or the offline path to upload
    sync: str | None = None  # offline: the command that uploads it


class Mirror(Protocol):
    name: str
    extra: str  # ``pip install mlops-magics[EXTRA]`` installs what it needs
    requires: str  # the module it imports when used

    def record(self, run: MirroredRun, folder: str) -> Mirrored:
        """Write ``run`` (offline under ``folder``, which exists, when no credentials are configured); return where it went."""
        ...
