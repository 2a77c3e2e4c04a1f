"""A Dask cluster on the wire: the spec that describes one, the scale request, and the view the controller gives.

Four kinds, one spec:
- ``local``: a ``distributed.LocalCluster`` (workers, threads per worker, memory limit) on loopback;
- ``address``: an existing scheduler somebody else runs;
- ``factory``: any cluster class named ``module.Class`` with keyword arguments, as dask-labextension does it
  (dask-kubernetes, dask-jobqueue...). ``from_dask_config`` reads the same ``labextension.factory`` key, so one
  dask config serves both panels;
- ``gateway``: a cluster from a Dask Gateway at ``address`` (an http(s) URL; dask config ``gateway.address`` when
  none is given), with the gateway's own cluster ``options`` (worker cores, memory, image...). Its credentials are
  never part of the spec: ``auth`` only names the kind, the secret is read from the environment
  (``mlops_magics.gateway``).
"""

from __future__ import annotations

import importlib
import math
import os
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, model_validator

from mlops_magics import names
from mlops_magics.errors import InvalidInput
from mlops_magics.wire import View, WireModel, finite_json, shown

Kind = Literal["local", "address", "factory", "gateway"]
KINDS: tuple[str, ...] = ("local", "address", "factory", "gateway")
GatewayAuth = Literal["none", "simple", "jupyterhub", "kerberos"]
NAME_PATTERN = names.CLUSTER_NAME
_ADDRESS_PATTERN = re.compile(r"(tcp|tls|ws|wss|inproc|ucx)://[^\s/]+:\d{1,5}")
_GATEWAY_PATTERN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~\-/]*)?")
_OPTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPTIONS = 64
MAX_OPTION_TEXT = 1000


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


def _gateway_address(address: str) -> str:
    text = address.strip().rstrip("/")
    if "@" in text:  # user:password@host: not echoed, the message must not carry the secret further
        raise ValueError(
            "a gateway address with credentials in it is not accepted: give the URL alone; the password or token "
            "comes from the environment (DASK_GATEWAY_PASSWORD, JUPYTERHUB_API_TOKEN)"
        )
    if not _GATEWAY_PATTERN.fullmatch(text):
        raise ValueError(
            f"gateway address {address[:60]!r} is not accepted: use the http(s) URL of a Dask Gateway, e.g. "
            "https://gateway.example.org or http://127.0.0.1:8000 (credentials come from the environment, never the URL)"
        )
    return text


def _either_address(address: str, info: ValidationInfo) -> str:
    """A scheduler's address, or a gateway's URL for a spec of kind ``gateway`` (``kind`` is checked first)."""
    return _gateway_address(address) if info.data.get("kind") == "gateway" else _address(address)


def _option_values(options: object) -> object:
    """Each option's value one scalar (checked before the types, so a bad one is one line, not one per type)."""
    if isinstance(options, dict):
        for key, value in options.items():
            if not isinstance(value, (bool, int, float, str)):
                raise ValueError(f"gateway option {str(key)[:40]} must be a number, true/false or text (got {shown(value)})")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"gateway option {str(key)[:40]} must be a finite number (got {shown(value)})")
    return options


def _gateway_options(options: dict[str, Any]) -> dict[str, Any]:
    if len(options) > MAX_OPTIONS:
        raise ValueError(f"at most {MAX_OPTIONS} gateway options (got {len(options)})")
    for key, value in options.items():
        if not _OPTION_NAME.fullmatch(key):
            raise ValueError(f"gateway option name {key[:40]!r} is not accepted: use letters, digits and '_'")
        if isinstance(value, str) and len(value) > MAX_OPTION_TEXT:
            raise ValueError(f"gateway option {key} is longer than {MAX_OPTION_TEXT} characters")
    # JSON has one kind of number: 4.0 is 4 (a gateway's float options take an int, its int options no float).
    return {key: int(v) if isinstance(v, float) and v.is_integer() else v for key, v in options.items()}


def gateway_address_from_config() -> str | None:
    """dask config ``gateway.address`` (a template over the environment, as dask-gateway reads it), or None."""
    import dask.config

    value = dask.config.get("gateway.address", default=None)
    if not value:
        return None
    try:
        return str(value).format(**os.environ)
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidInput(f"dask config gateway.address {str(value)[:80]!r} cannot be filled in: {exc!r}") from None


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
FLAGS |= {"options": "--option ", "auth": "--auth "}


class ClusterSpec(WireModel):
    kind: Kind = "local"
    workers: Count = 2
    threads_per_worker: Annotated[int, Field(ge=1, le=1024)] = 1
    memory_limit: Annotated[str, AfterValidator(_memory_limit)] = Field("auto", description="a size (2GiB), auto, or 0")
    address: Annotated[str, AfterValidator(_either_address)] | None = Field(
        None, description="kind address: tcp://host:port; kind gateway: the gateway's URL (default: dask config gateway.address)"
    )
    factory: str | None = Field(None, description="kind factory: module.Class")
    factory_kwargs: Annotated[dict[str, Any], AfterValidator(lambda kw: finite_json(kw, "factory_kwargs"))] = Field(
        default_factory=dict
    )
    options: Annotated[dict[str, bool | int | float | str], BeforeValidator(_option_values), AfterValidator(_gateway_options)] = (
        Field(
            default_factory=dict,
            description='kind gateway: the gateway\'s cluster options, e.g. {"worker_cores": 2, "worker_memory": 4}',
        )
    )
    auth: GatewayAuth | None = Field(
        None,
        description="kind gateway: how to authenticate; the password or token is read from the environment "
        "(DASK_GATEWAY_PASSWORD, JUPYTERHUB_API_TOKEN), never sent; default: dask config gateway.auth",
    )

    @model_validator(mode="before")
    @classmethod
    def _gateway_from_config(cls, data: object) -> object:
        # The gateway's address defaults to dask config gateway.address in the process that first reads the spec
        # (the face that made it), so the record keeps the URL that was used.
        if isinstance(data, dict) and data.get("kind") == "gateway" and not data.get("address"):
            address = gateway_address_from_config()
            if address:
                data = {**data, "address": address}
        return data

    @model_validator(mode="after")
    def _kind_needs(self) -> ClusterSpec:
        if self.kind == "address" and not self.address:
            raise ValueError("a cluster of kind 'address' needs the scheduler address, e.g. tcp://host:8786")
        if self.kind == "gateway" and not self.address:
            raise ValueError(
                "a cluster of kind 'gateway' needs the gateway's URL: --gateway URL, or dask config gateway.address "
                "(DASK_GATEWAY__ADDRESS)"
            )
        if self.kind != "gateway" and (self.options or self.auth):
            raise ValueError("options and auth are for a cluster of kind 'gateway' only")
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
        if self.kind == "gateway":
            options = ", ".join(f"{key}={value}" for key, value in self.options.items())
            return f"Dask Gateway at {self.address}, {self.workers} worker(s)" + (f" ({options})" if options else "")
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
