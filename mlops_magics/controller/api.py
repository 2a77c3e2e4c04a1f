"""The controller's small HTTP API on loopback, for the faces only (they present the token from the info file)."""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mlops_magics.cluster import ClusterScale, ClusterSpec
from mlops_magics.controller.clusters import ClusterSupervisor
from mlops_magics.controller.deployments import DeploymentSupervisor
from mlops_magics.controller.mlflow_ui import MlflowUi
from mlops_magics.errors import InvalidInput, MLOpsError
from mlops_magics.names import cluster_name, deployment_name
from mlops_magics.serving.spec import DeploymentSpec
from mlops_magics.wire import log_lines
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


def _json_endpoint(handlers: dict[str, Endpoint], log_path: str) -> Callable[[Request], Awaitable[Response]]:
    """One route's methods: run the one asked for and turn its result or its MLOpsError into JSON.

    Anything else is a bug: logged here with its traceback, answered with a line that points at the log
    (never the exception's own text, which may carry internals).
    """

    async def endpoint(request: Request) -> Response:
        handler = handlers["GET" if request.method == "HEAD" else request.method]
        try:
            return JSONResponse(await handler(request))
        except MLOpsError as exc:
            return JSONResponse(exc.to_dict(), exc.status)
        except Exception:
            log.exception("controller request %s %s failed", request.method, request.url.path)
            message = f"the controller failed on {request.method} {request.url.path}; its log {log_path} has the details"
            return JSONResponse({"code": "internal", "message": message}, 500)

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer the same JSON shape as everything else (405 with ``Allow``)."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return JSONResponse({"code": code, "message": message}, exc.status_code, headers=exc.headers)


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
    # Reachable by anything on loopback that holds the token: names and bodies are checked here as at the REST face.
    def cluster(request: Request) -> str:
        return cluster_name(request.path_params["name"])

    def deployment(request: Request) -> str:
        return deployment_name(request.path_params["name"])

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
            "serving_template": deployments.template_status(),
        }

    async def list_clusters(_request: Request) -> list[dict[str, Any]]:
        return await run_in_threadpool(supervisor.list)

    async def get_cluster(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(supervisor.get, cluster(request))

    async def start_cluster(request: Request) -> dict[str, Any]:
        name = cluster(request)
        spec = ClusterSpec.from_dict(await _body(request))
        return await run_in_threadpool(supervisor.start, name, spec)

    async def scale_cluster(request: Request) -> dict[str, Any]:
        name = cluster(request)
        scale = ClusterScale.checked(await _body(request))
        return await run_in_threadpool(supervisor.scale, name, scale.workers)

    async def stop_cluster(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(supervisor.stop, cluster(request))

    async def list_deployments(_request: Request) -> list[dict[str, Any]]:
        return await run_in_threadpool(deployments.list)

    async def get_deployment(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(deployments.get, deployment(request))

    async def put_deployment(request: Request) -> dict[str, Any]:
        name = deployment(request)
        spec = DeploymentSpec.from_dict(await _body(request))
        return await run_in_threadpool(deployments.deploy, name, spec)

    async def delete_deployment(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(deployments.stop, deployment(request))

    async def rollback_deployment(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(deployments.rollback, deployment(request))

    async def deployment_token(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(deployments.token, deployment(request))

    async def rotate_deployment_token(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(deployments.rotate_token, deployment(request))

    async def deployment_logs(request: Request) -> dict[str, Any]:
        name = deployment(request)
        lines = log_lines(request.query_params.get("lines", "200"))
        return await run_in_threadpool(deployments.logs, name, lines)

    async def mlflow_ui_status(_request: Request) -> dict[str, Any]:
        return mlflow_ui.status()

    async def mlflow_ui_start(_request: Request) -> dict[str, Any]:
        return await run_in_threadpool(mlflow_ui.start)

    async def mlflow_ui_stop(_request: Request) -> dict[str, Any]:
        return await run_in_threadpool(mlflow_ui.stop)

    async def shutdown(_request: Request) -> dict[str, Any]:
        request_shutdown()
        return {"stopping": True, "pid": os.getpid()}

    resources: dict[str, dict[str, Endpoint]] = {
        "/status": {"GET": status},
        "/clusters": {"GET": list_clusters},
        "/clusters/{name}": {"GET": get_cluster, "PUT": start_cluster, "PATCH": scale_cluster, "DELETE": stop_cluster},
        "/deployments": {"GET": list_deployments},
        "/deployments/{name}": {"GET": get_deployment, "PUT": put_deployment, "DELETE": delete_deployment},
        "/deployments/{name}/rollback": {"POST": rollback_deployment},
        # The token only on an explicit action (POST: read it; PUT: issue a new one), never in a view.
        "/deployments/{name}/token": {"POST": deployment_token, "PUT": rotate_deployment_token},
        "/deployments/{name}/logs": {"GET": deployment_logs},
        "/mlflow-ui": {"GET": mlflow_ui_status, "PUT": mlflow_ui_start, "DELETE": mlflow_ui_stop},
        "/shutdown": {"POST": shutdown},
    }
    log_path = str(workspace.controller_log)
    # One Route per path with all its methods, so a 405 names every allowed method in its Allow header.
    routes = [Route(path, _json_endpoint(methods, log_path), methods=list(methods)) for path, methods in resources.items()]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(_TokenAuth, token=token)],
        exception_handlers={HTTPException: _http_error},
    )
    # A path that matches no route is a JSON 404, never a redirect to another path ('/clusters/a/' is not 'a').
    app.router.redirect_slashes = False
    return app
