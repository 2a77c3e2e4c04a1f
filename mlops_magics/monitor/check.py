"""One check of a deployment (``%monitor NAME``): its logged requests in a window against the training profile of
the model version it serves, plus the window's traffic (rows, error shares, latency), the drift of its predictions
and its performance on the feedback labels of those requests.

The reference is the profile ``%%train`` logged with the run of that version (``profile/profile.json``); the window
is summarised segment by segment into a profile of the same form (``window``: bounded memory, whatever its size),
and the two compared by ``drift_report`` from their summaries. The predictions are compared the same way with the
profile of the model's predictions on its training data (``profile/predictions.json``). Performance:
``performance.performance``, on the window's rows that have a feedback label.

The overall verdict, first that applies: "decay" (a metric past its ``--min``/``--max`` limit: the model is
measurably worse, whatever the inputs do), "drift" (a feature or the predictions), "schema change", "no drift",
"no data". ``findings`` lists every one that applies, e.g. ["decay", "drift"].
"""

from __future__ import annotations

import html
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_magics.errors import InvalidInput, NotFound
from mlops_magics.monitor.drift import FeatureDrift, feature_drift
from mlops_magics.monitor.feedback import read_feedback
from mlops_magics.monitor.performance import Limit, Performance, limits_from, performance
from mlops_magics.monitor.report import DriftReport, drift_report
from mlops_magics.monitor.thresholds import Thresholds, thresholds_of
from mlops_magics.monitor.window import Skipped, Window, WindowData, plan_window
from mlops_magics.workspace import Workspace

if TYPE_CHECKING:
    from mlops_magics.controller.client import Controller
    from mlops_magics.eda.profile import Profile

NO_PROFILE = "train it with %%train --data X,y to log one"
NO_REFERENCE_PREDICTIONS = "no reference predictions: retrain with %%train to log them"
PREDICTION = "prediction"


@dataclass(frozen=True)
class Served:
    """What a deployment serves: the registered model and version, and the run that logged it."""

    deployment: str
    model: str
    version: str | None
    run_id: str
    model_uri: str


@dataclass(frozen=True)
class MonitorOrder:
    """``%monitor DEPLOYMENT ...`` parsed: one check now (a standing monitor, ``--every``, is ``actions``')."""

    deployment: str
    window: str = "1h"
    thresholds: dict[str, str] = field(default_factory=dict)
    features: list[str] | None = None
    tests: str | None = None  # --tests wasserstein,psi (None: all)
    minimums: dict[str, str] = field(default_factory=dict)  # --min accuracy=0.85
    maximums: dict[str, str] = field(default_factory=dict)  # --max rmse=3


