"""``%%train`` as one operation: score the model the cell fitted, record everything in the tracker — the
cheap part now, the heavy part (model files, training profile) in the background — and register it."""

from __future__ import annotations

import contextlib
import html
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlops_magics.errors import MLOpsError
from mlops_magics.train import metrics as scoring
from mlops_magics.train.artifacts import CHALLENGER, JOB_TAGS, PREDICTIONS_ARTIFACT, PROFILE_ARTIFACT
from mlops_magics.train.background import WRITER
from mlops_magics.train.fingerprint import fingerprint
from mlops_magics.train.mirrors.base import Mirror, MirroredRun
from mlops_magics.train.tracker import Tracker, dumps

log = logging.getLogger("mlops.train")


@dataclass
class TrainRequest:
    experiment: str
    source: str = ""
    model_name: str | None = None
    data: tuple[Any, Any] | None = None
    eval: tuple[Any, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    notebook: str | None = None
    model_var: str = "model"
    metric_names: tuple[str, ...] | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    trials: dict[str, Any] | None = None  # scikit-learn cv_results_ of a search: one nested run per trial
    mirrors: list[Mirror] = field(default_factory=list)  # other trackers that get a copy, on the background writer
    mirror_folder: str = "mirrors"  # where offline mirrors write


@dataclass
class TrainResult:
    run_id: str
    experiment: str
    model_var: str
    model_class: str
    task: str
    metrics: dict[str, float]
    run_url: str | None
    model_name: str | None
    done: threading.Event
    steps: dict[str, str] = field(default_factory=dict)  # background step -> state
    version: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # what was not scored, and why
    training_profile: dict[str, Any] = field(default_factory=dict)  # Profile.summary() of the training data, once logged
    _handle: Any = None

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{v:.4f}</td></tr>"
            for k, v in self.metrics.items()
            if v == v
        )
        link = f"<a href='{html.escape(self.run_url)}' target='_blank'>open in MLflow</a>" if self.run_url else ""
        steps = " · ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in self.steps.items())
        version = f" · registered <b>{html.escape(self.model_name or '')}</b> v{self.version} @challenger" if self.version else ""
        error = f"<div style='color:var(--jp-error-color1,#d32f2f)'>{html.escape(self.error)}</div>" if self.error else ""
        notes = "".join(f"<div style='color:var(--jp-warn-color1,#f57c00)'>{html.escape(n)}</div>" for n in self.notes)
        return (
            f"<div class='mlops-train'><b>{html.escape(self.model_class)}</b> ({html.escape(self.task)}) "
            f"as <code>{html.escape(self.model_var)}</code> — run <code>{self.run_id[:8]}</code> in experiment "
            f"<b>{html.escape(self.experiment)}</b> {link}{version}"
            f"<table style='margin-top:4px'>{rows}</table><div style='color:var(--jp-ui-font-color2,#666)'>{steps}</div>"
            f"{notes}{error}</div>"
        )

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4f}" for k, v in self.metrics.items() if v == v)
        return "\n".join([f"<TrainResult run {self.run_id[:8]} {self.model_class}: {shown}>", *self.notes])

    def refresh(self) -> None:
        if self._handle is None:
            return
        try:
            self._handle.update(self)
        except Exception:  # the output area may be gone (the kernel is stopping); the run's record is what counts
            log.debug("could not refresh the display of run %s", self.run_id, exc_info=True)


def _params(model: Any) -> dict[str, Any]:
    try:
        raw = model.get_params(deep=True)
    except Exception:  # not a scikit-learn style estimator
        return {}
    simple = (str, int, float, bool, type(None))
    return {key: (value if isinstance(value, simple) else type(value).__name__) for key, value in raw.items()}


def _example(x: Any) -> Any:
    if isinstance(x, pd.DataFrame):
        return x.head(5)
    return np.asarray(x)[:5]


