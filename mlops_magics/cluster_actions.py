"""The workspace cluster's actions, written once: ``%cluster`` and ``mlops cluster`` parse their words into a
``ClusterOrder``, and ``carry_out`` makes the one call of the workspace's controller that the action is.

The controller is passed in (its client is the core every face holds); this module never imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_magics.api.clusters import ClusterSpec
    from mlops_magics.controller.client import Controller

View = dict[str, Any]


@dataclass(frozen=True)
class ClusterOrder:
    """What a face asks, its words parsed and checked: ``list`` (every cluster), ``start``, ``status``,
    ``scale`` or ``stop`` of the cluster ``name``."""

    action: str
    name: str
    spec: ClusterSpec | None = None  # start
    workers: int | None = None  # scale


def _list(controller: Controller, _order: ClusterOrder) -> list[View]:
    return controller.clusters()


def _start(controller: Controller, order: ClusterOrder) -> list[View]:
    assert order.spec is not None
    return [controller.start_cluster(order.name, order.spec.to_dict())]


def _status(controller: Controller, order: ClusterOrder) -> list[View]:
    return [controller.cluster(order.name)]


def _scale(controller: Controller, order: ClusterOrder) -> list[View]:
    assert order.workers is not None
    return [controller.scale_cluster(order.name, {"workers": order.workers})]


def _stop(controller: Controller, order: ClusterOrder) -> list[View]:
    return [controller.stop_cluster(order.name)]


# Each action, one call of the controller; the views it answers (one cluster, or every one for ``list``).
ACTIONS: dict[str, Callable[[Controller, ClusterOrder], list[View]]] = {
    "list": _list,
    "start": _start,
    "status": _status,
    "scale": _scale,
    "stop": _stop,
}


def waits_for(order: ClusterOrder) -> str | None:
    """What an action that waits for workers is doing, for a face to say while it waits; None: it answers at once."""
    if order.action == "start" and order.spec is not None:
        return f"starting {order.spec.describe()}"
    if order.action == "scale":
        return f"scaling to {order.workers} worker(s)"
    return None


def carry_out(controller: Controller, order: ClusterOrder) -> list[View]:
    return ACTIONS[order.action](controller, order)
