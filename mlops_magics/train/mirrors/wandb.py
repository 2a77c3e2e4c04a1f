"""Weights & Biases: online when ``WANDB_API_KEY`` is set (or ``WANDB_MODE`` says so), else offline — a run folder
uploaded later with ``wandb sync``. Never a login prompt in a kernel; the ``wandb-core`` process is stopped after."""

from __future__ import annotations

import os
from typing import Any

from mlops_magics.train.mirrors.base import Mirrored, MirroredRun


def _mode() -> str:
    mode = os.environ.get("WANDB_MODE")
    if mode in ("online", "offline", "disabled"):
        return mode
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


class WandbMirror:
    name = "wandb"
    extra = "wandb"
    requires = "wandb"

    def record(self, run: MirroredRun, folder: str) -> Mirrored:
        import wandb

        mode = _mode()
        users_run = wandb.run is not None  # a W&B run the notebook started itself: its session is left running
        project = os.environ.get("WANDB_PROJECT") or run.experiment
        settings = wandb.Settings(silent=True, console="off", x_disable_stats=True, save_code=False, disable_git=True)
        try:
            group = run.run_id if run.trials else None  # a search: the best model's run and its trials together
            location = self._write(wandb, run, project, mode, folder, settings, group=group)
            for index, trial in enumerate(run.trials):
                trial_run = MirroredRun(
                    run.experiment,
                    f"{run.run_name}-trial-{index}",
                    run.run_id,
                    run.mlflow_url,
                    trial["params"],
                    trial["metrics"],
                    {},
                )
                self._write(wandb, trial_run, project, mode, folder, settings, group=group, job_type="trial")
        finally:
            if not users_run:  # stops the wandb-core process, which would otherwise outlive the run in the kernel
                wandb.teardown()
        if mode == "offline":
            return Mirrored(location, sync=f"wandb sync {location}")
        return Mirrored(location)

    def _write(
        self,
        wandb: Any,
        run: MirroredRun,
        project: str,
        mode: str,
        folder: str,
        settings: Any,
        group: str | None = None,
        job_type: str = "train",
    ) -> str:
        tags = [f"mlflow:{run.run_id}"]
        config = {**run.params, "mlflow_run_id": run.run_id}
        if run.mlflow_url:
            config["mlflow_url"] = run.mlflow_url
        started = wandb.init(
            project=project,
            name=run.run_name,
            dir=folder,
            mode=mode,
            config=config,
            tags=tags,
            notes=run.tags.get("mlops.cell"),
            group=group,
            job_type=job_type,
            settings=settings,
            reinit="create_new",
        )
        try:
            metrics = {k: v for k, v in run.metrics.items() if v == v}
            started.log(metrics)
            tags = {f"tag/{k}": v for k, v in run.tags.items() if k != "mlops.cell"}
            started.summary.update({**metrics, **tags, **{f"profile/{k}": v for k, v in run.profile.items()}})
            return started.url if mode == "online" else started.settings.sync_dir
        finally:
            started.finish()