@dataclass
class MonitorCheck:
    deployment: str
    model: str
    version: str | None
    window: str
    verdict: str  # "decay", "drift", "schema change", "no drift" or "no data" (the first that applies)
    reason: str
    drift: DriftReport
    prediction_drift: FeatureDrift
    performance: Performance
    rows: int
    requests: int
    error_rate: float | None  # share of rows answered with status >= 500 (None: no rows)
    client_error_rate: float | None  # share answered 4xx
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    reference_run: str
    checked_at: str
    segments_read: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    other_versions: int = 0
    findings: list[str] = field(default_factory=list)  # every verdict that applies: decay, drift, schema change

    @property
    def drifted(self) -> list[str]:
        return self.drift.drifted

    def notes(self) -> list[str]:
        lines = []
        if self.other_versions:
            lines.append(f"{self.other_versions:,} row(s) of the window served by another model version were left out")
        if self.skipped:
            named = "; ".join(f"{s.segment} ({s.reason})" for s in self.skipped[:3])
            more = f" and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
            lines.append(f"{len(self.skipped)} log segment(s) could not be read and were skipped: {named}{more}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "model": self.model,
            "version": self.version,
            "window": self.window,
            "verdict": self.verdict,
            "reason": self.reason,
            "drifted": self.drifted,
            "rows": self.rows,
            "requests": self.requests,
            "error_rate": self.error_rate,
            "client_error_rate": self.client_error_rate,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "reference_run": self.reference_run,
            "checked_at": self.checked_at,
            "segments_read": self.segments_read,
            "skipped": [{"segment": s.segment, "reason": s.reason} for s in self.skipped],
            "other_versions": self.other_versions,
            "drift": self.drift.to_dict(),
            "findings": self.findings,
            "prediction_drift": self.prediction_drift.to_dict(),
            "performance": self.performance.to_dict(),
        }

    def _traffic(self) -> str:
        parts = [f"{self.rows:,} rows in {self.requests:,} requests ({self.window})"]
        if self.error_rate is not None:
            parts.append(f"5xx {self.error_rate:.1%}, 4xx {self.client_error_rate:.1%}")
        if self.latency_p50_ms is not None:
            parts.append(f"latency p50 {self.latency_p50_ms:.1f} ms, p95 {self.latency_p95_ms:.1f} ms")
        return "; ".join(parts)

    def __repr__(self) -> str:
        served = f"{self.model} v{self.version}" if self.version else self.model
        lines = [f"{self.deployment} ({served}): {self.verdict} - {self.reason}", self._traffic(), *self.notes()]
        if self.rows:
            lines.append(f"{'feature':<24} {'method':<9} {'statistic':<15} {'value':>9} {'threshold':>9}  verdict")
            for f in self.drift.features:
                value = f"{f.effect_size:.3g}" if f.effect_size is not None else "-"
                limit = f"{f.threshold:g}" if f.threshold is not None else "-"
                mark = f"{f.verdict} *" if f.drifted else f.verdict
                lines.append(f"{f.feature:<24} {f.method or '-':<9} {f.effect or '-':<15} {value:>9} {limit:>9}  {mark}")
        lines.append(_prediction_line(self.prediction_drift))
        lines.append(_performance_line(self.performance))
        if self.performance.metrics:
            lines.append(f"{'metric':<24} {'live':>9} {self._beside():>9} {'limit':>12}")
            for m in self.performance.metrics:
                live = f"{m.value:.4g}" if m.value is not None else "-"
                beside = f"{m.reference:.4g}" if m.reference is not None else "-"
                limit = f"{m.limit.bound} {m.limit.value:g}" if m.limit else "-"
                mark = "  decay *" if m.crossed else (f"  ({m.note})" if m.note else "")
                lines.append(f"{m.metric:<24} {live:>9} {beside:>9} {limit:>12}{mark}")
        return "\n".join(lines)

    def _beside(self) -> str:
        """The heading of the model's own values: its eval metrics, else its train metrics."""
        return self.performance.reference or "model"

    def _repr_html_(self) -> str:
        colour = {"decay": "#c0392b", "drift": "#c0392b", "schema change": "#d35400", "no drift": "#1e8449"}.get(
            self.verdict, "#555"
        )
        served = f"{self.model} v{self.version}" if self.version else self.model
        head = (
            f"<div><b>{html.escape(self.deployment)}</b> ({html.escape(served)}): "
            f"<b style='color:{colour}'>{html.escape(self.verdict)}</b> &mdash; {html.escape(self.reason)}</div>"
            f"<div style='color:#555'>{html.escape(self._traffic())}</div>"
        )
        head += "".join(f"<div style='color:#a65d00'>{html.escape(line)}</div>" for line in self.notes())
        if not self.rows:
            return f"<div class='mlops-monitor'>{head}</div>"
        tail = self._performance_html()
        cells = "".join(
            f"<th style='text-align:left'>{name}</th>"
            for name in ("feature", "method", "statistic", "value", "threshold", "verdict")
        )
        body = []
        for f in self.drift.features:
            style = " style='background:#fdecea'" if f.drifted else ""
            values = [
                f.feature,
                f.method or "-",
                f.effect or "-",
                f"{f.effect_size:.3g}" if f.effect_size is not None else "-",
                f"{f.threshold:g}" if f.threshold is not None else "-",
                f.verdict,
            ]
            row = "".join(f"<td>{html.escape(v)}</td>" for v in values)
            body.append(f"<tr{style} title='{html.escape(f.reason, quote=True)}'>{row}</tr>")
        table = f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        predictions = self.prediction_drift
        style = "color:#c0392b" if predictions.drifted else "color:#555"
        line = f"<div class='mlops-prediction-drift' style='{style}'>{html.escape(_prediction_line(predictions))}</div>"
        return f"<div class='mlops-monitor'>{head}{table}{line}{tail}</div>"

    def _performance_html(self) -> str:
        found = self.performance
        colour = "#c0392b" if found.verdict == "decay" else "#555"
        head = (
            f"<div class='mlops-performance'>performance: <b style='color:{colour}'>{html.escape(found.verdict)}</b>"
            f" &mdash; {html.escape(found.reason)}</div>"
        )
        if not found.metrics:
            return head
        cells = "".join(f"<th style='text-align:left'>{name}</th>" for name in ("metric", "live", self._beside(), "limit"))
        body = []
        for m in found.metrics:
            style = " style='background:#fdecea'" if m.crossed else ""
            values = [
                m.metric,
                f"{m.value:.4g}" if m.value is not None else "-",
                f"{m.reference:.4g}" if m.reference is not None else "-",
                f"{m.limit.bound} {m.limit.value:g}" if m.limit else "-",
            ]
            row = "".join(f"<td>{html.escape(v)}</td>" for v in values)
            body.append(f"<tr{style} title='{html.escape(m.note, quote=True)}'>{row}</tr>")
        return f"{head}<table><thead><tr>{cells}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def thresholds_from(pairs: dict[str, str], tests: str | None = None) -> Thresholds:
    """``--threshold wasserstein=0.2 psi=0.25``: a name of ``Thresholds`` and a number each; ``--tests``."""
    values: dict[str, float] = {}
    for name, text in pairs.items():
        try:
            values[name.strip().replace("-", "_")] = float(text)
        except ValueError:
            raise InvalidInput(f"--threshold {name}: {text!r} is not a number") from None
    return thresholds_of(values, tests)


