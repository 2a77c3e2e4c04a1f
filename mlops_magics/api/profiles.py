"""Saved data profiles (%eda), as the panel lists them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, RootModel

from mlops_magics.wire import View


class ProfileSummary(View):
    id: str
    title: str
    source: str = Field(description="where the data came from: a variable's description, a path, ...")
    rows: int
    columns: int
    alerts: int = Field(description="how many alerts the profile raised")
    has_full_report: bool = Field(description="whether %eda --full made a ydata-profiling report")
    compared_with: str | None = Field(description="the id of the profile it was compared with (%eda --compare)")
    created_at: str


class Profile(RootModel[dict[str, Any]]):
    """A whole profile (profile.json): columns, statistics, alerts, correlations, comparison."""


class ReportKind(StrEnum):
    REPORT = "report"  # the compact report %eda shows
    FULL = "full"  # the ydata-profiling one (%eda --full)
