"""``%%train`` as one operation on a kernel's variables, for the magic and for a job's kernel alike: once the
training cell has run, take the model it fitted (or refit a registered one, or search for the best), name the
experiment, and track it.

The face parses its words into a ``TrainOrder``, checks it before the cell runs (a typo costs no training),
runs the cell, then calls ``train``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_magics.errors import MLOpsError
from mlops_magics.train import capture

if TYPE_CHECKING:
    from mlops_magics.train.run import TrainResult
    from mlops_magics.workspace import Workspace

DEFAULT_EXPERIMENT = "default"  # a model trained outside a notebook, with no --experiment


@dataclass(frozen=True)
class TrainOrder:
    """What to track and how, as ``%%train``'s words said it. Variables are named, looked up after the cell."""

    experiment: str | None = None
    model_name: str | None = None  # register a version under this name (alias 'challenger')
    data: str | None = None  # "X,y": training features and target
    eval: str | None = None  # "X,y": held-out features and target
    params: dict[str, str] = field(default_factory=dict)
    model_var: str | None = None  # the variable holding the model; else the one the cell fitted
    metrics: tuple[str, ...] | None = None  # None: the task's default metrics
    from_model: str | None = None  # NAME@ALIAS or NAME/VERSION: refit its pipeline on ``data``
    search: str | None = None  # "grid" or "random"
    space: str | None = None  # "C=0.1,1,10 penalty=l1,l2"
    cv: int = 5
    trials: int | None = None
    mirrors: str | None = None  # "wandb,comet"; None: the workspace default (MLOPS_MIRRORS)

    def check(self) -> None:
        """What can be checked before the cell runs."""
        from mlops_magics.train.mirrors import registry

        registry.load(registry.names(self.mirrors))
        capture.pair_names(self.data, "--data")
        capture.pair_names(self.eval, "--eval")
        if self.metrics:
            from mlops_magics.train.metrics import check_metric

            for name in self.metrics:
                check_metric(name)


def experiment_name(experiment: str | None, notebook: str | None) -> str:
    """The experiment asked for, else the notebook's name (``churn.ipynb`` -> ``churn``), else ``default``."""
    if experiment:
        return experiment
    return os.path.splitext(os.path.basename(notebook))[0] if notebook else DEFAULT_EXPERIMENT


def train(
    workspace: Workspace,
    namespace: dict[str, Any],
    before: capture.Snapshot,
    order: TrainOrder,
    source: str,
    display: Any = None,
    notify: Callable[[str], None] = print,
) -> TrainResult:
    """Track the model of a cell that has run in ``namespace`` (``before``: its variables before the cell).

    ``--from`` puts the refitted model in the namespace as ``model``; ``--search`` puts the best estimator under
    the model's own name. ``display`` shows the result as it is written; ``notify`` says what went wrong in part
    (fits of a search that failed)."""
    from mlops_magics.train.background import WRITER
    from mlops_magics.train.mirrors import registry
    from mlops_magics.train.retrain import refit
    from mlops_magics.train.run import TrainRequest, notebook_path, track
    from mlops_magics.train.tracker import MLflowTracker

    data = capture.pair(namespace, order.data, "--data")
    evaluation = capture.pair(namespace, order.eval, "--eval")
    mirrors = registry.load(registry.names(order.mirrors))
    tracker = MLflowTracker(workspace)
    extra: dict[str, str] = {}
    if order.from_model:
        WRITER.flush()  # the model to refit may still be registering
        if data is None:
            raise MLOpsError("--from refits a registered model: give the new data with --data X,y")
        model_var, model = "model", refit(tracker, order.from_model, *data)
        namespace[model_var] = model
        extra["mlops.retrained_from"] = order.from_model
    else:
        model_var, model = capture.find_model(namespace, before, order.model_var, fitted=order.search is None)
    trials = None
    if order.search:
        from mlops_magics.train.search import parse_space, run_search

        if data is None or not order.space:
            raise MLOpsError('--search needs --data X,y and --space "NAME=V1,V2 ..."')
        found = run_search(model, *data, order.search, parse_space(order.space), order.cv, order.trials)
        model = namespace[model_var] = found.best_estimator
        if found.failures:
            notify(f"search: {len(found.failures)} fit(s) failed and scored NaN; the first: {found.failures[0]}")
        extra["mlops.search"] = f"{order.search}: {len(found.cv_results['params'])} trials, best {found.best_params}"
        trials = found.cv_results
    notebook = notebook_path(namespace)
    request = TrainRequest(
        experiment=experiment_name(order.experiment, notebook),
        source=source,
        model_name=order.model_name,
        data=data,
        eval=evaluation,
        params=dict(order.params),
        notebook=notebook,
        model_var=model_var,
        metric_names=order.metrics,
        extra_tags=extra,
        trials=trials,
        mirrors=mirrors,
        mirror_folder=str(workspace.home / "mirrors"),
    )
    return track(tracker, model, request, display=display)
