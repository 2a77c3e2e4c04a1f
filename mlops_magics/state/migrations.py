"""Ordered schema migrations of ``state.db``; the schema version is SQLite's ``user_version``.

Each step runs in one transaction together with the version bump, so a crash leaves the old schema or the
new one, never half of a step. Append steps; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from mlops_magics.state.models import ClusterRecord, DeploymentRecord, Event, ProfileRecord


def _v1_clusters_and_events(conn: Connection) -> None:
    ClusterRecord.__table__.create(conn)
    Event.__table__.create(conn)
    conn.exec_driver_sql("CREATE INDEX ix_events_at ON events (at)")


def _v2_profiles(conn: Connection) -> None:
    ProfileRecord.__table__.create(conn)
    conn.exec_driver_sql("CREATE INDEX ix_profiles_created_at ON profiles (created_at)")


def _v3_deployments(conn: Connection) -> None:
    DeploymentRecord.__table__.create(conn)


MIGRATIONS: list[Callable[[Connection], None]] = [_v1_clusters_and_events, _v2_profiles, _v3_deployments]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: Connection, current: int) -> int:
    """Bring the schema from ``current`` to ``SCHEMA_VERSION``; return the number of steps run."""
    for version in range(current, SCHEMA_VERSION):
        with conn.begin():
            if conn.exec_driver_sql("PRAGMA user_version").scalar_one() != version:
                continue  # another process migrated this step while we waited for the write lock
            MIGRATIONS[version](conn)
            conn.exec_driver_sql(f"PRAGMA user_version = {version + 1}")
    return SCHEMA_VERSION - current
