"""SQLAlchemy models of ``state.db``. Every change to them comes with a migration in ``migrations.py``."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Integer, String, Text
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