def check_body(order: MonitorOrder) -> dict[str, Any]:
    """The order as the controller's ``check_deployment`` takes it, checked here first (one line naming what is
    wrong, before anything is sent)."""
    Window.parse(order.window)
    chosen = thresholds_from(order.thresholds, order.tests)
    limits = limits_from(order.minimums, order.maximums)
    return {
        "window": order.window,
        "thresholds": {name.strip().replace("-", "_"): float(text) for name, text in order.thresholds.items()},
        "tests": list(chosen.tests),
        "features": order.features,
        "minimums": {limit.metric: limit.value for limit in limits if limit.bound == "min"},
        "maximums": {limit.metric: limit.value for limit in limits if limit.bound == "max"},
    }


def carry_out(workspace: Workspace, order: MonitorOrder, controller: Controller) -> MonitorCheck:
    """The order's check."""
    limits = limits_from(order.minimums, order.maximums)
    thresholds = thresholds_from(order.thresholds, order.tests)
    return check(workspace, order.deployment, order.window, thresholds, order.features, controller=controller, limits=limits)


def check(
    workspace: Workspace,
    deployment: str,
    window: Window | str = "1h",
    thresholds: Thresholds | None = None,
    features: Sequence[str] | None = None,
    *,
    controller: Controller,
    limits: Sequence[Limit] = (),
) -> MonitorCheck:
    """Check ``deployment``'s logged requests in ``window`` for drift against its model's training profile, its
    predictions for drift against the model's on its training data, and its performance on feedback labels against
    the model's logged metrics and ``limits``."""
    window = window if isinstance(window, Window) else Window.parse(window)
    thresholds = thresholds or Thresholds()
    served = _served(workspace, controller.deployment(deployment))
    reference = _training_profile(workspace, served)
    checked = _features(workspace, served, reference, features)
    folder = workspace.requests / deployment
    planned = plan_window(folder, window)
    # The labels first, so that of the window's rows only those with a label are kept for the join.
    feedback = read_feedback(folder, planned.since) if planned.parts else None
    data = planned.read(served.version, feedback.labels if feedback is not None else None)
    current = data.profile() if data.rows else None
    report = drift_report(reference, current, checked, thresholds)
    predictions = _prediction_drift(workspace, served, data, thresholds)
    metrics, task = _run_metrics(workspace, served)
    found = (
        performance(data, feedback, metrics, task, limits)
        if feedback is not None and data.rows
        else Performance("not enough feedback", "not enough feedback (0 labelled rows): no requests in the window", 0)
    )
    verdict, reason, findings = _overall(report, predictions, found)
    return MonitorCheck(
        deployment=deployment,
        model=served.model,
        version=served.version,
        window=window.describe(),
        verdict=verdict,
        reason=reason,
        drift=report,
        prediction_drift=predictions,
        performance=found,
        rows=data.rows,
        requests=data.summary.requests,
        **_traffic(data),
        reference_run=served.run_id,
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        segments_read=data.segments_read,
        skipped=data.skipped,
        other_versions=data.other_versions,
        findings=findings,
    )


