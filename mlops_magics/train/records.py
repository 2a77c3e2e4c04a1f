"""What MLflow holds, as the panel lists it: experiments, runs with their key metrics, registered models."""

from __future__ import annotations

from typing import Any

from mlops_magics import tracking
from mlops_magics.errors import NotFound
from mlops_magics.workspace import Workspace

RUNS_SHOWN = 200


def _client(workspace: Workspace) -> Any:
    return tracking.mlflow_for(workspace).MlflowClient(workspace.tracking_uri)


def experiments(workspace: Workspace) -> list[dict[str, Any]]:
    client = _client(workspace)
    try:
        found = client.search_experiments(order_by=["last_update_time DESC"])
    except Exception as exc:
        raise tracking.unavailable(workspace, exc) from None
    return [
        {
            "id": e.experiment_id,
            "name": e.name,
            "runs": len(client.search_runs([e.experiment_id], max_results=RUNS_SHOWN)),
            "last_update": e.last_update_time,
        }
        for e in found
        if e.name != "Default" or client.search_runs([e.experiment_id], max_results=1)
    ]


def _run(run: Any) -> dict[str, Any]:
    tags = run.data.tags
    return {
        "id": run.info.run_id,
        "name": run.info.run_name,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "metrics": run.data.metrics,
        "params": run.data.params,
        "model_class": tags.get("mlops.model_class", ""),
        "parent": tags.get("mlflow.parentRunId"),
        "notebook": tags.get("mlflow.source.name"),
    }


def runs(workspace: Workspace, experiment_id: str) -> list[dict[str, Any]]:
    client = _client(workspace)
    try:
        client.get_experiment(experiment_id)
    except Exception as exc:  # only MLflow's "does not exist" is a 404; a store that fails says why
        if _missing(exc):
            raise NotFound(f"no experiment {experiment_id!r} in {workspace.tracking_uri}") from None
        raise tracking.unavailable(workspace, exc) from None
    found = client.search_runs([experiment_id], max_results=RUNS_SHOWN, order_by=["attributes.start_time DESC"])
    return [_run(r) for r in found]


def run(workspace: Workspace, run_id: str) -> dict[str, Any]:
    try:
        return _run(_client(workspace).get_run(run_id))
    except Exception as exc:
        if _missing(exc):
            raise NotFound(f"no run {run_id!r} in {workspace.tracking_uri}") from None
        raise tracking.unavailable(workspace, exc) from None


def _missing(exc: Exception) -> bool:
    """MLflow's answer for an id it does not hold (RESOURCE_DOES_NOT_EXIST, or INVALID_PARAMETER_VALUE for an id
    of the wrong shape), as opposed to a store that cannot be read."""
    return getattr(exc, "error_code", None) in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def models(workspace: Workspace) -> list[dict[str, Any]]:
    client = _client(workspace)
    listed = []
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name='{model.name}'")
        aliases = dict(model.aliases or {})
        by_version: dict[str, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(str(version), []).append(alias)
        listed.append(
            {
                "name": model.name,
                "aliases": {alias: str(version) for alias, version in aliases.items()},
                "versions": [
                    {
                        "version": str(v.version),
                        "run_id": v.run_id,
                        "status": v.status,
                        "created": v.creation_timestamp,
                        "aliases": sorted(by_version.get(str(v.version), [])),
                    }
                    for v in sorted(versions, key=lambda v: -int(v.version))
                ],
            }
        )
    return listed
