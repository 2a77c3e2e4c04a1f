"""The controller: the one long-lived owner of a workspace's clusters, deployments and MLflow UI (jobs and monitors next).

``Controller`` is how every face reaches it; ``python -m mlops_magics.controller`` is the process itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_magics.controller.client import Controller, ControllerInfo

__all__ = ["Controller", "ControllerInfo"]


def __getattr__(name: str) -> Any:
    # Imported when first asked for: the controller process itself (``python -m``, which imports this package
    # first) does not need the client, and starts its serving template ~0.3 s sooner without it.
    if name in __all__:
        from mlops_magics.controller import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
