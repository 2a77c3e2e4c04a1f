"""Standing monitors' actions, written once: ``%monitor`` and ``mlops monitor`` parse their words into a
``StandingOrder``, and ``carry_out`` makes the calls of the workspace's controller and the lines a person is told.

The controller is passed in (its client is the core every face holds). The one-shot check (``%monitor NAME``) is
``monitor.check``'s, run in the face's own process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_magics.api.monitors import MonitorSpec
    from mlops_magics.controller.client import Controller

# The first word of %monitor when it is not a deployment: an action on the standing monitors.
ACTIONS = ("status", "alerts", "checks", "check", "timeline", "pause", "resume", "delete")
NEEDS_NAME = ("checks", "check", "timeline", "pause", "resume", "delete")
CHECKS_SHOWN = 20


@dataclass(frozen=True)
class StandingOrder:
    """What a face asks of the standing monitors, its words parsed and checked."""

    action: str  # create, or one of ACTIONS
    name: str | None = None  # None: status of every monitor
    spec: MonitorSpec | None = None  # create


@dataclass
class StandingOutcome:
    action: str
    lines: list[str]
    view: Any = None


def monitor_line(monitor: dict[str, Any]) -> str:
    """One line about a monitor: what it checks and how often, its last verdict, its alerts, what they start."""
    spec = monitor["spec"]
    paused = " (paused)" if monitor["paused"] else ""
    if monitor.get("last_check_at"):
        last = f"last {monitor['last_verdict']} at {monitor['last_check_at']} ({monitor['last_reason']})"
    else:
        last = "not checked yet"
    upcoming = f"; next {monitor['next_check_at']}" if monitor.get("next_check_at") else ""
    actions = [f"on drift retrain={spec['on_drift']['retrain']}"] if spec.get("on_drift") else []
    actions += [f"on decay retrain={spec['on_decay']['retrain']}"] if spec.get("on_decay") else []
    started = f"; {', '.join(actions)}" if actions else ""
    watching = f"; {monitor['watching']['message']}" if monitor.get("watching") else ""
    return (
        f"monitor {monitor['name']!r}{paused}: {spec['deployment']} every {spec['every']} over {spec['window']} — "
        f"{last}{upcoming}; {monitor['alerts']} alert(s), cooldown {spec['cooldown']}{started}{watching}"
    )


def alert_line(alert: dict[str, Any]) -> str:
    started = f"; started job {alert['job']!r} run {alert['run']}" if alert.get("job") else ""
    return f"{alert['at']} {alert['monitor']} ({alert['deployment']}): {alert['kind']} - {alert['message']}{started}"


def check_line(check: dict[str, Any]) -> str:
    alert = f" [alert: {check['alert']}]" if check.get("alert") else ""
    rows = check["details"].get("rows")
    counted = f" ({rows:,} rows)" if isinstance(rows, int) else ""
    return f"{check['at']} {check['verdict']}{counted}: {check['reason']}{alert}"


def _create(controller: Controller, order: StandingOrder) -> StandingOutcome:
    assert order.spec is not None
    view = controller.put_monitor(str(order.name), order.spec)
    return StandingOutcome(order.action, [monitor_line(view)], view)


def _status(controller: Controller, order: StandingOrder) -> StandingOutcome:
    if order.name is None:
        monitors = controller.monitors()
        lines = [monitor_line(m) for m in monitors]
        return StandingOutcome(order.action, lines or ["no standing monitors; start one with %monitor DEPLOYMENT --every 10m"])
    view = controller.monitor(order.name)
    return StandingOutcome(order.action, [monitor_line(view)], view)


def _alerts(controller: Controller, order: StandingOrder) -> StandingOutcome:
    alerts = [a for a in controller.alerts() if order.name is None or a["monitor"] == order.name]
    return StandingOutcome(order.action, [alert_line(a) for a in alerts] or ["no alerts"], alerts)


def _checks(controller: Controller, order: StandingOrder) -> StandingOutcome:
    checks = controller.monitor_checks(str(order.name))
    lines = [check_line(c) for c in checks[:CHECKS_SHOWN]] or [f"monitor {order.name!r} has not checked yet"]
    return StandingOutcome(order.action, lines, checks)


def _check(controller: Controller, order: StandingOrder) -> StandingOutcome:
    check = controller.check_monitor(str(order.name))
    return StandingOutcome(order.action, [f"monitor {order.name!r}: {check_line(check)}"], check)


def incident_lines(incident: dict[str, Any]) -> list[str]:
    """One turn of the loop: a line per step (alert, retrain, model, review, swap, watch, rollback)."""
    lines = []
    for step in incident["steps"]:
        at = f"{step['at']} " if step.get("at") else ""
        lines.append(f"  {at}{step['step']} [{step['state']}]: {step['message']}")
    head = incident["alert"]
    title = f"alert {head['id']} ({head['kind']})" if head else "a swap without an alert"
    return [title, *lines]


def _timeline(controller: Controller, order: StandingOrder) -> StandingOutcome:
    incidents = controller.monitor_timeline(str(order.name))
    lines = [line for incident in incidents for line in incident_lines(incident)]
    return StandingOutcome(order.action, lines or [f"monitor {order.name!r} has no alerts or swaps yet"], incidents)


def _simple(call: str, said: str) -> Callable[[Controller, StandingOrder], StandingOutcome]:
    def act(controller: Controller, order: StandingOrder) -> StandingOutcome:
        view = getattr(controller, call)(str(order.name))
        lines = (
            [f"deleted monitor {order.name!r}"] if said == "deleted" else [f"{said} monitor {order.name!r}", monitor_line(view)]
        )
        return StandingOutcome(order.action, lines, view)

    return act


_ACTIONS: dict[str, Callable[[Controller, StandingOrder], StandingOutcome]] = {
    "create": _create,
    "status": _status,
    "alerts": _alerts,
    "checks": _checks,
    "check": _check,
    "timeline": _timeline,
    "pause": _simple("pause_monitor", "paused"),
    "resume": _simple("resume_monitor", "resumed"),
    "delete": _simple("delete_monitor", "deleted"),
}


def carry_out(controller: Controller, order: StandingOrder) -> StandingOutcome:
    """Do what the order asks of the workspace's controller."""
    return _ACTIONS[order.action](controller, order)
