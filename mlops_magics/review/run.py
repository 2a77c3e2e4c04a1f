"""``%review`` and ``mlops review`` as one operation."""

from __future__ import annotations

import html
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_magics import tracking
from mlops_magics.errors import InvalidInput, NotFound
from mlops_magics.train import metrics as scoring
from mlops_magics.train.artifacts import CHALLENGER, JOB_TAGS, PROFILE_ARTIFACT
from mlops_magics.train.background import WRITER
from mlops_magics.workspace import Workspace

CHAMPION = "champion"
PREVIOUS = "previous"
REVIEW_EXPERIMENT = "reviews"
PRIMARY = {"classification": "f1", "regression": "rmse"}


@dataclass
class ReviewResult:
    model: str
    metric: str
    challenger: str
    champion: str | None
    scores: dict[str, dict[str, float]]  # "challenger"/"champion" -> metric -> value
    gates: list[dict[str, Any]]
    promoted: bool = False
    drift: list[str] = field(default_factory=list)
    plot: str = ""  # base64 PNG, shown in the HTML form only
    review_run: str | None = None
    notes: list[str] = field(default_factory=list)  # what was not scored, and why

    @property
    def passed(self) -> bool:
        return all(g["passed"] for g in self.gates)

    @property
    def reasons(self) -> list[str]:
        return [g["why"] for g in self.gates if not g["passed"]]

    def summary(self) -> str:
        if self.passed:
            if self.champion is None:
                return f"{self.model} v{self.challenger} passed the gates and is the first champion"
            moved = "is now champion" if self.promoted else "may be promoted"
            return f"{self.model} v{self.challenger} passed the gates and {moved} (v{self.champion} before)"
        return f"{self.model} v{self.challenger} refused: " + "; ".join(self.reasons)

    def __repr__(self) -> str:
        """The text form: the verdict, the scores side by side, the gates (no picture)."""
        names = sorted(self.scores.get("challenger", {}))
        champion = f"champion v{self.champion}" if self.champion else ""
        width = max((len(n) for n in names), default=6)
        lines = [self.summary(), f"{'':{width}}  {'challenger v' + self.challenger:>16}  {champion:>16}".rstrip()]
        for n in names:
            theirs = self.scores.get("champion", {}).get(n)
            lines.append(
                f"{n:{width}}  {self.scores['challenger'][n]:16.4f}  {'' if theirs is None else f'{theirs:16.4f}'}".rstrip()
            )
        lines += [f"{'passed' if g['passed'] else 'FAILED'}: {g['why']}" for g in self.gates]
        lines.append(f"training data drift between the two: {', '.join(self.drift) or 'none'}")
        return "\n".join(lines + self.notes)

    def _repr_html_(self) -> str:
        names = sorted(self.scores.get("challenger", {}))
        rows = "".join(
            f"<tr><td>{html.escape(n)}</td><td>{self.scores['challenger'][n]:.4f}</td>"
            f"<td>{self.scores.get('champion', {}).get(n, float('nan')):.4f}</td></tr>"
            for n in names
        )
        gates = "".join(
            f"<li style='color:{'var(--jp-success-color1,#388e3c)' if g['passed'] else 'var(--jp-error-color1,#d32f2f)'}'>"
            f"{'✔' if g['passed'] else '✘'} {html.escape(g['why'])}</li>"
            for g in self.gates
        )
        drift = f"<div>Training data drift between the two: {html.escape(', '.join(self.drift) or 'none')}</div>"
        drift += "".join(f"<div style='color:var(--jp-warn-color1,#f57c00)'>{html.escape(n)}</div>" for n in self.notes)
        image = f"<img src='data:image/png;base64,{self.plot}'/>" if self.plot else ""
        champion = f"v{self.champion}" if self.champion else "(none yet)"
        return (
            f"<div class='mlops-review'><h3>{html.escape(self.summary())}</h3>"
            f"<table><tr><th></th><th>challenger v{self.challenger}</th><th>champion {champion}</th></tr>{rows}</table>"
            f"<ul>{gates}</ul>{drift}{image}</div>"
        )


