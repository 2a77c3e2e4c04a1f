"""A review's gate in front of a deployment (``%review MODEL ... --deploy NAME``, ``mlops review ... --deploy
NAME``): a challenger that passed and was promoted is swapped into the deployment (its exact version, without a
failed request); one that did not leaves the deployment serving what it served."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_magics.errors import InvalidInput

if TYPE_CHECKING:
    from mlops_magics.controller.client import Controller
    from mlops_magics.review.run import ReviewResult


def served_model(model: str) -> str:
    """``cancer@champion``, ``cancer/3``, ``models:/cancer/3`` -> ``cancer``."""
    return model.removeprefix("models:/").split("@", 1)[0].split("/", 1)[0]


def check_deployment(controller: Controller, deployment: str, model: str) -> None:
    """Before the review: the deployment exists and serves ``model`` (a gate in front of the wrong one is refused
    before any alias moves)."""
    spec = controller.deployment(deployment).get("spec") or {}
    serving = spec.get("model")
    if not serving:
        raise InvalidInput(f"--deploy {deployment}: it serves its own app, not a registered model")
    if served_model(serving) != model:
        raise InvalidInput(f"--deploy {deployment}: it serves {serving}, not a version of {model}")


def swap_in(controller: Controller, result: ReviewResult, deployment: str) -> str:
    """Swap the reviewed challenger into ``deployment`` when it passed and was promoted; the line to show."""
    if not (result.passed and result.promoted):
        why = "refused" if not result.passed else "passed but was not promoted (approve it first)"
        return f"deployment {deployment!r} keeps serving what it served: {result.model} v{result.challenger} {why}"
    view = controller.deployment(deployment)
    spec = {**(view.get("spec") or {}), "model": f"{result.model}/{result.challenger}"}
    view = controller.deploy(deployment, spec)
    return (
        f"deployment {deployment!r} now serves {result.model} v{view.get('version') or result.challenger} (swapped without a gap)"
    )
