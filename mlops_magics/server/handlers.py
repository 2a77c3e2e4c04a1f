"""REST handlers: thin translations of HTTP to core calls. Every error leaves as ``{code, message}``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, ClassVar

import orjson
import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from mlops_magics import names
from mlops_magics.cluster import ClusterScale, ClusterSpec
from mlops_magics.controller import Controller
from mlops_magics.eda import store
from mlops_magics.errors import InvalidInput, MLOpsError, NotFound
from mlops_magics.serving.spec import DeploymentSpec
from mlops_magics.train import records
from mlops_magics.train.direction import HIGHER_IS_BETTER
from mlops_magics.version import __version__
from mlops_magics.wire import log_lines
from mlops_magics.workspace import Workspace

METHODS = ("GET", "PUT", "PATCH", "POST", "DELETE")


class MLOpsHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every route: authentication required, JSON in and out, one error shape.

    ``path_checks`` names the check of each path parameter (a test requires one for every parameter): a name
    or id is refused with 400 before any handler code sees it.
    """

    path_checks: ClassVar[dict[str, Callable[[str], str]]] = {}

    async def prepare(self) -> None:
        await super().prepare()
        if self._finished or self.request.method == "OPTIONS":  # Jupyter answers CORS preflights without a token
            return
        # Authentication first: a caller without the token learns nothing more (not even that a name is malformed
        # or a method is wrong). Jupyter checks it here only when allow_unauthenticated_access is False, and that
        # setting defaults to True: every route here needs the token, so it is checked whatever the setting.
        if self.current_user is None:
            raise tornado.web.HTTPError(403)
        # Then the method: a method the path does not accept is a 405 with Allow, whatever the name in it.
        if self.request.method not in self.allowed_methods():
            raise tornado.web.HTTPError(405)
        try:
            for key, value in self.path_kwargs.items():
                self.path_checks[key](value)
        except MLOpsError as exc:
            self.send_json_error(exc)

    def send_json_error(self, exc: MLOpsError) -> None:
        self.set_status(exc.status)
        self.finish(json.dumps(exc.to_dict()))

    @classmethod
    def allowed_methods(cls) -> list[str]:
        return [m for m in METHODS if getattr(cls, m.lower()) is not getattr(tornado.web.RequestHandler, m.lower())]

    @property
    def workspace(self) -> Workspace:
        return self.settings["mlops_workspace"]

    @property
    def controller(self) -> Controller:
        return self.settings["mlops_controller"]

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise InvalidInput("the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise InvalidInput("the request body must be a JSON object")
        return body

    async def respond(self, work: Callable[[], Any], status: int = 200) -> None:
        """Run core work off the event loop; answer its result, or its MLOpsError as ``{code, message}``."""
        try:
            result = await asyncio.to_thread(work)
        except MLOpsError as exc:
            self.send_json_error(exc)
            return
        self.set_status(status)
        # orjson writes NaN and infinities as null: a metric logged as NaN must not break the panel's JSON.
        self.finish(orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Errors raised before a handler runs (authentication, unknown method) get the same shape.
        self.set_header("Content-Type", "application/json")
        reason = self._reason
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], tornado.web.HTTPError) and exc_info[1].log_message:
            reason = exc_info[1].log_message
        code = {403: "forbidden", 404: "not_found", 405: "method_not_allowed"}.get(status_code, "error")
        if status_code == 405:
            allowed = self.allowed_methods()
            self.set_header("Allow", ", ".join(allowed))
            reason = f"{self.request.method} is not accepted here; use {', '.join(allowed)}"
        self.finish(json.dumps({"code": code, "message": reason}))


