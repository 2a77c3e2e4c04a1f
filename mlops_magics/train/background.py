"""Heavy tracking writes (model files, profiles) off the cell's path, with guaranteed completion.

One worker thread per process takes jobs in order. ``flush()`` waits for all of them and raises if any
failed, so nothing is lost silently: ``%review``, ``%deploy`` and kernel exit flush first.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from mlops_magics.errors import MLOpsError

log = logging.getLogger("mlops.train.background")


@dataclass
class _Job:
    label: str
    work: Callable[[], None]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class BackgroundWriter:
    def __init__(self) -> None:
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._pending: list[_Job] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, label: str, work: Callable[[], None]) -> threading.Event:
        job = _Job(label, work)
        with self._lock:
            self._pending.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mlops-tracking", daemon=True)
                self._thread.start()
        self._jobs.put(job)
        return job.done

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job.work()
            except BaseException as exc:  # kept and raised by flush(), never swallowed
                job.error = exc
                log.warning("background tracking job %r failed: %s", job.label, exc)
            finally:
                job.done.set()

    def flush(self, timeout: float | None = 600) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        failures = []
        for job in pending:
            if not job.done.wait(timeout):
                failures.append(f"{job.label}: still running after {timeout} s")
            elif job.error is not None:
                failures.append(f"{job.label}: {type(job.error).__name__}: {job.error}")
        if failures:
            raise MLOpsError("background tracking failed — " + "; ".join(failures))

    @property
    def busy(self) -> int:
        with self._lock:
            return sum(not job.done.is_set() for job in self._pending)


WRITER = BackgroundWriter()


def _flush_at_exit() -> None:
    try:
        WRITER.flush(timeout=300)
    except MLOpsError as exc:
        log.error("%s", exc.message)


# Run before the interpreter stops its thread pools (MLflow's uploads need them): threading's exit hooks run
# first, newest first; plain atexit would be too late.
_register = getattr(threading, "_register_atexit", atexit.register)
_register(_flush_at_exit)
