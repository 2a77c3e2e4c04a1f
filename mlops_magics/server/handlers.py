"""REST handlers: thin translations of HTTP to core calls. Every error leaves as ``{code, message}``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import orjson
import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from mlops_magics import __version__
from mlops_magics.controller import Controller
from mlops_magics.eda import store
from mlops_magics.errors import InvalidInput, MLOpsError
from mlops_magics.train import records
from mlops_magics.workspace import Workspace


class MLOpsHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every route: authentication required, JSON in and out, one error shape."""

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
            self.set_status(exc.status)
            self.finish(json.dumps(exc.to_dict()))
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
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self.respond(lambda: self.controller.cluster(name))

    @tornado.web.authenticated
    async def put(self, name: str) -> None:
        await self.respond(lambda: self.controller.start_cluster(name, self.json_body()))

    @tornado.web.authenticated
    async def patch(self, name: str) -> None:
        def scale() -> dict[str, Any]:
            body = self.json_body()
            if "workers" not in body:
                raise InvalidInput('scaling needs {"workers": N}')
            return self.controller.scale_cluster(name, body["workers"])

        await self.respond(scale)

    @tornado.web.authenticated
    async def delete(self, name: str) -> None:
        await self.respond(lambda: self.controller.stop_cluster(name))


class ProfilesHandler(MLOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.respond(lambda: store.list_profiles(self.workspace))


class ProfileHandler(MLOpsHandler):
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

    @tornado.web.authenticated
    async def get(self, profile_id: str) -> None:
        which = self.get_query_argument("which", "report")
        try:
            page = await asyncio.to_thread(store.report_html, self.workspace, profile_id, which)
        except MLOpsError as exc:
            self.set_status(exc.status)
            self.finish(json.dumps(exc.to_dict()))
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", REPORT_POLICIES[which])
        super(APIHandler, self).finish(page)  # APIHandler.finish would label the page as JSON


class ExperimentsHandler(MLOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.respond(lambda: records.experiments(self.workspace))


class ExperimentRunsHandler(MLOpsHandler):
    @tornado.web.authenticated
    async def get(self, experiment_id: str) -> None:
        await self.respond(lambda: records.runs(self.workspace, experiment_id))


class RunHandler(MLOpsHandler):
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
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self.respond(lambda: self.controller.deployment(name))

    @tornado.web.authenticated
    async def put(self, name: str) -> None:
        await self.respond(lambda: self.controller.deploy(name, self.json_body()))

    @tornado.web.authenticated
    async def delete(self, name: str) -> None:
        await self.respond(lambda: self.controller.stop_deployment(name))


class DeploymentRollbackHandler(MLOpsHandler):
    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        await self.respond(lambda: self.controller.rollback_deployment(name))


class DeploymentLogsHandler(MLOpsHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        lines = int(self.get_query_argument("lines", "200"))
        await self.respond(lambda: self.controller.deployment_logs(name, lines))


class MlflowUiHandler(MLOpsHandler):
    """The MLflow UI over the workspace's store (started by the controller on PUT)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self.respond(self.controller.mlflow_ui)

    @tornado.web.authenticated
    async def put(self) -> None:
        await self.respond(self.controller.start_mlflow_ui)


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
]