def _overall(report: DriftReport, predictions: FeatureDrift, found: Performance) -> tuple[str, str, list[str]]:
    """The verdict (the first of decay, drift, schema change that applies, else the drift report's), its reason
    and every finding."""
    findings = []
    if found.verdict == "decay":
        findings.append("decay")
    if report.verdict == "drift" or predictions.drifted:
        findings.append("drift")
    if report.schema_changes:
        findings.append("schema change")
    reasons = [found.reason] if found.verdict == "decay" else []
    reasons.append(report.reason)
    if predictions.drifted:
        reasons.append(f"the predictions drifted ({_effect(predictions)})")
    return (findings[0] if findings else report.verdict), "; ".join(reasons), findings


def _effect(drift: FeatureDrift) -> str:
    if drift.effect is None or drift.effect_size is None:
        return drift.reason
    limit = f" > {drift.threshold:g}" if drift.drifted and drift.threshold is not None else ""
    return f"{drift.effect} {drift.effect_size:.3g}{limit}"


def _performance_line(found: Performance) -> str:
    said = found.reason if found.reason.startswith(found.verdict) else f"{found.verdict} - {found.reason}"
    return f"performance: {said}"


def _prediction_line(drift: FeatureDrift) -> str:
    if drift.verdict in ("drift", "no drift"):
        return f"prediction drift: {drift.verdict} - {_effect(drift)}"
    return f"prediction drift: {drift.verdict} - {drift.reason}"


def _prediction_drift(workspace: Workspace, served: Served, data: WindowData, thresholds: Thresholds) -> FeatureDrift:
    """The window's answered predictions against the model's predictions on its training data."""
    from mlops_magics import tracking
    from mlops_magics.eda.profile import Profile
    from mlops_magics.train.artifacts import PREDICTIONS_ARTIFACT

    client = tracking.mlflow_for(workspace).MlflowClient()
    try:
        with tempfile.TemporaryDirectory() as folder:
            reference = Profile.load(Path(client.download_artifacts(served.run_id, PREDICTIONS_ARTIFACT, folder)))
    except Exception:
        return FeatureDrift(PREDICTION, "unknown", "not comparable", NO_REFERENCE_PREDICTIONS)
    column = reference.columns.get(PREDICTION)
    kind = column["kind"] if column is not None else "unknown"
    if data.summary.prediction_lists:
        reason = "the predictions are lists (several outputs per row): not compared"
        return FeatureDrift(PREDICTION, kind, "not comparable", reason)
    current = data.summary.predictions_profile()
    if current is None:
        return FeatureDrift(PREDICTION, kind, "no data", "no answered requests in the window")
    return feature_drift(PREDICTION, column, current.columns.get(PREDICTION), thresholds)


