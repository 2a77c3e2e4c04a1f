"""The controller's calling card in the workspace: pid, loopback port and the token faces must present; and the
exit codes by which a controller that does not start says why (its starter, the client, reads them)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

EXIT_LOCK_HELD = 3  # another controller holds the workspace's lock: it is the one to wait for
EXIT_WORKSPACE = 4  # the workspace's state cannot be opened (its log says why)


@dataclass(frozen=True)
class ControllerInfo:
    pid: int
    port: int
    token: str
    started_at: str
    version: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def read_info(path: Path) -> ControllerInfo | None:
    try:
        data = json.loads(path.read_text())
        return ControllerInfo(**{k: data[k] for k in ControllerInfo.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_info(path: Path, info: ControllerInfo) -> None:
    """Write atomically and readable by the owner only (the token guards the controller's API)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(info), handle)
    os.replace(tmp, path)


def remove_info(path: Path, pid: int) -> None:
    info = read_info(path)
    if info is not None and info.pid == pid:
        path.unlink(missing_ok=True)
