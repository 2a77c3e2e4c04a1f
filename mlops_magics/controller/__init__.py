"""The controller: the one long-lived owner of a workspace's clusters (and, later, jobs and deployments).

``Controller`` is how every face reaches it; ``python -m mlops_magics.controller`` is the process itself.
"""

from mlops_magics.controller.client import Controller, ControllerInfo

__all__ = ["Controller", "ControllerInfo"]
