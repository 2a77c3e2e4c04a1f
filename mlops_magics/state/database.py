"""Open ``state.db``: refuse a corrupt or foreign file without touching it, then migrate and use WAL.

The file is its owner's only (0600), and so are the ``-wal`` and ``-shm`` files SQLite makes with its mode:
it holds what the controller owns, the digests of deployment tokens among them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from mlops_magics.errors import WorkspaceError
from mlops_magics.state.migrations import SCHEMA_VERSION, migrate
from mlops_magics.workspace import PRIVATE_FOLDER, create_private, keep_private

# SQLite's application_id marks the file as ours: 'MLOP'.
APPLICATION_ID = 0x4D4C4F50


def _refuse(path: Path, why: str) -> WorkspaceError:
    return WorkspaceError(
        f"{path} {why}. It was left untouched; move it away (or set MLOPS_HOME to another folder) "
        "and mlops-magics will create a new workspace."
    )


def _existing_version(path: Path) -> int | None:
    """The schema version of an existing workspace file, None for a new one; raise for anything not ours.

    Read-only, so a file we refuse is never modified (not even its journal mode).
    """
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _refuse(path, f"is not a readable SQLite database ({exc})") from None
    if app_id != APPLICATION_ID:
        raise _refuse(path, "is an SQLite database of another application, not an mlops-magics workspace")
    if version > SCHEMA_VERSION:
        raise _refuse(
            path,
            f"has schema version {version}, newer than this mlops-magics understands ({SCHEMA_VERSION}); upgrade mlops-magics",
        )
    return int(version)


def _engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN: then DDL is transactional too (migrations are atomic).
        dbapi_connection.isolation_level = None
        for pragma in ("journal_mode = WAL", "busy_timeout = 10000", "foreign_keys = ON"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def open_state(path: Path) -> sessionmaker[Session]:
    """Open (creating and migrating as needed) the workspace database at ``path``."""
    version = _existing_version(path)
    path.parent.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    # Before SQLite opens it: a new file is created 0600, and one made open by an older version is closed.
    create_private(path)
    keep_private(path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm"))
    engine = _engine(path)
    with engine.connect() as conn:
        if version is None:
            with conn.begin():
                conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")
            version = 0
        if migrate(conn, version) and version > 0:
            # What a step removed (plain tokens) may still sit in the log's older frames: write them out and
            # empty it. Best effort: a reader of another process may hold it; its next checkpoint does it.
            # On the driver's connection: outside a transaction, where a checkpoint can run.
            conn.connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return sessionmaker(engine, expire_on_commit=False)
