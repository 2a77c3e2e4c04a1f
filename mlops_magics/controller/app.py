"""The controller's small HTTP API on loopback, for the faces only (they present the token from the info file).

Its routes are the controller's operations of ``mlops_magics.api.routes``: each is served by the method its
``handler`` names on one of the services this process runs (clusters, deployments, the MLflow UI, itself).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from itertools import groupby
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mlops_magics.api.routes import CONTROLLER_OPERATIONS, Operation
from mlops_magics.errors import InvalidInput, MLOpsError
from mlops_magics.workspace import Workspace

log = logging.getLogger("mlops.controller.app")


class _TokenAuth(BaseHTTPMiddleware):
    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self._expected = f"Bearer {token}".encode()

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, self._expected):
            return JSONResponse({"code": "unauthorized", "message": "missing or wrong controller token"}, 401)
        return await call_next(request)


class ControllerItself:
    """The controller as a service of its own: its status and its shutdown."""

    def __init__(self, workspace: Workspace, services: Mapping[str, Any], started_at: str, version: str,
                 request_shutdown: Callable[[], None]) -> None:  # fmt: skip
        self._workspace, self._services = workspace, services
        self._started_at, self._version, self._request_shutdown = started_at, version, request_shutdown

    def status(self) -> dict[str, Any]:
        deployments = self._services["deployments"]
        return {
            "deployments": len(deployments.list()),
            "pid": os.getpid(),
            "started_at": self._started_at,
            "version": self._version,
            "workspace": str(self._workspace.home),
            "clusters": len(self._services["clusters"].list()),
            "serving_template": deployments.template_status(),
        }

    def shutdown(self) -> dict[str, Any]:
        self._request_shutdown()
        return {"stopping": True, "pid": os.getpid()}


async def _body(request: Request) -> object:
    raw = await request.body()
    if not raw:
        return None
    try:
        return await request.json()
    except ValueError:
        raise InvalidInput("the request body is not valid JSON") from None


def _handler(services: Mapping[str, Any], operation: Operation) -> Callable[..., Any]:
    service, method = operation.handler.split(".")
    return getattr(services[service], method)


def _endpoint(
    services: Mapping[str, Any], operations: list[Operation], log_path: str
) -> Callable[[Request], Awaitable[Response]]:
    """One path's operations: check what was sent against the operation's declaration, run its handler, and turn
    its result or its MLOpsError into JSON. Anything else is a bug: logged with its traceback, answered with a
    line that points at the log (never the exception's own text, which may carry internals)."""
    by_method = {op.method: (op, _handler(services, op)) for op in operations}

    async def endpoint(request: Request) -> Response:
        operation, handler = by_method["GET" if request.method == "HEAD" else request.method]
        try:
            path = operation.checked_path(tuple(request.path_params[p.name] for p in operation.params))
            body = operation.checked_body(await _body(request)) if operation.body else None
            query = operation.checked_query(dict(request.query_params))
            result = await run_in_threadpool(handler, *path, *([body] if body is not None else []), **query)
            return JSONResponse(result, headers=operation.headers)
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


def build_app(workspace: Workspace, services: Mapping[str, Any], token: str) -> Starlette:
    """The API over ``services`` (``controller``, ``clusters``, ``deployments``, ``mlflow_ui``: each operation's
    ``handler`` names one of them and its method). Reachable by anything on loopback that holds the token, so
    names and bodies are checked here as at the REST face."""
    log_path = str(workspace.controller_log)
    by_path = sorted(CONTROLLER_OPERATIONS.values(), key=lambda op: op.path)
    # One Route per path with all its methods, so a 405 names every allowed method in its Allow header.
    routes = [
        Route(path, _endpoint(services, ops, log_path), methods=[op.method for op in ops])
        for path, grouped in groupby(by_path, key=lambda op: op.path)
        for ops in [list(grouped)]
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(_TokenAuth, token=token)],
        exception_handlers={HTTPException: _http_error},
    )
    # A path that matches no route is a JSON 404, never a redirect to another path ('/clusters/a/' is not 'a').
    app.router.redirect_slashes = False
    return app
