"""Experiments, runs and registered models of the workspace's MLflow store, as the panel lists them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from mlops_magics.wire import View


class Experiment(View):
    id: str
    name: str
    runs: int = Field(description="how many runs it holds (counted up to the 200 the runs route lists)")
    last_update: int | None = Field(description="epoch milliseconds")


class Run(View):
    """One MLflow run: what %%train logged (metrics, params), and where it came from."""

    id: str
    name: str | None
    status: str = Field(description="MLflow's run status: RUNNING, SCHEDULED, FINISHED, FAILED or KILLED")
    start_time: int | None = Field(description="epoch milliseconds")
    end_time: int | None = Field(description="epoch milliseconds; null while the run is not finished")
    metrics: dict[str, float | None] = Field(description="a metric logged as NaN or an infinity is null")
    params: dict[str, str]
    model_class: str = Field(description="the fitted model's module.Class ('' when %%train did not make the run)")
    parent: str | None = Field(description="the parent run's id, for the nested trial runs of a search")
    notebook: str | None = Field(description="the notebook the run was made in")


class ModelVersion(View):
    version: str
    run_id: str | None
    status: str
    created: int = Field(description="epoch milliseconds")
    aliases: list[str] = Field(description="the aliases pointing at this version (champion, challenger, ...)")


class RegisteredModel(View):
    """A registered model with its versions, newest first, and its aliases."""

    name: str
    aliases: dict[str, str] = Field(description="alias -> version")
    versions: list[ModelVersion]


class MlflowUiStatus(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"


class MlflowUi(View):
    """Whether the MLflow UI over the workspace's store runs, and where."""

    status: MlflowUiStatus
    url: str | None
    external: bool = Field(description="the workspace tracks to an MLflow server of its own (the URL is that one)")
