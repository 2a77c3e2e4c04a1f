"""Every route of mlops-magics, declared once: method, path, what it takes and what it answers, who serves it.

The controller serves the operations it owns from this table (``controller/app.py``), the Python client calls
them by name (``Controller.call``, ``controller.deploy(...)``), the jupyter-server extension exposes the public
ones under ``/mlops/api`` through one proxy handler and serves its own (``server/handlers.py``), and
``api/openapi.yaml`` — from which the panel's TypeScript types are generated — is written from it
(``make api``). Adding a route is one entry here and one method on the service named by ``handler``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from mlops_magics import names
from mlops_magics.api.clusters import Cluster, ClusterScale, ClusterSpec
from mlops_magics.api.deployments import Deployment, DeploymentLogs, DeploymentSpec, DeploymentToken
from mlops_magics.api.jobs import Job, JobEvent, JobRun, JobSpec, JobToken, RunLog, RunRequest, TokenTrigger
from mlops_magics.api.monitors import Alert, CheckResult, CheckSpec, Incident, Monitor, MonitorCheckView, MonitorSpec
from mlops_magics.api.profiles import PrepModel, PrepSuggestion, PrepTask, Profile, ProfileSummary, ReportKind
from mlops_magics.api.system import ControllerStatus, Status, Stopping, WorkspacePaths
from mlops_magics.api.tracking import Experiment, MlflowUi, RegisteredModel, Run
from mlops_magics.errors import InvalidInput
from mlops_magics.wire import LOG_LINES, WireModel, log_lines, shown, utf8_text

# Starting a cluster waits for its workers, a deployment for its health check; everything else answers at once.
SHORT_TIMEOUT_S = 15
LONG_TIMEOUT_S = 240


class Auth(StrEnum):
    JUPYTER = "jupyter"  # Jupyter's token or cookie + _xsrf (every REST route but one)
    JOB_TOKEN = "job_token"  # a job's own trigger token (Authorization: Bearer), for outside callers; one route


class Owner(StrEnum):
    CONTROLLER = "controller"  # the long-lived process that owns clusters, deployments, the MLflow UI
    SERVER = "server"  # the jupyter-server extension: reads of the workspace and of MLflow


@dataclass(frozen=True)
class PathParam:
    name: str
    check: Callable[[object], str]
    pattern: re.Pattern[str]
    description: str


@dataclass(frozen=True)
class QueryParam:
    name: str
    parse: Callable[[object], Any]
    default: Any
    schema: dict[str, Any]


CLUSTER = PathParam("name", names.cluster_name, names.CLUSTER_NAME, "a cluster's name")
DEPLOYMENT = PathParam("name", names.deployment_name, names.DEPLOYMENT_NAME, "a deployment's name")
PROFILE = PathParam("profile_id", names.profile_id, names.PROFILE_ID, "a profile's id, as the profiles list shows")
EXPERIMENT = PathParam("experiment_id", names.experiment_id, names.EXPERIMENT_ID, "an MLflow experiment id")
RUN = PathParam("run_id", names.run_id, names.RUN_ID, "an MLflow run id")
JOB = PathParam("name", names.job_name, names.JOB_NAME, "a job's name")
MONITOR = PathParam("name", names.monitor_name, names.MONITOR_NAME, "a monitor's name")
JOB_RUN = PathParam("number", names.run_number, names.RUN_NUMBER, "a run's number in its job (1, 2, ...)")

LINES = QueryParam("lines", log_lines, 200, {"type": "integer", "minimum": LOG_LINES[0], "maximum": LOG_LINES[1]})


def _choice(name: str, kind: type[StrEnum], default: StrEnum) -> QueryParam:
    """A query parameter that takes one of an enum's values; anything else is a 400 naming the ones it takes."""
    values = [member.value for member in kind]

    def parse(value: object) -> StrEnum:
        try:
            return kind(str(value))
        except ValueError:
            raise InvalidInput(f"{name} {shown(value)} is not known; use one of {values}") from None

    return QueryParam(name, parse, default.value, {"type": "string", "enum": values})


WHICH_REPORT = _choice("which", ReportKind, ReportKind.REPORT)


def _column(value: object) -> str:
    """A column's name in a query: any text a data frame may name a column with, but control characters."""
    if not isinstance(value, str) or len(value) > 1000 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(f"target {shown(value)} is not a column name (text of 1000 characters at most, no control characters)")
    return value


