"""One Dask cluster spec for notebooks and jobs, and how to build the cluster it describes.

Three kinds, one spec:
- ``local``: a ``distributed.LocalCluster`` (workers, threads per worker, memory limit) on loopback;
- ``address``: an existing scheduler somebody else runs;
- ``factory``: any cluster class named ``module.Class`` with keyword arguments, as dask-labextension does it
  (Dask Gateway, dask-kubernetes...). ``from_dask_config`` reads the same ``labextension.factory`` key, so one
  dask config serves both panels.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import dask.config
from dask.utils import parse_bytes

from mlops_magics.errors import InvalidInput

Kind = Literal["local", "address", "factory"]
KINDS: tuple[str, ...] = ("local", "address", "factory")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ADDRESS_PATTERN = re.compile(r"^(tcp|tls|ws|wss|inproc|ucx)://[^\s/]+:\d{1,5}$")


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise InvalidInput(
            f"cluster name {name!r} is not accepted: use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    return name


def whole_number(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput(f"{what} must be a whole number >= {minimum} (got {value!r})")
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number >= {minimum} (got {value!r})") from None
    if number < minimum:
        raise InvalidInput(f"{what} must be a whole number >= {minimum} (got {number})")
    return number


def _memory_limit(value: object) -> str:
    text = str(value).strip()
    if text.lower() in ("auto", "0", "none"):
        return "auto" if text.lower() == "auto" else "0"
    try:
        size = parse_bytes(text)
    except (ValueError, TypeError):
        size = -1
    if size <= 0:
        raise InvalidInput(
            f"memory limit {value!r} is not accepted: use a size such as '2GiB' or '500MB', "
            "'auto' (share of this machine) or '0' (no limit)"
        )
    return text


def normalize_address(address: str) -> str:
    text = address.strip()
    if "://" not in text:
        text = f"tcp://{text}"
    if not _ADDRESS_PATTERN.match(text):
        raise InvalidInput(
            f"scheduler address {address!r} is not accepted: use PROTOCOL://HOST:PORT of a running Dask "
            "scheduler, e.g. tcp://127.0.0.1:8786"
        )
    return text


def load_factory(path: str) -> type:
    """Import ``module.Class`` (or ``module:Class``); raise a one-line error naming what is missing."""
    module_name, sep, class_name = path.replace(":", ".").rpartition(".")
    if not sep or not module_name or not class_name:
        raise InvalidInput(
            f"factory {path!r} is not accepted: use MODULE.CLASS of a Dask cluster class, e.g. "
            "distributed.LocalCluster, dask_gateway.GatewayCluster or dask_kubernetes.operator.KubeCluster"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(
            f"unknown factory {path!r}: module {module_name!r} cannot be imported ({exc}); install the package "
            "that provides it (dask-gateway, dask-kubernetes...)"
        ) from None
    factory = getattr(module, class_name, None)
    if not isinstance(factory, type):
        raise InvalidInput(f"unknown factory {path!r}: module {module_name!r} has no class {class_name!r}")
    return factory


@dataclass(frozen=True)
class ClusterSpec:
    kind: Kind = "local"
    workers: int = 2
    threads_per_worker: int = 1
    memory_limit: str = "auto"
    address: str | None = None
    factory: str | None = None
    factory_kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterSpec:
        """Validate what a face received; every problem is one line saying what is accepted."""
        if not isinstance(data, dict):
            raise InvalidInput(f"a cluster spec must be a JSON object (got {type(data).__name__})")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"unknown cluster spec field(s) {unknown}; accepted: {sorted(known)}")
        kind = data.get("kind", "local")
        if kind not in KINDS:
            raise InvalidInput(f"cluster kind {kind!r} is not accepted; use one of {list(KINDS)}")
        workers = whole_number(data.get("workers", 2), "workers", 1)
        threads = whole_number(data.get("threads_per_worker", 1), "threads per worker", 1)
        memory = _memory_limit(data.get("memory_limit", "auto"))
        address = data.get("address")
        factory = data.get("factory")
        kwargs = data.get("factory_kwargs") or {}
        if kind == "address":
            if not address:
                raise InvalidInput("a cluster of kind 'address' needs the scheduler address, e.g. tcp://host:8786")
            address = normalize_address(str(address))
        if kind == "factory":
            if not factory:
                raise InvalidInput("a cluster of kind 'factory' needs MODULE.CLASS, e.g. dask_gateway.GatewayCluster")
            load_factory(str(factory))
            if not isinstance(kwargs, dict):
                raise InvalidInput(f"factory keyword arguments must be a JSON object (got {kwargs!r})")
        return cls(kind, workers, threads, memory, address, factory, dict(kwargs))

    @classmethod
    def from_dask_config(cls, workers: int | None = None) -> ClusterSpec:
        """The factory named by dask config ``labextension.factory`` (shared with dask-labextension)."""
        factory = dask.config.get("labextension.factory", default=None)
        if not isinstance(factory, dict) or not factory.get("module") or not factory.get("class"):
            raise InvalidInput(
                "dask config has no cluster factory: set labextension.factory to {module, class, kwargs} "
                "(see https://docs.dask.org/en/stable/configuration.html)"
            )
        spec: dict[str, Any] = {
            "kind": "factory",
            "factory": f"{factory['module']}.{factory['class']}",
            "factory_kwargs": dict(factory.get("kwargs") or {}),
        }
        if workers is not None:
            spec["workers"] = workers
        return cls.from_dict(spec)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if self.kind == "address":
            return f"scheduler at {self.address}"
        if self.kind == "factory":
            return f"{self.factory} with {self.workers} worker(s)"
        return f"LocalCluster, {self.workers} worker(s) x {self.threads_per_worker} thread(s), memory {self.memory_limit}"


def connected_client() -> Any | None:
    """The kernel's default Dask client (``%cluster`` sets it), or None: work then runs on this machine."""
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
