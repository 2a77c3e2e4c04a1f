"""Standing monitors: a deployment's check (``%monitor``) run by the controller on a schedule, and its alerts.

The scheduler keeps each monitor's next time in memory and reads the records again only when a monitor changes.
A due check runs in a thread of its own, off the lock (a check reads the request log and profiles the window:
seconds); one check of a monitor at a time. Its result is saved as history (the last ``CHECKS_KEPT``). A check
whose verdict is drift, a schema change or decay, that finds no rows where it found some before, or whose share of
failed requests is over the monitor's limit, raises an alert unless one of that kind was raised within the
monitor's cooldown: the alert goes to the event log, to the webhook, and (on drift or decay, with ``on_drift`` /
``on_decay``) raises ``alert:<monitor>`` for the jobs that wait for it; the run started is recorded on the alert.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from mlops_magics import names
from mlops_magics.api.monitors import CHECKS_KEPT, AlertKind, CheckSpec, MonitorSpec
from mlops_magics.controller.services.swap_watch import SwapWatch, alert_view
from mlops_magics.errors import InvalidInput, MLOpsError, NotFound
from mlops_magics.monitor.performance import Limit, limits_from
from mlops_magics.monitor.thresholds import Thresholds, thresholds_of
from mlops_magics.monitor.window import Window
from mlops_magics.state.models import Event, MonitorAlertRecord, MonitorCheckRecord, MonitorRecord, utcnow
from mlops_magics.workspace import Workspace

log = logging.getLogger("mlops.controller.monitors")

ALERTS_SHOWN = 200
ALERTS_KEPT = 2000
_KIND_OF_VERDICT = {"drift": AlertKind.DRIFT, "schema change": AlertKind.SCHEMA_CHANGE, "decay": AlertKind.DECAY}


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return _aware(moment).isoformat(timespec="seconds")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _alerts_of(
    spec: MonitorSpec, verdict: str, reason: str, details: dict[str, Any], had_traffic: bool
) -> list[tuple[AlertKind, str]]:
    """The alerts a check's result calls for (before the cooldown): its verdict's, and a failure share too high."""
    found = []
    kind = _KIND_OF_VERDICT.get(verdict)
    if kind is not None:
        found.append((kind, reason))
    if verdict == "no data" and had_traffic and not details.get("other_versions"):  # after a swap: the old one's
        found.append((AlertKind.NO_TRAFFIC, f"no requests in the window ({spec.window}) after traffic before"))
    rate = details.get("error_rate")
    if spec.max_error_rate is not None and isinstance(rate, (int, float)) and rate > spec.max_error_rate:
        rows = details.get("rows", 0)
        found.append((AlertKind.ERROR_RATE, f"{rate:.1%} of {rows:,} rows failed (5xx), over {spec.max_error_rate:.1%}"))
    return found


class _Deployments:
    """What ``monitor.check`` asks of the controller's client, answered by this process's own service."""

    def __init__(self, deployments: Any) -> None:
        self._deployments = deployments

    def deployment(self, name: str) -> dict[str, Any]:
        return self._deployments.get(name)


def thresholds(spec: CheckSpec) -> Thresholds:
    return thresholds_of(spec.thresholds, spec.tests, "thresholds")


def limits(spec: CheckSpec) -> list[Limit]:
    """The spec's decay limits, checked as ``--min`` / ``--max`` are (a known metric, on its better side)."""
    return limits_from(
        {name: repr(value) for name, value in spec.minimums.items()},
        {name: repr(value) for name, value in spec.maximums.items()},
    )


