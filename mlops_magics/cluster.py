"""How to build the Dask cluster a spec describes, and the kernel's connected client.

The spec itself (``ClusterSpec``) is a wire shape: ``mlops_magics.api.clusters``.
"""

from __future__ import annotations

import sys
from typing import Any

from mlops_magics import gateway
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


def build(spec: ClusterSpec, where: str = "this process") -> Any:
    """Create the cluster object a ``local``, ``factory`` or ``gateway`` spec describes (blocking; seconds).

    A gateway cluster built here is stopped when its object is closed (a job run's own cluster); the controller
    starts its long-lived ones itself (``controller.services.clusters``)."""
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
    if spec.kind == "gateway":
        return gateway.start(spec, where, shutdown_on_close=True)
    raise InvalidInput(f"a cluster of kind {spec.kind!r} is not built here; it is connected to")


def close(cluster: Any, spec: ClusterSpec) -> None:
    """Stop a cluster ``build`` made (a gateway cluster is stopped in its gateway)."""
    if spec.kind == "gateway":
        gateway.close(cluster, shutdown=True)
    else:
        cluster.close()


def connect(view: dict[str, Any], where: str, set_as_default: bool = True) -> Any:
    """A ``distributed.Client`` on the cluster the controller reports; a gateway cluster's with the TLS credentials
    its gateway gives this process (authenticated as the environment says)."""
    from distributed import Client

    address = view["scheduler_address"]
    if view["spec"].get("kind") == "gateway":
        spec = ClusterSpec.from_dict(view["spec"])
        return gateway.client(spec, gateway.cluster_name(address), where, set_as_default=set_as_default)
    return Client(address, set_as_default=set_as_default, timeout=15)


def disconnect(client: Any) -> None:
    """Close a client ``connect`` made (and our handle on its gateway cluster, which runs on)."""
    held = getattr(client, "cluster", None)
    client.close()
    if held is not None and type(held).__name__ == "GatewayCluster":
        gateway.close(held, shutdown=False)


def gateway_env(raw_spec: dict[str, Any], address: str, where: str) -> dict[str, str]:
    """What another process needs to connect to the gateway cluster at ``address`` (credentials asked of the
    gateway now, authenticated as ``where``'s environment says)."""
    spec = ClusterSpec.from_dict(raw_spec)
    return gateway.connection_env(address, gateway.security(spec, gateway.cluster_name(address), where))


def connection_env(cluster: Any, spec: ClusterSpec) -> dict[str, str]:
    """What another process (a job's kernel) needs for ``distributed.Client()`` to connect to ``cluster``."""
    if spec.kind == "gateway":
        return gateway.connection_env(cluster.scheduler_address, cluster.security)
    return {"DASK_SCHEDULER_ADDRESS": cluster.scheduler_address}


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
