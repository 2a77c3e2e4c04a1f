"""The routes the jupyter-server extension serves itself: reads of the workspace and of its MLflow store.

Each method is the ``handler`` of one server operation of ``mlops_magics.api.routes`` (``server.NAME``), called
with the operation's checked path and query values; it calls the stage that owns the answer and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_magics.api.jobs import RunRequest
from mlops_magics.api.profiles import PrepModel, PrepTask, ReportKind
from mlops_magics.controller import Controller
from mlops_magics.eda import store
from mlops_magics.train import records
from mlops_magics.train.direction import HIGHER_IS_BETTER
from mlops_magics.version import __version__
from mlops_magics.workspace import Workspace

# Our report needs no script and may run none. ydata-profiling's full report needs its inline scripts: they
# may run, but sandboxed in an opaque origin (no cookies, no API) and with nothing loaded from the network.
REPORT_POLICIES = {
    ReportKind.REPORT: "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    ReportKind.FULL: "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "font-src data:; sandbox allow-scripts",
}


@dataclass(frozen=True)
class Page:
    """An HTML answer and the Content-Security-Policy it is served under."""

    html: str
    policy: str


class ServerRoutes:
    def __init__(self, workspace: Workspace, controller: Controller) -> None:
        self._workspace, self._controller = workspace, controller

    def status(self) -> dict[str, Any]:
        info = self._controller.running()
        return {
            "version": __version__,
            "workspace": str(self._workspace.home),
            "controller": None if info is None else {"pid": info.pid, "started_at": info.started_at},
            # The panel sorts runs and marks the best value by this list: the one training and review use.
            "higher_is_better": sorted(HIGHER_IS_BETTER),
        }

    def workspace(self) -> dict[str, str]:
        return self._workspace.describe()

    def profiles(self) -> list[dict[str, Any]]:
        return store.list_profiles(self._workspace)

    def profile(self, profile_id: str) -> dict[str, Any]:
        return store.load(self._workspace, profile_id).data

    def profile_report(self, profile_id: str, which: ReportKind = ReportKind.REPORT) -> Page:
        return Page(store.report_html(self._workspace, profile_id, which.value), REPORT_POLICIES[which])

    def prep(
        self, profile_id: str, target: str = "", task: PrepTask = PrepTask.AUTO, model: PrepModel = PrepModel.LINEAR
    ) -> dict[str, Any]:
        chosen = None if task is PrepTask.AUTO else task.value
        profile = store.load(self._workspace, profile_id)
        return profile.suggest(target or None, chosen, profile_id=profile_id, model=model.value).to_dict()

    def experiments(self) -> list[dict[str, Any]]:
        return records.experiments(self._workspace)

    def runs(self, experiment_id: str) -> list[dict[str, Any]]:
        return records.runs(self._workspace, experiment_id)

    def run(self, run_id: str) -> dict[str, Any]:
        return records.run(self._workspace, run_id)

    def models(self) -> list[dict[str, Any]]:
        return records.models(self._workspace)

    def trigger_job(self, name: str, request: RunRequest, token: str) -> dict[str, Any]:
        """An outside caller's trigger: handed to the controller with the token it showed, which it checks."""
        return self._controller.trigger_job_with_token(name, {"token": token, **request.to_dict()})
