"""SQLAlchemy models of ``state.db``. Every change to them comes with a migration in ``migrations.py``."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class ClusterRecord(Base):
    """A Dask cluster the controller owns: what was asked for (spec, desired) and what is (status, addresses)."""

    __tablename__ = "clusters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict] = mapped_column(JSON)
    desired: Mapped[str] = mapped_column(String(16), default="running")
    status: Mapped[str] = mapped_column(String(16), default="starting")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    scheduler_address: Mapped[str | None] = mapped_column(String(256), nullable=True)
    dashboard_link: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Event(Base):
    """Something the controller did or saw, for the log a person reads when things go wrong."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)


class ProfileRecord(Base):
    """A data profile saved in the workspace (its JSON and HTML live in ``profiles/<id>/``)."""

    __tablename__ = "profiles"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    columns: Mapped[int] = mapped_column(Integer)
    alerts: Mapped[int] = mapped_column(Integer)
    has_full_report: Mapped[bool] = mapped_column(default=False)
    compared_with: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DeploymentRecord(Base):
    """A model (or a user's own HTTP app) served on a port, owned by the controller."""

    __tablename__ = "deployments"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict] = mapped_column(JSON)
    desired: Mapped[str] = mapped_column(String(16), default="running")
    status: Mapped[str] = mapped_column(String(16), default="starting")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Only the SHA-256 of its bearer token: the token itself is in deployments/<name>/token (0600).
    token_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class JobRecord(Base):
    """A notebook run as a job: its spec, whether its triggers are paused, its trigger token's digest."""

    __tablename__ = "jobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict] = mapped_column(JSON)
    paused: Mapped[bool] = mapped_column(default=False)
    # Only the SHA-256 of the trigger token (shown once, when issued).
    token_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The last schedule time that was handled (run, skipped or missed): what a restart compares against.
    cron_handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    runs_made: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class JobRunRecord(Base):
    """One run of a job. ``trigger_key`` is unique per job: one trigger (a schedule time, a new file, an API call)
    never makes two runs, whatever restarts happen between."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "number"), UniqueConstraint("job", "trigger_key"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))
    trigger_key: Mapped[str] = mapped_column(String(1200))
    trigger_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    parameters: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # a retry's backoff
    cells_done: Mapped[int] = mapped_column(Integer, default=0)
    cells_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failed_cell: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class JobDataFileRecord(Base):
    """A file a job's ``on_data`` glob has seen: each file starts one run, also across controller restarts."""

    __tablename__ = "job_data_files"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(1200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MonitorRecord(Base):
    """A standing monitor: its spec, whether it is paused, its last check, whether its deployment had traffic."""

    __tablename__ = "monitors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict] = mapped_column(JSON)
    paused: Mapped[bool] = mapped_column(default=False)
    last_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_verdict: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A check found rows once: an empty window after that is "no traffic", an alert.
    had_traffic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class MonitorCheckRecord(Base):
    """One check of a standing monitor (the last ``CHECKS_KEPT`` of each are kept)."""

    __tablename__ = "monitor_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    verdict: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    alert: Mapped[str | None] = mapped_column(String(32), nullable=True)
    details: Mapped[dict] = mapped_column(JSON)


class MonitorAlertRecord(Base):
    """An alert a standing monitor raised, and the job run it started (if any)."""

    __tablename__ = "monitor_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor: Mapped[str] = mapped_column(String(64), index=True)
    deployment: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    job: Mapped[str | None] = mapped_column(String(64), nullable=True)
    run: Mapped[int | None] = mapped_column(Integer, nullable=True)


class MonitorSwapRecord(Base):
    """A model swap of a monitored deployment, watched by the monitor: the new version's first window against the
    previous version's, kept or rolled back; linked to the alert whose retrain run trained the new version."""

    __tablename__ = "monitor_swaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor: Mapped[str] = mapped_column(String(64), index=True)
    deployment: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(256))
    version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    previous_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    swapped_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(32), default="watching")  # watching, kept, rolled back
    message: Mapped[str] = mapped_column(Text, default="")
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    review: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # the review that let it in: run id, summary
