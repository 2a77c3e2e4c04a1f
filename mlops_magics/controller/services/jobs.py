"""Jobs: notebooks run by the controller on a schedule, by a call, on new data or on an event.

Every trigger ends in one place, ``_enqueue``, which writes the run's record with a key unique per job (a schedule
time, a file, a call): one trigger never makes two runs, whatever restarts happen. A run is executed by its own
process (``python -m mlops_magics.jobs.runner RUN_DIR``, a session of its own): it outlives a controller that is
killed, and the next controller adopts it or reads how it ended. A standby runner with its kernel already started
(controller/services/standby_pool.py) takes a run when one is ready, so the first cell starts at once.
Its record in ``state.db`` is the truth about what was asked; the run folder (progress, result, output notebook,
log) is what happened.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mlops_magics import names
from mlops_magics.api.clusters import ClusterSpec
from mlops_magics.api.jobs import Concurrency, JobEvent, JobSpec, Missed, RunRequest, RunState, TokenTrigger, TriggerKind
from mlops_magics.controller.services.standby_pool import StandbyPool
from mlops_magics.errors import Conflict, InvalidInput, NotFound, Unauthorized
from mlops_magics.jobs import notebooks, schedule
from mlops_magics.state.models import Event, JobDataFileRecord, JobRecord, JobRunRecord, utcnow
from mlops_magics.workspace import Workspace, private_folder, write_private

log = logging.getLogger("mlops.controller.jobs")

TRIGGER_ROUTE = "/mlops/api/jobs/{name}/trigger"
DATA_DEBOUNCE_MS = 500
LOG_TAIL_MAX = 10_000


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat(timespec="seconds")


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None or moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # type: ignore[union-attr]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class JobSupervisor:
    def __init__(self, workspace: Workspace, sessions: sessionmaker[Session], clusters: Any = None) -> None:
        self.workspace = workspace
        self._sessions = sessions
        self._clusters = clusters
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._processes: dict[tuple[str, int], subprocess.Popen[bytes] | int] = {}
        self._closing = False
        self._schedules_changed = True  # read the schedules from the records at the scheduler's next wake
        self._threads: list[threading.Thread] = []
        self._standbys = StandbyPool(workspace)

    # --- records -------------------------------------------------------------------------------------------
    def _job(self, session: Session, name: str) -> JobRecord:
        record = session.get(JobRecord, names.job_name(name))
        if record is None:
            raise NotFound(f"no job {name!r}; `mlops job list` shows the jobs")
        return record

    def _spec(self, record: JobRecord) -> JobSpec:
        return JobSpec.from_dict(record.spec)

    def _event(self, session: Session, kind: str, subject: str, message: str) -> None:
        session.add(Event(kind=kind, subject=subject[:128], message=message))

    def _run_record(self, session: Session, name: str, number: object) -> JobRunRecord:
        number = int(names.run_number(str(number)))
        record = session.scalar(select(JobRunRecord).where(JobRunRecord.job == name, JobRunRecord.number == number))
        if record is None:
            raise NotFound(f"job {name!r} has no run {number}")
        return record

    # --- views ---------------------------------------------------------------------------------------------
    def _run_view(self, record: JobRunRecord) -> dict[str, Any]:
        folder = self.workspace.job_run(record.job, record.number)
        state = RunState(record.state)
        cells_done, cells_total = record.cells_done, record.cells_total
        if state is RunState.RUNNING:
            progress = _read_json(folder / "progress.json") or {}
            cells_done = int(progress.get("cells_done", cells_done) or 0)
            cells_total = progress.get("cells_total", cells_total)
        started, finished = _aware(record.started_at), _aware(record.finished_at)
        duration = (finished - started).total_seconds() if started and finished else None
        output, run_log = folder / "output.ipynb", folder / "run.log"
        return {
            "job": record.job,
            "number": record.number,
            "state": state,
            "reason": record.reason,
            "trigger": TriggerKind(record.trigger),
            "trigger_detail": record.trigger_detail,
            "parameters": record.parameters,
            "attempt": record.attempt,
            "cells_done": cells_done,
            "cells_total": cells_total,
            "queued_at": _iso(record.queued_at),
            "started_at": _iso(started),
            "finished_at": _iso(finished),
            "duration_s": None if duration is None else round(duration, 3),
            "output": notebooks.relative_or_name(self.workspace, output, str(output)) if output.exists() else None,
            "log": notebooks.relative_or_name(self.workspace, run_log, str(run_log)) if run_log.exists() else None,
            "failed_cell": record.failed_cell,
        }

    def _declared(self, spec: JobSpec, name: str) -> dict[str, Any]:
        from mlops_magics.jobs import parameters

        path = self._notebook_to_run(name, spec)
        import nbformat

        try:
            notebook = nbformat.read(path, as_version=4)
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"notebook {spec.notebook!r} cannot be read: {exc}") from None
        return parameters.declared(notebook)

    def _view(self, session: Session, record: JobRecord) -> dict[str, Any]:
        spec = self._spec(record)
        last = session.scalar(
            select(JobRunRecord).where(JobRunRecord.job == record.name).order_by(JobRunRecord.number.desc()).limit(1)
        )
        active = session.scalar(
            select(func.count()).where(
                JobRunRecord.job == record.name, JobRunRecord.state.in_([RunState.QUEUED, RunState.RUNNING])
            )
        )
        try:
            declared = {d.name: f"{d.kind} = {d.text}" for d in self._declared(spec, record.name).values()}
        except Exception:  # a notebook gone since: the job is still shown, its runs will say why they fail
            declared = {}
        next_at = None
        if spec.cron and not record.paused:
            next_at = _iso(schedule.next_time(spec.cron, spec.tz, datetime.now(timezone.utc)))
        return {
            "name": record.name,
            "spec": spec.to_dict(),
            "paused": record.paused,
            "triggers": spec.triggers(),
            "next_run_at": next_at,
            "parameters_declared": declared,
            "last_run": None if last is None else self._run_view(last),
            "active_runs": int(active or 0),
            "has_token": record.token_sha256 is not None,
            "created_at": _iso(record.created_at),
        }

    def list(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            return [self._view(session, r) for r in session.scalars(select(JobRecord).order_by(JobRecord.name))]

    def get(self, name: str) -> dict[str, Any]:
        with self._sessions() as session:
            return self._view(session, self._job(session, name))

    def runs(self, name: str) -> list[dict[str, Any]]:
        with self._sessions() as session:
            self._job(session, name)
            query = select(JobRunRecord).where(JobRunRecord.job == name).order_by(JobRunRecord.number.desc())
            return [self._run_view(r) for r in session.scalars(query)]

    def run(self, name: str, number: str) -> dict[str, Any]:
        with self._sessions() as session:
            return self._run_view(self._run_record(session, names.job_name(name), number))

    def logs(self, name: str, number: str, lines: int = 200) -> dict[str, Any]:
        run = self.run(name, number)
        path = self.workspace.job_run(name, run["number"]) / "run.log"
        try:
            text = path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            text = []
        return {"job": name, "number": run["number"], "lines": text}

    # --- defining ------------------------------------------------------------------------------------------
    def _notebook_to_run(self, name: str, spec: JobSpec) -> Path:
        if spec.snapshot:
            snapshot = self.workspace.job(name) / "notebook.ipynb"
            if snapshot.exists():
                return snapshot
        return notebooks.notebook_file(self.workspace, spec.notebook)

    def put(self, name: str, spec: JobSpec) -> dict[str, Any]:
        """Create or replace a job: its notebook found under the root, its parameters checked against the
        notebook's, its kernel known, its snapshot taken; existing files of its glob count as seen."""
        from mlops_magics.jobs import parameters

        names.job_name(name)
        source = notebooks.notebook_file(self.workspace, spec.notebook)
        if spec.cwd is not None:
            cwd = notebooks.inside_root(self.workspace, spec.cwd, "cwd")
            if not cwd.is_dir():
                raise NotFound(f"no folder {spec.cwd!r} under {self.workspace.root} for the run to start in")
        for name_ in spec.files:
            if not notebooks.inside_root(self.workspace, name_, "file").exists():
                raise NotFound(f"no file {name_!r} under {self.workspace.root} to copy with the notebook")
        if spec.on_data:
            notebooks.inside_root(self.workspace, spec.on_data.split("*")[0] or ".", "on_data")
        if spec.kernel is not None:
            _known_kernel(spec.kernel)
        import nbformat

        try:
            notebook = nbformat.read(source, as_version=4)
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"notebook {spec.notebook!r} cannot be read: {exc}") from None
        declared = parameters.declared(notebook)
        if spec.on_data and spec.data_parameter not in declared:
            raise InvalidInput(
                f"on_data passes the new file's path as parameter `{spec.data_parameter}`, which the notebook's "
                f"parameters cell does not declare (it declares: {', '.join(declared) or 'nothing'})"
            )
        typed = {
            **parameters.typed(declared, spec.parameters),
            **parameters.typed(declared, spec.parameters_text, from_text=True),
        }
        spec = spec.model_copy(update={"parameters": typed, "parameters_text": {}})
        with self._lock:
            if spec.snapshot:
                notebooks.take_snapshot(self.workspace, name, source, spec.files)
            else:
                shutil.rmtree(self.workspace.job(name), ignore_errors=True)
            with self._sessions.begin() as session:
                record = session.get(JobRecord, name)
                now = datetime.now(timezone.utc)
                if record is None:
                    record = JobRecord(name=name, spec=spec.to_dict(), cron_handled_at=now)
                    session.add(record)
                    self._event(session, "job.create", name, spec.triggers())
                    self._standbys.start()
                else:
                    if record.spec.get("cron") != spec.cron or record.spec.get("tz") != spec.tz:
                        record.cron_handled_at = now  # a new schedule starts from now
                    record.spec = spec.to_dict()
                    self._event(session, "job.update", name, spec.triggers())
            if spec.on_data:
                self._mark_seen(name, spec, self._matching(spec))
            self._schedules_changed_now()
        return self.get(name)

    def delete(self, name: str) -> dict[str, Any]:
        with self._lock:
            view = self.get(name)
            for key in [k for k in self._processes if k[0] == name]:
                self._signal(key)
            with self._sessions.begin() as session:
                session.execute(delete(JobRunRecord).where(JobRunRecord.job == name))
                session.execute(delete(JobDataFileRecord).where(JobDataFileRecord.job == name))
                session.delete(self._job(session, name))
                self._event(session, "job.delete", name, "deleted on request")
            shutil.rmtree(self.workspace.job(name), ignore_errors=True)
            with self._sessions() as session:
                if session.scalar(select(func.count()).select_from(JobRecord)) == 0:
                    self._standbys.stop()  # no job left to run: no kernel kept waiting
            self._schedules_changed_now()
        return view

    def pause(self, name: str) -> dict[str, Any]:
        return self._set_paused(name, True)

    def resume(self, name: str) -> dict[str, Any]:
        return self._set_paused(name, False)

    def _set_paused(self, name: str, paused: bool) -> dict[str, Any]:
        with self._lock:
            with self._sessions.begin() as session:
                record = self._job(session, name)
                if record.paused and not paused:
                    record.cron_handled_at = datetime.now(timezone.utc)  # times passed while paused are not owed
                record.paused = paused
                self._event(session, "job.pause" if paused else "job.resume", name, "on request")
            self._schedules_changed_now()
        return self.get(name)

    # --- trigger tokens ------------------------------------------------------------------------------------
    def issue_token(self, name: str) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            self._job(session, name).token_sha256 = hashlib.sha256(token.encode()).hexdigest()
            self._event(session, "job.token", name, "a new trigger token was issued")
        return {"name": name, "token": token, "route": TRIGGER_ROUTE.format(name=name)}

    def revoke_token(self, name: str) -> dict[str, Any]:
        with self._sessions.begin() as session:
            self._job(session, name).token_sha256 = None
            self._event(session, "job.token", name, "the trigger token was revoked")
        return self.get(name)

    def trigger_with_token(self, name: str, request: TokenTrigger) -> dict[str, Any]:
        """An outside caller's trigger: the job's own token, compared in constant time; nothing else it may do."""
        with self._sessions() as session:
            record = session.get(JobRecord, names.job_name(name))
            expected = record.token_sha256 if record is not None else None
        given = hashlib.sha256(request.token.encode()).hexdigest()
        if expected is None or not secrets.compare_digest(given, expected):
            raise Unauthorized("missing or wrong job trigger token")
        return self._trigger(name, TriggerKind.TOKEN, f"token:{uuid.uuid4()}", None, request)

    # --- triggering ----------------------------------------------------------------------------------------
    def trigger(self, name: str, request: RunRequest) -> dict[str, Any]:
        return self._trigger(name, TriggerKind.MANUAL, f"manual:{uuid.uuid4()}", None, request)

    def raise_event(self, request: JobEvent) -> list[dict[str, Any]]:
        return self.event(request.event, request.detail)

    def event(self, event: str, detail: str | None = None, values: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """A named event (``alert:<monitor>``): a run of every job that waits for it. ``values`` (as text: a
        monitor's name, its deployment, the drifted features) go to the parameters each notebook declares."""
        started = []
        with self._sessions() as session:
            waiting = [r.name for r in session.scalars(select(JobRecord)) if r.spec.get("on_event") == event and not r.paused]
        for name in waiting:
            key = f"event:{event}:{uuid.uuid4()}"
            request = RunRequest(parameters_text=self._declared_values(name, values or {}))
            try:
                started.append(self._trigger(name, TriggerKind.EVENT, key, detail or event, request))
            except Conflict as exc:
                log.info("job %s: %s", name, exc.message)
        return started

    def _declared_values(self, name: str, values: dict[str, str]) -> dict[str, str]:
        """The values whose names the job's notebook declares and whose text its defaults' types accept."""
        from mlops_magics.jobs import parameters

        if not values:
            return {}
        with self._sessions() as session:
            spec = self._spec(self._job(session, name))
        try:
            declared = self._declared(spec, name)
        except InvalidInput:
            return {}  # the run says why the notebook cannot be read
        kept = {}
        for key, text in values.items():
            if key not in declared:
                continue
            try:
                parameters.typed(declared, {key: text}, from_text=True)
            except InvalidInput as exc:
                log.info("job %s: event value %s left out: %s", name, key, exc.message)
                continue
            kept[key] = text
        return kept

    def _trigger(self, name: str, kind: TriggerKind, key: str, detail: str | None, request: RunRequest) -> dict[str, Any]:
        from mlops_magics.jobs import parameters

        with self._sessions() as session:
            spec = self._spec(self._job(session, name))
        declared = self._declared(spec, name)
        typed = {
            **parameters.typed(declared, request.parameters),
            **parameters.typed(declared, request.parameters_text, from_text=True),
        }
        run = self._enqueue(name, spec, kind, key, detail, {**spec.parameters, **typed})
        if run is None:
            raise Conflict(f"job {name!r} has a run in progress and its concurrency is 'forbid'; cancel it or wait")
        return run

    def _enqueue(
        self, name: str, spec: JobSpec, kind: TriggerKind, key: str, detail: str | None, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The one way a run is made. None when concurrency ``forbid`` skips it (a file is queued instead)."""
        with self._lock:
            with self._sessions.begin() as session:
                job = self._job(session, name)
                active = session.scalars(
                    select(JobRunRecord).where(
                        JobRunRecord.job == name, JobRunRecord.state.in_([RunState.QUEUED, RunState.RUNNING])
                    )
                ).all()
                if active and spec.concurrency is Concurrency.FORBID and kind is not TriggerKind.DATA:
                    self._event(session, "job.skip", name, f"{kind.value} trigger skipped: a run is in progress")
                    return None
                job.runs_made += 1
                record = JobRunRecord(
                    job=name,
                    number=job.runs_made,
                    trigger=kind.value,
                    trigger_key=key[:1200],
                    trigger_detail=detail,
                    parameters=values,
                    state=RunState.QUEUED.value,
                )
                session.add(record)
                try:
                    session.flush()
                except IntegrityError:  # this trigger already made its run (a restart, a second look)
                    session.rollback()
                    return None
                number = record.number
                replaced = [r.number for r in active] if spec.concurrency is Concurrency.REPLACE else []
            for old in replaced:
                self._cancel(name, old, f"replaced by run {number}")
            self._start_queued(name)
            return self.run(name, str(number))

    # --- running -------------------------------------------------------------------------------------------
    def _start_queued(self, name: str) -> None:
        """Start the job's queued runs that may start now (concurrency, a retry's backoff)."""
        with self._lock:
            if self._closing:
                return
            with self._sessions() as session:
                record = session.get(JobRecord, name)
                if record is None:
                    return
                spec = self._spec(record)
                queued = session.scalars(
                    select(JobRunRecord)
                    .where(JobRunRecord.job == name, JobRunRecord.state == RunState.QUEUED)
                    .order_by(JobRunRecord.number)
                ).all()
                running = session.scalar(
                    select(func.count()).where(JobRunRecord.job == name, JobRunRecord.state == RunState.RUNNING)
                )
            now = datetime.now(timezone.utc)
            for run in queued:
                if running and spec.concurrency is not Concurrency.ALLOW:
                    return
                not_before = _aware(run.not_before)
                if not_before is not None and not_before > now:
                    continue
                self._launch(name, spec, run.number)
                running += 1

    def _run_environment(self, name: str, number: int, spec: JobSpec) -> dict[str, str]:
        env = {
            "MLOPS_HOME": str(self.workspace.home),
            "MLFLOW_TRACKING_URI": self.workspace.tracking_uri,
            "MLOPS_JOB": name,
            "MLOPS_RUN": str(number),
        }
        view = self._workspace_cluster(spec)
        if view is not None:
            env["DASK_SCHEDULER_ADDRESS"] = view["scheduler_address"]
        return {**spec.env, **env}

    def _workspace_cluster(self, spec: JobSpec) -> dict[str, Any] | None:
        """The workspace's running cluster, for a job whose runs use it; None otherwise."""
        if spec.cluster != "workspace" or self._clusters is None:
            return None
        try:
            views = self._clusters.list()
        except Exception:
            return None
        running = [v for v in views if v.get("status") == "running" and v.get("scheduler_address")]
        return running[0] if running else None

    def _workspace_gateway(self, spec: JobSpec) -> dict[str, Any] | None:
        """The spec of the workspace's cluster when it is a gateway's: the run asks the gateway for its TLS
        credentials itself, so they are never written to the run's files."""
        view = self._workspace_cluster(spec)
        return view["spec"] if view is not None and view["spec"].get("kind") == "gateway" else None

    def _launch(self, name: str, spec: JobSpec, number: int) -> None:
        folder = self.workspace.job_run(name, number)
        private_folder(folder)
        for stale in ("result.json", "progress.json", "standby"):
            (folder / stale).unlink(missing_ok=True)
        try:
            notebook = self._notebook_to_run(name, spec)
        except Exception as exc:
            self._finish(name, number, {"state": RunState.FAILED, "reason": getattr(exc, "message", str(exc))})
            return
        with self._sessions() as session:
            run = self._run_record(session, name, number)
            values, attempt = dict(run.parameters), run.attempt
        cwd = notebooks.inside_root(self.workspace, spec.cwd, "cwd") if spec.cwd else None
        if cwd is None and spec.snapshot and spec.files:
            cwd = self.workspace.job(name) / "files"
        plan = {
            "job": name,
            "run_id": f"{name}/{number}",
            "notebook": str(notebook),
            "parameters": values,
            "kernel": spec.kernel,
            "cwd": str(cwd) if cwd else str(notebooks.inside_root(self.workspace, spec.notebook).parent),
            "env": self._run_environment(name, number, spec),
            "timeout_s": spec.timeout_s,
            "attempt": attempt,
            "cluster": spec.cluster.to_dict() if isinstance(spec.cluster, ClusterSpec) else None,
            "workspace_gateway": self._workspace_gateway(spec),
        }
        write_private(folder / "run.json", json.dumps(plan, indent=1))
        process = self._warm_runner(folder) or self._cold_runner(folder)
        with self._sessions.begin() as session:
            run = self._run_record(session, name, number)
            run.state, run.pid, run.reason = RunState.RUNNING.value, process.pid, None
            run.started_at, run.finished_at, run.cells_done = utcnow(), None, 0
            self._event(session, "job.run", name, f"run {number} started (pid {process.pid}, attempt {attempt})")
        self._processes[(name, number)] = process
        self._watch(name, number, process)

    def _warm_runner(self, folder: Path) -> subprocess.Popen[bytes] | None:
        """A ready standby given the run (its folder names it, for adoption after a restart); None if none is ready."""
        standby = self._standbys.take()
        if standby is None:
            return None
        write_private(folder / "standby", str(standby.ready_file))
        if not standby.assign(folder):
            (folder / "standby").unlink(missing_ok=True)
            return None
        return standby.process

    def _cold_runner(self, folder: Path) -> subprocess.Popen[bytes]:
        with (folder / "runner.err").open("ab") as err:
            return subprocess.Popen(
                [sys.executable, "-m", "mlops_magics.jobs.runner", str(folder)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )

    def _watch(self, name: str, number: int, process: subprocess.Popen[bytes] | int) -> None:
        def wait() -> None:
            if isinstance(process, int):  # adopted after a restart: not our child, poll it
                while psutil.pid_exists(process) and not self._closing:
                    try:
                        if psutil.Process(process).status() == psutil.STATUS_ZOMBIE:
                            break
                    except psutil.NoSuchProcess:
                        break
                    time.sleep(0.5)
                if self._closing:
                    return
            else:
                process.wait()
                if self._closing and process.returncode is None:
                    return
            self._ended(name, number)

        thread = threading.Thread(target=wait, name=f"job-{name}-{number}", daemon=True)
        thread.start()

    def _ended(self, name: str, number: int) -> None:
        folder = self.workspace.job_run(name, number)
        result = _read_json(folder / "result.json")
        if result is None:
            tail = ""
            with contextlib.suppress(OSError, IndexError):
                tail = (folder / "runner.err").read_text(errors="replace").strip().splitlines()[-1]
            result = {"state": RunState.FAILED, "reason": f"the run's process ended without a result {tail}".strip()}
        self._finish(name, number, result)

    def _finish(self, name: str, number: int, result: dict[str, Any]) -> None:
        try:
            state = RunState(result.get("state", RunState.FAILED))
        except ValueError:
            state = RunState.FAILED
        progress = _read_json(self.workspace.job_run(name, number) / "progress.json") or {}
        retry = False
        with self._lock:
            self._processes.pop((name, number), None)
            with self._sessions.begin() as session:
                job = session.get(JobRecord, name)
                run = session.scalar(select(JobRunRecord).where(JobRunRecord.job == name, JobRunRecord.number == number))
                if job is None or run is None or RunState(run.state).finished:
                    return
                spec = self._spec(job)
                run.cells_done = int(progress.get("cells_done", run.cells_done) or 0)
                run.cells_total = progress.get("cells_total", run.cells_total)
                run.failed_cell = result.get("failed_cell")
                reason = result.get("reason")
                retry = state in (RunState.FAILED, RunState.TIMED_OUT) and run.attempt <= spec.retries
                backoff = spec.retry_backoff_s * (2 ** (run.attempt - 1))
                if retry:
                    run.state, run.pid = RunState.QUEUED.value, None
                    run.reason = f"attempt {run.attempt} {state.value}: {reason}; retrying in {backoff:g} s"
                    run.attempt += 1
                    run.not_before = utcnow() + timedelta(seconds=backoff)
                    self._event(session, "job.retry", name, f"run {number}: {run.reason}")
                else:
                    run.state, run.reason, run.pid, run.finished_at = state.value, reason, None, utcnow()
                    self._event(session, "job.end", name, f"run {number} {state.value}" + (f": {reason}" if reason else ""))
            if retry:
                threading.Timer(backoff + 0.05, self._start_queued, [name]).start()
            else:
                self._prune(name, spec.keep_runs)
                self._notify(name, number, spec, state, result.get("reason"))
            self._start_queued(name)

    def _prune(self, name: str, keep: int) -> None:
        with self._sessions.begin() as session:
            finished = session.scalars(
                select(JobRunRecord)
                .where(JobRunRecord.job == name, JobRunRecord.state.not_in([RunState.QUEUED, RunState.RUNNING]))
                .order_by(JobRunRecord.number.desc())
                .offset(keep)
            ).all()
            for run in finished:
                shutil.rmtree(self.workspace.job_run(name, run.number), ignore_errors=True)
                # Its trigger cannot come again: a schedule has moved past its time, a file is in job_data_files.
                session.delete(run)

    def _notify(self, name: str, number: int, spec: JobSpec, state: RunState, reason: str | None) -> None:
        if spec.notify is None:
            return
        outcome = "success" if state is RunState.SUCCEEDED else "failure"
        if outcome not in spec.notify.on:
            return
        text = f"mlops job {name!r} run {number} {state.value}" + (f": {reason}" if reason else "")
        body = {"text": text, "job": name, "run": number, "state": state.value, "reason": reason}
        url = spec.notify.url

        def send() -> None:
            import httpx

            try:
                httpx.post(url, json=body, timeout=10)
            except httpx.HTTPError as exc:
                log.warning("job %s: the notification to %s failed: %s", name, url, exc)

        threading.Thread(target=send, name=f"notify-{name}", daemon=True).start()

    # --- cancelling ----------------------------------------------------------------------------------------
    def cancel(self, name: str, number: str) -> dict[str, Any]:
        run = self.run(name, number)
        if RunState(run["state"]).finished:
            raise Conflict(f"run {run['number']} of job {name!r} has already ended ({run['state']})")
        self._cancel(name, run["number"], "cancelled on request")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not RunState(self.run(name, number)["state"]).finished:
            time.sleep(0.1)
        return self.run(name, number)

    def _cancel(self, name: str, number: int, reason: str) -> None:
        with self._lock:
            with self._sessions.begin() as session:
                run = self._run_record(session, name, number)
                if run.state == RunState.QUEUED:
                    run.state, run.reason, run.finished_at = RunState.CANCELLED.value, reason, utcnow()
                    return
            self._signal((name, number))

    def _signal(self, key: tuple[str, int]) -> None:
        process = self._processes.get(key)
        pid = process if isinstance(process, int) else getattr(process, "pid", None)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)  # the runner writes "cancelled" and stops its kernel

    # --- schedules -----------------------------------------------------------------------------------------
    def _scheduler(self) -> None:
        """Fire each schedule at its time. The next times are kept between wakes and read again from the
        records only when a job changes (a thousand schedules cost nothing while they wait)."""
        schedules: dict[str, tuple[str, str, datetime]] = {}  # job -> cron, zone, next time
        while not self._closing:
            with self._lock:
                if self._schedules_changed:
                    self._schedules_changed = False
                    schedules = self._schedules()
                now = datetime.now(timezone.utc)
                fire = sorted((moment, name) for name, (_, _, moment) in schedules.items() if moment <= now)
                if not fire:
                    soonest = min((moment for _, _, moment in schedules.values()), default=None)
                    wait = (soonest - now).total_seconds() if soonest is not None else 60.0
                    self._wake.wait(timeout=max(0.01, min(wait, 60.0)))
                    continue
            for moment, name in fire:
                self._fire(name, moment)
                cron, tz, _ = schedules[name]
                schedules[name] = (cron, tz, schedule.next_time(cron, tz, moment))

    def _schedules(self) -> dict[str, tuple[str, str, datetime]]:
        found = {}
        with self._sessions() as session:
            for record in session.scalars(select(JobRecord).where(JobRecord.paused.is_(False))):
                cron, tz = record.spec.get("cron"), record.spec.get("tz", "UTC")
                if cron:
                    handled = _aware(record.cron_handled_at) or datetime.now(timezone.utc)
                    found[record.name] = (cron, tz, schedule.next_time(cron, tz, handled))
        return found

    def _schedules_changed_now(self) -> None:
        """A job was made, changed, paused, resumed or deleted: the scheduler reads the schedules again."""
        self._schedules_changed = True
        self._wake.notify_all()

    def _fire(self, name: str, moment: datetime) -> None:
        with self._sessions.begin() as session:
            record = session.get(JobRecord, name)
            if record is None:
                return
            record.cron_handled_at = moment
            spec = self._spec(record)
        try:
            self._enqueue(name, spec, TriggerKind.CRON, f"cron:{moment.isoformat()}", moment.isoformat(), spec.parameters)
        except Exception:
            log.exception("job %s: the scheduled run at %s could not be queued", name, moment)

    def _catch_up(self) -> None:
        """Times a schedule passed while the controller was down: skipped, or one run, as the job says."""
        now = datetime.now(timezone.utc)
        with self._sessions() as session:
            jobs = [(r.name, self._spec(r), _aware(r.cron_handled_at)) for r in session.scalars(select(JobRecord))]
        for name, spec, handled in jobs:
            if not spec.cron or handled is None:
                continue
            missed = schedule.times_between(spec.cron, spec.tz, handled, now)
            if not missed:
                continue
            if spec.missed is Missed.RUN_ONCE:
                self._fire(name, missed[-1])
            with self._sessions.begin() as session:
                record = session.get(JobRecord, name)
                if record is not None:
                    record.cron_handled_at = now
                    self._event(session, "job.missed", name, f"{len(missed)} time(s) passed while stopped ({spec.missed.value})")

    # --- new data ------------------------------------------------------------------------------------------
    def _matching(self, spec: JobSpec) -> list[Path]:
        if not spec.on_data:
            return []
        root = self.workspace.root
        pattern = spec.on_data
        return (
            sorted(p for p in root.glob(pattern) if p.is_file())
            if not Path(pattern).is_absolute()
            else sorted(p for p in Path("/").glob(pattern.lstrip("/")) if p.is_file())
        )

    def _mark_seen(self, name: str, spec: JobSpec, paths: list[Path]) -> list[Path]:
        """Record files as seen; return those that were not seen before."""
        new = []
        with self._sessions.begin() as session:
            for path in paths:
                key = str(path.resolve())
                if session.get(JobDataFileRecord, (name, key)) is None:
                    session.add(JobDataFileRecord(job=name, path=key))
                    new.append(path)
        return new

    def _data_arrived(self, paths: set[Path]) -> None:
        with self._sessions() as session:
            jobs = [(r.name, self._spec(r)) for r in session.scalars(select(JobRecord).where(JobRecord.paused.is_(False)))]
        root = self.workspace.root.resolve()
        for name, spec in jobs:
            if not spec.on_data:
                continue
            pattern = spec.on_data if Path(spec.on_data).is_absolute() else str(root / spec.on_data)
            matching = sorted(p for p in paths if p.is_file() and fnmatch(str(p), pattern))
            for path in self._mark_seen(name, spec, matching):
                values = {**spec.parameters, spec.data_parameter: str(path)}
                try:
                    self._enqueue(name, spec, TriggerKind.DATA, f"data:{path}", str(path), values)
                except Exception:
                    log.exception("job %s: the run for new file %s could not be queued", name, path)

    def _watcher(self) -> None:
        from watchfiles import Change, watch

        stop = threading.Event()
        self._stop_watching = stop
        root = self.workspace.root
        ignored = {self.workspace.home.resolve(), self.workspace.runs.resolve()}

        def wanted(change: Change, path: str) -> bool:
            resolved = Path(path)
            return change is not Change.deleted and not any(folder in resolved.parents for folder in ignored)

        for changes in watch(root, watch_filter=wanted, debounce=DATA_DEBOUNCE_MS, stop_event=stop, recursive=True):
            try:
                self._data_arrived({Path(path).resolve() for _, path in changes})
            except Exception:
                log.exception("new data could not be handled")

    # --- start and stop ------------------------------------------------------------------------------------
    def restore(self) -> None:
        """At controller start: adopt runs whose process lives, settle those whose process ended while no
        controller watched (or fail them: "controller lost"), start queued runs, catch up schedules and files."""
        with self._sessions() as session:
            active = session.scalars(
                select(JobRunRecord).where(JobRunRecord.state.in_([RunState.QUEUED, RunState.RUNNING]))
            ).all()
            running = [(r.job, r.number, r.pid) for r in active if r.state == RunState.RUNNING]
            jobs = {r.job for r in active}
            if session.scalar(select(func.count()).select_from(JobRecord)):
                self._standbys.start()
        for name, number, pid in running:
            folder = self.workspace.job_run(name, number)
            if pid and _is_runner(pid, folder):
                self._processes[(name, number)] = pid
                self._watch(name, number, pid)
                log.info("job %s: adopted run %s (pid %s)", name, number, pid)
            elif (folder / "result.json").exists():
                self._ended(name, number)
            else:
                self._finish(name, number, {"state": RunState.FAILED, "reason": "the controller was lost while the run started"})
        self._catch_up()
        with self._sessions() as session:
            data_jobs = [self._spec(r) for r in session.scalars(select(JobRecord)) if r.spec.get("on_data")]
        for spec in data_jobs:
            self._data_arrived(set(self._matching(spec)))
        for name in jobs:
            self._start_queued(name)
        for target, label in ((self._scheduler, "job-scheduler"), (self._watcher, "job-data-watcher")):
            thread = threading.Thread(target=target, name=label, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """The controller stops: runs keep running (the next controller adopts them)."""
        with self._lock:
            self._closing = True
            self._wake.notify_all()
        self._standbys.stop()
        stop = getattr(self, "_stop_watching", None)
        if stop is not None:
            stop.set()


def _is_runner(pid: int, folder: Path) -> bool:
    try:
        command = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    if "mlops_magics.jobs.runner" not in command:
        return False
    if str(folder) in command:
        return True
    try:  # a standby given the run: its command names its ready file, which the run folder names
        return (folder / "standby").read_text() in command
    except OSError:
        return False


def _known_kernel(name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    known = KernelSpecManager().find_kernel_specs()
    if name not in known:
        raise InvalidInput(f"kernel {name!r} is not installed; installed: {', '.join(sorted(known)) or 'none'}")
