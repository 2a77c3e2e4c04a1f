"""How long the serving template's warm-up takes in this workspace: written by the controller when one ends,
read by ``%deploy`` / ``mlops deploy`` to say what a first deployment waits for."""

from __future__ import annotations

import contextlib
import json

from mlops_magics.workspace import Workspace

WARM_UP_FILE = "template.json"  # in the workspace's deployments folder: how long its last warm-up took
DEFAULT_WARM_UP_S = 6.0  # what a first warm-up takes on a laptop, when this workspace has not measured one


def expected_warm_up(workspace: Workspace) -> float:
    """Seconds a warm-up of the serving template takes here: the last one measured, else a laptop's."""
    try:
        seconds = json.loads((workspace.deployments / WARM_UP_FILE).read_text())["seconds"]
        return float(seconds) if isinstance(seconds, (int, float)) and 0 < seconds < 600 else DEFAULT_WARM_UP_S
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_WARM_UP_S


def warmed_before(workspace: Workspace) -> bool:
    """Whether a serving template ever finished warming up for this workspace."""
    return (workspace.deployments / WARM_UP_FILE).is_file()


def record_warm_up(workspace: Workspace, seconds: float) -> None:
    """Keep how long a warm-up took; a workspace that cannot be written to only loses the estimate."""
    with contextlib.suppress(OSError):
        workspace.deployments.mkdir(parents=True, exist_ok=True)
        (workspace.deployments / WARM_UP_FILE).write_text(json.dumps({"seconds": round(seconds, 2)}))
