"""A job on the wire: a notebook run on a schedule, by a call, on new data or on an event; its runs.

A job is a notebook (a snapshot taken when the job is saved, or the file as it is at each run), its parameters
(papermill's: the cell tagged ``parameters`` declares them), a kernel, where it runs, its triggers, and what a
run may do (timeout, retries, concurrency). Concurrency follows Kubernetes CronJob: ``allow`` runs start side
by side, ``forbid`` skips a trigger while a run is active, ``replace`` cancels the active run for the new one.
"""

from __future__ import annotations

import re
import zoneinfo
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from mlops_magics.api.clusters import ClusterSpec
from mlops_magics.wire import View, WireModel, finite_json

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_EVENT = re.compile(r"alert:[a-z0-9][a-z0-9_-]{0,62}")
DAY_S = 86_400


def _path(text: str) -> str:
    if not text.strip() or len(text) > 1024 or _CONTROL.search(text) or not _encodable(text):
        raise ValueError("must be a path of one line, at most 1024 characters, in UTF-8")
    return text


def _encodable(text: str) -> bool:
    """False for lone surrogates (JSON can carry them; no file name can be made of them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _cron(text: str) -> str:
    from croniter import croniter  # imported when a schedule is given

    if len(text) > 200 or _CONTROL.search(text) or not croniter.is_valid(text):
        raise ValueError(
            f"{text[:60]!r} is not a cron expression: use 5 fields MINUTE HOUR DAY MONTH WEEKDAY, e.g. '0 6 * * 1-5' "
            "(6:00 on weekdays); a 6th field is seconds, e.g. '* * * * * */10' (every 10 s)"
        )
    return text


def _zone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text[:60]!r} is not a time zone: use an IANA name such as UTC or Europe/Paris") from None
    return text


def _env(values: dict[str, str]) -> dict[str, str]:
    for name, value in values.items():
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"{name[:40]!r} is not an environment variable name (letters, digits, '_')")
        if "\x00" in value or len(value) > 32_768 or not _encodable(value):
            raise ValueError(f"the value of {name} holds a NUL, is not UTF-8 or is longer than 32768 characters")
    return values


def _url(text: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text) or len(text) > 2000 or not _encodable(text):
        raise ValueError(f"{text[:60]!r} is not an http(s) URL")
    return text


def _event(text: str) -> str:
    if not _EVENT.fullmatch(text):
        raise ValueError(f"{text[:60]!r} is not an event: use alert:MONITOR (a monitor's alert)")
    return text


# The schema says what it can (the checks' own messages are kept: they name the field and the fix); that a
# notebook exists, a cron expression parses or a zone is known, only the server can say.
_ONE_LINE = r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"
Path = Annotated[str, AfterValidator(_path), Field(json_schema_extra={"minLength": 1, "maxLength": 1024, "pattern": _ONE_LINE})]


class Concurrency(StrEnum):
    ALLOW = "allow"
    FORBID = "forbid"
    REPLACE = "replace"


class Missed(StrEnum):
    """What a schedule does with the times that passed while the controller was down."""

    SKIP = "skip"
    RUN_ONCE = "run_once"


class Notify(WireModel):
    """A webhook called with a JSON body (a Slack-compatible ``text`` field among others) when a run ends."""

    url: Annotated[str, AfterValidator(_url)]
    on: list[Literal["failure", "success"]] = Field(default_factory=lambda: ["failure"])


class JobSpec(WireModel):
    notebook: Path = Field(description="the notebook, relative to the Jupyter root (or absolute inside it)")
    snapshot: bool = Field(True, description="run a copy taken when the job is saved (false: the file as it is then)")
    parameters: Annotated[dict[str, Any], AfterValidator(lambda p: finite_json(p, "parameters"))] = Field(
        default_factory=dict, description="values for the notebook's `parameters` cell, typed by its defaults"
    )
    parameters_text: dict[str, str] = Field(
        default_factory=dict, description="values as typed on a command line (k=v), typed by the notebook's defaults"
    )
    kernel: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")] | None = Field(
        None, description="a kernelspec name; null: the notebook's own"
    )
    cwd: Path | None = Field(None, description="where the run starts, relative to the Jupyter root; null: the notebook's folder")
    files: list[Path] = Field(default_factory=list, description="files copied beside the snapshot (relative to the root)")
    env: Annotated[dict[str, str], AfterValidator(_env)] = Field(default_factory=dict)
    cluster: Literal["none", "workspace"] | ClusterSpec = Field(
        "none",
        description="none; workspace: the run's kernel gets the address of the workspace's running %cluster; or a "
        "cluster spec: a cluster of the run's own, started before its first cell and stopped after its last",
    )
    cron: Annotated[str, AfterValidator(_cron), Field(json_schema_extra={"maxLength": 200})] | None = None
    tz: Annotated[str, AfterValidator(_zone)] = "UTC"
    missed: Missed = Field(Missed.SKIP, strict=False)  # an enum from its value (strict wants the member)
    on_data: Path | None = Field(None, description="a glob under the Jupyter root: each new file starts a run")
    data_parameter: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")] = Field(
        "data_path", description="the parameter that receives the new file's path"
    )
    on_event: Annotated[str, AfterValidator(_event), Field(json_schema_extra={"pattern": f"^{_EVENT.pattern}$"})] | None = None
    timeout_s: Annotated[int, Field(ge=1, le=7 * DAY_S)] | None = None
    retries: Annotated[int, Field(ge=0, le=10)] = 0
    retry_backoff_s: Annotated[float, Field(ge=0, le=DAY_S)] = 30.0
    concurrency: Concurrency = Field(Concurrency.FORBID, strict=False)
    keep_runs: Annotated[int, Field(ge=1, le=10_000)] = 50
    notify: Notify | None = None

    @model_validator(mode="after")
    def _data_parameter_needs_data(self) -> JobSpec:
        if self.data_parameter != "data_path" and not self.on_data:
            raise ValueError("data_parameter names where a new file's path goes: it needs on_data")
        return self

    def triggers(self) -> str:
        """One line: what starts this job."""
        said = []
        if self.cron:
            said.append(f"cron {self.cron!r} ({self.tz})")
        if self.on_data:
            said.append(f"new files {self.on_data}")
        if self.on_event:
            said.append(f"on {self.on_event}")
        return ", ".join(said) or "on demand"


class RunRequest(WireModel):
    """``POST .../runs``: parameters for this run only, over the job's (as JSON values, or as text from a command
    line: ``region=eu-west`` needs no quotes, ``alpha=0.5`` becomes a float when the notebook's default is one)."""

    parameters: Annotated[dict[str, Any], AfterValidator(lambda p: finite_json(p, "parameters"))] = Field(default_factory=dict)
    parameters_text: dict[str, str] = Field(default_factory=dict)


