"""How every face reaches the workspace's controller: find it, start it when it is not running, call it."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

from mlops_magics.api.routes import CONTROLLER_OPERATIONS, SHORT_TIMEOUT_S, Operation
from mlops_magics.controller.info import EXIT_LOCK_HELD, ControllerInfo, read_info
from mlops_magics.controller.lock import ControllerLock
from mlops_magics.errors import ControllerUnavailable, InvalidInput, MLOpsError, error_from_dict
from mlops_magics.workspace import Workspace

log = logging.getLogger("mlops.controller.client")

START_TIMEOUT_S = 60


def _log_tail(workspace: Workspace, lines: int = 8) -> str:
    try:
        return "\n".join(workspace.controller_log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Controller:
    """A face's handle on the controller. ``notify`` receives the lines a person should see (restarts)."""

    def __init__(self, workspace: Workspace | None = None, notify: Callable[[str], None] | None = None) -> None:
        self.workspace = workspace or Workspace.current()
        self._notify = notify or (lambda line: log.warning("%s", line))
        self._info: ControllerInfo | None = None

    # --- finding and starting ------------------------------------------------------------------------
    def _answers(self, info: ControllerInfo) -> bool:
        try:
            response = httpx.get(f"{info.url}/status", headers=self._auth(info), timeout=3)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("pid") == info.pid

    def running(self) -> ControllerInfo | None:
        """The live controller's info, or None; never starts one."""
        info = read_info(self.workspace.controller_info)
        return info if info is not None and self._answers(info) else None

    def ensure(self) -> ControllerInfo:
        """The live controller, started first when none runs (and the caller told when it had died)."""
        info = self.running()
        if info is not None:
            self._info = info
            return info
        previous = read_info(self.workspace.controller_info)
        info = self._start()
        if previous is not None and previous.pid != info.pid:
            self._notify(f"mlops: the controller (pid {previous.pid}) had stopped; started a new one (pid {info.pid})")
        self._info = info
        return info

    def _start(self) -> ControllerInfo:
        self.workspace.ensure()
        lock = ControllerLock(self.workspace.controller_lock)
        process: subprocess.Popen[bytes] | None = None
        if not lock.is_held_elsewhere():
            with self.workspace.controller_log.open("ab") as log_file:
                # A session of its own: the controller outlives the kernel, terminal or server that started it.
                process = subprocess.Popen(
                    [sys.executable, "-m", "mlops_magics.controller", "--home", str(self.workspace.home)],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=log_file,
                    start_new_session=True,
                    close_fds=True,
                )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            info = read_info(self.workspace.controller_info)
            if info is not None and self._answers(info):
                return info
            # Another controller won the lock: keep waiting for that one to answer.
            if process is not None and process.poll() not in (None, EXIT_LOCK_HELD):
                raise ControllerUnavailable(
                    f"the controller could not start (exit {process.returncode}); "
                    f"its log {self.workspace.controller_log} ends with:\n{_log_tail(self.workspace)}"
                )
            time.sleep(0.1)
        raise ControllerUnavailable(
            f"the controller did not answer within {START_TIMEOUT_S} s; see {self.workspace.controller_log}"
        )

    # --- calling -------------------------------------------------------------------------------------
    @staticmethod
    def _auth(info: ControllerInfo) -> dict[str, str]:
        return {"Authorization": f"Bearer {info.token}"}

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = SHORT_TIMEOUT_S) -> Any:
        """Call the controller, starting it (or starting it again, once) when it does not answer."""
        info = self._info or self.ensure()
        try:
            response = self._send(info, method, path, body, timeout)
        except httpx.TransportError:
            self._info = None
            info = self.ensure()
            response = self._send(info, method, path, body, timeout)
        try:
            payload = response.json()
        except ValueError:
            raise MLOpsError(
                f"the controller answered {method} {path} with {response.status_code} and no JSON; "
                f"see {self.workspace.controller_log}"
            ) from None
        if response.status_code >= 400:
            raise error_from_dict(payload if isinstance(payload, dict) else {})
        return payload

    def _send(self, info: ControllerInfo, method: str, path: str, body: dict[str, Any] | None, timeout: float) -> httpx.Response:
        try:
            content = None if body is None else json.dumps(body, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:  # NaN, infinities or objects JSON has no words for
            raise InvalidInput(f"the request cannot be sent as JSON: {exc}") from None
        headers = {**self._auth(info), "Content-Type": "application/json"} if content is not None else self._auth(info)
        return httpx.request(method, f"{info.url}{path}", content=content, headers=headers, timeout=timeout)

    # --- operations: every controller route of mlops_magics.api.routes, by name ------------------------
    def call(self, operation: Operation | str, *values: Any, **query: Any) -> Any:
        """Run one of the controller's operations: ``values`` are its path values (each checked, quoted whole),
        then its body (a dict or the body's model, validated before anything is sent), then its query values in
        order; ``query`` names them instead. ``controller.deploy(name, spec)`` is ``call("deploy", name, spec)``."""
        op = operation if isinstance(operation, Operation) else _operation(operation)
        count = len(op.params)
        path, rest = values[:count], list(values[count:])
        body = op.checked_body(rest.pop(0) if rest else None) if op.body is not None else None
        if len(rest) > len(op.query):
            raise InvalidInput(f"{op.name} takes at most {count + bool(op.body) + len(op.query)} value(s)")
        query = {**{param.name: value for param, value in zip(op.query, rest, strict=False)}, **query}
        url = op.url(path, query)
        return self.request(op.method, url, None if body is None else body.to_dict(), timeout=op.timeout)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        """``controller.NAME(...)`` for every controller operation NAME (``deploy``, ``start_cluster``, ...)."""
        if name.startswith("_") or name not in CONTROLLER_OPERATIONS:
            raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")
        return functools.partial(self.call, CONTROLLER_OPERATIONS[name])

    def shutdown(self, wait_s: float = 30) -> int | None:
        """Stop the controller if it runs; return the pid that was stopped."""
        info = self.running()
        if info is None:
            return None
        with contextlib.suppress(httpx.TransportError):
            self._send(info, "POST", "/shutdown", None, SHORT_TIMEOUT_S)
        lock = ControllerLock(self.workspace.controller_lock)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and lock.is_held_elsewhere():
            time.sleep(0.1)
        self._info = None
        return info.pid


def _operation(name: str) -> Operation:
    try:
        return CONTROLLER_OPERATIONS[name]
    except KeyError:
        raise InvalidInput(
            f"the controller has no operation {name!r}; known: {', '.join(sorted(CONTROLLER_OPERATIONS))}"
        ) from None
