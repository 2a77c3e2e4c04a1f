"""The controller's handle on the serving template (``mlops_magics.serving.template``): a warm process with
everything a model deployment imports already loaded, which forks deployment processes on request.

Why: a fresh ``python -m mlops_magics.serving`` spends ~2.5 s on imports before it loads its model; a fork of
the template starts with them done, so a deployment (or a crashed one's replacement) answers in well under a
second. It is started once, in the background, when the supervisor starts; started again when it died; stopped
(its stdin closed) when the controller stops. When it cannot be used, the caller starts a fresh process.
``MLOPS_SERVING_TEMPLATE=0`` in the controller's environment turns it off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from typing import Any

from mlops_magics.serving.warmup import expected_warm_up, record_warm_up
from mlops_magics.workspace import Workspace

log = logging.getLogger("mlops.controller.services.template")
ENV = "MLOPS_SERVING_TEMPLATE"
READY_TIMEOUT_S = 20  # its imports take ~2.5 s; even a slow start beats a fresh interpreter's
REPLY_TIMEOUT_S = 10  # a fork takes milliseconds
RETRY_AFTER_S = 30  # after a template that failed to start, before the next try


class TemplateUnavailable(Exception):
    """The template cannot start this deployment; the caller starts a fresh process instead."""


class ServingTemplate:
    def __init__(self, workspace: Workspace, enabled: bool | None = None) -> None:
        self.workspace = workspace
        self.enabled = os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off") if enabled is None else enabled
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._buffer = b""
        self._retry_at = 0.0
        self._started_at = 0.0
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The template's pid while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start the template when none runs; returns at once (it imports in its own process)."""
        with self._lock:
            self._start_locked()

    def revive(self) -> None:
        """Start it again if it died, and notice when it is ready (the watcher calls this); never waits for a
        spawn in progress."""
        if self._lock.acquire(blocking=False):
            try:
                self._start_locked()
                if self._process is not None and not self._ready:
                    self._take_ready(time.monotonic())  # only what has arrived: no waiting
            finally:
                self._lock.release()

    def status(self) -> dict[str, Any]:
        """``off``, ``warming``, ``ready`` or ``down`` (not running: failed recently), with the seconds a warm-up
        takes here and, while it warms, how long it has been at it (a face says what the first deploy waits for)."""
        if not self.enabled:
            return {"state": "off", "warm_up_s": None, "warming_for_s": None}
        state = "down" if self.pid is None else "ready" if self._ready else "warming"
        warming_for = round(time.monotonic() - self._started_at, 1) if state == "warming" else None
        return {"state": state, "warm_up_s": round(expected_warm_up(self.workspace), 1), "warming_for_s": warming_for}

    def _take_ready(self, deadline: float) -> bool:
        """Read the template's ready line (waiting until ``deadline``); on it, record how long the warm-up took."""
        assert self._process is not None
        ready = self._read_line(deadline)
        if ready is None or not ready.get("ready"):
            return False
        self._ready = True
        took = time.monotonic() - self._started_at
        log.info(
            "serving template pid %s ready %.1f s after its start (imports took %s s)",
            self._process.pid,
            took,
            ready.get("seconds"),
        )
        if ready.get("missing"):
            log.info("serving template could not preload: %s", ", ".join(map(str, ready["missing"])))
        record_warm_up(self.workspace, took)
        return True

    def _start_locked(self) -> None:
        if not self.enabled or self.pid is not None:
            return
        if self._process is not None:
            log.warning("the serving template (pid %s) exited with %s", self._process.pid, self._process.returncode)
            self._discard()
        now = time.monotonic()
        if now < self._retry_at:
            return
        # Its stderr is the controller's log. close_fds (the default): the controller's socket, database and lock
        # files stay here. The controller's process group: a controller killed with its group takes it along.
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "mlops_magics.serving.template", "--home", str(self.workspace.home)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=str(self.workspace.home.parent),
                close_fds=True,
            )
            self._started_at = now
        except OSError as exc:
            log.warning("could not start the serving template: %s", exc)
            self._retry_at = time.monotonic() + RETRY_AFTER_S
        self._ready, self._buffer = False, b""

    def _discard(self, grace: float = 0.0) -> None:
        """Stop the current template: its stdin closes (it exits at once when idle), then a kill after ``grace``
        (one still importing reads nothing yet). The deployments it forked are in sessions of their own: they
        stay up. One that dies young is not replaced before ``RETRY_AFTER_S``: no loop of imports on a broken
        install (deployments start as fresh processes meanwhile)."""
        process, self._process, self._ready, self._buffer = self._process, None, False, b""
        if process is None:
            return
        if time.monotonic() - self._started_at < RETRY_AFTER_S:
            self._retry_at = max(self._retry_at, self._started_at + RETRY_AFTER_S)
        for pipe in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.kill()
            process.wait()

    def _give_up(self, why: str) -> TemplateUnavailable:
        """A template that did not work: stopped, not tried again for a while."""
        self._discard()
        self._retry_at = time.monotonic() + RETRY_AFTER_S
        return TemplateUnavailable(why)

    def _read_line(self, deadline: float) -> dict[str, Any] | None:
        """The template's next answer, or None when it closed its end or the deadline passed."""
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = max(0.0, deadline - time.monotonic())  # a deadline now: only what has arrived
            if not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            answer = json.loads(line)
        except ValueError:
            return None
        return answer if isinstance(answer, dict) else None

    @staticmethod
    def _exit_code(process: subprocess.Popen[bytes]) -> int | None:
        """Its exit status when it is exiting (its pipe closes a moment before it can be reaped), else None."""
        try:
            return process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return None

    def spawn(self, argv: list[str], env: dict[str, str], log_path: str, cwd: str) -> int:
        """Fork a deployment process (``python -m mlops_magics.serving`` ``argv``) from the template: its pid."""
        with self._lock:
            if not self.enabled:
                raise TemplateUnavailable(f"turned off by {ENV}=0")
            self._start_locked()
            process = self._process
            if process is None or process.stdin is None:
                raise TemplateUnavailable(f"none runs: it failed recently (tried again within {RETRY_AFTER_S} s)")
            if not self._ready and not self._take_ready(time.monotonic() + READY_TIMEOUT_S):
                code = self._exit_code(process)
                why = f"it exited with {code}" if code is not None else f"not ready within {READY_TIMEOUT_S} s"
                raise self._give_up(f"pid {process.pid} is unusable: {why}; see the controller log")
            request = {"argv": argv, "env": env, "log": log_path, "cwd": cwd}
            try:
                process.stdin.write(json.dumps(request).encode() + b"\n")
                process.stdin.flush()
            except OSError as exc:
                self._discard()  # it died since it was ready
                raise TemplateUnavailable(f"it went away ({exc})") from None
            answer = self._read_line(time.monotonic() + REPLY_TIMEOUT_S)
            if answer is None and self._exit_code(process) is not None:
                self._discard()
                raise TemplateUnavailable(f"it exited with {process.returncode}")
            if answer is None:
                raise self._give_up(f"it did not answer within {REPLY_TIMEOUT_S} s")
            if not isinstance(answer.get("pid"), int):
                raise TemplateUnavailable(f"it could not fork: {answer.get('error')}")
            return answer["pid"]

    def close(self) -> None:
        """Controller shutdown: the template exits when its stdin closes; the deployments it forked keep running."""
        with self._lock:
            self._retry_at = float("inf")
            self._discard(grace=2.0 if self._ready else 0.0)  # one still importing has forked nothing yet
