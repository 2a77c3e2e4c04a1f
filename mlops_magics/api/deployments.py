"""A deployment on the wire: what it is asked to be (a model or a user's own app, where it listens, its options),
the view the controller gives of it, its token and its log."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from mlops_magics.errors import InvalidInput
from mlops_magics.wire import View, WireModel

_APP = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# How the command-line faces name each field in a message ("--port must be 1-65535 (got 0)").
FLAGS = {"model": "MODEL ", "command": "--command ", "app": "--app ", "host": "--host ", "port": "--port "}
FLAGS |= {"workers": "--workers ", "token": "--token ", "log_rate": "--log-requests ", "max_body": "max_body "}
FLAGS |= {"insecure": "--insecure "}


def _one_line(text: str) -> str:
    # These end up in argv or a shell line: an empty one means nothing, a NUL or newline breaks the process start.
    if not text.strip() or len(text) > 2000 or _CONTROL.search(text):
        raise ValueError("must be one non-empty line of at most 2000 characters")
    return text


def _app(text: str) -> str:
    if not _APP.fullmatch(text):
        raise ValueError(f"{text[:60]!r} is not MODULE:ATTRIBUTE, e.g. myservice:app")
    return text


def _host(text: str) -> str:
    # Host names and IPv4 addresses, and '::' (every interface): each can stand in an http:// URL as it is.
    if text == "::" or _HOST_NAME.fullmatch(text):
        return text
    try:
        if ipaddress.ip_address(text).version == 4:
            return text
    except ValueError:
        pass
    raise ValueError(f"must be a host name, an IPv4 address, or '::' for every interface (got {text[:60]!r})")


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (127.0.0.0/8 or localhost; '::' is every interface)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


Line = Annotated[str, AfterValidator(_one_line)]


class DeploymentSpec(WireModel):
    model: Line | None = Field(None, description="NAME@alias, NAME/version, models:/ or runs:/ URI")
    command: Line | None = Field(None, description="your own HTTP app: a shell command listening on $PORT")
    app: Annotated[str, AfterValidator(_app)] | None = Field(None, description="your own ASGI app: module:attribute")
    host: Annotated[str, AfterValidator(_host)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    workers: Annotated[int, Field(ge=1, le=256)] = 1
    token: bool = False
    insecure: bool = Field(False, description="listen beyond loopback with no token (refused unless said)")
    log_rate: Annotated[float, Field(ge=0, le=1)] = 1.0
    max_body: Annotated[int, Field(ge=1, le=2**30)] = 10 * 2**20

    @model_validator(mode="after")
    def _one_source(self) -> DeploymentSpec:
        if len([s for s in (self.model, self.command, self.app) if s]) != 1:
            raise ValueError("a deployment serves one thing: a MODEL, --command 'python app.py' or --app module:app")
        return self

    @classmethod
    def from_dict(cls, data: object) -> DeploymentSpec:
        """A spec from the wire (a REST body, a stored record): fields named as they are sent."""
        spec = cls.checked(data)
        if spec.open_to_others:
            raise InvalidInput(
                f'field `host`: {spec.host} is reachable from other machines: set "token": true (requests then '
                'need its bearer token), or "insecure": true to serve it to anyone who can reach it'
            )
        return spec

    @classmethod
    def from_flags(cls, data: dict[str, Any]) -> DeploymentSpec:
        """A spec from ``%deploy`` / ``mlops deploy``: fields named by their flags."""
        spec = cls.checked(data, lambda field: FLAGS.get(field, f"{field} "))
        if spec.open_to_others:
            raise InvalidInput(
                f"--host {spec.host} is reachable from other machines: add --token (requests then need its bearer "
                "token), or --insecure to serve it to anyone who can reach it"
            )
        return spec

    @property
    def open_to_others(self) -> bool:
        """Listening beyond this machine with no token, and not said to be meant: refused."""
        return not (self.token or self.insecure or is_loopback(self.host))

    def describe(self) -> str:
        what = self.model or self.command or self.app
        return f"{what} on {self.host}:{self.port}"


def default_name(model: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", model.split("@")[0].split("/")[0].lower().removeprefix("models:-")).strip("-")
    return (base or "deployment")[:63]


class DeploymentStatus(StrEnum):
    STARTING = "starting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"  # running, but its health check fails
    STOPPED = "stopped"
    FAILED = "failed"


class Deployment(View):
    """A deployment as the controller sees it. The token itself is never part of a view."""

    name: str
    spec: DeploymentSpec | None = Field(description="null when the saved spec is not valid (status failed, reason why)")
    status: DeploymentStatus
    reason: str | None
    url: str | None = Field(description="null when the saved spec is not valid")
    pid: int | None
    workers: list[int] = Field(description="the worker processes' pids")
    model_uri: str | None
    version: str | None
    previous_model: str | None
    previous_version: str | None
    restarts: int
    has_token: bool = Field(description="whether requests need a bearer token")
    created_at: str


class DeploymentToken(View):
    name: str
    token: str


class DeploymentLogs(View):
    name: str
    lines: list[str]