def _run_metrics(workspace: Workspace, served: Served) -> tuple[dict[str, float], str | None]:
    """The metrics the served version's run logged, and its task (classification or regression)."""
    from mlops_magics import tracking

    client = tracking.mlflow_for(workspace).MlflowClient()
    try:
        run = client.get_run(served.run_id)
    except Exception:
        return {}, None
    return dict(run.data.metrics), run.data.tags.get("mlops.task")


def _served(workspace: Workspace, view: dict[str, Any]) -> Served:
    name = view["name"]
    spec = view.get("spec") or {}
    uri = view.get("model_uri") or ""
    if not spec.get("model") or not uri:
        raise InvalidInput(f"deployment {name!r} serves its own app, not a registered model: it has no training profile")
    from mlops_magics import tracking

    client = tracking.mlflow_for(workspace).MlflowClient()
    version = view.get("version")
    if uri.startswith("runs:/"):
        run_id = uri.removeprefix("runs:/").split("/", 1)[0]
        return Served(name, spec["model"], version, run_id, uri)
    model = uri.removeprefix("models:/").split("@", 1)[0].split("/", 1)[0]
    if version is None:
        raise InvalidInput(f"deployment {name!r} serves {uri}, which names no registered version to monitor")
    try:
        run_id = client.get_model_version(model, str(version)).run_id
    except Exception as exc:
        raise NotFound(f"model {model} version {version} (served by {name!r}) is not in the registry: {exc}") from None
    return Served(name, model, str(version), run_id, f"models:/{model}/{version}")


def _training_profile(workspace: Workspace, served: Served) -> Profile:
    from mlops_magics import tracking
    from mlops_magics.eda.profile import Profile
    from mlops_magics.train.artifacts import PROFILE_ARTIFACT

    client = tracking.mlflow_for(workspace).MlflowClient()
    try:
        with tempfile.TemporaryDirectory() as folder:
            return Profile.load(Path(client.download_artifacts(served.run_id, PROFILE_ARTIFACT, folder)))
    except Exception:
        what = f"{served.model} v{served.version}" if served.version else served.model_uri
        raise NotFound(f"{what} (served by {served.deployment!r}) has no training profile: {NO_PROFILE}") from None


def _features(workspace: Workspace, served: Served, reference: Profile, asked: Sequence[str] | None) -> list[str]:
    """The features checked: those asked for, else the model's signature inputs, else the training profile's
    columns but the last (``%%train`` profiles the features with the target appended)."""
    if asked:
        unknown = [name for name in asked if name not in reference.columns]
        if unknown:
            known = ", ".join(list(reference.columns)[:20])
            raise InvalidInput(f"--features: {', '.join(unknown)} not in the training profile (its columns: {known})")
        return list(asked)
    from mlops_magics import tracking

    try:
        signature = tracking.mlflow_for(workspace).models.get_model_info(served.model_uri).signature
        names = signature.inputs.input_names() if signature is not None else None
    except Exception:
        names = None
    if names and all(isinstance(n, str) for n in names):
        return list(names)
    return list(reference.columns)[:-1]


def _traffic(data: WindowData) -> dict[str, float | None]:
    if not data.rows:
        return dict.fromkeys(("error_rate", "client_error_rate", "latency_p50_ms", "latency_p95_ms"))
    summary = data.summary
    latency = summary.latency_percentiles()
    return {
        "error_rate": summary.server_errors / summary.rows,
        "client_error_rate": summary.client_errors / summary.rows,
        "latency_p50_ms": latency[0] if latency else None,
        "latency_p95_ms": latency[1] if latency else None,
    }
