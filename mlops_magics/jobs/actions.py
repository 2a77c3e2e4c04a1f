"""A job's actions, written once: ``%job`` and ``mlops job`` parse their words into a ``JobOrder``, and
``carry_out`` makes the calls of the workspace's controller and the lines a person is told.

The controller is passed in (its client is the core every face holds); this stage never imports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_magics.api.jobs import JobSpec
    from mlops_magics.controller.client import Controller

ACTIONS = ("create", "run", "status", "runs", "logs", "cancel", "pause", "resume", "delete", "token")
FINISHED = ("succeeded", "failed", "timed_out", "cancelled")


@dataclass(frozen=True)
class JobOrder:
    """What a face asks, its words parsed and checked."""

    action: str
    name: str | None = None  # None: status of every job
    spec: JobSpec | None = None  # create
    number: int | None = None  # logs, cancel, status of one run (None: the last one)
    parameters_text: dict[str, str] = field(default_factory=dict)  # run
    wait: bool = False  # run: until the run ends
    lines: int = 40  # logs
    revoke: bool = False  # token


@dataclass
class JobOutcome:
    action: str
    lines: list[str]
    view: dict[str, Any] | None = None  # the job, the run, or the token


def run_line(run: dict[str, Any]) -> str:
    """One line about a run: its number, state (and why), progress, when and how long, where its output is."""
    cells = f" {run['cells_done']}/{run['cells_total']} cells" if run.get("cells_total") else ""
    took = f" in {run['duration_s']:.1f} s" if run.get("duration_s") is not None else ""
    reason = f" ({run['reason']})" if run.get("reason") else ""
    trigger = run["trigger"] + (f" {run['trigger_detail']}" if run.get("trigger_detail") else "")
    output = f"; output {run['output']}" if run.get("output") and run["state"] in FINISHED else ""
    return f"run {run['number']}: {run['state']}{reason}{cells}{took} [{trigger}]{output}"


def job_line(job: dict[str, Any]) -> str:
    paused = " (paused)" if job["paused"] else ""
    upcoming = f"; next {job['next_run_at']}" if job.get("next_run_at") else ""
    last = f"; last {run_line(job['last_run'])}" if job.get("last_run") else "; no runs yet"
    return f"job {job['name']!r}{paused}: {job['spec']['notebook']} — {job['triggers']}{upcoming}{last}"


def _create(controller: Controller, order: JobOrder, notify: Callable[[str], None]) -> JobOutcome:
    assert order.spec is not None
    view = controller.put_job(str(order.name), order.spec)
    declared = ", ".join(f"{k}: {v}" for k, v in view["parameters_declared"].items()) or "none"
    return JobOutcome(order.action, [job_line(view), f"parameters: {declared}"], view)


def _run(controller: Controller, order: JobOrder, notify: Callable[[str], None]) -> JobOutcome:
    name = str(order.name)
    run = controller.run_job(name, {"parameters_text": order.parameters_text})
    if not order.wait:
        return JobOutcome(order.action, [run_line(run)], run)
    notify(run_line(run))
    seen = run["cells_done"] if run["state"] == "running" else -1
    while run["state"] not in FINISHED:
        time.sleep(0.25)
        run = controller.job_run(name, str(run["number"]))
        if run["state"] == "running" and run["cells_done"] != seen:
            seen = run["cells_done"]
            notify(run_line(run))
    return JobOutcome(order.action, [run_line(run)], run)


def _status(controller: Controller, order: JobOrder, notify: Callable[[str], None]) -> JobOutcome:
    if order.name is None:
        jobs = controller.jobs()
        return JobOutcome(
            order.action, [job_line(j) for j in jobs] or ["no jobs; create one with %job create NAME --notebook PATH"]
        )
    if order.number is not None:
        run = controller.job_run(order.name, str(order.number))
        return JobOutcome(order.action, [run_line(run)], run)
    view = controller.job(order.name)
    return JobOutcome(order.action, [job_line(view)], view)


def _runs(controller: Controller, order: JobOrder, notify: Callable[[str], None]) -> JobOutcome:
    runs = controller.job_runs(str(order.name))
    return JobOutcome(order.action, [run_line(r) for r in runs] or [f"job {order.name!r} has no runs yet"])


def _last_number(controller: Controller, name: str) -> int:
    runs = controller.job_runs(name)
    if not runs:
        from mlops_magics.errors import NotFound

        raise NotFound(f"job {name!r} has no runs yet")
    return int(runs[0]["number"])


def _logs(controller: Controller, order: JobOrder, notify: Callable[[str], None]) -> JobOutcome:
    name = str(order.name)
    number = order.number or _last_number(controller, name)
    return JobOutcome(order.action, controller.run_logs(name, str(number), order.lines)["lines"])


def _cancel(controller: Controller, order: JobOrder, notify: Callable[[str], None]) -> JobOutcome:
    name = str(order.name)
    run = controller.cancel_run(name, str(order.number or _last_number(controller, name)))
    return JobOutcome(order.action, [run_line(run)], run)


def _simple(call: str, said: str) -> Callable[[Controller, JobOrder, Callable[[str], None]], JobOutcome]:
    def act(controller: Controller, order: JobOrder, notify: Callable[[str], None]) -> JobOutcome:
        view = getattr(controller, call)(str(order.name))
        return JobOutcome(
            order.action,
            [f"{said} job {order.name!r}", job_line(view)] if said != "deleted" else [f"deleted job {order.name!r}"],
            view,
        )

    return act


def _token(controller: Controller, order: JobOrder, notify: Callable[[str], None]) -> JobOutcome:
    name = str(order.name)
    if order.revoke:
        controller.revoke_job_token(name)
        return JobOutcome(order.action, [f"revoked the trigger token of job {name!r}: outside callers can no longer start it"])
    issued = controller.issue_job_token(name)
    lines = [
        f"a new trigger token for job {name!r} (shown once; the previous one no longer works). Outside callers start it with:",
        f"  curl -X POST -H 'Authorization: Bearer TOKEN' -H 'Content-Type: application/json' "
        f"-d '{{\"parameters\": {{}}}}' JUPYTER_URL{issued['route']}",
    ]
    return JobOutcome(order.action, lines, issued)


_ACTIONS: dict[str, Callable[[Controller, JobOrder, Callable[[str], None]], JobOutcome]] = {
    "create": _create,
    "run": _run,
    "status": _status,
    "runs": _runs,
    "logs": _logs,
    "cancel": _cancel,
    "pause": _simple("pause_job", "paused"),
    "resume": _simple("resume_job", "resumed"),
    "delete": _simple("delete_job", "deleted"),
    "token": _token,
}


def carry_out(controller: Controller, order: JobOrder, notify: Callable[[str], None] = print) -> JobOutcome:
    """Do what the order asks; ``notify`` gets the lines said while it waits (a run's progress)."""
    return _ACTIONS[order.action](controller, order, notify)
