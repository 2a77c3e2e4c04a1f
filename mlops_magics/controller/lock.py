"""The lock that keeps one controller per workspace.

An ``flock`` held for the life of the process: the kernel releases it when the process dies, even by
``kill -9``, so a stale lock can never block a new controller.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class ControllerLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._inode: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when a live controller holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        self._inode = os.fstat(fd).st_ino
        return True

    def still_ours(self) -> bool:
        """False once the lock file was deleted or replaced (the workspace removed under us): another controller
        could then take a new lock, so this one must go."""
        try:
            return self._fd is not None and os.stat(self.path).st_ino == self._inode
        except FileNotFoundError:
            return False

    def is_held_elsewhere(self) -> bool:
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
