"""A Dask cluster on the wire: the spec that describes one, the scale request, and the view the controller gives.

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
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from mlops_magics import names
from mlops_magics.errors import InvalidInput
from mlops_magics.wire import View, WireModel, finite_json

Kind = Literal["local", "address", "factory"]
KINDS: tuple[str, ...] = ("local", "address", "factory")
NAME_PATTERN = names.CLUSTER_NAME
_ADDRESS_PATTERN = re.compile(r"(tcp|tls|ws|wss|inproc|ucx)://[^\s/]+:\d{1,5}")


def _memory_limit(value: str) -> str:
    text = value.strip()
    if text.lower() in ("auto", "0", "none"):
        return "auto" if text.lower() == "auto" else "0"
    from dask.utils import parse_bytes  # dask is imported when a cluster is asked for, not with the magics

    try:
        size = parse_bytes(text)
    except (ValueError, TypeError):
        size = -1
    if size <= 0:
        raise ValueError(
            f"{value[:40]!r} is not accepted: use a size such as '2GiB' or '500MB', "
            "'auto' (share of this machine) or '0' (no limit)"
        )
    return text


def _address(address: str) -> str:
    text = address.strip()
    if "://" not in text:
        text = f"tcp://{text}"
    if not _ADDRESS_PATTERN.fullmatch(text):
        raise ValueError(
            f"scheduler address {address[:60]!r} is not accepted: use PROTOCOL://HOST:PORT of a running Dask "
            "scheduler, e.g. tcp://127.0.0.1:8786"
        )
    return text


def normalize_address(address: str) -> str:
    try:
        return _address(address)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


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


Count = Annotated[int, Field(ge=1, le=10_000)]
# How the command-line faces name each field in a message ("memory limit 'lots' is not accepted: ...").
FLAGS = {"workers": "workers ", "threads_per_worker": "threads per worker ", "memory_limit": "memory limit "}
FLAGS |= {"address": "", "factory": "--factory ", "factory_kwargs": "--kwargs "}  # address: its message names it


class ClusterSpec(WireModel):
    kind: Kind = "local"
    workers: Count = 2
    threads_per_worker: Annotated[int, Field(ge=1, le=1024)] = 1
    memory_limit: Annotated[str, AfterValidator(_memory_limit)] = Field("auto", description="a size (2GiB), auto, or 0")
    address: Annotated[str, AfterValidator(_address)] | None = Field(None, description="kind address: tcp://host:port")
    factory: str | None = Field(None, description="kind factory: module.Class")
    factory_kwargs: Annotated[dict[str, Any], AfterValidator(lambda kw: finite_json(kw, "factory_kwargs"))] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _kind_needs(self) -> ClusterSpec:
        if self.kind == "address" and not self.address:
            raise ValueError("a cluster of kind 'address' needs the scheduler address, e.g. tcp://host:8786")
        if self.kind == "factory":
            if not self.factory:
                raise ValueError("a cluster of kind 'factory' needs MODULE.CLASS, e.g. dask_gateway.GatewayCluster")
            load_factory(self.factory)  # an InvalidInput naming what is missing goes out as it is
        return self

    @classmethod
    def from_flags(cls, data: dict[str, Any]) -> ClusterSpec:
        """A spec from ``%cluster start`` / ``mlops cluster start``: fields named by their flags."""
        return cls.checked(data, lambda field: FLAGS.get(field, f"{field} "))

    @classmethod
    def from_dask_config(cls, workers: int | None = None) -> ClusterSpec:
        """The factory named by dask config ``labextension.factory`` (shared with dask-labextension)."""
        import dask.config

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

    def describe(self) -> str:
        if self.kind == "address":
            return f"scheduler at {self.address}"
        if self.kind == "factory":
            return f"{self.factory} with {self.workers} worker(s)"
        return f"LocalCluster, {self.workers} worker(s) x {self.threads_per_worker} thread(s), memory {self.memory_limit}"


class ClusterScale(WireModel):
    """The body of a scale request: ``{"workers": N}``."""

    workers: Count


class ClusterStatus(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    UNREACHABLE = "unreachable"  # wanted running, but its scheduler does not answer


class Cluster(View):
    """A cluster as the controller sees it: its spec, where it runs, and what its workers add up to now."""

    name: str
    spec: ClusterSpec
    status: ClusterStatus
    reason: str | None
    scheduler_address: str | None
    dashboard_link: str | None
    workers: int
    threads: int
    memory: int = Field(description="bytes")
    created_at: str
