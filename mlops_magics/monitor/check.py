"""One check of a deployment (``%monitor NAME``): its logged requests in a window against the training profile of
the model version it serves, plus the window's traffic (rows, error shares, latency).

The reference is the profile ``%%train`` logged with the run of that version (``profile/profile.json``); the window
is profiled with the same engine, and the two compared by ``drift_report`` from their summaries.
"""

from __future__ import annotations

import html
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops_magics.errors import InvalidInput, NotFound
from mlops_magics.monitor.report import DriftReport, drift_report
from mlops_magics.monitor.thresholds import Thresholds
from mlops_magics.monitor.window import Skipped, Window, WindowData, read_window
from mlops_magics.workspace import Workspace

if TYPE_CHECKING:
    from mlops_magics.controller.client import Controller
    from mlops_magics.eda.profile import Profile

NO_PROFILE = "train it with %%train --data X,y to log one"


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
    """``%monitor DEPLOYMENT ...`` parsed: one check now. ``later`` names the flags of standing monitors
    (``--every``, ``--on-drift``), which arrive in a later release: nothing runs when one is given."""

    deployment: str
    window: str = "1h"
    thresholds: dict[str, str] = field(default_factory=dict)
    features: list[str] | None = None
    later: list[str] = field(default_factory=list)

    def later_note(self) -> str:
        return (
            f"{' and '.join(self.later)}: standing monitors (checks on a schedule, alerts, retraining) arrive in a "
            "later release of mlops-magics; nothing was run (without them, %monitor checks once, now)"
        )


@dataclass
class MonitorCheck:
    deployment: str
    model: str
    version: str | None
    window: str
    verdict: str  # "drift", "schema change", "no drift" or "no data"
    reason: str
    drift: DriftReport
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
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {"drift": "#c0392b", "schema change": "#d35400", "no drift": "#1e8449"}.get(self.verdict, "#555")
        served = f"{self.model} v{self.version}" if self.version else self.model
        head = (
            f"<div><b>{html.escape(self.deployment)}</b> ({html.escape(served)}): "
            f"<b style='color:{colour}'>{html.escape(self.verdict)}</b> &mdash; {html.escape(self.reason)}</div>"
            f"<div style='color:#555'>{html.escape(self._traffic())}</div>"
        )
        head += "".join(f"<div style='color:#a65d00'>{html.escape(line)}</div>" for line in self.notes())
        if not self.rows:
            return f"<div class='mlops-monitor'>{head}</div>"
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
        return f"<div class='mlops-monitor'>{head}{table}</div>"


def thresholds_from(pairs: dict[str, str]) -> Thresholds:
    """``--threshold wasserstein=0.2 psi=0.25``: a name of ``Thresholds`` and a number each."""
    known = list(Thresholds.__dataclass_fields__)
    values: dict[str, float] = {}
    for name, text in pairs.items():
        key = name.strip().replace("-", "_")
        if key not in known:
            raise InvalidInput(f"--threshold: no threshold named {name!r}; known: {', '.join(known)}")
        try:
            values[key] = float(text)
        except ValueError:
            raise InvalidInput(f"--threshold {name}: {text!r} is not a number") from None
    return Thresholds(**values)


def carry_out(workspace: Workspace, order: MonitorOrder, controller: Controller | None = None) -> MonitorCheck | None:
    """The order's check; None (nothing run) when it asks for a standing monitor."""
    if order.later:
        return None
    return check(workspace, order.deployment, order.window, thresholds_from(order.thresholds), order.features, controller)


def check(
    workspace: Workspace,
    deployment: str,
    window: Window | str = "1h",
    thresholds: Thresholds | None = None,
    features: Sequence[str] | None = None,
    controller: Controller | None = None,
) -> MonitorCheck:
    """Check ``deployment``'s logged requests in ``window`` for drift against its model's training profile."""
    window = window if isinstance(window, Window) else Window.parse(window)
    thresholds = thresholds or Thresholds()
    if controller is None:
        from mlops_magics.controller.client import Controller

        controller = Controller(workspace, notify=lambda line: None)
    served = _served(workspace, controller.deployment(deployment))
    reference = _training_profile(workspace, served)
    checked = _features(workspace, served, reference, features)
    data = read_window(workspace.requests / deployment, window, served.version)
    current = _profile(data) if data.rows else None
    report = drift_report(reference, current, checked, thresholds)
    return MonitorCheck(
        deployment=deployment,
        model=served.model,
        version=served.version,
        window=window.describe(),
        verdict=report.verdict,
        reason=report.reason,
        drift=report,
        rows=data.rows,
        requests=int(data.traffic["request_id"].nunique()) if data.rows else 0,
        **_traffic(data),
        reference_run=served.run_id,
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        segments_read=data.segments_read,
        skipped=data.skipped,
        other_versions=data.other_versions,
    )


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
    from mlops_magics.train.run import PROFILE_ARTIFACT

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


def _profile(data: WindowData) -> Profile:
    from mlops_magics.eda import profile

    return profile(data.inputs, title=f"requests, {data.window.describe()}", progress=False)


def _traffic(data: WindowData) -> dict[str, float | None]:
    if not data.rows:
        return dict.fromkeys(("error_rate", "client_error_rate", "latency_p50_ms", "latency_p95_ms"))
    status = data.traffic["status"].to_numpy()
    per_request = data.traffic.drop_duplicates("request_id")["latency_ms"].to_numpy(dtype=np.float64)
    p50, p95 = np.percentile(per_request, [50, 95])
    return {
        "error_rate": float(np.mean(status >= 500)),
        "client_error_rate": float(np.mean((status >= 400) & (status < 500))),
        "latency_p50_ms": float(p50),
        "latency_p95_ms": float(p95),
    }
