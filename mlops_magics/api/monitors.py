"""A standing monitor on the wire: a deployment's check (``%monitor``) run by the controller on a schedule, the
alerts it raises and what they start.

Every ``every`` the controller checks the deployment's logged requests in ``window`` against the training profile of
the version it serves. A check whose verdict is drift or a schema change, that finds no rows where there was traffic
before, or whose share of failed requests is over ``max_error_rate``, raises an alert: written to the event log,
posted to ``notify`` (a JSON body with a Slack-compatible ``text``), and, for drift with ``on_drift``, the event
``alert:<monitor>`` that starts the jobs waiting for it. One alert per monitor and kind within ``cooldown``: one
incident is one alert, however many checks see it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from mlops_magics.api.jobs import _url
from mlops_magics.names import DEPLOYMENT_NAME, JOB_NAME
from mlops_magics.wire import View, WireModel

MIN_EVERY_S = 10
MAX_EVERY_S = 7 * 86_400
CHECKS_KEPT = 200  # a monitor's checks kept in its history, newest first
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"([0-9]{1,6})([smhd])")
_WINDOW = r"^([1-9][0-9]{0,8}|[0-9]{1,6}(\.[0-9]+)?[smhd])$"


def duration_s(text: str) -> int:
    """``90s``, ``10m``, ``1h``, ``2d`` in seconds."""
    found = _DURATION.fullmatch(text.strip().lower())
    if not found:
        raise ValueError(f"{text[:40]!r} is not a duration: use 90s, 10m, 1h or 2d")
    return int(found[1]) * _UNITS[found[2]]


def _every(text: str) -> str:
    seconds = duration_s(text)
    if not MIN_EVERY_S <= seconds <= MAX_EVERY_S:
        raise ValueError(f"{text!r} is not accepted: checks run every 10s to every 7d")
    return text


def _cooldown(text: str) -> str:
    if duration_s(text) > 30 * 86_400:
        raise ValueError(f"{text!r} is longer than 30d")
    return text


def _thresholds(values: dict[str, float]) -> dict[str, float]:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"threshold {name[:40]!r} must be a positive number (got {value!r})")
    return values


def _share(value: float) -> float:
    if not 0 < value < 1:
        raise ValueError(f"must be a share between 0 and 1, e.g. 0.05 (got {value!r})")
    return value


_SHARE = {"exclusiveMinimum": 0, "exclusiveMaximum": 1}
Duration = Field(json_schema_extra={"pattern": "^[0-9]{1,6}[smhd]$", "maxLength": 7})
DeploymentName = Annotated[str, Field(pattern=f"^{DEPLOYMENT_NAME.pattern}$")]
JobName = Annotated[str, Field(pattern=f"^{JOB_NAME.pattern}$")]
FeatureName = Annotated[str, Field(min_length=1, max_length=256)]


class OnAlert(WireModel):
    """What an alert starts: ``retrain``, a job waiting for the event ``alert:<monitor>`` (``%job create JOB
    --on-event alert:MONITOR``), run with the alert's detail (the drifted features) as its trigger's detail."""

    retrain: JobName


class CheckSpec(WireModel):
    """One check of a deployment's window (``%monitor NAME``'s options), as a standing monitor has them too."""

    window: Annotated[str, Field(pattern=_WINDOW)] = Field(
        "1h", description="the sliding window: a duration (90s, 30m, 1h, 2d) or the last N logged rows (10000)"
    )
    thresholds: Annotated[dict[str, float], AfterValidator(_thresholds)] = Field(
        default_factory=dict, description="effect-size thresholds by name: wasserstein, psi, jensen_shannon, p_value"
    )
    tests: Annotated[list[Literal["wasserstein", "psi", "jensen_shannon"]], Field(min_length=1, max_length=3)] | None = Field(
        None, description="the effect sizes that may flag a feature (default: all three)"
    )
    features: Annotated[list[FeatureName], Field(max_length=1000)] | None = Field(
        None, description="only these features (default: the model's inputs)"
    )
    minimums: Annotated[dict[str, float], Field(max_length=20)] = Field(
        default_factory=dict,
        description="decay when a metric better large, on feedback labels, falls below its value (accuracy, f1, r2, ...)",
    )
    maximums: Annotated[dict[str, float], Field(max_length=20)] = Field(
        default_factory=dict, description="decay when a metric better small, on feedback labels, rises above (rmse, mae)"
    )


class MonitorSpec(CheckSpec):
    deployment: DeploymentName = Field(description="the deployment whose logged requests are checked")
    every: Annotated[str, AfterValidator(_every), Duration] = Field(description="how often: 10s to 7d, e.g. 10m")
    on_drift: OnAlert | None = Field(None, description="on a drift alert: raise alert:<monitor> for this job")
    on_decay: OnAlert | None = Field(None, description="on a decay alert: raise alert:<monitor> for this job")
    max_error_rate: Annotated[float, AfterValidator(_share), Field(json_schema_extra=_SHARE)] | None = Field(
        None, description="an alert when the share of the window's rows the model failed on (5xx) is above this"
    )
    cooldown: Annotated[str, AfterValidator(_cooldown), Duration] = Field(
        "1h", description="one alert per kind within this time: one incident, one alert"
    )
    notify: Annotated[str, AfterValidator(_url), Field(max_length=2000)] | None = Field(
        None, description="a webhook posted each alert as JSON (a Slack-compatible `text` field among others)"
    )
    rollback_margin: Annotated[float, AfterValidator(_share), Field(json_schema_extra=_SHARE)] | None = Field(
        0.05,
        description="after a swap, roll back when the new version's error rate, or its primary metric on feedback "
        "labels, is worse than the previous version's by more than this (null: watch, never roll back)",
    )

    @property
    def every_s(self) -> int:
        return duration_s(self.every)

    @property
    def cooldown_s(self) -> int:
        return duration_s(self.cooldown)

    def actions(self) -> str:
        """One line: what its alerts start."""
        said = [f"{kind} retrain={on.retrain}" for kind, on in (("on drift", self.on_drift), ("on decay", self.on_decay)) if on]
        return ", ".join(said) or "alerts only"


class AlertKind(StrEnum):
    DRIFT = "drift"
    SCHEMA_CHANGE = "schema change"
    NO_TRAFFIC = "no traffic"
    ERROR_RATE = "error rate"
    DECAY = "decay"
    ROLLBACK = "rollback"  # a swapped-in version found worse than the one before, and rolled back


class Watching(View):
    """A swap of the monitored deployment whose first window the monitor is watching."""

    model: str
    version: str | None
    previous_version: str | None
    swapped_at: str
    message: str


class Monitor(View):
    name: str
    spec: MonitorSpec
    paused: bool
    last_check_at: str | None
    last_verdict: str | None = Field(description="drift, schema change, no drift, no data, or error")
    last_reason: str | None
    next_check_at: str | None = Field(description="null: paused")
    alerts: int = Field(description="alerts raised so far")
    checks: int = Field(description="checks kept in its history")
    created_at: str
    watching: Watching | None = Field(None, description="a swap of its deployment being watched (null: none)")


class MonitorCheckView(View):
    """One check of a standing monitor: its verdict, whether it raised an alert, and the check itself."""

    monitor: str
    at: str
    verdict: str
    reason: str
    alert: AlertKind | None = Field(description="the (first) alert this check raised (null: none, or each within its cooldown)")
    details: dict[str, Any] = Field(description="the whole check: traffic, per-feature drift (as %monitor's to_dict)")


class Alert(View):
    id: int
    monitor: str
    deployment: str
    kind: AlertKind
    message: str
    at: str
    job: str | None = Field(description="the job its event started (on_drift / on_decay)")
    run: int | None = Field(description="that job's run number")


class LoopStep(View):
    step: Literal["alert", "retrain", "model", "review", "swap", "watch", "rollback"]
    at: str | None
    state: Literal["done", "running", "failed", "refused", "waiting"]
    message: str


class Incident(View):
    """One turn of the loop: an alert, the retrain run it started, the version it trained, the review that let it
    in, the swap, the watch of its first window, and the rollback if it was worse (a swap without an alert: no
    alert)."""

    alert: Alert | None
    steps: list[LoopStep]


class CheckResult(View):
    """A one-shot check run by the controller: the check, and its text as ``%monitor`` prints it."""

    check: dict[str, Any] = Field(description="the whole check (as %monitor's to_dict)")
    text: str
