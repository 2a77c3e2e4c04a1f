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


class PrepTask(StrEnum):
    AUTO = "auto"  # read from the target column
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


class PrepModel(StrEnum):
    LINEAR = "linear"  # one-hot, imputed, scaled: most models
    TREES = "trees"  # gradient-boosted trees: native categories, missing values left to the model


class PrepDecision(View):
    column: str = Field(description="a column, or (rows) / (columns) for what concerns the whole table")
    found: str = Field(description="what the profile found")
    done: str = Field(description="what the code does about it, or why it is left")


class PrepSuggestion(View):
    """The data preparation a profile asks for (%prep): the code and its decisions."""

    profile_id: str | None
    target: str | None
    task: str | None = Field(description="classification or regression; null without a target")
    model: PrepModel = Field(description="what the code prepares for")
    code: str = Field(description="a notebook cell: imports, the rows to drop, a ColumnTransformer named prep")
    decisions: list[PrepDecision]