class MonitorSupervisor:
    def __init__(self, workspace: Workspace, sessions: sessionmaker[Session], deployments: Any, jobs: Any) -> None:
        self.workspace = workspace
        self._sessions = sessions
        self._deployments = deployments
        self._jobs = jobs
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._changed = True
        self._closing = False
        self._checking: set[str] = set()
        self._thread: threading.Thread | None = None
        self._swaps = SwapWatch(workspace, sessions, rollback=lambda deployment: deployments.rollback(deployment))

    # --- records -------------------------------------------------------------------------------------------
    def _monitor(self, session: Session, name: str) -> MonitorRecord:
        record = session.get(MonitorRecord, names.monitor_name(name))
        if record is None:
            raise NotFound(f"no monitor {name!r}; `mlops monitor status` shows the monitors")
        return record

    @staticmethod
    def _event(session: Session, kind: str, subject: str, message: str) -> None:
        session.add(Event(kind=kind, subject=subject[:128], message=message))

    def _next_at(self, record: MonitorRecord) -> datetime | None:
        if record.paused:
            return None
        every = timedelta(seconds=MonitorSpec.from_dict(record.spec).every_s)
        last = _aware(record.last_check_at) if record.last_check_at else None
        return last + every if last else _aware(record.updated_at)

    def _view(self, session: Session, record: MonitorRecord) -> dict[str, Any]:
        alerts = session.scalar(select(func.count()).where(MonitorAlertRecord.monitor == record.name))
        checks = session.scalar(select(func.count()).where(MonitorCheckRecord.monitor == record.name))
        return {
            "name": record.name,
            "spec": record.spec,
            "paused": record.paused,
            "last_check_at": _iso(record.last_check_at),
            "last_verdict": record.last_verdict,
            "last_reason": record.last_reason,
            "next_check_at": _iso(self._next_at(record)),
            "alerts": int(alerts or 0),
            "checks": int(checks or 0),
            "created_at": _iso(record.created_at),
            "watching": self._swaps.watching(session, record.name),
        }

    @staticmethod
    def _check_view(record: MonitorCheckRecord) -> dict[str, Any]:
        return {
            "monitor": record.monitor,
            "at": _iso(record.at),
            "verdict": record.verdict,
            "reason": record.reason,
            "alert": record.alert,
            "details": record.details,
        }

    # --- reading -------------------------------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            return [self._view(session, r) for r in session.scalars(select(MonitorRecord).order_by(MonitorRecord.name))]

    def get(self, name: str) -> dict[str, Any]:
        with self._sessions() as session:
            return self._view(session, self._monitor(session, name))

    def checks(self, name: str) -> list[dict[str, Any]]:
        with self._sessions() as session:
            self._monitor(session, name)
            query = (
                select(MonitorCheckRecord)
                .where(MonitorCheckRecord.monitor == name)
                .order_by(MonitorCheckRecord.id.desc())
                .limit(CHECKS_KEPT)
            )
            return [self._check_view(r) for r in session.scalars(query)]

    def check_deployment(self, deployment: str, spec: CheckSpec) -> dict[str, Any]:
        """A one-shot check (``mlops monitor NAME``), run here where MLflow is imported and its store open; nothing
        is saved. Its text is the check's, as ``%monitor`` prints it."""
        from mlops_magics.monitor.check import check

        Window.parse(spec.window)
        found = check(
            self.workspace,
            names.deployment_name(deployment),
            spec.window,
            thresholds(spec),
            spec.features,
            controller=_Deployments(self._deployments),  # type: ignore[arg-type]
            limits=limits(spec),
        )
        return {"check": found.to_dict(), "text": repr(found)}

    def timeline(self, name: str) -> list[dict[str, Any]]:
        names.monitor_name(name)
        self.get(name)
        return self._swaps.timeline(name)

    def swapped(self, deployment: str, model: str, version: str | None, previous_version: str | None) -> None:
        """The deployments' word that ``deployment`` swapped its model (not a rollback): its monitors watch it."""
        self._swaps.swapped(deployment, model, version, previous_version)

    def alerts(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            query = select(MonitorAlertRecord).order_by(MonitorAlertRecord.id.desc()).limit(ALERTS_SHOWN)
            return [alert_view(r) for r in session.scalars(query)]

    # --- defining ------------------------------------------------------------------------------------------
    def _validate(self, name: str, spec: MonitorSpec) -> None:
        """What the schema cannot say: the deployment exists and serves a model, the window parses, the thresholds
        are known, each job to retrain exists and waits for this monitor's event."""
        view = self._deployments.get(spec.deployment)
        if not (view.get("spec") or {}).get("model"):
            raise InvalidInput(f"deployment {spec.deployment!r} serves its own app, not a registered model: nothing to monitor")
        Window.parse(spec.window)
        thresholds(spec)
        limits(spec)
        event = f"alert:{name}"
        for flag, on in (("on_drift", spec.on_drift), ("on_decay", spec.on_decay)):
            if on is None:
                continue
            job = self._jobs.get(on.retrain)
            if job["spec"].get("on_event") != event:
                raise InvalidInput(
                    f"{flag}: job {on.retrain!r} does not wait for {event}; create it with "
                    f"%job create {on.retrain} --notebook PATH --on-event {event}"
                )

    def put(self, name: str, spec: MonitorSpec) -> dict[str, Any]:
        """Create or replace a monitor; its first check is due at once."""
        names.monitor_name(name)
        self._validate(name, spec)
        with self._lock:
            with self._sessions.begin() as session:
                record = session.get(MonitorRecord, name)
                said = f"{spec.deployment} every {spec.every} over {spec.window}; {spec.actions()}"
                if record is None:
                    session.add(MonitorRecord(name=name, spec=spec.to_dict()))
                    self._event(session, "monitor.create", name, said)
                else:
                    if record.spec.get("deployment") != spec.deployment:
                        record.had_traffic = False
                    record.spec, record.last_check_at, record.updated_at = spec.to_dict(), None, utcnow()
                    self._event(session, "monitor.update", name, said)
            self._changed_now()
        return self.get(name)

    def delete(self, name: str) -> dict[str, Any]:
        with self._lock:
            view = self.get(name)
            with self._sessions.begin() as session:
                session.execute(delete(MonitorCheckRecord).where(MonitorCheckRecord.monitor == name))
                session.delete(self._monitor(session, name))
                self._event(session, "monitor.delete", name, "deleted on request")
            self._changed_now()
        return view

    def pause(self, name: str) -> dict[str, Any]:
        return self._set_paused(name, True)

    def resume(self, name: str) -> dict[str, Any]:
        return self._set_paused(name, False)

    def _set_paused(self, name: str, paused: bool) -> dict[str, Any]:
        with self._lock:
            with self._sessions.begin() as session:
                record = self._monitor(session, name)
                record.paused = paused
                self._event(session, "monitor.pause" if paused else "monitor.resume", name, "on request")
            self._changed_now()
        return self.get(name)

    def _changed_now(self) -> None:
        self._changed = True
        self._wake.notify_all()

    # --- checking ------------------------------------------------------------------------------------------
    def check_now(self, name: str) -> dict[str, Any]:
        """Check now (whatever the schedule), wait for it, and answer the check's record."""
        names.monitor_name(name)
        self.get(name)
        return self._check(name)

    def _check(self, name: str, claimed: bool = False) -> dict[str, Any]:
        """One check of the monitor, one at a time (``claimed``: the scheduler has marked it as being checked)."""
        from mlops_magics.monitor.check import check

        if not claimed:
            with self._lock:
                while name in self._checking:
                    self._wake.wait(timeout=1)
                self._checking.add(name)
        try:
            with self._sessions() as session:
                spec = MonitorSpec.from_dict(self._monitor(session, name).spec)
            try:
                result = check(
                    self.workspace,
                    spec.deployment,
                    spec.window,
                    thresholds(spec),
                    spec.features,
                    controller=_Deployments(self._deployments),  # type: ignore[arg-type]
                    limits=limits(spec),
                )
                verdict, reason, details = result.verdict, result.reason, result.to_dict()
                rows = result.rows
            except MLOpsError as exc:  # the deployment stopped, its model lost its profile: said, not raised
                verdict, reason, details, rows = "error", exc.message, {"error": exc.message}, 0
            except Exception as exc:  # kept as a failed check too, so the schedule moves on (never a hot loop)
                log.exception("monitor %s: the check failed", name)
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                reason = f"the check failed: {type(exc).__name__}: {first}; the controller's log has the details"
                verdict, details, rows = "error", {"error": reason}, 0
            view = self._record(name, spec, verdict, reason, details, rows)
            self._judge_swap(name, spec)
            return view
        finally:
            with self._lock:
                self._checking.discard(name)
                self._wake.notify_all()

    def _record(
        self, name: str, spec: MonitorSpec, verdict: str, reason: str, details: dict[str, Any], rows: int
    ) -> dict[str, Any]:
        """Save the check, and raise its alert when one is due."""
        now = datetime.now(timezone.utc)
        with self._sessions.begin() as session:
            record = session.get(MonitorRecord, name)
            if record is None:  # deleted while it was checked
                return {"monitor": name, "at": _iso(now), "verdict": verdict, "reason": reason, "alert": None, "details": details}
            due = [
                (kind, message)
                for kind, message in _alerts_of(spec, verdict, reason, details, record.had_traffic)
                if not self._cooling(session, name, kind, now, spec.cooldown_s)
            ]
            record.had_traffic = record.had_traffic or rows > 0
            record.last_check_at, record.last_verdict, record.last_reason = now, verdict, reason
            saved = MonitorCheckRecord(
                monitor=name, at=now, verdict=verdict, reason=reason, alert=due[0][0].value if due else None, details=details
            )
            session.add(saved)
            session.flush()
            view = self._check_view(saved)
            old = select(MonitorCheckRecord.id).where(MonitorCheckRecord.monitor == name)
            old = old.order_by(MonitorCheckRecord.id.desc()).offset(CHECKS_KEPT)
            session.execute(delete(MonitorCheckRecord).where(MonitorCheckRecord.id.in_(old.scalar_subquery())))
            raised = []
            for kind, message in due:
                alert = MonitorAlertRecord(monitor=name, deployment=spec.deployment, kind=kind.value, message=message, at=now)
                session.add(alert)
                session.flush()
                self._event(session, "monitor.alert", name, f"{kind.value}: {message}")
                raised.append((alert.id, kind, message))
            if raised:
                stale = select(MonitorAlertRecord.id).order_by(MonitorAlertRecord.id.desc()).offset(ALERTS_KEPT)
                session.execute(delete(MonitorAlertRecord).where(MonitorAlertRecord.id.in_(stale.scalar_subquery())))
        for alert_id, kind, message in raised:
            self._act(name, spec, alert_id, kind, message, details)
        return view

    def _judge_swap(self, name: str, spec: MonitorSpec) -> None:
        """A swap being watched: judged on the request log as it is now; a rollback is an alert (no cooldown)."""
        try:
            ended = self._swaps.judge(name, spec)
        except Exception:
            log.exception("monitor %s: judging the swap failed", name)
            return
        if ended is None or ended[0].state != "rolled back":
            return
        record, _ = ended
        with self._sessions.begin() as session:
            alert = MonitorAlertRecord(
                monitor=name, deployment=spec.deployment, kind=AlertKind.ROLLBACK.value, message=record.message
            )
            session.add(alert)
            self._event(session, "monitor.alert", name, f"rollback: {record.message}")
        self._notify(name, spec, AlertKind.ROLLBACK, record.message)

    @staticmethod
    def _cooling(session: Session, name: str, kind: AlertKind, now: datetime, cooldown_s: int) -> bool:
        last = session.scalar(
            select(func.max(MonitorAlertRecord.at)).where(
                MonitorAlertRecord.monitor == name, MonitorAlertRecord.kind == kind.value
            )
        )
        return last is not None and now - _aware(last) < timedelta(seconds=cooldown_s)

    def _act(self, name: str, spec: MonitorSpec, alert_id: int, kind: AlertKind, reason: str, details: dict[str, Any]) -> None:
        """The alert's consequences: the webhook, and the jobs its event starts."""
        self._notify(name, spec, kind, reason)
        on = {AlertKind.DRIFT: spec.on_drift, AlertKind.DECAY: spec.on_decay}.get(kind)
        if on is None:
            return
        drifted = details.get("drifted") or []
        detail = f"{kind.value} on {spec.deployment}" + (f": {', '.join(drifted)}" if drifted else f": {reason}")
        values = {
            "monitor": name,
            "deployment": spec.deployment,
            "alert": kind.value,
            "drifted": ",".join(drifted),
            "window": spec.window,
            "checked_at": str(details.get("checked_at") or ""),
        }
        try:
            runs = self._jobs.event(f"alert:{name}", detail[:500], values)
        except MLOpsError as exc:
            runs = []
            log.warning("monitor %s: the event alert:%s failed: %s", name, name, exc.message)
        started = next((r for r in runs if r["job"] == on.retrain), runs[0] if runs else None)
        with self._sessions.begin() as session:
            alert = session.get(MonitorAlertRecord, alert_id)
            if alert is not None and started is not None:
                alert.job, alert.run = started["job"], started["number"]
            said = f"job {started['job']!r} run {started['number']}" if started else f"no run of {on.retrain!r} (busy or paused)"
            self._event(session, "monitor.retrain", name, f"alert {alert_id} started {said}")

    def _notify(self, name: str, spec: MonitorSpec, kind: AlertKind, reason: str) -> None:
        if spec.notify is None:
            return
        text = f"mlops monitor {name!r} ({spec.deployment}): {kind.value} - {reason}"
        body = {"text": text, "monitor": name, "deployment": spec.deployment, "kind": kind.value, "message": reason}
        url = spec.notify

        def send() -> None:
            import httpx

            try:
                httpx.post(url, json=body, timeout=10)
            except httpx.HTTPError as exc:
                log.warning("monitor %s: the notification to %s failed: %s", name, url, exc)

        threading.Thread(target=send, name=f"notify-{name}", daemon=True).start()

    # --- the schedule --------------------------------------------------------------------------------------
    def _schedule(self) -> dict[str, datetime]:
        with self._sessions() as session:
            due = {r.name: self._next_at(r) for r in session.scalars(select(MonitorRecord))}
        return {name: moment for name, moment in due.items() if moment is not None}

    def _scheduler(self) -> None:
        due: dict[str, datetime] = {}
        while not self._closing:
            with self._lock:
                if self._changed:
                    self._changed = False
                    due = self._schedule()
                now = datetime.now(timezone.utc)
                waiting = {name: moment for name, moment in due.items() if name not in self._checking}
                ready = [name for name, moment in waiting.items() if moment <= now]
                if not ready:
                    soonest = min(waiting.values(), default=None)
                    wait = (soonest - now).total_seconds() if soonest is not None else 60.0
                    self._wake.wait(timeout=max(0.05, min(wait, 60.0)))
                    continue
                for name in ready:
                    due.pop(name)
                    self._checking.add(name)
            for name in ready:
                threading.Thread(target=self._scheduled, args=(name,), name=f"monitor-{name}", daemon=True).start()

    def _scheduled(self, name: str) -> None:
        try:
            self._check(name, claimed=True)
        except NotFound:
            pass  # deleted meanwhile
        except Exception:
            log.exception("monitor %s: the check failed", name)
        finally:
            with self._lock:
                self._changed_now()  # its next time follows from the check just saved

    # --- start and stop ------------------------------------------------------------------------------------
    def restore(self) -> None:
        """At controller start: the monitors' schedules from their records (an overdue check runs at once)."""
        self._thread = threading.Thread(target=self._scheduler, name="monitor-scheduler", daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._wake.notify_all()
