"""The shapes about the system itself: the REST face's status, the workspace's paths, the controller's status."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from mlops_magics.wire import View


class ControllerProcess(View):
    pid: int
    started_at: str


class Status(View):
    """The REST face's status: it does not start the controller to answer."""

    version: str
    workspace: str
    controller: ControllerProcess | None = Field(description="null when no controller runs")
    higher_is_better: list[str] = Field(
        description="the metrics that are better large (accuracy, r2, ...), sorted; every other metric is better "
        "small. A metric logged with a split prefix (eval_, train_, ...) points the way its name without it does."
    )


class WorkspacePaths(View):
    """Where this workspace keeps its state."""

    home: str
    state_db: str
    tracking_uri: str
    artifacts: str
    profiles: str
    runs: str
    requests: str
    controller_log: str


class TemplateState(StrEnum):
    OFF = "off"
    WARMING = "warming"
    READY = "ready"
    DOWN = "down"  # not running: it failed recently


class ServingTemplate(View):
    """The serving template (a warm process deployments fork from): what a first deploy waits for."""

    state: TemplateState
    warm_up_s: float | None
    warming_for_s: float | None


class ControllerStatus(View):
    deployments: int
    pid: int
    started_at: str
    version: str
    workspace: str
    clusters: int
    serving_template: ServingTemplate


class Stopping(View):
    stopping: bool
    pid: int


class Error(View):
    """Every error, from every route: a code a program can branch on and a line a person can act on."""

    code: str = Field(
        description="invalid_input, not_found, conflict, workspace_error, controller_unavailable, forbidden, "
        "method_not_allowed, unauthorized, internal, error"
    )
    message: str
