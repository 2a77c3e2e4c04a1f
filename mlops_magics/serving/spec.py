"""What a deployment is asked to be: a model (or a user's own app), where it listens, and its options."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from mlops_magics.errors import InvalidInput

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_APP = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class DeploymentSpec:
    model: str | None = None
    command: str | None = None
    app: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    token: bool = False
    log_rate: float = 1.0
    max_body: int = 10 * 2**20

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentSpec:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"unknown deployment field(s) {unknown}; accepted: {sorted(known)}")
        spec = cls(**data)
        sources = [s for s in (spec.model, spec.command, spec.app) if s]
        if len(sources) != 1:
            raise InvalidInput("a deployment serves one thing: a MODEL, --command 'python app.py' or --app module:app")
        if spec.app and not _APP.match(spec.app):
            raise InvalidInput(f"--app {spec.app!r} is not MODULE:ATTRIBUTE, e.g. myservice:app")
        if not isinstance(spec.port, int) or not 1 <= spec.port <= 65535:
            raise InvalidInput(f"--port must be 1-65535 (got {spec.port!r})")
        if not isinstance(spec.workers, int) or spec.workers < 1:
            raise InvalidInput(f"--workers must be a whole number >= 1 (got {spec.workers!r})")
        if not 0 <= float(spec.log_rate) <= 1:
            raise InvalidInput(f"--log-requests is a share of requests from 0 to 1 (got {spec.log_rate!r})")
        return spec

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        what = self.model or self.command or self.app
        return f"{what} on {self.host}:{self.port}"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(f"deployment name {name!r} is not accepted: use lowercase letters, digits and '-' (1-63)")
    return name


def default_name(model: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", model.split("@")[0].split("/")[0].lower().removeprefix("models:-")).strip("-")
    return (base or "deployment")[:63]
