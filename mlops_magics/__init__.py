"""mlops-magics: the MLOps lifecycle from inside JupyterLab.

This module holds entry points only: the IPython extension, the jupyter-server extension and the
labextension paths. The core lives in the stage modules (cluster, eda, train, ...).
"""

from __future__ import annotations

from typing import Any

from mlops_magics.version import __version__

__all__ = ["__version__", "training_set"]


def training_set(deployment: str, since: Any = None) -> Any:
    """A retrain's new training set: ``deployment``'s logged requests joined with their feedback labels since
    ``since`` (7d, an ISO time), and the reference of the version it serves (``monitor.training``)."""
    from mlops_magics.controller.client import Controller
    from mlops_magics.monitor.training import training_set as read
    from mlops_magics.workspace import Workspace

    workspace = Workspace.current()
    return read(workspace, Controller(workspace, notify=lambda line: None), deployment, since)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "mlops-magics"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from mlops_magics.server.app import MLOpsExtension

    return [{"module": "mlops_magics", "app": MLOpsExtension}]


def load_ipython_extension(ipython: Any) -> None:
    from mlops_magics.magics import register

    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from mlops_magics.magics import unregister

    unregister(ipython)
