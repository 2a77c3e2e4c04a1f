"""Profiles kept in the workspace: ``profiles/<id>/profile.json`` and ``report.html`` (and ``full.html``), listed
in ``state.db``. Every face lists and opens profiles through here."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mlops_magics.eda.profile import Profile
from mlops_magics.eda.report import standalone
from mlops_magics.errors import InvalidInput, NotFound
from mlops_magics.state import ProfileRecord, sessions
from mlops_magics.workspace import Workspace

_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
REPORTS = ("report", "full")


@dataclass(frozen=True)
class SavedProfile:
    id: str
    folder: Path

    @property
    def json_path(self) -> Path:
        return self.folder / "profile.json"

    @property
    def report_path(self) -> Path:
        return self.folder / "report.html"

    @property
    def full_report_path(self) -> Path:
        return self.folder / "full.html"


def _folder(workspace: Workspace, profile_id: str) -> Path:
    if not _ID.match(profile_id):
        raise InvalidInput(f"{profile_id!r} is not a profile id (they look like 20261126-101500-a1b2c3)")
    return workspace.profiles / profile_id


def save(workspace: Workspace, profile: Profile, full_html: str | None = None, compared_with: str | None = None) -> SavedProfile:
    profile_id = f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    saved = SavedProfile(profile_id, _folder(workspace, profile_id))
    profile.save(saved.json_path)
    saved.report_path.write_text(standalone(profile))
    if full_html is not None:
        saved.full_report_path.write_text(full_html)
    with sessions(workspace.state_db).begin() as session:
        session.add(
            ProfileRecord(
                id=profile_id,
                title=profile.title[:256],
                source=profile.data["source"],
                rows=profile.rows,
                columns=profile.data["overview"]["columns"],
                alerts=len(profile.alerts),
                has_full_report=full_html is not None,
                compared_with=compared_with,
            )
        )
    return saved


def _view(record: ProfileRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "title": record.title,
        "source": record.source,
        "rows": record.rows,
        "columns": record.columns,
        "alerts": record.alerts,
        "has_full_report": record.has_full_report,
        "compared_with": record.compared_with,
        "created_at": record.created_at.replace(tzinfo=timezone.utc).isoformat(timespec="seconds"),
    }


def list_profiles(workspace: Workspace, limit: int = 200) -> list[dict[str, Any]]:
    if not workspace.state_db.exists():
        return []
    with sessions(workspace.state_db)() as session:
        query = select(ProfileRecord).order_by(ProfileRecord.created_at.desc()).limit(limit)
        return [_view(r) for r in session.scalars(query)]


def get(workspace: Workspace, profile_id: str) -> dict[str, Any]:
    folder = _folder(workspace, profile_id)
    with sessions(workspace.state_db)() as session:
        record = session.get(ProfileRecord, profile_id)
        if record is None or not folder.exists():
            raise NotFound(f"no profile {profile_id!r} in this workspace")
        return _view(record)


def load(workspace: Workspace, profile_id: str) -> Profile:
    get(workspace, profile_id)
    return Profile.load(_folder(workspace, profile_id) / "profile.json")


def report_html(workspace: Workspace, profile_id: str, which: str = "report") -> str:
    if which not in REPORTS:
        raise InvalidInput(f"report {which!r} is not known; use one of {list(REPORTS)}")
    get(workspace, profile_id)
    path = _folder(workspace, profile_id) / f"{which}.html"
    if not path.exists():
        raise NotFound(f"profile {profile_id!r} has no {which} report (run %eda with --full to make one)")
    return path.read_text()
