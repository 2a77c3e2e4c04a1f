"""Where the state of a workspace lives. Every face asks this module; no other module builds a path.

A workspace is a folder, ``.mlops/`` under the directory JupyterLab or the CLI starts in, found the way git
finds ``.git`` (the nearest one in the current folder or a parent), or ``MLOPS_HOME`` when it is set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "MLOPS_HOME"
FOLDER_NAME = ".mlops"


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
        self.home.mkdir(parents=True, exist_ok=True)
        return self

    # state
    @property
    def state_db(self) -> Path:
        return self.home / "state.db"

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
    def runs(self) -> Path:
        return self.home / "runs"

    @property
    def requests(self) -> Path:
        return self.home / "requests"

    @property
    def deployments(self) -> Path:
        return self.home / "deployments"

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
