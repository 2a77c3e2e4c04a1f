"""The loop's last turns, kept by the controller: a monitored deployment's swaps, each watched over the new
version's first window (``monitor.watch``) and rolled back when it is worse; and the loop's record, each turn one
incident: alert -> retrain run -> model version -> review -> swap -> watch -> rollback.

A swap is linked to the alert whose retrain run trained its version through MLflow: the version's run carries the
job and run number it was trained in (``mlops.job``, ``mlops.job_run``, set by ``%%train`` inside a job), and the
alert records the run it started. The review that let it in is the latest review of that version. A swap made by
hand (``%deploy``) is watched too, an incident with no alert; a rollback is not watched (it restores what served).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mlops_magics.api.jobs import RunState
from mlops_magics.api.monitors import MonitorSpec
from mlops_magics.monitor.watch import Judgement, judge
from mlops_magics.monitor.window import Window
from mlops_magics.state.models import Event, JobRunRecord, MonitorAlertRecord, MonitorRecord, MonitorSwapRecord
from mlops_magics.workspace import Workspace

log = logging.getLogger("mlops.controller.swap_watch")

INCIDENTS_SHOWN = 20
LOOP_ALERTS = ("drift", "decay")  # the alerts that may start a retrain: the loop's turns (the others: the alerts)
NEVER = 1e9  # the margin of a monitor that never rolls back: nothing is worse by that much
_RUN_STATE = {
    RunState.QUEUED: "waiting",
    RunState.RUNNING: "running",
    RunState.SUCCEEDED: "done",
}


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.isoformat(timespec="seconds")


def alert_view(record: MonitorAlertRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "monitor": record.monitor,
        "deployment": record.deployment,
        "kind": record.kind,
        "message": record.message,
        "at": _iso(record.at),
        "job": record.job,
        "run": record.run,
    }


def _step(step: str, at: datetime | str | None, state: str, message: str) -> dict[str, Any]:
    return {"step": step, "at": at if isinstance(at, str) or at is None else _iso(at), "state": state, "message": message}


class SwapWatch:
    def __init__(self, workspace: Workspace, sessions: sessionmaker[Session], rollback: Callable[[str], Any]) -> None:
        self.workspace = workspace
        self._sessions = sessions
        self._rollback = rollback
        self._reviews: dict[int, dict[str, Any] | None] = {}  # alert id -> its finished run's review (MLflow)

    # --- a swap --------------------------------------------------------------------------------------------
    def swapped(self, deployment: str, model: str, version: str | None, previous_version: str | None) -> None:
        """The deployment now serves ``version`` of ``model`` (it served ``previous_version``): each of its
        monitors watches it; an earlier watch still going is ended."""
        with self._sessions() as session:
            monitors = [m.name for m in session.scalars(select(MonitorRecord)) if m.spec.get("deployment") == deployment]
        if not monitors or version == previous_version:
            return
        name = _registered_name(model)
        trained_in = self._trained_in(name, version)
        review = self._review_of(name, version)
        now = datetime.now(timezone.utc)
        with self._sessions.begin() as session:
            for monitor in monitors:
                for earlier in self._watching(session, monitor):
                    earlier.state, earlier.ended_at = "superseded", now
                    earlier.message = f"superseded by the swap to v{version} before its window was complete"
                alert_id = self._alert_of(session, monitor, trained_in)
                session.add(
                    MonitorSwapRecord(
                        monitor=monitor,
                        deployment=deployment,
                        model=name,
                        version=version,
                        previous_version=previous_version,
                        swapped_at=now,
                        message=f"watching v{version}'s first window",
                        alert_id=alert_id,
                        review=review,
                    )
                )
                session.add(
                    Event(kind="monitor.watch", subject=monitor, message=f"{deployment}: v{previous_version} -> v{version}")
                )

    @staticmethod
    def _watching(session: Session, monitor: str) -> list[MonitorSwapRecord]:
        query = select(MonitorSwapRecord).where(MonitorSwapRecord.monitor == monitor, MonitorSwapRecord.state == "watching")
        return list(session.scalars(query))

    @staticmethod
    def _alert_of(session: Session, monitor: str, trained_in: tuple[str, int] | None) -> int | None:
        if trained_in is None:
            return None
        job, run = trained_in
        query = select(MonitorAlertRecord.id).where(
            MonitorAlertRecord.monitor == monitor, MonitorAlertRecord.job == job, MonitorAlertRecord.run == run
        )
        return session.scalar(query.order_by(MonitorAlertRecord.id.desc()).limit(1))

    def _client(self) -> Any:
        from mlops_magics import tracking

        return tracking.mlflow_for(self.workspace).MlflowClient(self.workspace.tracking_uri)

    def _trained_in(self, model: str, version: str | None) -> tuple[str, int] | None:
        """The job and run number the version was trained in (None: not in a job, or not found)."""
        if version is None:
            return None
        try:
            client = self._client()
            tags = client.get_run(client.get_model_version(model, version).run_id).data.tags
            job, run = tags.get("mlops.job"), tags.get("mlops.job_run")
            return (job, int(run)) if job and run and run.isdigit() else None
        except Exception as exc:  # the registry unreachable, the version deleted: the swap is still watched
            log.info("the run of %s v%s could not be read: %s", model, version, exc)
            return None

    def _review_of(self, model: str, version: str | None, job: tuple[str, int] | None = None) -> dict[str, Any] | None:
        """The latest review of the version (or of the job run's challenger): its run, verdict and summary."""
        from mlops_magics.review.run import REVIEW_EXPERIMENT

        try:
            client = self._client()
            experiment = client.get_experiment_by_name(REVIEW_EXPERIMENT)
            if experiment is None:
                return None
            if job is not None:
                where = f"tags.`mlops.job` = '{job[0]}' and tags.`mlops.job_run` = '{job[1]}'"
            else:
                where = f"params.model = '{model}' and params.challenger_version = '{version}'"
            runs = client.search_runs([experiment.experiment_id], where, order_by=["attributes.start_time DESC"], max_results=1)
        except Exception as exc:
            log.info("the review of %s v%s could not be read: %s", model, version, exc)
            return None
        if not runs:
            return None
        run = runs[0]
        return {
            "run": run.info.run_id,
            "model": run.data.params.get("model"),
            "version": run.data.params.get("challenger_version"),
            "passed": run.data.tags.get("mlops.review.passed") == "True",
            "summary": run.data.tags.get("mlops.review.summary", ""),
        }

    # --- the watch -----------------------------------------------------------------------------------------
    def judge(self, monitor: str, spec: MonitorSpec) -> tuple[MonitorSwapRecord, Judgement] | None:
        """After a check: judge the swap the monitor watches; roll back a worse version. Answers the record and
        judgement when the watch ended (kept or rolled back), for the supervisor to alert on."""
        with self._sessions() as session:
            watching = self._watching(session, monitor)
            if not watching:
                return None
            record = watching[-1]
            session.expunge(record)
        swapped_at = record.swapped_at if record.swapped_at.tzinfo else record.swapped_at.replace(tzinfo=timezone.utc)
        margin = spec.rollback_margin if spec.rollback_margin is not None else NEVER
        found = judge(
            self.workspace.requests / spec.deployment,
            Window.parse(spec.window),
            record.version,
            record.previous_version,
            swapped_at.timestamp(),
            margin,
        )
        state, message = "watching", found.message
        if found.outcome == "kept":
            state = "kept"
        elif found.outcome == "roll back":
            state, message = self._roll_back(spec.deployment, record, found)
        now = datetime.now(timezone.utc)
        with self._sessions.begin() as session:
            saved = session.get(MonitorSwapRecord, record.id)
            if saved is None or saved.state != "watching":
                return None
            saved.message = message[:2000]
            if state != "watching":
                saved.state, saved.ended_at = state, now
                session.add(Event(kind=f"monitor.{state.replace(' ', '_')}", subject=monitor, message=message[:2000]))
            session.flush()
            session.expunge(saved)
        return (saved, found) if state != "watching" else None

    def _roll_back(self, deployment: str, record: MonitorSwapRecord, found: Judgement) -> tuple[str, str]:
        try:
            self._rollback(deployment)
        except Exception as exc:
            text = getattr(exc, "message", None) or str(exc)
            log.warning("monitor %s: the rollback of %s failed: %s", record.monitor, deployment, text)
            return "watching", f"{found.message}; the rollback failed: {text} (tried again at the next check)"
        return "rolled back", f"rolled back to v{record.previous_version}: {found.message}"

    def watching(self, session: Session, monitor: str) -> dict[str, Any] | None:
        """The swap the monitor watches, read in the caller's session (a second session in the same thread could
        wait on a writer that waits on the first)."""
        records = self._watching(session, monitor)
        if not records:
            return None
        record = records[-1]
        return {
            "model": record.model,
            "version": record.version,
            "previous_version": record.previous_version,
            "swapped_at": _iso(record.swapped_at),
            "message": record.message,
        }

    # --- the record ----------------------------------------------------------------------------------------
    def timeline(self, monitor: str) -> list[dict[str, Any]]:
        """The monitor's incidents, newest first (``INCIDENTS_SHOWN``)."""
        with self._sessions() as session:
            alerts = session.scalars(
                select(MonitorAlertRecord)
                .where(MonitorAlertRecord.monitor == monitor, MonitorAlertRecord.kind.in_(LOOP_ALERTS))
                .order_by(MonitorAlertRecord.id.desc())
                .limit(INCIDENTS_SHOWN)
            ).all()
            swaps = session.scalars(
                select(MonitorSwapRecord)
                .where(MonitorSwapRecord.monitor == monitor)
                .order_by(MonitorSwapRecord.id.desc())
                .limit(INCIDENTS_SHOWN)
            ).all()
            runs = {
                (r.job, r.number): r
                for alert in alerts
                if alert.job is not None and alert.run is not None
                for r in session.scalars(
                    select(JobRunRecord).where(JobRunRecord.job == alert.job, JobRunRecord.number == alert.run)
                )
            }
            incidents: list[tuple[datetime, dict[str, Any]]] = []
            reviews: list[tuple[dict[str, Any], int, str, int]] = []  # read from MLflow once the session is closed
            linked = {s.alert_id: s for s in reversed(swaps) if s.alert_id is not None}
            for alert in alerts:
                steps = [_step("alert", alert.at, "done", f"{alert.kind}: {alert.message}")]
                run = runs.get((alert.job, alert.run)) if alert.job else None
                if run is not None:
                    steps.append(self._run_step(run))
                swap = linked.get(alert.id)
                if swap is not None:
                    steps += self._swap_steps(swap)
                incident = {"alert": alert_view(alert), "steps": steps}
                if swap is None and run is not None and run.state == RunState.SUCCEEDED.value:
                    reviews.append((incident, alert.id, run.job, run.number))
                incidents.append((alert.at, incident))
            for swap in swaps:
                if swap.alert_id is None:
                    incidents.append((swap.swapped_at, {"alert": None, "steps": self._swap_steps(swap)}))
        for incident, alert_id, job, number in reviews:
            incident["steps"] += self._review_steps(alert_id, job, number)
        incidents.sort(key=lambda pair: _iso(pair[0]) or "", reverse=True)
        return [incident for _, incident in incidents[:INCIDENTS_SHOWN]]

    @staticmethod
    def _run_step(run: JobRunRecord) -> dict[str, Any]:
        state = _RUN_STATE.get(RunState(run.state), "failed")
        why = f": {run.reason}" if run.reason and state == "failed" else ""
        return _step("retrain", run.started_at or run.queued_at, state, f"job {run.job!r} run {run.number} {run.state}{why}")

    @staticmethod
    def _swap_steps(swap: MonitorSwapRecord) -> list[dict[str, Any]]:
        steps = [_step("model", None, "done", f"{swap.model} v{swap.version}")]
        review = swap.review
        if review:
            steps.append(_step("review", None, "done", review.get("summary") or f"passed (review run {review['run']})"))
        steps.append(_step("swap", swap.swapped_at, "done", f"v{swap.previous_version} -> v{swap.version}"))
        if swap.state == "watching":
            steps.append(_step("watch", swap.swapped_at, "running", swap.message))
        elif swap.state == "rolled back":
            steps.append(_step("watch", swap.ended_at, "failed", "worse than the version before"))
            steps.append(_step("rollback", swap.ended_at, "done", swap.message))
        else:
            steps.append(_step("watch", swap.ended_at, "done", swap.message))
        return steps

    def _review_steps(self, alert_id: int, job: str, number: int) -> list[dict[str, Any]]:
        """A finished retrain run that swapped nothing: what its review said (read once from MLflow)."""
        if alert_id not in self._reviews:
            self._reviews[alert_id] = self._review_of("", None, (job, number))
        review = self._reviews[alert_id]
        if review is None:
            return [_step("review", None, "waiting", "no review of its challenger found (does the job run %review --deploy?)")]
        model = _step("model", None, "done", f"{review['model']} v{review['version']}")
        if review["passed"]:
            return [
                model,
                _step("review", None, "done", review["summary"] or "passed"),
                _step("swap", None, "waiting", "not swapped"),
            ]
        return [model, _step("review", None, "refused", review["summary"] or "refused")]


def _registered_name(model: str) -> str:
    """``cancer@champion``, ``cancer/3``, ``models:/cancer/3`` -> ``cancer``."""
    return model.removeprefix("models:/").split("@", 1)[0].split("/", 1)[0]