def _load(uri: str) -> Any:
    import mlflow.pyfunc
    import mlflow.sklearn

    try:
        return mlflow.sklearn.load_model(uri)
    except Exception:  # not a scikit-learn flavour: predict through pyfunc
        return mlflow.pyfunc.load_model(uri)


def _version(client: Any, name: str, alias: str) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _profile(client: Any, run_id: str) -> Any | None:
    from mlops_magics.eda.profile import Profile

    try:
        with tempfile.TemporaryDirectory() as folder:
            return Profile.load(Path(client.download_artifacts(run_id, PROFILE_ARTIFACT, folder)))
    except Exception:  # a model trained without --data has no training profile
        return None


def review(
    workspace: Workspace,
    model: str,
    x: Any,
    y: Any,
    *,
    metric: str | None = None,
    minimum: float | None = None,
    min_improvement: float | None = None,
    promote: bool = True,
) -> ReviewResult:
    from mlops_magics.train.mirrors import registry

    mirrors = registry.load(registry.names(None))  # the workspace's mirrors ($MLOPS_MIRRORS), checked first
    WRITER.flush()  # the challenger may still be registering
    mlflow = tracking.mlflow_for(workspace)
    client = mlflow.MlflowClient(workspace.tracking_uri)
    challenger = _version(client, model, CHALLENGER)
    if challenger is None:
        raise NotFound(f"model {model!r} has no challenger; train one with %%train --model {model}")
    champion = _version(client, model, CHAMPION)
    if champion is not None and champion.version == challenger.version:
        raise InvalidInput(f"{model} v{challenger.version} is already the champion; train a new challenger first")
    challenger_model = _load(f"models:/{model}/{challenger.version}")
    task = scoring.task_of(challenger_model)
    metric = scoring.check_metric(metric or PRIMARY[task])
    names = tuple(dict.fromkeys((*scoring.DEFAULTS[task], metric)))
    loaded = {"challenger": challenger_model}
    if champion is not None:
        loaded["champion"] = _load(f"models:/{model}/{champion.version}")
    evaluated = {label: scoring.evaluate(m, x, y, names) for label, m in loaded.items()}
    scores = {label: e.values for label, e in evaluated.items()}
    gates = _gates(metric, scores, minimum, min_improvement, evaluated["challenger"].skipped.get(metric))
    result = ReviewResult(model, metric, str(challenger.version), str(champion.version) if champion else None, scores, gates)
    result.notes = list(dict.fromkeys(n for label, e in evaluated.items() for n in e.notes(label, "--data")))
    if champion is not None:
        reference, current = _profile(client, champion.run_id), _profile(client, challenger.run_id)
        if reference is not None and current is not None:
            from mlops_magics.eda.compare import compare

            result.drift = compare(reference, current).drifted
    from mlops_magics.review.plots import review_plots

    labelled = {f"challenger v{challenger.version}": challenger_model}
    if champion is not None:
        labelled[f"champion v{champion.version}"] = loaded["champion"]
    result.plot = review_plots(task, y, labelled, x)
    if result.passed and promote:
        _promote(client, model, challenger.version, champion.version if champion else None)
        result.promoted = True
    result.review_run = review_run = _record(workspace, result)
    if mirrors:
        _mirror(workspace, mirrors, result, review_run)
    return result


def _mirror(workspace: Workspace, mirrors: list[Any], result: ReviewResult, review_run: str) -> None:
    """The review run, mirrored before it is shown (a review takes seconds already): its notes say where it went."""
    from mlops_magics.train.mirrors.base import MirroredRun
    from mlops_magics.train.mirrors.send import send_one
    from mlops_magics.train.tracker import MLflowTracker

    tracker = MLflowTracker(workspace)
    run = MirroredRun(
        REVIEW_EXPERIMENT,
        f"review-{result.model}-v{result.challenger}",
        review_run,
        tracker.run_url(review_run),
        {
            "model": result.model,
            "challenger_version": result.challenger,
            "champion_version": str(result.champion),
            "metric": result.metric,
        },
        {f"{label}_{k}": v for label, values in result.scores.items() for k, v in values.items() if v == v},
        {
            "mlops.review.passed": str(result.passed),
            "mlops.review.promoted": str(result.promoted),
            "mlops.review.summary": result.summary(),
        },
    )
    for mirror in mirrors:
        _, note = send_one(tracker, mirror, run, str(workspace.home / "mirrors"))
        if note:
            result.notes.append(note)