class StatusHandler(MLOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        def status() -> dict[str, Any]:
            info = self.controller.running()
            return {
                "version": __version__,
                "workspace": str(self.workspace.home),
                "controller": None if info is None else {"pid": info.pid, "started_at": info.started_at},
                # The panel sorts runs and marks the best value by this list: the one training and review use.
                "higher_is_better": sorted(HIGHER_IS_BETTER),
            }

        await self.respond(status)


class WorkspaceHandler(MLOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.respond(self.workspace.describe)


class ClustersHandler(MLOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.respond(self.controller.clusters)


class ClusterHandler(MLOpsHandler):
    path_checks = {"name": names.cluster_name}

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self.respond(lambda: self.controller.cluster(name))

    @tornado.web.authenticated
    async def put(self, name: str) -> None:
        # Checked here, before the controller is started or reached: a bad body never goes further.
        await self.respond(lambda: self.controller.start_cluster(name, ClusterSpec.from_dict(self.json_body()).to_dict()))

    @tornado.web.authenticated
    async def patch(self, name: str) -> None:
        await self.respond(lambda: self.controller.scale_cluster(name, ClusterScale.checked(self.json_body()).workers))

    @tornado.web.authenticated
    async def delete(self, name: str) -> None:
        await self.respond(lambda: self.controller.stop_cluster(name))


class ProfilesHandler(MLOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.respond(lambda: store.list_profiles(self.workspace))


class ProfileHandler(MLOpsHandler):
    path_checks = {"profile_id": names.profile_id}

    @tornado.web.authenticated
    async def get(self, profile_id: str) -> None:
        await self.respond(lambda: store.load(self.workspace, profile_id).data)


# Our report needs no script and may run none. ydata-profiling's full report needs its inline scripts: they
# may run, but sandboxed in an opaque origin (no cookies, no API) and with nothing loaded from the network.
REPORT_POLICIES = {
    "report": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "full": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "font-src data:; sandbox allow-scripts",
}


class ProfileReportHandler(MLOpsHandler):
    """The saved HTML report (``?which=full`` for the ydata-profiling one), for the panel's report tab."""

    path_checks = {"profile_id": names.profile_id}

    @tornado.web.authenticated
    async def get(self, profile_id: str) -> None:
        which = self.get_query_argument("which", "report")
        try:
            page = await asyncio.to_thread(store.report_html, self.workspace, profile_id, which)
        except MLOpsError as exc:
            self.send_json_error(exc)
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", REPORT_POLICIES[which])
        super(APIHandler, self).finish(page)  # APIHandler.finish would label the page as JSON


class ExperimentsHandler(MLOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.respond(lambda: records.experiments(self.workspace))


class ExperimentRunsHandler(MLOpsHandler):
    path_checks = {"experiment_id": names.experiment_id}

    @tornado.web.authenticated
    async def get(self, experiment_id: str) -> None:
        await self.respond(lambda: records.runs(self.workspace, experiment_id))


class RunHandler(MLOpsHandler):
    path_checks = {"run_id": names.run_id}

    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        await self.respond(lambda: records.run(self.workspace, run_id))


class ModelsHandler(MLOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.respond(lambda: records.models(self.workspace))


class DeploymentsHandler(MLOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.respond(self.controller.deployments)


class DeploymentHandler(MLOpsHandler):
    path_checks = {"name": names.deployment_name}

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self.respond(lambda: self.controller.deployment(name))

    @tornado.web.authenticated
    async def put(self, name: str) -> None:
        await self.respond(lambda: self.controller.deploy(name, DeploymentSpec.from_dict(self.json_body()).to_dict()))

    @tornado.web.authenticated
    async def delete(self, name: str) -> None:
        await self.respond(lambda: self.controller.stop_deployment(name))


class DeploymentRollbackHandler(MLOpsHandler):
    path_checks = {"name": names.deployment_name}

    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        await self.respond(lambda: self.controller.rollback_deployment(name))


class DeploymentTokenHandler(MLOpsHandler):
    """The deployment's bearer token, for the panel's test request: an explicit POST (Jupyter's authentication
    and XSRF check), never part of a deployment's view."""

    path_checks = {"name": names.deployment_name}

    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        self.set_header("Cache-Control", "no-store")
        await self.respond(lambda: self.controller.deployment_token(name))


class DeploymentLogsHandler(MLOpsHandler):
    path_checks = {"name": names.deployment_name}

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self.respond(lambda: self.controller.deployment_logs(name, log_lines(self.get_query_argument("lines", "200"))))


class MlflowUiHandler(MLOpsHandler):
    """The MLflow UI over the workspace's store (started by the controller on PUT)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self.respond(self.controller.mlflow_ui)

    @tornado.web.authenticated
    async def put(self) -> None:
        await self.respond(self.controller.start_mlflow_ui)


class UnknownRouteHandler(MLOpsHandler):
    """Any other path under /mlops/api/: the JSON error shape, not the server's HTML page (after authentication)."""

    def _unknown(self) -> None:
        self.send_json_error(NotFound(f"no route {self.request.path}; api/openapi.yaml lists the routes"))

    @tornado.web.authenticated
    def get(self) -> None:
        self._unknown()

    @tornado.web.authenticated
    def put(self) -> None:
        self._unknown()

    @tornado.web.authenticated
    def patch(self) -> None:
        self._unknown()

    @tornado.web.authenticated
    def post(self) -> None:
        self._unknown()

    @tornado.web.authenticated
    def delete(self) -> None:
        self._unknown()


# Patterns below /mlops/api/; api/openapi.yaml lists the same routes (a test keeps them equal).
ROUTES: list[tuple[str, type[MLOpsHandler]]] = [
    ("status", StatusHandler),
    ("workspace", WorkspaceHandler),
    ("clusters", ClustersHandler),
    (r"clusters/(?P<name>[^/]+)", ClusterHandler),
    ("profiles", ProfilesHandler),
    (r"profiles/(?P<profile_id>[^/]+)", ProfileHandler),
    (r"profiles/(?P<profile_id>[^/]+)/report", ProfileReportHandler),
    ("experiments", ExperimentsHandler),
    (r"experiments/(?P<experiment_id>[^/]+)/runs", ExperimentRunsHandler),
    (r"runs/(?P<run_id>[^/]+)", RunHandler),
    ("models", ModelsHandler),
    ("mlflow-ui", MlflowUiHandler),
    ("deployments", DeploymentsHandler),
    (r"deployments/(?P<name>[^/]+)", DeploymentHandler),
    (r"deployments/(?P<name>[^/]+)/rollback", DeploymentRollbackHandler),
    (r"deployments/(?P<name>[^/]+)/logs", DeploymentLogsHandler),
    (r"deployments/(?P<name>[^/]+)/token", DeploymentTokenHandler),
]