def _frame(x: Any, y: Any) -> pd.DataFrame:
    frame = x.copy() if isinstance(x, pd.DataFrame) else pd.DataFrame(np.asarray(x)).add_prefix("x")
    target = y.name if isinstance(y, pd.Series) and y.name is not None else "target"
    frame[str(target)] = np.asarray(y).ravel()
    return frame


def track(tracker: Tracker, model: Any, request: TrainRequest, display: Any = None) -> TrainResult:
    task = scoring.task_of(model)
    scores: dict[str, float] = {}
    notes: list[str] = []
    for prefix, flag, pair in (("train", "--data", request.data), ("eval", "--eval", request.eval)):
        if pair is not None:
            scored = scoring.evaluate(model, *pair, request.metric_names)
            scores.update({f"{prefix}_{k}": v for k, v in scored.values.items()})
            notes.extend(scored.notes(prefix, flag))
    tags = {
        "mlops.task": task,
        "mlops.model_class": f"{type(model).__module__}.{type(model).__name__}",
        "mlops.model_var": request.model_var,
        "mlops.cell": request.source[:5000],
        **request.extra_tags,
    }
    if notes:
        tags["mlops.notes"] = "\n".join(notes)
    if request.notebook:
        tags["mlflow.source.name"] = request.notebook
    # Trained inside a job's run: the run says which (the controller puts both in the run's environment).
    for variable, tag in JOB_TAGS:
        if os.environ.get(variable):
            tags[tag] = os.environ[variable]
    prints = {}
    for prefix, pair in (("train", request.data), ("eval", request.eval)):
        if pair is not None:
            prints[prefix] = fingerprint(pair[0])
            tags[f"mlops.data.{prefix}.sha256"] = prints[prefix]["sha256"]
            tags[f"mlops.data.{prefix}.rows"] = str(prints[prefix]["rows"])
    run_name = f"{request.model_var}-{type(model).__name__}"
    run_id = tracker.start_run(request.experiment, run_name, tags)
    params = {**_params(model), **request.params}
    try:
        tracker.log_batch(run_id, params, scores, {})
    except Exception as exc:  # the run exists: it must not stay RUNNING
        why = f"could not log the run's params and metrics: {type(exc).__name__}: {exc}"
        tracker.end_run(run_id, failed=True, reason=why)
        raise MLOpsError(why) from None
    result = TrainResult(
        run_id=run_id,
        experiment=request.experiment,
        model_var=request.model_var,
        model_class=type(model).__name__,
        task=task,
        metrics=scores,
        run_url=tracker.run_url(run_id),
        model_name=request.model_name,
        done=threading.Event(),
        steps={"model": "queued"} | ({"register": "queued"} if request.model_name else {}),
        notes=notes,
    )
    if display is not None:
        result._handle = display(result, display_id=True)
    unfinished = (tracker.tracking_uri, run_id) if tracker.tracking_uri else None
    result.done = WRITER.submit(
        f"tracking run {run_id[:8]}", lambda: _heavy(tracker, model, request, result, prints), unfinished=unfinished
    )
    if request.mirrors:
        from mlops_magics.train.mirrors.send import send

        mirrored = MirroredRun(
            request.experiment, run_name, run_id, result.run_url, params, scores, tags, _trial_list(request.trials)
        )
        result.steps.update({mirror.name: "queued" for mirror in request.mirrors})
        WRITER.submit(
            f"mirroring run {run_id[:8]}", lambda: send(tracker, request.mirrors, mirrored, request.mirror_folder, result)
        )
    return result


def _trial_list(trials: dict[str, Any] | None) -> list[dict[str, Any]]:
    if trials is None:
        return []
    return [
        {
            "params": params,
            "metrics": {"mean_cv_score": float(trials["mean_test_score"][i]), "std_cv_score": float(trials["std_test_score"][i])},
        }
        for i, params in enumerate(trials["params"])
    ]