class TokenTrigger(RunRequest):
    """An outside caller's trigger as the REST face hands it on: the token from its Authorization header."""

    token: Annotated[str, Field(min_length=1, max_length=200)]


class JobEvent(WireModel):
    """A named event raised in the workspace (a monitor's alert, ``alert:MONITOR``): every job that waits for it
    (``on_event``) and is not paused runs once, the detail as its trigger's detail."""

    event: Annotated[str, AfterValidator(_event), Field(json_schema_extra={"pattern": f"^{_EVENT.pattern}$"})]
    detail: Annotated[str, Field(max_length=500)] | None = None


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (RunState.QUEUED, RunState.RUNNING)


class TriggerKind(StrEnum):
    MANUAL = "manual"  # a face: %job run, mlops job run, the panel, POST .../runs
    TOKEN = "token"  # an outside caller with the job's trigger token
    CRON = "cron"
    DATA = "data"
    EVENT = "event"


class FailedCell(View):
    index: int
    source: str
    ename: str | None
    evalue: str | None


class JobRun(View):
    """One run of a job: its state (with the reason when it did not succeed), its progress, where its files are."""

    job: str
    number: int
    state: RunState
    reason: str | None
    trigger: TriggerKind
    trigger_detail: str | None = Field(description="the cron time, the new file, the event")
    parameters: dict[str, Any]
    attempt: int = Field(description="1, then 2, ... when a failed run is retried")
    cells_done: int
    cells_total: int | None
    queued_at: str
    started_at: str | None
    finished_at: str | None
    duration_s: float | None
    output: str | None = Field(description="the executed notebook, relative to the Jupyter root (open it in JupyterLab)")
    log: str | None = Field(description="the run's log, relative to the Jupyter root")
    failed_cell: FailedCell | None


class Job(View):
    name: str
    spec: JobSpec
    paused: bool
    triggers: str = Field(description="one line: what starts it")
    next_run_at: str | None = Field(description="the schedule's next time (ISO 8601, with its offset); null: none")
    parameters_declared: dict[str, str] = Field(description="the notebook's parameters: name -> type and default")
    last_run: JobRun | None
    active_runs: int
    has_token: bool = Field(description="whether an outside caller may start it with a trigger token")
    created_at: str


class JobToken(View):
    """A job's trigger token: shown once, when issued; only its SHA-256 is kept."""

    name: str
    token: str
    route: str = Field(description="the one route it is accepted on")


class RunLog(View):
    job: str
    number: int
    lines: list[str]
