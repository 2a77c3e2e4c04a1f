"""Comet: an ``Experiment`` when ``COMET_API_KEY`` is set, else an ``OfflineExperiment`` (one zip, uploaded later
with ``comet upload``). Logged explicitly: Comet's MLflow patching covers MLflow's fluent API only, not our client."""

from __future__ import annotations

import os
from typing import Any

from mlops_magics.train.mirrors.base import Mirrored, MirroredRun

# Nothing gathered behind our back: the mirror carries what the MLflow run has, no more.
QUIET: dict[str, Any] = {
    "log_code": False,
    "log_graph": False,
    "auto_param_logging": False,
    "auto_metric_logging": False,
    "parse_args": False,
    "auto_output_logging": False,
    "log_env_details": False,
    "log_git_metadata": False,
    "log_git_patch": False,
    "log_env_gpu": False,
    "log_env_host": False,
    "log_env_cpu": False,
    "log_env_network": False,
    "log_env_disk": False,
    "display_summary_level": 0,
}


def _project(name: str) -> str:
    return os.environ.get("COMET_PROJECT_NAME") or name


def _log(experiment: Any, run: MirroredRun, name: str) -> None:
    experiment.set_name(name)
    experiment.log_parameters(run.params)
    experiment.log_metrics({k: v for k, v in run.metrics.items() if v == v})
    experiment.log_others({"mlflow_run_id": run.run_id, **({"mlflow_url": run.mlflow_url} if run.mlflow_url else {})})
    experiment.log_others(run.tags)
    if run.profile:
        experiment.log_others({f"profile.{k}": v for k, v in run.profile.items()})


class CometMirror:
    name = "comet"
    extra = "comet"
    requires = "comet_ml"

    def record(self, run: MirroredRun, folder: str) -> Mirrored:
        import comet_ml

        online = bool(os.environ.get("COMET_API_KEY"))
        project = _project(run.experiment)

        def start() -> Any:
            if online:
                return comet_ml.Experiment(project_name=project, **QUIET)
            return comet_ml.OfflineExperiment(project_name=project, offline_directory=folder, **QUIET)

        experiment = start()
        try:
            _log(experiment, run, run.run_name)
            experiment.add_tags([f"mlflow:{run.run_id}"])
            key = experiment.get_key()
            url = experiment.url if online else None
        finally:
            experiment.end()
        for index, trial in enumerate(run.trials):  # a search's trials: runs of their own, grouped by the parent's id
            child = start()
            try:
                trial_run = MirroredRun(
                    run.experiment,
                    f"{run.run_name}-trial-{index}",
                    run.run_id,
                    run.mlflow_url,
                    trial["params"],
                    trial["metrics"],
                    {"mlops.parent": key},
                )
                _log(child, trial_run, trial_run.run_name)
            finally:
                child.end()
        if online:
            return Mirrored(url or key)
        path = os.path.join(folder, f"{key}.zip")
        return Mirrored(path, sync=f"comet upload {path}")
