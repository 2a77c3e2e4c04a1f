"""How to build the Dask cluster a spec describes, and the kernel's connected client.

The spec itself (``ClusterSpec``) is a wire shape: ``mlops_magics.api.clusters``.
"""

from __future__ import annotations

import sys
from typing import Any

from mlops_magics.api.clusters import ClusterSpec, load_factory
from mlops_magics.errors import InvalidInput


def connected_client() -> Any | None:
    """The kernel's default Dask client (``%cluster`` sets it), or None: work then runs on this machine."""
    if "distributed" not in sys.modules:  # no client can exist, and importing distributed to ask costs ~0.3 s
        return None
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def build(spec: ClusterSpec) -> Any:
    """Create the cluster object a ``local`` or ``factory`` spec describes (blocking; seconds)."""
    if spec.kind == "local":
        from distributed import LocalCluster

        # Loopback only: the scheduler and dashboard must not be reachable from other machines by default.
        return LocalCluster(
            n_workers=spec.workers,
            threads_per_worker=spec.threads_per_worker,
            memory_limit=spec.memory_limit,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:8787",
        )
    if spec.kind == "factory":
        cluster = load_factory(str(spec.factory))(**spec.factory_kwargs)
        cluster.scale(spec.workers)
        return cluster
    raise InvalidInput(f"a cluster of kind {spec.kind!r} is not built here; it is connected to")


def summarize(view: dict[str, Any]) -> str:
    """One line about a cluster as the controller reports it, for the CLI and the notebook."""
    name, status = view["name"], view["status"]
    if status != "running":
        reason = f" ({view['reason']})" if view.get("reason") else ""
        return f"cluster {name!r} is {status}{reason}"
    memory = view.get("memory") or 0
    memory_text = f", {memory / 2**30:.1f} GiB" if memory else ""
    return (
        f"cluster {name!r} running at {view['scheduler_address']}: {view['workers']} worker(s), "
        f"{view['threads']} thread(s){memory_text}; dashboard {view['dashboard_link']}"
    )
