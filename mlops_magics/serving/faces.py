"""What ``%deploy`` and ``mlops deploy`` share: turning their words into controller calls and lines to show."""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from mlops_magics.arguments import DEPLOY_ACTIONS
from mlops_magics.controller import Controller
from mlops_magics.controller.template import expected_warm_up, warmed_before
from mlops_magics.errors import InvalidInput
from mlops_magics.serving.spec import DeploymentSpec, check_name, default_name, is_loopback


def summarize(view: dict[str, Any]) -> str:
    what = view["spec"].get("model") or view["spec"].get("command") or view["spec"].get("app")
    version = f" v{view['version']}" if view.get("version") else ""
    reason = f" ({view['reason']})" if view.get("reason") else ""
    return f"deployment {view['name']!r}: {view['status']}{reason} — {what}{version} at {view['url']}"


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


def run(
    args: argparse.Namespace,
    controller: Controller,
    wait_for: Callable[[], None] | None = None,
    notify: Callable[[str], None] = lambda line: print(line, flush=True),
) -> tuple[str, list[str], dict[str, Any] | None]:
    """Do what the words ask; return (action, lines to print, the deployment's view when there is one).

    ``wait_for`` is what must finish first (``%deploy``: a model registered a moment ago being written); a
    model's deployment starts the controller, and with it the serving template, meanwhile. ``notify`` shows a
    line at once (what a first deployment waits for)."""
    words = list(args.target)
    if not words and not (args.command or args.app):
        words = ["status"]
    if args.rotate and words[:1] != ["token"]:
        raise InvalidInput("--rotate goes with token: token NAME --rotate issues a new token for deployment NAME")
    if words and words[0] in DEPLOY_ACTIONS:
        if wait_for is not None:
            wait_for()
        action, rest = words[0], words[1:]
        if action == "status":
            views = [controller.deployment(rest[0])] if rest else controller.deployments()
            return action, [summarize(v) for v in views] or ["no deployments; start one with %deploy MODEL"], None
        if action == "stop" and args.all:
            views = [controller.stop_deployment(v["name"]) for v in controller.deployments()]
            return action, [summarize(v) for v in views] or ["no deployments to stop"], None
        if not rest:
            raise InvalidInput(f"{action} needs the deployment's name: {action} NAME")
        name = check_name(rest[0])
        if action == "stop":
            view = controller.stop_deployment(name)
            return action, [summarize(view)], view
        if action == "rollback":
            before = controller.deployment(name)
            view = controller.rollback_deployment(name)
            return action, [rolled_back(before, view), summarize(view)], view
        if action == "token":  # the one answer that holds the token: each face decides where it may show it
            if not args.rotate:
                return action, [], controller.deployment_token(name)
            issued = controller.rotate_deployment_token(name)
            return action, [f"issued a new token for {name!r}: the previous one no longer works"], issued
        return action, controller.deployment_logs(name, args.lines)["lines"], None
    if len(words) > 1:
        raise InvalidInput(f"one model at a time (got {words}); e.g. %deploy cancer@champion --name cancer")
    model = words[0] if words else None
    spec = DeploymentSpec.from_flags(
        {
            "model": model,
            "command": args.command,
            "app": args.app,
            "host": args.host,
            "port": args.port,
            "workers": args.workers,
            "token": args.token,
            "insecure": args.insecure,
            "log_rate": args.log_requests,
        }
    )
    name = check_name(args.name or default_name(model or args.app or "app"))
    note = warming_note(controller) if spec.model else None
    if note:
        notify(note)
    if wait_for is not None:
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
    return "deploy", lines, view
