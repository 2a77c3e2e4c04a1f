"""Heavy tracking writes (model files, profiles) off the cell's path, with guaranteed completion.

One worker thread per process takes jobs in order. ``flush()`` waits for all of them and raises if any
failed, so nothing is lost silently: ``%review``, ``%deploy`` and kernel exit flush first.

A kernel that stops (nbclient and papermill stop it right after the last cell; a Jupyter server after a few
seconds' grace) waits for the writer, with a message. Its kernel manager kills it at the end of that grace, so
before waiting it hands the runs still being written to a small watcher process (``abandoned``), which marks
the ones the kernel could not finish FAILED, with the reason, once the kernel is gone: never left RUNNING.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from mlops_magics.errors import MLOpsError

log = logging.getLogger("mlops.train.background")

EXIT_WAIT_ENV = "MLOPS_EXIT_WAIT"  # seconds a stopping process waits for its tracking jobs (default 120)
EXIT_WAIT_S = 120.0

Unfinished = tuple[str, str]  # (tracking URI, run id): what to mark FAILED if the job never ends


@dataclass
class _Job:
    label: str
    work: Callable[[], None]
    unfinished: Unfinished | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class _KeepOutOfCells(logging.Filter):
    """Drops the writer thread's log records below ERROR: printed, they would land in whichever cell runs then."""

    def __init__(self, thread: threading.Thread) -> None:
        super().__init__()
        self.thread = thread

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or record.thread != self.thread.ident


class BackgroundWriter:
    def __init__(self) -> None:
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._pending: list[_Job] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, label: str, work: Callable[[], None], unfinished: Unfinished | None = None) -> threading.Event:
        job = _Job(label, work, unfinished)
        with self._lock:
            self._pending.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mlops-tracking", daemon=True)
                _quiet_warnings_of(self._thread)
                self._thread.start()
        self._jobs.put(job)
        return job.done

    def _run(self) -> None:
        keep_out = _KeepOutOfCells(threading.current_thread())
        while True:
            job = self._jobs.get()
            try:
                _filter_handlers(keep_out)  # loggers made since the last job (MLflow's, on its import) included
                job.work()
            except BaseException as exc:  # kept and raised by flush(), never swallowed
                job.error = exc
                log.error("background tracking job %r failed: %s", job.label, exc)
            finally:
                job.done.set()

    def flush(self, timeout: float | None = 600) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        failures = []
        deadline = None if timeout is None else time.monotonic() + timeout  # for all the jobs together
        for job in pending:
            if not job.done.wait(None if deadline is None else max(0.0, deadline - time.monotonic())):
                failures.append(f"{job.label}: still running after {timeout} s")
            elif job.error is not None:
                failures.append(f"{job.label}: {type(job.error).__name__}: {job.error}")
        if failures:
            raise MLOpsError("background tracking failed — " + "; ".join(failures))

    def unfinished(self) -> list[_Job]:
        with self._lock:
            return [job for job in self._pending if not job.done.is_set()]

    @property
    def busy(self) -> int:
        return len(self.unfinished())


def _filter_handlers(keep_out: _KeepOutOfCells) -> None:
    """Put the filter on every log handler there is (added, never removed: other threads log meanwhile)."""
    loggers = [logging.getLogger(), *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger))]
    for handler in {id(h): h for logger in loggers for h in logger.handlers}.values():
        if not any(isinstance(f, _KeepOutOfCells) and f.thread is keep_out.thread for f in handler.filters):
            handler.addFilter(keep_out)


def quiet_new_loggers() -> None:
    """On the writer thread: keep out of cells the log handlers made since its job began (a tracker's package
    imported by the job, whose handlers print to the kernel's stderr)."""
    _filter_handlers(_KeepOutOfCells(threading.current_thread()))


def _quiet_warnings_of(thread: threading.Thread) -> None:
    """Warnings raised on ``thread`` go to the debug log, not into whichever cell happens to run then."""
    shown = warnings.showwarning

    def showwarning(
        message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: str | None = None
    ) -> None:
        if threading.current_thread() is thread:
            log.debug("%s: %s (%s:%s)", category.__name__, message, filename, lineno)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning


WRITER = BackgroundWriter()


def _say(text: str) -> None:
    """A line for the person: the kernel's own stderr (the notebook's output area is gone at exit)."""
    stream = sys.__stderr__
    if stream is not None:
        with contextlib.suppress(Exception):
            print(text, file=stream, flush=True)


def _exit_wait() -> float:
    try:
        return max(0.0, float(os.environ.get(EXIT_WAIT_ENV, EXIT_WAIT_S)))
    except ValueError:
        return EXIT_WAIT_S


def _watch(jobs: list[_Job], wait: float) -> None:
    """Start the watcher that marks these runs FAILED if this process ends before their tracking does."""
    runs = [job.unfinished for job in jobs if job.unfinished is not None]
    if not runs:
        return
    command = [sys.executable, "-m", "mlops_magics.train.abandoned", "--pid", str(os.getpid()), "--wait", str(wait + 30)]
    for uri, run_id in runs:
        command += ["--run", uri, run_id]
    try:
        # Its own session: a kernel manager that kills the kernel's process group leaves the watcher alone.
        subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
    except OSError as exc:
        _say(f"mlops: could not start the watcher of unfinished runs ({exc}); a run cut short stays RUNNING")


def _finish_at_exit() -> None:
    jobs = WRITER.unfinished()
    if not jobs:
        return
    wait = _exit_wait()
    _watch(jobs, wait)
    names = ", ".join(job.label for job in jobs)
    _say(f"mlops: this process is stopping; waiting up to {wait:.0f} s for {names} to finish")
    terminated: list[int] = []

    def note_sigterm(signum: int, frame: FrameType | None) -> None:
        # A kernel manager asks politely before it kills: the writing goes on until the kill, or the end.
        terminated.append(signum)

    previous = None
    with contextlib.suppress(ValueError):  # signals can be handled on the main thread only
        previous = signal.signal(signal.SIGTERM, note_sigterm)
    try:
        WRITER.flush(timeout=wait)
        _say(f"mlops: {names} finished")
    except MLOpsError as exc:
        _say(f"mlops: {exc.message}; the run is marked FAILED")
    finally:
        if previous is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, previous)


# Run before the interpreter stops its thread pools (MLflow's uploads need them): threading's exit hooks run
# first, newest first; plain atexit would be too late. The thread pools' own hook is registered when their
# module is first imported, so it is imported here first: ours is then the newer one and runs before it.
importlib.import_module("concurrent.futures.thread")
_register = getattr(threading, "_register_atexit", atexit.register)
_register(_finish_at_exit)