def _compared(metric: str, value: float, theirs: float) -> str:
    """``rmse 51.2345 vs the champion's 36.3395: 14.8950 worse`` — worse or better the way the metric points."""
    gain = scoring.better(metric, value, theirs)
    if gain != gain:
        verdict = "cannot be compared"
    elif gain == 0:
        verdict = "the same"
    else:
        verdict = f"{abs(gain):.4f} {'better' if gain > 0 else 'worse'}"
    direction = "higher" if metric in scoring.HIGHER_IS_BETTER else "lower"
    return f"{metric} {value:.4f} vs the champion's {theirs:.4f}: {verdict} ({direction} is better)"


def _gates(
    metric: str,
    scores: dict[str, dict[str, float]],
    minimum: float | None,
    min_improvement: float | None,
    undefined_because: str | None = None,
) -> list[dict[str, Any]]:
    value = scores["challenger"][metric]
    gates = []
    if value != value:
        why = f"{metric} cannot be computed for this model and data" + (f" ({undefined_because})" if undefined_because else "")
        gates.append({"gate": "defined", "passed": False, "why": why})
    if minimum is not None:
        passed = value == value and (value >= minimum if metric in scoring.HIGHER_IS_BETTER else value <= minimum)
        sign = ">=" if metric in scoring.HIGHER_IS_BETTER else "<="
        gates.append({"gate": "min", "passed": passed, "why": f"{metric} {value:.4f} {sign} {minimum} required"})
    if "champion" in scores:
        theirs = scores["champion"][metric]
        gain = scoring.better(metric, value, theirs)
        if min_improvement is not None:
            why = f"{_compared(metric, value, theirs)}; better by at least {min_improvement} required"
            gates.append({"gate": "min_improvement", "passed": gain >= min_improvement, "why": why})
        else:
            why = f"{_compared(metric, value, theirs)}; not worse required"
            gates.append({"gate": "not_worse", "passed": gain >= 0, "why": why})
    return gates


def _promote(client: Any, model: str, challenger: str, champion: str | None) -> None:
    if champion is not None:
        client.set_registered_model_alias(model, PREVIOUS, champion)
    client.set_registered_model_alias(model, CHAMPION, challenger)


def approve(workspace: Workspace, result: ReviewResult, who: str) -> ReviewResult:
    """A person's promotion after looking at the review (recorded on the review run)."""
    client = tracking.mlflow_for(workspace).MlflowClient(workspace.tracking_uri)
    _promote(client, result.model, result.challenger, result.champion)
    result.promoted = True
    if result.review_run:
        client.set_tag(result.review_run, "mlops.review.approved_by", who)
    return result


def _record(workspace: Workspace, result: ReviewResult) -> str:
    from mlflow.entities import Metric, Param, RunTag

    mlflow = tracking.mlflow_for(workspace)
    client = mlflow.MlflowClient(workspace.tracking_uri)
    run = client.create_run(
        tracking.experiment_id(workspace, REVIEW_EXPERIMENT), run_name=f"review {result.model} v{result.challenger}"
    )
    metrics = [Metric(f"{label}_{k}", v, 0, 0) for label, values in result.scores.items() for k, v in values.items() if v == v]
    params = [
        Param("model", result.model),
        Param("challenger_version", result.challenger),
        Param("champion_version", str(result.champion)),
        Param("metric", result.metric),
        Param("gates", json.dumps([{k: g[k] for k in ("gate", "why")} for g in result.gates])[:500]),
    ]
    tags = [
        RunTag("mlops.review.passed", str(result.passed)),
        RunTag("mlops.review.promoted", str(result.promoted)),
        RunTag("mlops.review.summary", result.summary()[:500]),
    ]
    # Reviewed inside a job's run (a retrain the monitor started): the loop's record finds it by these.
    tags += [RunTag(tag, os.environ[variable]) for variable, tag in JOB_TAGS if os.environ.get(variable)]
    client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
    client.log_text(run.info.run_id, result._repr_html_(), "review.html")
    client.set_terminated(run.info.run_id)
    return run.info.run_id
