"""The controller's standby runners: processes with a kernel already started, each waiting to carry out one run.

A run given to a standby starts its first cell within tens of milliseconds of its trigger instead of after a
Python start, nbclient's imports and a kernel start (about a second and a half). Each standby is used once; the
pool starts the next one as it gives one out. ``MLOPS_WARM_KERNELS`` (default 1) sets how many are kept, 0 none.
The pool starts when the workspace holds a job and stops when it holds none.

A standby is a child of the controller in a session of its own, like a cold runner: once given its run it
outlives the controller; one still waiting ends when the controller's end of its stdin closes (the controller
stopped or died).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from mlops_magics.workspace import Workspace, private_folder

log = logging.getLogger(__name__)

DEFAULT_SIZE = 1
SIZE_VARIABLE = "MLOPS_WARM_KERNELS"
MAX_SIZE = 8


def pool_size() -> int:
    text = os.environ.get(SIZE_VARIABLE, str(DEFAULT_SIZE))
    try:
        return max(0, min(MAX_SIZE, int(text)))
    except ValueError:
        log.warning("%s=%r is not a number: %d standby kernel(s)", SIZE_VARIABLE, text, DEFAULT_SIZE)
        return DEFAULT_SIZE


@dataclass
class Standby:
    process: subprocess.Popen[bytes]
    ready_file: Path

    def ready(self) -> bool:
        return self.process.poll() is None and self.ready_file.exists()

    def assign(self, run_folder: Path) -> bool:
        """Give it the run; False when it can no longer take one (the run then starts cold)."""
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(f"{run_folder}\n".encode())
            stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            return False
        return True

    def dismiss(self) -> None:
        """It ends by itself once its stdin closes: nothing to wait for."""
        with contextlib.suppress(OSError, ValueError):
            if self.process.stdin is not None:
                self.process.stdin.close()


class StandbyPool:
    def __init__(self, workspace: Workspace, size: int | None = None) -> None:
        self.workspace = workspace
        self.size = pool_size() if size is None else size
        self.folder = workspace.home / "standby"
        self._lock = threading.Lock()
        self._standbys: list[Standby] = []
        self._active = False

    def start(self) -> None:
        """Keep ``size`` standbys from now on (no-op when already started or when the size is 0)."""
        with self._lock:
            if self._active or self.size == 0:
                return
            self._active = True
        self._fill_later()

    def take(self) -> Standby | None:
        """A ready standby, now the caller's; None when none is ready (the caller starts a cold runner)."""
        with self._lock:
            if not self._active:
                return None
            self._standbys = [s for s in self._standbys if s.process.poll() is None]
            ready = next((s for s in self._standbys if s.ready()), None)
            if ready is not None:
                self._standbys.remove(ready)
        self._fill_later()
        return ready

    def stop(self) -> None:
        with self._lock:
            self._active = False
            standbys, self._standbys = self._standbys, []
        for standby in standbys:
            standby.dismiss()

    def _fill_later(self) -> None:
        threading.Thread(target=self._fill, name="job-standby-start", daemon=True).start()

    def _fill(self) -> None:
        with self._lock:
            if not self._active:
                return
            self._standbys = [s for s in self._standbys if s.process.poll() is None]
            missing = self.size - len(self._standbys)
            for _ in range(missing):
                standby = self._launch()
                if standby is not None:
                    self._standbys.append(standby)

    def _launch(self) -> Standby | None:
        private_folder(self.folder)
        ready_file = self.folder / f"{uuid.uuid4().hex}.ready"
        try:
            with (self.workspace.home / "job-standby.log").open("ab") as err:
                process = subprocess.Popen(
                    [sys.executable, "-m", "mlops_magics.jobs.runner", "--standby", str(ready_file)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as exc:
            log.warning("a standby runner could not start: %s", exc)
            return None
        return Standby(process, ready_file)
