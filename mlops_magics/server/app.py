"""The jupyter-server extension: finds the workspace of the served root and mounts the REST routes."""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp

from mlops_magics.controller import Controller
from mlops_magics.server.handlers import ROUTES, UnknownRouteHandler
from mlops_magics.server.routes import ServerRoutes
from mlops_magics.workspace import HOME_ENV, Workspace

API_PREFIX = "/mlops/api"


class MLOpsExtension(ExtensionApp):
    name = "mlops_magics"

    def initialize_settings(self) -> None:
        workspace = Workspace.for_root(Path(self.serverapp.root_dir))
        # Kernels inherit the server's environment: they then find the same workspace as the server.
        os.environ[HOME_ENV] = str(workspace.home)
        controller = Controller(workspace, notify=lambda line: self.log.warning("%s", line))
        self.settings.update(
            mlops_workspace=workspace,
            mlops_controller=controller,
            mlops_routes=ServerRoutes(workspace, controller),
        )
        self.log.info("mlops-magics workspace: %s", workspace.home)

    def initialize_handlers(self) -> None:
        self.handlers.extend((f"{API_PREFIX}/{pattern}", handler) for pattern, handler in ROUTES)
        # Last: the rest of /mlops/api answers 404 in the JSON error shape.
        self.handlers.append((f"{API_PREFIX}(?:/.*)?", UnknownRouteHandler))
