"""The controller's deployments: started, watched (health every second), restarted with backoff when they
die, swapped to a new model version without a failed request, rolled back, stopped, restored after a
controller restart (a live deployment is adopted, not restarted).

Bearer tokens: ``state.db`` keeps only a token's SHA-256, and a deployment process is given that digest (as a
file it checks requests against), never the token; so a restart needs no token. The token itself is written
once, owner-only, to ``deployments/<name>/token``, and read back only on request (``mlops deploy token``)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mlops_magics import names
from mlops_magics.api.deployments import DeploymentSpec
from mlops_magics.controller.services.template import ServingTemplate, TemplateUnavailable
from mlops_magics.errors import Conflict, InvalidInput, MLOpsError, NotFound
from mlops_magics.serving import tokens
from mlops_magics.serving.versions import pinned_spec
from mlops_magics.state import DeploymentRecord, Event
from mlops_magics.workspace import Workspace, private_folder, write_private

log = logging.getLogger("mlops.controller.services.deployments")
START_TIMEOUT_S = 120
SWAP_TIMEOUT_S = 120
BACKOFF_S = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
GIVE_UP_AFTER = 6  # failed starts in a row


@dataclass
class Running:
    pid: int
    process: subprocess.Popen[bytes] | None  # None when not our child: forked by the serving template, or adopted
    failures: int = 0
    next_try: float = 0.0
    last_health: float = 0.0


@dataclass
class Retry:
    """A deployment wanted running with no process: to restore at controller start, or whose start failed.

    The watcher starts it when ``next_try`` comes, on the path (and with the backoff) of a crash restart."""

    failures: int = 0
    next_try: float = 0.0


class DeploymentSupervisor:
    def __init__(self, workspace: Workspace, sessions: sessionmaker[Session], template: ServingTemplate | None = None) -> None:
        self.workspace = workspace
        self._sessions = sessions
        self._running: dict[str, Running] = {}
        self._pending: dict[str, Retry] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="deployments", daemon=True)
        # Model deployments fork from a warm process that has their imports done (MLOPS_SERVING_TEMPLATE=0: off);
        # the controller starts it before its own imports.
        self._template = template or ServingTemplate(workspace)
        # Called after each swap that is not a rollback: (name, model, version now, version before).
        self.swap_listeners: list[Callable[[str, str, str | None, str | None], None]] = []

    def _lock(self, name: str) -> threading.RLock:
        """One lock per deployment: acting on one (seconds, to start or swap) never blocks another, or a view."""
        with self._locks_guard:
            return self._locks.setdefault(name, threading.RLock())

    # --- files ---------------------------------------------------------------------------------------
    def folder(self, name: str) -> Path:
        return self.workspace.deployment(name)

    def _state(self, name: str) -> dict[str, Any]:
        try:
            return json.loads((self.folder(name) / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def _record(self, session: Session, name: str) -> DeploymentRecord:
        record = session.get(DeploymentRecord, name)
        if record is None:
            raise NotFound(f"no deployment named {name!r}; start one with %deploy MODEL --name {name}")
        return record

    def _wanted(self, name: str) -> DeploymentRecord | None:
        """The deployment's record while it is wanted running; None once it is stopped or gone."""
        with self._sessions() as session:
            record = session.get(DeploymentRecord, name)
        return record if record is not None and record.desired == "running" else None

    def _set(self, name: str, **fields: Any) -> None:
        with self._sessions.begin() as session:
            record = self._record(session, name)
            for key, value in fields.items():
                setattr(record, key, value)

    def _event(self, kind: str, name: str, message: str) -> None:
        with self._sessions.begin() as session:
            session.add(Event(kind=kind, subject=name, message=message))
        log.info("%s %s: %s", kind, name, message)

    # --- views ---------------------------------------------------------------------------------------
    def _view(self, record: DeploymentRecord) -> dict[str, Any]:
        try:
            spec: DeploymentSpec | None = DeploymentSpec.from_dict(record.spec)
        except InvalidInput:
            spec = None  # saved before specs were checked: shown (failed, with its reason), never run
        state = self._state(record.name) if spec is not None and spec.model else {}
        url = None
        if spec is not None:
            url = f"http://{'127.0.0.1' if spec.host in ('0.0.0.0', '::') else spec.host}:{spec.port}"
        return {
            "name": record.name,
            "spec": None if spec is None else spec.to_dict(),
            "status": record.status,
            "reason": record.reason,
            "url": url,
            "pid": record.pid,
            "workers": state.get("workers", []),
            "model_uri": state.get("model_uri"),
            "version": state.get("version"),
            "previous_model": state.get("previous_model"),
            "previous_version": state.get("previous_version"),
            "restarts": record.restarts + int(state.get("restarts", 0)),
            # Whether requests need a token; the token itself only through token(), never in a view.
            "has_token": record.token_sha256 is not None,
            "created_at": record.created_at.isoformat(),
        }

    def list(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            records = session.scalars(select(DeploymentRecord).order_by(DeploymentRecord.created_at)).all()
            return [self._view(r) for r in records if r.desired == "running" or r.status == "failed"]

    def get(self, name: str) -> dict[str, Any]:
        with self._sessions() as session:
            return self._view(self._record(session, name))

    def template_status(self) -> dict[str, Any]:
        """The serving template's state: what a first deploy waits for while it warms up."""
        return self._template.status()

    def logs(self, name: str, lines: int = 200) -> dict[str, Any]:
        self.get(name)
        path = self.folder(name) / "server.log"
        try:
            text = path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            text = []
        return {"name": name, "lines": text}

    # --- processes -----------------------------------------------------------------------------------
    def _launch(self, name: str, spec: DeploymentSpec, token_sha256: str | None) -> Running:
        """Start the deployment's process: a model's forked from the serving template when it can, else (and
        for a command or an app) a fresh one. Either way the same argv, env, cwd, log and a session of its own.

        A model deployment checks requests against the token's digest file, written here from ``state.db``;
        your own app gets the digest as ``MLOPS_SERVING_TOKEN_SHA256`` and checks it itself."""
        folder = private_folder(self.folder(name))
        (folder / "state.json").unlink(missing_ok=True)
        digest_file = self.workspace.deployment_token_digest(name)
        if token_sha256:
            tokens.write_digest(digest_file, token_sha256)
        else:
            digest_file.unlink(missing_ok=True)
        env = dict(os.environ, PORT=str(spec.port), HOST=spec.host, MLOPS_HOME=str(self.workspace.home))
        env["PATH"] = f"{os.path.dirname(sys.executable)}:{env.get('PATH', '')}"
        env.pop("MLOPS_SERVING_TOKEN_SHA256", None)
        if token_sha256 and not spec.model:
            env["MLOPS_SERVING_TOKEN_SHA256"] = token_sha256
        if spec.model:
            command = [
                sys.executable, "-m", "mlops_magics.serving", "--name", name, "--model", spec.model,
                "--host", spec.host, "--port", str(spec.port), "--workers", str(spec.workers),
                "--log-rate", str(spec.log_rate), "--max-body", str(spec.max_body),
                "--requests-dir", str(self.workspace.requests / name),
                "--state-file", str(folder / "state.json"), "--control-file", str(folder / "control.json"),
            ]  # fmt: skip
            if token_sha256:
                command += ["--token-digest", str(digest_file)]
        elif spec.app:
            command = [
                sys.executable, "-m", "uvicorn", spec.app, "--host", spec.host, "--port", str(spec.port),
                "--workers", str(spec.workers),
            ]  # fmt: skip
        else:
            command = ["/bin/sh", "-c", str(spec.command)]
        logfile, cwd = folder / "server.log", str(self.workspace.home.parent)
        if spec.model and self._template.enabled:
            try:
                return Running(self._template.spawn(command, env, str(logfile), cwd), None)
            except TemplateUnavailable as exc:
                log.warning("deployment %s starts in a fresh process (serving template: %s)", name, exc)
        # A session of its own: a deployment outlives a crashed controller and is adopted by the next one.
        with logfile.open("ab") as out:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, cwd=cwd, start_new_session=True,
            )  # fmt: skip
        return Running(process.pid, process)

    def _healthy(self, spec: DeploymentSpec, name: str) -> bool:
        host = "127.0.0.1" if spec.host in ("0.0.0.0", "::") else spec.host
        path = "/health" if spec.model else "/"
        try:
            response = httpx.get(f"http://{host}:{spec.port}{path}", timeout=1.0)
        except httpx.HTTPError:
            return False
        if spec.model:
            return response.status_code == 200 and self._state(name).get("status") == "healthy"
        return response.status_code < 500

    @staticmethod
    def _alive(running: Running) -> bool:
        if running.process is not None:
            return running.process.poll() is None
        try:
            return psutil.Process(running.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def _port_taken(self, spec: DeploymentSpec) -> bool:
        host = "127.0.0.1" if spec.host in ("0.0.0.0", "::") else spec.host
        with socket.socket() as probe:
            probe.settimeout(0.5)
            return probe.connect_ex((host, spec.port)) == 0

    def _wait_healthy(self, name: str, spec: DeploymentSpec, running: Running, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive(running):
                state = self._state(name)
                tail = "\n".join(self.logs(name, 6)["lines"])
                raise MLOpsError(f"deployment {name!r} exited while starting: {state.get('error') or tail}")
            if self._healthy(spec, name):
                return
            time.sleep(0.1)
        raise MLOpsError(f"deployment {name!r} was not healthy within {timeout:.0f} s; see `mlops deploy logs {name}`")

    # --- actions -------------------------------------------------------------------------------------
    def deploy(self, name: str, spec: DeploymentSpec) -> dict[str, Any]:
        """Start a deployment, or swap the model of a running one (same name, same port)."""
        names.deployment_name(name)
        with self._lock(name):
            with self._sessions() as session:
                existing = session.get(DeploymentRecord, name)
            if existing is not None and existing.desired == "running" and name in self._running:
                return self._swap_or_refuse(name, existing, spec)
            if self._port_taken(spec):
                raise Conflict(f"port {spec.port} on {spec.host} is already in use; choose another with --port")
            # A new token each start; the file first, so a recorded digest always has its token on disk.
            token_sha256 = self._keep_token(name, tokens.issue()) if spec.token else None
            if token_sha256 is None:
                self._forget_token_files(name)
            with self._sessions.begin() as session:
                record = session.get(DeploymentRecord, name)
                if record is None:
                    record = DeploymentRecord(name=name, spec=spec.to_dict())
                    session.add(record)
                record.spec, record.desired, record.status, record.reason = spec.to_dict(), "running", "starting", None
                record.token_sha256, record.restarts = token_sha256, 0
            self._start(name, spec, token_sha256)
            return self.get(name)

    def _start(self, name: str, spec: DeploymentSpec, token_sha256: str | None) -> None:
        running = self._launch(name, spec, token_sha256)
        self._running[name] = running
        self._set(name, pid=running.pid, status="starting")
        try:
            self._wait_healthy(name, spec, running, START_TIMEOUT_S)
        except MLOpsError as exc:
            self._kill(running)
            self._running.pop(name, None)
            self._set(name, status="failed", reason=exc.message, desired="stopped")
            raise
        self._set(name, status="healthy", reason=None)
        self._event("deployment.start", name, spec.describe())

    def _swap_or_refuse(self, name: str, existing: DeploymentRecord, spec: DeploymentSpec) -> dict[str, Any]:
        current = DeploymentSpec.from_dict(existing.spec)
        if not (current.model and spec.model) or {**current.to_dict(), "model": None} != {**spec.to_dict(), "model": None}:
            raise Conflict(f"deployment {name!r} is running ({current.describe()}); stop it first, or deploy a model to swap in")
        return self.swap(name, spec.model)

    def swap(self, name: str, model: str, rollback: bool = False) -> dict[str, Any]:
        """Swap the deployment's model without a failed request; tell the swap's listeners (not of a rollback)."""
        view, before = self._swap(name, model)
        if not rollback:
            for listener in self.swap_listeners:
                try:
                    listener(name, model, view.get("version"), before)
                except Exception:
                    log.exception("deployment %s: a swap listener failed", name)
        return view

    def _swap(self, name: str, model: str) -> tuple[dict[str, Any], str | None]:
        with self._lock(name):
            view = self.get(name)
            running = self._running.get(name)
            if running is None or not (view["spec"] or {}).get("model"):
                raise Conflict(f"deployment {name!r} is not a running model deployment")
            before = self._state(name).get("swaps", 0)
            (self.folder(name) / "control.json").write_text(json.dumps({"model": model}))
            os.kill(running.pid, signal.SIGUSR1)
            deadline = time.monotonic() + SWAP_TIMEOUT_S
            while time.monotonic() < deadline:
                state = self._state(name)
                if state.get("swaps", 0) > before:
                    with self._sessions.begin() as session:
                        record = self._record(session, name)
                        record.spec = {**record.spec, "model": model}
                    self._event("deployment.swap", name, f"{state.get('previous_model')} -> {model}")
                    return self.get(name), view.get("version")
                if state.get("error") and "swap failed" in state["error"]:
                    raise MLOpsError(state["error"])
                time.sleep(0.1)
            raise MLOpsError(f"the swap of {name!r} to {model} did not finish within {SWAP_TIMEOUT_S} s")

    def rollback(self, name: str) -> dict[str, Any]:
        """Swap back to exactly the version that served before the last swap: not its alias again, which may
        point elsewhere by now. The deployment then names that version (``penguins/1``), so a restart keeps it."""
        state = self._state(name)
        previous = state.get("previous_uri") or state.get("previous_model")  # a state file from before pinning
        if not previous:
            raise Conflict(f"deployment {name!r} has no previous model to roll back to")
        return self.swap(name, pinned_spec(previous), rollback=True)

    # --- tokens --------------------------------------------------------------------------------------
    def _keep_token(self, name: str, token: str) -> str:
        """Write the token to its owner-only file; return its digest, the one thing ``state.db`` keeps."""
        private_folder(self.folder(name))
        write_private(self.workspace.deployment_token(name), token)
        return tokens.digest(token)

    def _forget_token_files(self, name: str) -> None:
        self.workspace.deployment_token(name).unlink(missing_ok=True)
        self.workspace.deployment_token_digest(name).unlink(missing_ok=True)

    def _with_token(self, name: str) -> DeploymentRecord:
        """The deployment's record; a Conflict when its requests need no token."""
        with self._sessions() as session:
            record = self._record(session, name)
        if record.token_sha256 is None:
            raise Conflict(f"deployment {name!r} takes requests without a token; deploy it again with --token to require one")
        return record

    def token(self, name: str) -> dict[str, Any]:
        """The deployment's bearer token, for the one who asks for it explicitly (never part of a view)."""
        expected = self._with_token(name).token_sha256
        path = self.workspace.deployment_token(name)
        try:
            token = path.read_text().strip()
        except OSError:
            token = ""
        if tokens.digest(token) != expected:
            raise Conflict(
                f"the token of {name!r} is no longer in {path} (only its hash is kept); "
                f"issue a new one with `mlops deploy token {name} --rotate`"
            )
        return {"name": name, "token": token}

    def rotate_token(self, name: str) -> dict[str, Any]:
        """Issue a new token. A model deployment accepts only the new one as soon as this returns (its workers
        read the digest file, held open, on each request); your own app is restarted: it read the digest at start."""
        with self._lock(name):
            spec = DeploymentSpec.from_dict(self._with_token(name).spec)  # the lock holds it: no swap meanwhile
            sha256 = self._keep_token(name, token := tokens.issue())
            self._set(name, token_sha256=sha256)
            tokens.write_digest(self.workspace.deployment_token_digest(name), sha256)  # in place: read at once
            running = self._running.get(name)
            if running is not None and not spec.model:
                self._kill(running)
                self._running.pop(name, None)
                self._start(name, spec, sha256)
            self._event("deployment.token", name, "a new token was issued; the previous one no longer works")
            return {"name": name, "token": token}

    def stop(self, name: str) -> dict[str, Any]:
        with self._lock(name):
            self._set(name, desired="stopped")
            running = self._running.pop(name, None)
            if running is not None:
                self._kill(running)
            # Its token ends with it (a new start makes a new one): no secret is left behind for nothing.
            self._forget_token_files(name)
            self._set(name, status="stopped", reason=None, pid=None, token_sha256=None)
            self._event("deployment.stop", name, "stopped on request")
            return self.get(name)

    @staticmethod
    def _kill(running: Running, grace: float = 30) -> None:  # a deployment drains for up to ~17 s
        try:
            os.kill(running.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and DeploymentSupervisor._alive(running):  # a zombie counts as gone
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(running.pid, signal.SIGKILL)  # anything it left behind

    # --- watching ------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Adopt the deployments that survived the previous controller; hand the others to the watcher, which
        starts them on the path of a crash restart (same backoff). Each record apart: a bad one is marked failed
        with its reason and stops neither the others nor the watching, which starts first."""
        try:
            self._template.start()  # in the background: its imports overlap with the adoptions
        except Exception:
            log.exception("the serving template did not start; deployments start in fresh processes")
        if not self._watcher.is_alive():
            self._watcher.start()
        with self._sessions() as session:
            wanted = session.scalars(select(DeploymentRecord).where(DeploymentRecord.desired == "running")).all()
        for record in wanted:
            try:
                self._restore(record)
            except Exception as exc:
                log.exception("restoring deployment %s failed", record.name)
                self._mark_failed(record.name, f"could not be restored ({type(exc).__name__}: {exc}); retrying", retry=True)

    def _restore(self, record: DeploymentRecord) -> None:
        try:
            spec = DeploymentSpec.from_dict(record.spec)
        except InvalidInput as exc:
            # It can never start as saved: marked, not retried; deploying it again with a valid spec replaces it.
            self._mark_failed(record.name, f"its saved spec is not valid: {exc.message}; deploy it again")
            return
        with self._lock(record.name):
            if record.pid and psutil.pid_exists(record.pid) and self._healthy(spec, record.name):
                self._running[record.name] = Running(record.pid, None)
                self._set(record.name, status="healthy")
                self._event("deployment.adopt", record.name, f"adopted live process {record.pid}")
                return
            self._pending[record.name] = Retry()
            self._set(record.name, status="starting", reason=None, pid=None)

    def _mark_failed(self, name: str, reason: str, retry: bool = False) -> None:
        """Show a failure on its record; with ``retry`` the watcher tries again after the first backoff step."""
        log.warning("deployment %s: %s", name, reason)
        if retry:
            self._pending[name] = Retry(1, time.monotonic() + BACKOFF_S[1])
        try:
            self._set(name, status="failed", reason=reason, pid=None)
        except Exception:  # the record itself cannot be written (gone, database busy): the log has it
            log.exception("marking deployment %s failed did not work", name)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self._template.revive()
            except Exception:  # no template means fresh processes, never an end to the watching
                log.exception("reviving the serving template failed")
            for name in [*self._pending, *self._running]:
                try:
                    self._check(name)
                except Exception:  # one bad deployment must not stop the watching of the others
                    log.exception("watching deployment %s failed", name)

    def _check(self, name: str) -> None:
        lock = self._lock(name)
        if not lock.acquire(blocking=False):
            return  # being started, swapped or stopped right now: that action watches it
        try:
            fresh = self._check_pending(name) if name in self._pending else self._check_locked(name)
        finally:
            lock.release()
        if fresh is None:
            return
        name, spec, running = fresh
        try:
            self._wait_healthy(name, spec, running, START_TIMEOUT_S)
            running.failures = 0
            self._set(name, status="healthy", reason=None)
        except MLOpsError as exc:
            self._set(name, status="unhealthy", reason=exc.message)

    def _check_locked(self, name: str) -> tuple[str, DeploymentSpec, Running] | None:
        """Health of a live deployment; a relaunch of a dead one (returned, to be waited for unlocked)."""
        running = self._running.get(name)
        if running is None:
            return None
        record = self._wanted(name)
        if record is None:
            return None
        spec = DeploymentSpec.from_dict(record.spec)
        now = time.monotonic()
        if self._alive(running):
            if now - running.last_health >= 1.0:
                running.last_health = now
                status = "healthy" if self._healthy(spec, name) else "unhealthy"
                if status != record.status and record.status != "starting":
                    self._set(name, status=status)
            return None
        if now < running.next_try:
            return None
        if running.failures >= GIVE_UP_AFTER:
            tail = " | ".join(self.logs(name, 3)["lines"])
            self._set(name, status="failed", reason=f"crashed {running.failures} times in a row; last log: {tail}")
            self._running.pop(name, None)
            return None
        self._event("deployment.crash", name, f"process {running.pid} died; restarting")
        return self._relaunch(name, spec, record.token_sha256, running.failures, record.restarts + 1)

    def _check_pending(self, name: str) -> tuple[str, DeploymentSpec, Running] | None:
        """Start a deployment that is wanted and has no process, when its backoff allows (to be waited for unlocked)."""
        retry = self._pending.get(name)
        if retry is None:
            return None
        record = self._wanted(name)
        if record is None or name in self._running:
            self._pending.pop(name, None)  # stopped, or started by a deploy in the meantime
            return None
        if time.monotonic() < retry.next_try:
            return None
        self._pending.pop(name, None)
        if retry.failures >= GIVE_UP_AFTER:
            self._mark_failed(name, f"could not be started {retry.failures} times in a row; see `mlops deploy logs {name}`")
            return None
        try:
            spec = DeploymentSpec.from_dict(record.spec)
        except InvalidInput as exc:
            self._mark_failed(name, f"its saved spec is not valid: {exc.message}; deploy it again")
            return None
        self._event("deployment.restore", name, "wanted running with no live process; starting it")
        return self._relaunch(name, spec, record.token_sha256, retry.failures, record.restarts)

    def _relaunch(
        self, name: str, spec: DeploymentSpec, token_sha256: str | None, failures: int, restarts: int
    ) -> tuple[str, DeploymentSpec, Running] | None:
        """The one way the watcher starts a process again: after a crash, or for a restore; backoff grows."""
        now = time.monotonic()
        backoff = BACKOFF_S[min(failures + 1, len(BACKOFF_S) - 1)]
        try:
            fresh = self._launch(name, spec, token_sha256)
        except Exception as exc:  # not even a process (fork, template, folder): retried like a crash
            log.exception("starting deployment %s failed", name)
            self._running.pop(name, None)
            self._pending[name] = Retry(failures + 1, now + backoff)
            self._set(name, status="failed", reason=f"could not start its process ({type(exc).__name__}: {exc}); retrying")
            return None
        fresh.failures, fresh.next_try = failures + 1, now + backoff
        self._running[name] = fresh
        self._set(name, pid=fresh.pid, status="starting", restarts=restarts)
        return name, spec, fresh

    def close(self) -> None:
        """Controller shutdown: deployments keep running (the next controller adopts them); the template stops."""
        self._stop.set()
        self._template.close()
