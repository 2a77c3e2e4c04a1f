"""The workspace's own records (clusters, events, profiles, deployments; jobs next) in ``state.db``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from mlops_magics.state.database import open_state
from mlops_magics.state.models import ClusterRecord, DeploymentRecord, Event, ProfileRecord

__all__ = ["ClusterRecord", "DeploymentRecord", "Event", "ProfileRecord", "open_state", "sessions"]


@lru_cache(maxsize=8)
def _sessions(path: Path) -> sessionmaker[Session]:
    return open_state(path)


def sessions(path: Path) -> sessionmaker[Session]:
    """The (opened once per process, migrated) sessions of the state database at ``path``."""
    return _sessions(path.resolve())
