"""The REST face: one handler per path of the public operations in ``mlops_magics.api.routes``, a thin
translation of HTTP to a core call. Every error leaves as ``{code, message}``."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from itertools import groupby
from typing import Any, ClassVar

import orjson
import tornado.web
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from mlops_magics.api.routes import PUBLIC_OPERATIONS, Auth, Operation, Owner
from mlops_magics.controller import Controller
from mlops_magics.errors import InvalidInput, MLOpsError, NotFound, Unauthorized
from mlops_magics.server.routes import Page
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


class OperationHandler(MLOpsHandler):
    """The operations of one path of ``mlops_magics.api.routes``: a controller's operation goes to the controller
    through its client (the body validated by the operation's model before the controller is started or reached),
    a server's to ``ServerRoutes``. ``operations`` maps each method to its operation; ``route_class`` makes one
    subclass per path, with a method per declared operation (so a 405 lists exactly those)."""

    operations: ClassVar[dict[str, Operation]] = {}

    @classmethod
    def route_class(cls, operations: list[Operation]) -> type[OperationHandler]:
        by_method = {op.method: op for op in operations}
        params = operations[0].params
        by_token = {op.auth for op in operations} == {Auth.JOB_TOKEN}
        if not by_token and Auth.JOB_TOKEN in {op.auth for op in operations}:
            raise TypeError(f"{operations[0].path}: a job-token route shares its path with no other route")

        async def serve(self: OperationHandler, **path: str) -> None:
            await self.serve(path)

        # Every route needs Jupyter's authentication but the job-token one, which checks its own token.
        guarded = allow_unauthenticated(serve) if by_token else tornado.web.authenticated(serve)
        attributes: dict[str, Any] = {method.lower(): guarded for method in by_method}
        attributes |= {"operations": by_method, "path_checks": {p.name: p.check for p in params}}
        base = JobTokenHandler if by_token else cls
        return type(f"{operations[0].operation_id[0].upper()}{operations[0].operation_id[1:]}Handler", (base,), attributes)

    async def serve(self, path: dict[str, str]) -> None:
        op = self.operations[self.request.method or "GET"]
        values = tuple(path[param.name] for param in op.params)
        # Only the query parameters an operation declares travel on (a cache-buster or a stray one is ignored).
        query = {q.name: self.get_query_argument(q.name) for q in op.query if q.name in self.request.query_arguments}
        for name, value in op.headers.items():
            self.set_header(name, value)
        if op.owner is Owner.CONTROLLER:

            def work() -> Any:
                body = [self.json_body()] if op.body is not None else []
                return self.controller.call(op, *values, *body, **query)
        else:
            handler = getattr(self.settings["mlops_routes"], op.handler.removeprefix("server."))
            extra = {"token": self.bearer_token()} if op.auth is Auth.JOB_TOKEN else {}

            def work() -> Any:
                body = [op.checked_body(self.json_body())] if op.body is not None else []
                return handler(*op.checked_path(values), *body, **op.checked_query(query), **extra)

        if op.media_type == "text/html":
            await self.respond_page(work)
        else:
            await self.respond(work)

    async def respond_page(self, work: Callable[[], Page]) -> None:
        try:
            page = await asyncio.to_thread(work)
        except MLOpsError as exc:
            self.send_json_error(exc)
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", page.policy)
        super(APIHandler, self).finish(page.html)  # APIHandler.finish would label the page as JSON


class JobTokenHandler(OperationHandler):
    """The one route an outside caller reaches with a job's trigger token (``Authorization: Bearer TOKEN``)
    instead of Jupyter's: no Jupyter user is needed, and no ``_xsrf`` (a header token is not sent by a browser
    on its own, so there is no cross-site request to forge). The controller checks the token."""

    async def prepare(self) -> None:
        await APIHandler.prepare(self)
        if self._finished or self.request.method == "OPTIONS":
            return
        try:
            self.bearer_token()  # before the method or the name is looked at, as Jupyter's own check on every route
        except MLOpsError as exc:
            self.send_json_error(exc)
            return
        if self.request.method not in self.allowed_methods():
            raise tornado.web.HTTPError(405)
        try:
            for key, value in self.path_kwargs.items():
                self.path_checks[key](value)
        except MLOpsError as exc:
            self.send_json_error(exc)

    def check_xsrf_cookie(self) -> None:
        return None

    def bearer_token(self) -> str:
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
            raise Unauthorized("this route needs the job's trigger token: Authorization: Bearer TOKEN")
        return token.strip()


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


def _pattern(path: str) -> str:
    return re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path.removeprefix("/"))


# Patterns below /mlops/api/, one handler per path: the public operations of mlops_magics.api.routes.
ROUTES: list[tuple[str, type[MLOpsHandler]]] = [
    (_pattern(path), OperationHandler.route_class(list(operations)))
    for path, operations in groupby(sorted(PUBLIC_OPERATIONS, key=lambda op: op.path), key=lambda op: op.path)
]