PREP_TARGET = QueryParam("target", _column, "", {"type": "string", "maxLength": 1000, "pattern": "^[^\\x00-\\x1f\\x7f]*$"})
PREP_TASK = _choice("task", PrepTask, PrepTask.AUTO)
PREP_MODEL = _choice("model", PrepModel, PrepModel.LINEAR)


@dataclass(frozen=True)
class Link:
    """Where a value in this operation's answer feeds another operation's path (an OpenAPI link): the REST
    harness follows it from a list to the records in it."""

    operation: str
    param: str
    source: str  # a runtime expression: $response.body#/0/id


@dataclass(frozen=True)
class Operation:
    """One route. ``name`` is the client's method and the spec's operationId (in camelCase); ``handler`` is
    ``service.method`` on the owner's side, called as ``method(*path values, body model?, **query values)``."""

    name: str
    method: str
    path: str
    summary: str
    response: Any
    owner: Owner
    handler: str
    params: tuple[PathParam, ...] = ()
    body: type[WireModel] | None = None
    query: tuple[QueryParam, ...] = ()
    timeout: float = SHORT_TIMEOUT_S
    errors: tuple[int, ...] = ()
    public: bool = True  # exposed under /mlops/api (the controller's own status and shutdown are not)
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    auth: Auth = Auth.JUPYTER

    @property
    def operation_id(self) -> str:
        head, *rest = self.name.split("_")
        return head + "".join(word.capitalize() for word in rest)

    def checked_path(self, values: tuple[object, ...]) -> list[str]:
        """The path values, each checked against its pattern (a bad one is a 400 naming it)."""
        if len(values) != len(self.params):
            wanted = ", ".join(p.name for p in self.params) or "nothing"
            raise InvalidInput(f"{self.name} takes {wanted} in its path (got {len(values)} value(s))")
        return [param.check(value) for param, value in zip(self.params, values, strict=True)]

    def url(self, values: tuple[object, ...], query: dict[str, Any] | None = None) -> str:
        """The controller-relative URL: every value checked, quoted whole, so no name becomes a path of its own."""
        path = self.path
        for param, value in zip(self.params, self.checked_path(values), strict=True):
            path = path.replace("{" + param.name + "}", names.url_path(value).removeprefix("/"))
        given = self.checked_query(query or {})
        return f"{path}?{urlencode(given)}" if given else path

    def checked_query(self, given: dict[str, Any]) -> dict[str, Any]:
        known = {q.name: q for q in self.query}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise InvalidInput(f"{self.name} takes no query parameter {unknown[0]!r}; accepted: {sorted(known) or 'none'}")
        return {name: known[name].parse(value) for name, value in given.items()}

    def checked_body(self, body: object) -> WireModel | None:
        """The body as its model (validated strictly; the message names each bad field), or None for none."""
        if self.body is None:
            if body is not None:
                raise InvalidInput(f"{self.name} takes no request body")
            return None
        if isinstance(body, self.body):
            return body
        utf8_text(body)
        return self.body.from_dict(body)


C, S = Owner.CONTROLLER, Owner.SERVER
FIRST_ID = "$response.body#/0/id"

