"""Where the state of a workspace lives. Every face asks this module; no other module builds a path.

A workspace is a folder, ``.mlops/`` under the directory JupyterLab or the CLI starts in, found the way git
finds ``.git`` (the nearest one in the current folder or a parent), or ``MLOPS_HOME`` when it is set.

What holds a secret (``state.db`` and its WAL, ``controller.json``, deployment tokens) is its owner's only:
files 0600, their folders 0700, from the first byte (never written open and tightened afterwards).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "MLOPS_HOME"
FOLDER_NAME = ".mlops"
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def private_folder(path: Path) -> Path:
    """``path`` as a folder only its owner can enter: made so, or made so again when it exists."""
    path.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_FOLDER)  # mkdir's mode is cut by the umask, and an existing folder keeps its own
    return path


def keep_private(*paths: Path) -> None:
    """Make existing files owner-only (a workspace made before its files were); missing ones are skipped."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError, PermissionError):  # not ours to change: left as it is
            os.chmod(path, PRIVATE_FILE)


def create_private(path: Path) -> None:
    """Create ``path`` empty and owner-only unless it exists (then only its mode is fixed): what SQLite then
    opens keeps that mode, and gives it to the ``-wal`` and ``-shm`` files it makes beside it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    keep_private(path)


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by its owner only from the first byte."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), PRIVATE_FILE)  # a leftover temporary file keeps its old mode through O_CREAT
        handle.write(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Workspace:
    home: Path

    @classmethod
    def current(cls, start: Path | None = None) -> Workspace:
        """The workspace for this process: ``MLOPS_HOME``, else the nearest ``.mlops`` upwards, else a new one."""
        configured = os.environ.get(HOME_ENV)
        if configured:
            return cls(Path(configured).expanduser().resolve())
        start = (start or Path.cwd()).resolve()
        for folder in (start, *start.parents):
            if (folder / FOLDER_NAME / "state.db").exists():
                return cls(folder / FOLDER_NAME)
        return cls(start / FOLDER_NAME)

    @classmethod
    def for_root(cls, root: Path) -> Workspace:
        """The workspace of a server that serves ``root`` (``MLOPS_HOME`` still wins)."""
        configured = os.environ.get(HOME_ENV)
        return cls(Path(configured).expanduser().resolve()) if configured else cls(root.resolve() / FOLDER_NAME)

    def ensure(self) -> Workspace:
        # A new workspace folder is its owner's only; an existing one (MLOPS_HOME may name any folder) keeps
        # its mode: what in it holds a secret is private on its own.
        self.home.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        return self

    # state
    @property
    def state_db(self) -> Path:
        return self.home / "state.db"

    @property
    def state_files(self) -> tuple[Path, Path, Path]:
        """``state.db`` and the write-ahead log and shared-memory files SQLite keeps beside it."""
        return self.state_db, self.home / "state.db-wal", self.home / "state.db-shm"

    # MLflow
    @property
    def mlflow_db(self) -> Path:
        return self.home / "mlflow.db"

    @property
    def artifacts(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def tracking_uri(self) -> str:
        """``MLFLOW_TRACKING_URI`` when set (a remote server is used as is), else the workspace's SQLite store."""
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.mlflow_db}"

    # data profiles
    @property
    def profiles(self) -> Path:
        return self.home / "profiles"

    # jobs and deployments
    @property
    def root(self) -> Path:
        """The folder the workspace belongs to (the Jupyter root when JupyterLab made it): job notebooks are
        named relative to it, and nothing outside it is run or read through a job."""
        return self.home.parent

    @property
    def jobs(self) -> Path:
        return self.home / "jobs"

    def job(self, name: str) -> Path:
        """A job's own folder: the notebook snapshot and the files copied with it."""
        return self.jobs / name

    @property
    def runs(self) -> Path:
        """Job runs' folders (the executed notebook, the log): beside the workspace, not in it, so JupyterLab
        (which hides dot folders) opens them."""
        return self.root / "mlops-runs"

    def job_run(self, name: str, number: int) -> Path:
        return self.runs / name / str(number)

    @property
    def requests(self) -> Path:
        return self.home / "requests"

    @property
    def deployments(self) -> Path:
        return self.home / "deployments"

    def deployment(self, name: str) -> Path:
        """A deployment's folder: its log, state and control files, and its token."""
        return self.deployments / name

    def deployment_token(self, name: str) -> Path:
        """The deployment's bearer token (0600): read back only by `mlops deploy token NAME`."""
        return self.deployment(name) / "token"

    def deployment_token_digest(self, name: str) -> Path:
        """The token's SHA-256, which the deployment process checks requests against (it never has the token)."""
        return self.deployment(name) / "token.sha256"

    # controller
    @property
    def controller_lock(self) -> Path:
        return self.home / "controller.lock"

    @property
    def controller_info(self) -> Path:
        return self.home / "controller.json"

    @property
    def controller_log(self) -> Path:
        return self.home / "controller.log"

    def describe(self) -> dict[str, str]:
        return {
            "home": str(self.home),
            "state_db": str(self.state_db),
            "tracking_uri": self.tracking_uri,
            "artifacts": str(self.artifacts),
            "profiles": str(self.profiles),
            "runs": str(self.runs),
            "requests": str(self.requests),
            "controller_log": str(self.controller_log),
        }