def _heavy(tracker: Tracker, model: Any, request: TrainRequest, result: TrainResult, prints: dict[str, Any]) -> None:
    """Model files, signature, requirements, training profile and registration — off the cell's path."""
    from mlops_magics.eda import profile

    run_id = result.run_id
    try:
        tracker.log_text(run_id, request.source, "cell.py")
        if request.trials is not None:
            _log_trials(tracker, request.experiment, run_id, request.trials)
            result.steps["trials"] = str(len(request.trials["params"]))
        if prints:
            tracker.log_text(run_id, dumps(prints), "data/fingerprint.json")
        result.steps["model"] = "logging"
        result.refresh()
        example = _example(request.data[0]) if request.data is not None else None
        model_uri = tracker.log_model(run_id, model, example)
        result.steps["model"] = "logged"
        if request.data is not None:
            baseline = profile(_frame(*request.data), title=f"training data of run {run_id[:8]}", progress=False)
            tracker.log_text(run_id, baseline.to_json(), PROFILE_ARTIFACT)
            result.training_profile = baseline.summary()
            result.steps["profile"] = "logged"
            result.steps["predictions"] = _log_predictions(tracker, model, request.data[0], run_id)
        result.refresh()
        if request.model_name:
            result.version = tracker.register(request.model_name, run_id, model_uri, CHALLENGER)
            result.steps["register"] = f"v{result.version}"
        tracker.end_run(run_id)
        result.refresh()
    except Exception as exc:
        result.error = f"tracking failed: {type(exc).__name__}: {exc}"
        result.refresh()
        tracker.end_run(run_id, failed=True, reason=result.error)
        raise


def prediction_frame(model: Any, x: Any) -> pd.DataFrame:
    """The model's predictions on ``x`` as one column, ``prediction`` (the label, for a classifier); for a binary
    classifier with ``predict_proba``, the positive class's probability beside it (``probability``)."""
    predicted = np.asarray(model.predict(x))
    if predicted.ndim == 2 and predicted.shape[1] == 1:
        predicted = predicted.ravel()
    if predicted.ndim != 1:
        raise ValueError(f"the model gives {predicted.shape[1:]} outputs per row, not one")
    frame = pd.DataFrame({"prediction": predicted})
    if scoring.task_of(model) == "classification" and hasattr(model, "predict_proba"):
        with contextlib.suppress(Exception):  # a classifier whose probabilities are not available (SVC without them)
            proba = np.asarray(model.predict_proba(x))
            if proba.ndim == 2 and proba.shape[1] == 2:
                frame["probability"] = proba[:, 1]
    return frame


def _log_predictions(tracker: Tracker, model: Any, x: Any, run_id: str) -> str:
    """The profile of the model's predictions on its training data; a model that cannot give them one column
    each is noted, never a failed run (the monitor then says it has no reference predictions)."""
    from mlops_magics.eda import profile

    try:
        frame = prediction_frame(model, x)
    except Exception as exc:
        log.info("run %s: no predictions profile: %s: %s", run_id[:8], type(exc).__name__, exc)
        return "not logged"
    reference = profile(frame, title=f"predictions on the training data of run {run_id[:8]}", progress=False)
    tracker.log_text(run_id, reference.to_json(), PREDICTIONS_ARTIFACT)
    return "logged"


def _log_trials(tracker: Tracker, experiment: str, parent: str, trials: dict[str, Any]) -> None:
    for index, params in enumerate(trials["params"]):
        child = tracker.start_run(experiment, f"trial-{index}", {"mlflow.parentRunId": parent})
        scores = {
            "mean_cv_score": float(trials["mean_test_score"][index]),
            "std_cv_score": float(trials["std_test_score"][index]),
        }
        tracker.log_batch(child, params, scores, {"mlops.rank": str(trials["rank_test_score"][index])})
        tracker.end_run(child)


def notebook_path(namespace: dict[str, Any]) -> str | None:
    """The notebook a kernel runs, as Jupyter tells it (the server sets JPY_SESSION_NAME)."""
    return namespace.get("__session__") or os.environ.get("JPY_SESSION_NAME")