OPERATIONS: tuple[Operation, ...] = (
    # --- the server's own ----------------------------------------------------------------------------------------
    Operation("get_status", "GET", "/status", "Version, workspace and whether the controller runs (does not start it)",
              Status, S, "server.status"),
    Operation("get_workspace", "GET", "/workspace", "Where this workspace keeps its state", WorkspacePaths, S,
              "server.workspace"),
    Operation("list_profiles", "GET", "/profiles", "The saved data profiles (%eda), newest first",
              list[ProfileSummary], S, "server.profiles",
              links=(Link("get_profile", "profile_id", FIRST_ID), Link("get_profile_report", "profile_id", FIRST_ID),
                     Link("suggest_prep", "profile_id", FIRST_ID))),
    Operation("get_profile", "GET", "/profiles/{profile_id}", "One whole profile", Profile, S, "server.profile",
              (PROFILE,), errors=(400, 404)),
    Operation("get_profile_report", "GET", "/profiles/{profile_id}/report",
              "A profile's saved HTML report (?which=full for the ydata-profiling one)", str, S,
              "server.profile_report", (PROFILE,), query=(WHICH_REPORT,), errors=(400, 404), media_type="text/html"),
    Operation("suggest_prep", "GET", "/profiles/{profile_id}/prep",
              "The data preparation the profile asks for (%prep): scikit-learn code and its decisions (?target=COL, "
              "empty: the profile's own; ?task=auto|classification|regression; ?model=linear|trees)",
              PrepSuggestion, S, "server.prep",
              (PROFILE,), query=(PREP_TARGET, PREP_TASK, PREP_MODEL), errors=(400, 404)),
    Operation("list_experiments", "GET", "/experiments", "The MLflow experiments of the workspace's store",
              list[Experiment], S, "server.experiments", errors=(503,), links=(Link("list_runs", "experiment_id", FIRST_ID),)),
    Operation("list_runs", "GET", "/experiments/{experiment_id}/runs", "An experiment's runs, newest first (200)",
              list[Run], S, "server.runs", (EXPERIMENT,), errors=(400, 404, 503), links=(Link("get_run", "run_id", FIRST_ID),)),
    Operation("get_run", "GET", "/runs/{run_id}", "One run", Run, S, "server.run", (RUN,), errors=(400, 404, 503)),
    Operation("list_models", "GET", "/models", "Registered models with their versions and aliases",
              list[RegisteredModel], S, "server.models",
              links=(Link("get_run", "run_id", "$response.body#/0/versions/0/run_id"),)),
    # --- the controller's ----------------------------------------------------------------------------------------
    Operation("status", "GET", "/status", "The controller's own status", ControllerStatus, C, "controller.status",
              public=False),
    Operation("shutdown", "POST", "/shutdown", "Stop the controller (clusters and deployments stop with it)",
              Stopping, C, "controller.shutdown", public=False),
    Operation("clusters", "GET", "/clusters", "The workspace's Dask clusters (starts the controller when needed)",
              list[Cluster], C, "clusters.list", errors=(503,)),
    Operation("cluster", "GET", "/clusters/{name}", "One cluster", Cluster, C, "clusters.get", (CLUSTER,),
              errors=(400, 404, 503)),
    Operation("start_cluster", "PUT", "/clusters/{name}", "Start the cluster a spec describes (waits for its workers)",
              Cluster, C, "clusters.start", (CLUSTER,), ClusterSpec, timeout=LONG_TIMEOUT_S, errors=(400, 409, 503)),
    Operation("scale_cluster", "PATCH", "/clusters/{name}", "Scale the cluster (waits until reached)", Cluster, C,
              "clusters.scale", (CLUSTER,), ClusterScale, timeout=LONG_TIMEOUT_S, errors=(400, 404, 409, 503)),
    Operation("stop_cluster", "DELETE", "/clusters/{name}", "Stop the cluster (or forget a scheduler run elsewhere)",
              Cluster, C, "clusters.stop", (CLUSTER,), timeout=LONG_TIMEOUT_S, errors=(400, 404, 503)),
    Operation("deployments", "GET", "/deployments", "The workspace's deployments", list[Deployment], C,
              "deployments.list", errors=(503,)),
    Operation("deployment", "GET", "/deployments/{name}", "One deployment", Deployment, C, "deployments.get",
              (DEPLOYMENT,), errors=(400, 404, 503)),
    Operation("deploy", "PUT", "/deployments/{name}",
              "Serve a model (or your own command or ASGI app); an existing deployment swaps its model without a gap",
              Deployment, C, "deployments.deploy", (DEPLOYMENT,), DeploymentSpec, timeout=LONG_TIMEOUT_S,
              errors=(400, 409, 503)),
    Operation("stop_deployment", "DELETE", "/deployments/{name}", "Stop the deployment", Deployment, C,
              "deployments.stop", (DEPLOYMENT,), timeout=LONG_TIMEOUT_S, errors=(400, 404, 503)),
    Operation("rollback_deployment", "POST", "/deployments/{name}/rollback",
              "Serve the exact model version served before the last swap", Deployment, C, "deployments.rollback",
              (DEPLOYMENT,), timeout=LONG_TIMEOUT_S, errors=(400, 404, 409, 503)),
    # The token only on an explicit action (POST: read it; PUT: issue a new one), never in a view.
    Operation("deployment_token", "POST", "/deployments/{name}/token", "The deployment's bearer token",
              DeploymentToken, C, "deployments.token", (DEPLOYMENT,), errors=(400, 404, 409, 503),
              headers={"Cache-Control": "no-store"}),
    Operation("rotate_deployment_token", "PUT", "/deployments/{name}/token",
              "Issue a new bearer token (the previous one stops working)", DeploymentToken, C,
              "deployments.rotate_token", (DEPLOYMENT,), timeout=LONG_TIMEOUT_S, errors=(400, 404, 409, 503),
              public=False, headers={"Cache-Control": "no-store"}),
    Operation("deployment_logs", "GET", "/deployments/{name}/logs", "The tail of the deployment's log",
              DeploymentLogs, C, "deployments.logs", (DEPLOYMENT,), query=(LINES,), errors=(400, 404, 503)),
    Operation("mlflow_ui", "GET", "/mlflow-ui", "Whether the MLflow UI runs, and where", MlflowUi, C,
              "mlflow_ui.status", errors=(503,)),
    Operation("start_mlflow_ui", "PUT", "/mlflow-ui", "Start the MLflow UI over the workspace's store", MlflowUi,
              C, "mlflow_ui.start", timeout=LONG_TIMEOUT_S, errors=(503,)),
    Operation("stop_mlflow_ui", "DELETE", "/mlflow-ui", "Stop the MLflow UI", MlflowUi, C, "mlflow_ui.stop",
              timeout=LONG_TIMEOUT_S, public=False),
    # --- jobs ------------------------------------------------------------------------------------------------
    Operation("jobs", "GET", "/jobs", "The workspace's jobs with their next run and last run", list[Job], C,
              "jobs.list", errors=(503,)),
    Operation("job", "GET", "/jobs/{name}", "One job", Job, C, "jobs.get", (JOB,), errors=(400, 404, 503)),
    Operation("put_job", "PUT", "/jobs/{name}",
              "Create or replace a job (its notebook checked, its parameters typed by the notebook's, a snapshot taken)",
              Job, C, "jobs.put", (JOB,), JobSpec, timeout=LONG_TIMEOUT_S, errors=(400, 403, 404, 503)),
    Operation("delete_job", "DELETE", "/jobs/{name}", "Delete a job, its history, and stop its runs", Job, C,
              "jobs.delete", (JOB,), timeout=LONG_TIMEOUT_S, errors=(400, 404, 503)),
    Operation("pause_job", "POST", "/jobs/{name}/pause", "Stop its schedule and data triggers (runs on demand still)",
              Job, C, "jobs.pause", (JOB,), errors=(400, 404, 503)),
    Operation("resume_job", "POST", "/jobs/{name}/resume", "Start its triggers again (times passed while paused are not owed)",
              Job, C, "jobs.resume", (JOB,), errors=(400, 404, 503)),
    Operation("run_job", "POST", "/jobs/{name}/runs", "Run the job now, with parameters for this run",
              JobRun, C, "jobs.trigger", (JOB,), RunRequest, errors=(400, 404, 409, 503)),
    Operation("job_runs", "GET", "/jobs/{name}/runs", "The job's runs, newest first", list[JobRun], C, "jobs.runs",
              (JOB,), errors=(400, 404, 503), links=(Link("job_run", "number", "$response.body#/0/number"),)),
    Operation("job_run", "GET", "/jobs/{name}/runs/{number}", "One run, with its live progress", JobRun, C,
              "jobs.run", (JOB, JOB_RUN), errors=(400, 404, 503)),
    Operation("cancel_run", "POST", "/jobs/{name}/runs/{number}/cancel", "Cancel a queued or running run", JobRun,
              C, "jobs.cancel", (JOB, JOB_RUN), timeout=LONG_TIMEOUT_S, errors=(400, 404, 409, 503)),
    Operation("run_logs", "GET", "/jobs/{name}/runs/{number}/logs", "The tail of a run's log", RunLog, C,
              "jobs.logs", (JOB, JOB_RUN), query=(LINES,), errors=(400, 404, 503)),
    Operation("issue_job_token", "POST", "/jobs/{name}/token",
              "Issue the job's trigger token (shown once; the previous one stops working)", JobToken, C,
              "jobs.issue_token", (JOB,), errors=(400, 404, 503), headers={"Cache-Control": "no-store"}),
    Operation("revoke_job_token", "DELETE", "/jobs/{name}/token", "Revoke the job's trigger token", Job, C,
              "jobs.revoke_token", (JOB,), errors=(400, 404, 503)),
    Operation("trigger_job_with_token", "POST", "/jobs/{name}/trigger", "An outside caller's trigger, token in body",
              JobRun, C, "jobs.trigger_with_token", (JOB,), TokenTrigger, errors=(400, 401, 404, 409), public=False),
    # The monitors (in the controller) raise their alerts here; the one way in from outside is the controller's API.
    Operation("raise_event", "POST", "/events", "Raise a named event: a run of every job that waits for it",
              list[JobRun], C, "jobs.raise_event", body=JobEvent, errors=(400, 503), public=False),
    Operation("trigger_job", "POST", "/jobs/{name}/trigger",
              "Run the job from outside JupyterLab (a CI or data pipeline) with its trigger token as "
              "`Authorization: Bearer TOKEN`: the one route that token opens", JobRun, S, "server.trigger_job",
              (JOB,), RunRequest, errors=(400, 401, 409, 503), auth=Auth.JOB_TOKEN),
    # --- monitors ------------------------------------------------------------------------------------------
    Operation("monitors", "GET", "/monitors", "The workspace's standing monitors with their last verdict",
              list[Monitor], C, "monitors.list", errors=(503,),
              links=(Link("monitor", "name", "$response.body#/0/name"),
                     Link("monitor_checks", "name", "$response.body#/0/name"))),
    Operation("monitor", "GET", "/monitors/{name}", "One monitor", Monitor, C, "monitors.get", (MONITOR,),
              errors=(400, 404, 503)),
    Operation("put_monitor", "PUT", "/monitors/{name}",
              "Create or replace a standing monitor (its deployment, window, thresholds and jobs checked); its first "
              "check is due at once", Monitor, C, "monitors.put", (MONITOR,), MonitorSpec, errors=(400, 404, 503)),
    Operation("delete_monitor", "DELETE", "/monitors/{name}", "Delete a monitor and its checks (its alerts stay)",
              Monitor, C, "monitors.delete", (MONITOR,), errors=(400, 404, 503)),
    Operation("pause_monitor", "POST", "/monitors/{name}/pause", "Stop its scheduled checks", Monitor, C,
              "monitors.pause", (MONITOR,), errors=(400, 404, 503)),
    Operation("resume_monitor", "POST", "/monitors/{name}/resume", "Start its scheduled checks again", Monitor, C,
              "monitors.resume", (MONITOR,), errors=(400, 404, 503)),
    Operation("check_monitor", "POST", "/monitors/{name}/check",
              "Check now (an alert is raised as a scheduled check would)", MonitorCheckView, C, "monitors.check_now",
              (MONITOR,), timeout=LONG_TIMEOUT_S, errors=(400, 404, 503)),
    Operation("monitor_checks", "GET", "/monitors/{name}/checks", "The monitor's checks, newest first (200 kept)",
              list[MonitorCheckView], C, "monitors.checks", (MONITOR,), errors=(400, 404, 503)),
    Operation("check_deployment", "POST", "/deployments/{name}/check",
              "One check of the deployment's window now (%monitor NAME, run by the controller): drift, prediction "
              "drift, performance on feedback; nothing is saved", CheckResult, C, "monitors.check_deployment",
              (DEPLOYMENT,), CheckSpec, timeout=LONG_TIMEOUT_S, errors=(400, 404, 503)),
    Operation("monitor_timeline", "GET", "/monitors/{name}/timeline",
              "The loop's turns, newest first: alert, retrain run, model version, review, swap, watch, rollback",
              list[Incident], C, "monitors.timeline", (MONITOR,), errors=(400, 404, 503)),
    Operation("alerts", "GET", "/alerts", "The monitors' alerts, newest first (200)", list[Alert], C,
              "monitors.alerts", errors=(503,)),
)  # fmt: skip

CONTROLLER_OPERATIONS: dict[str, Operation] = {op.name: op for op in OPERATIONS if op.owner is Owner.CONTROLLER}
# What /mlops/api serves: the server's own routes and the controller's public ones.
PUBLIC_OPERATIONS: tuple[Operation, ...] = tuple(op for op in OPERATIONS if op.public)
