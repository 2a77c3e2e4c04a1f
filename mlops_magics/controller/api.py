"""The controller's small HTTP API on loopback, for the faces only (they present the token from the info file)."""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mlops_magics.cluster import ClusterSpec
from mlops_magics.controller.clusters import ClusterSupervisor
from mlops_magics.controller.deployments import DeploymentSupervisor
from mlops_magics.controller.mlflow_ui import MlflowUi
from mlops_magics.errors import InvalidInput, MLOpsError
from mlops_magics.serving.spec import DeploymentSpec
from mlops_magics.workspace import Workspace

log = logging.getLogger("mlops.controller.api")

Endpoint = Callable[[Request], Awaitable[Any]]


class _TokenAuth(BaseHTTPMiddleware):
    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self._expected = f"Bearer {token}".encode()

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, self._expected):
            return JSONResponse({"code": "unauthorized", "message": "missing or wrong controller token"}, 401)
        return await call_next(request)


def _json_endpoint(handler: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """Run a handler and turn its result or its MLOpsError into JSON; anything else is logged as a bug."""

    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await handler(request))
        except MLOpsError as exc:
            return JSONResponse(exc.to_dict(), exc.status)
        except Exception as exc:
            log.exception("controller request %s %s failed", request.method, request.url.path)
            return JSONResponse({"code": "internal", "message": f"{type(exc).__name__}: {exc}"}, 500)

    return endpoint


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise InvalidInput("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def build_app(
    workspace: Workspace,
    supervisor: ClusterSupervisor,
    mlflow_ui: MlflowUi,
    deployments: DeploymentSupervisor,
    token: str,
    started_at: str,
    version: str,
    request_shutdown: Callable[[], None],
) -> Starlette:
    async def status(_request: Request) -> dict[str, Any]:
        clusters = await run_in_threadpool(supervisor.list)
        served = await run_in_threadpool(deployments.list)
        return {
            "deployments": len(served),
            "pid": os.getpid(),
            "started_at": started_at,
            "version": version,
            "workspace": str(workspace.home),
            "clusters": len(clusters),
        }

    async def list_clusters(_request: Request) -> list[dict[str, Any]]:
        return await run_in_threadpool(supervisor.list)

    async def get_cluster(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(supervisor.get, request.path_params["name"])

    async def start_cluster(request: Request) -> dict[str, Any]:
        spec = ClusterSpec.from_dict(await _body(request))
        return await run_in_threadpool(supervisor.start, request.path_params["name"], spec)

    async def scale_cluster(request: Request) -> dict[str, Any]:
        body = await _body(request)
        if "workers" not in body:
            raise InvalidInput('scaling needs {"workers": N}')
        return await run_in_threadpool(supervisor.scale, request.path_params["name"], body["workers"])

    async def stop_cluster(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(supervisor.stop, request.path_params["name"])

    async def list_deployments(_request: Request) -> list[dict[str, Any]]:
        return await run_in_threadpool(deployments.list)

    async def get_deployment(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(deployments.get, request.path_params["name"])

    async def put_deployment(request: Request) -> dict[str, Any]:
        spec = DeploymentSpec.from_dict(await _body(request))
        return await run_in_threadpool(deployments.deploy, request.path_params["name"], spec)

    async def delete_deployment(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(deployments.stop, request.path_params["name"])

    async def rollback_deployment(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(deployments.rollback, request.path_params["name"])

    async def deployment_logs(request: Request) -> dict[str, Any]:
        lines = int(request.query_params.get("lines", "200"))
        return await run_in_threadpool(deployments.logs, request.path_params["name"], lines)

    async def mlflow_ui_status(_request: Request) -> dict[str, Any]:
        return mlflow_ui.status()

    async def mlflow_ui_start(_request: Request) -> dict[str, Any]:
        return await run_in_threadpool(mlflow_ui.start)

    async def mlflow_ui_stop(_request: Request) -> dict[str, Any]:
        return await run_in_threadpool(mlflow_ui.stop)

    async def shutdown(_request: Request) -> dict[str, Any]:
        request_shutdown()
        return {"stopping": True, "pid": os.getpid()}

    routes = [
        Route("/status", _json_endpoint(status), methods=["GET"]),
        Route("/clusters", _json_endpoint(list_clusters), methods=["GET"]),
        Route("/clusters/{name}", _json_endpoint(get_cluster), methods=["GET"]),
        Route("/clusters/{name}", _json_endpoint(start_cluster), methods=["PUT"]),
        Route("/clusters/{name}", _json_endpoint(scale_cluster), methods=["PATCH"]),
        Route("/clusters/{name}", _json_endpoint(stop_cluster), methods=["DELETE"]),
        Route("/deployments", _json_endpoint(list_deployments), methods=["GET"]),
        Route("/deployments/{name}", _json_endpoint(get_deployment), methods=["GET"]),
        Route("/deployments/{name}", _json_endpoint(put_deployment), methods=["PUT"]),
        Route("/deployments/{name}", _json_endpoint(delete_deployment), methods=["DELETE"]),
        Route("/deployments/{name}/rollback", _json_endpoint(rollback_deployment), methods=["POST"]),
        Route("/deployments/{name}/logs", _json_endpoint(deployment_logs), methods=["GET"]),
        Route("/mlflow-ui", _json_endpoint(mlflow_ui_status), methods=["GET"]),
        Route("/mlflow-ui", _json_endpoint(mlflow_ui_start), methods=["PUT"]),
        Route("/mlflow-ui", _json_endpoint(mlflow_ui_stop), methods=["DELETE"]),
        Route("/shutdown", _json_endpoint(shutdown), methods=["POST"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(_TokenAuth, token=token)])
