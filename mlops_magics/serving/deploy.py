"""Deploying, written once: ``%deploy`` and ``mlops deploy`` parse their words into a ``DeployOrder``, and
``carry_out`` turns it into calls of the workspace's controller and the lines a person is told.

The controller is passed in (its client is the core every face holds); this stage never imports it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_magics.api.deployments import is_loopback
from mlops_magics.serving.warmup import expected_warm_up, warmed_before

if TYPE_CHECKING:
    from mlops_magics.api.deployments import DeploymentSpec
    from mlops_magics.controller.client import Controller

# What a deployment's words may ask besides deploying a model or an app.
ACTIONS = ("status", "stop", "logs", "rollback", "token")


@dataclass(frozen=True)
class DeployOrder:
    """What a face asks, its words parsed and checked: ``deploy`` (a spec under a name) or one of ``ACTIONS``."""

    action: str
    name: str | None = None  # None: status of every deployment, or stop of every one (``every``)
    spec: DeploymentSpec | None = None  # deploy
    lines: int = 40  # logs
    every: bool = False  # stop --all
    rotate: bool = False  # token --rotate


@dataclass
class DeployOutcome:
    """What was done: the lines to show, and the deployment's view when the action is about one."""

    action: str
    lines: list[str]
    view: dict[str, Any] | None = None


def summarize(view: dict[str, Any]) -> str:
    spec = view["spec"] or {}  # None when the saved spec is no longer valid: the view still says the rest
    what = spec.get("model") or spec.get("command") or spec.get("app") or "(its saved spec is not valid)"
    version = f" v{view['version']}" if view.get("version") else ""
    reason = f" ({view['reason']})" if view.get("reason") else ""
    at = f" at {view['url']}" if view.get("url") else ""
    return f"deployment {view['name']!r}: {view['status']}{reason} — {what}{version}{at}"


def token_hint(name: str) -> str:
    """Where a deployment's token is, said instead of the token: what a cell shows is saved with the notebook."""
    return f"requests need its bearer token: `mlops deploy token {name}` prints it (in a terminal, not in a notebook)"


def _named(model: str | None, version: str | None) -> str:
    return f"{model} v{version}" if version else str(model)


def rolled_back(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Which version a rollback went from and to, e.g. "rolled back 'peng' from penguins/2 v2 to penguins/1 v1
    (deployed earlier as penguins@challenger)": the alias it came from may point elsewhere by now."""
    pinned, served_as = after["spec"].get("model"), before.get("previous_model")
    note = f" (deployed earlier as {served_as})" if served_as and served_as != pinned else ""
    was = _named(before["spec"].get("model"), before.get("version"))
    return f"rolled back {after['name']!r} from {was} to {_named(pinned, after.get('version'))}{note}"


def warming_note(controller: Controller) -> str | None:
    """What a model's deployment is about to wait for when the serving template is not warm (the controller is
    not running, or has just started): said before the wait, with how long it takes here."""
    if controller.running() is None:
        seconds = expected_warm_up(controller.workspace)
    else:
        template = controller.status().get("serving_template") or {}
        if template.get("state") != "warming":
            return None
        seconds = max(1.0, float(template.get("warm_up_s") or 0) - float(template.get("warming_for_s") or 0))
    if not warmed_before(controller.workspace):
        return f"first deployment of this workspace: warming the serving template (~{seconds:.0f} s)"
    return f"warming the serving template (~{seconds:.0f} s; it then stays warm while the workspace's controller runs)"


def _start_quietly(controller: Controller) -> None:
    with contextlib.suppress(Exception):  # the deploy call that follows says what went wrong, in its words
        controller.ensure()


def _status(controller: Controller, order: DeployOrder) -> DeployOutcome:
    views = [controller.deployment(order.name)] if order.name else controller.deployments()
    return DeployOutcome(order.action, [summarize(v) for v in views] or ["no deployments; start one with %deploy MODEL"])


def _stop(controller: Controller, order: DeployOrder) -> DeployOutcome:
    if order.every:
        views = [controller.stop_deployment(v["name"]) for v in controller.deployments()]
        return DeployOutcome(order.action, [summarize(v) for v in views] or ["no deployments to stop"])
    view = controller.stop_deployment(str(order.name))
    return DeployOutcome(order.action, [summarize(view)], view)


def _rollback(controller: Controller, order: DeployOrder) -> DeployOutcome:
    before = controller.deployment(str(order.name))
    view = controller.rollback_deployment(str(order.name))
    return DeployOutcome(order.action, [rolled_back(before, view), summarize(view)], view)


def _token(controller: Controller, order: DeployOrder) -> DeployOutcome:
    # The one answer that holds the token: each face decides where it may show it.
    name = str(order.name)
    if not order.rotate:
        return DeployOutcome(order.action, [], controller.deployment_token(name))
    issued = controller.rotate_deployment_token(name)
    return DeployOutcome(order.action, [f"issued a new token for {name!r}: the previous one no longer works"], issued)


def _logs(controller: Controller, order: DeployOrder) -> DeployOutcome:
    return DeployOutcome(order.action, controller.deployment_logs(str(order.name), order.lines)["lines"])


_ACTIONS: dict[str, Callable[[Controller, DeployOrder], DeployOutcome]] = {
    "status": _status,
    "stop": _stop,
    "rollback": _rollback,
    "token": _token,
    "logs": _logs,
}


def _deploy(
    controller: Controller, order: DeployOrder, wait_for: Callable[[], None] | None, notify: Callable[[str], None]
) -> DeployOutcome:
    spec, name = order.spec, str(order.name)
    assert spec is not None
    note = warming_note(controller) if spec.model else None
    if note:
        notify(note)
    if wait_for is not None:
        # The controller (and with it the serving template) starts while what must finish first finishes.
        starting = threading.Thread(target=_start_quietly, args=(controller,), name="start-controller", daemon=True)
        starting.start()
        wait_for()
        starting.join()
    view = controller.deploy(name, spec.to_dict())
    lines = [summarize(view)]
    if view.get("has_token"):
        lines.append(token_hint(name))
    if not is_loopback(spec.host):
        anyone = "" if spec.token else ", and it answers anyone: no token (--insecure)"
        lines.append(f"note: listening on {spec.host} — reachable from other machines{anyone}")
    if spec.model:
        lines.append(f"try it: {view['url']}/docs · POST {view['url']}/invocations · metrics at {view['url']}/metrics")
    return DeployOutcome("deploy", lines, view)


def carry_out(
    controller: Controller,
    order: DeployOrder,
    wait_for: Callable[[], None] | None = None,
    notify: Callable[[str], None] = lambda line: print(line, flush=True),
) -> DeployOutcome:
    """Do what the order asks.

    ``wait_for`` is what must finish first (``%deploy``: a model registered a moment ago being written); a
    model's deployment starts the controller, and with it the serving template, meanwhile. ``notify`` shows a
    line at once (what a first deployment waits for)."""
    if order.action == "deploy":
        return _deploy(controller, order, wait_for, notify)
    if wait_for is not None:
        wait_for()
    return _ACTIONS[order.action](controller, order)
