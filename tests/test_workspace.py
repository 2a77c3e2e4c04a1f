"""The workspace folder and its state database: where things live, WAL, migrations, refusing foreign files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mlops_magics.errors import WorkspaceError
from mlops_magics.state import ClusterRecord, open_state
from mlops_magics.state.database import APPLICATION_ID
from mlops_magics.state.migrations import SCHEMA_VERSION
from mlops_magics.workspace import HOME_ENV, Workspace


def test_mlops_home_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "elsewhere"))
    assert Workspace.current(tmp_path).home == (tmp_path / "elsewhere").resolve()
    assert Workspace.for_root(tmp_path).home == (tmp_path / "elsewhere").resolve()


def test_nearest_existing_workspace_upwards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HOME_ENV, raising=False)
    open_state(tmp_path / ".mlops" / "state.db")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert Workspace.current(nested).home == (tmp_path / ".mlops").resolve()
    # No workspace above: a new one in the start directory.
    other = tmp_path.parent / f"{tmp_path.name}-other"
    other.mkdir()
    assert Workspace.current(other).home == other.resolve() / ".mlops"


def test_tracking_uri_defaults_to_workspace_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ws = Workspace(tmp_path / ".mlops")
    assert ws.tracking_uri == f"sqlite:///{tmp_path / '.mlops' / 'mlflow.db'}"
    assert ws.artifacts == tmp_path / ".mlops" / "mlartifacts"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert ws.tracking_uri == "http://mlflow.example:5000"


def test_new_state_db_is_ours_in_wal_mode_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    sessions = open_state(path)
    with sessions.begin() as session:
        session.add(ClusterRecord(name="c1", spec={"kind": "local"}))
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    # Reopening keeps the rows and runs no migration twice.
    with open_state(path)() as session:
        assert session.get(ClusterRecord, "c1").spec == {"kind": "local"}


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b"this is not a database at all " * 100), "not a readable SQLite database"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 2000), "not a readable SQLite database"),
        (
            lambda p: sqlite3.connect(p).executescript("CREATE TABLE customers (id INTEGER);"),
            "another application",
        ),
    ],
    ids=["garbage", "corrupt-header", "foreign-sqlite"],
)
def test_corrupt_or_foreign_state_db_is_refused_untouched(tmp_path: Path, make, expected: str) -> None:
    path = tmp_path / "state.db"
    make(path)
    before = path.read_bytes()
    with pytest.raises(WorkspaceError) as caught:
        open_state(path)
    assert str(path) in caught.value.message
    assert expected in caught.value.message
    assert path.read_bytes() == before
    assert not (tmp_path / "state.db-wal").exists()


def test_state_db_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    open_state(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    with pytest.raises(WorkspaceError, match="newer than this mlops-magics understands"):
        open_state(path)


def test_controller_refuses_to_start_on_a_corrupt_state_db(workspace: Workspace) -> None:
    from mlops_magics.controller import Controller
    from mlops_magics.errors import ControllerUnavailable

    workspace.ensure()
    workspace.state_db.write_bytes(b"corrupt" * 100)
    with pytest.raises(ControllerUnavailable) as caught:
        Controller(workspace).status()
    assert str(workspace.state_db) in caught.value.message
    assert workspace.state_db.read_bytes() == b"corrupt" * 100
