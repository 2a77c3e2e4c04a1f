"""The route table (mlops_magics/api/routes.py) is the one declaration of every route: the committed spec is what
it writes, every operation has the handler it names, and every body is checked by its model at the REST face."""

from __future__ import annotations

import inspect
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from mlops_magics.api import openapi
from mlops_magics.api.routes import OPERATIONS, PUBLIC_OPERATIONS, Auth, Operation, Owner
from mlops_magics.controller import Controller
from mlops_magics.controller.app import ControllerItself
from mlops_magics.controller.services.clusters import ClusterSupervisor
from mlops_magics.controller.services.deployments import DeploymentSupervisor
from mlops_magics.controller.services.jobs import JobSupervisor
from mlops_magics.controller.services.mlflow_ui import MlflowUi
from mlops_magics.controller.services.monitors import MonitorSupervisor
from mlops_magics.server.routes import ServerRoutes
from mlops_magics.workspace import Workspace

REPO = Path(__file__).parents[1]
SERVICES: dict[str, type] = {
    "server": ServerRoutes,
    "controller": ControllerItself,
    "clusters": ClusterSupervisor,
    "deployments": DeploymentSupervisor,
    "mlflow_ui": MlflowUi,
    "jobs": JobSupervisor,
    "monitors": MonitorSupervisor,
}


def test_the_committed_spec_is_what_the_code_writes() -> None:
    committed = (REPO / "api" / "openapi.yaml").read_text()
    assert committed == openapi.text(), "api/openapi.yaml is out of date: run `make api` and commit it"


def test_every_route_and_name_is_declared_once() -> None:
    assert not [k for k, n in Counter((op.method, op.path) for op in PUBLIC_OPERATIONS).items() if n > 1]
    assert not [k for k, n in Counter((op.owner, op.method, op.path) for op in OPERATIONS).items() if n > 1]
    assert not [k for k, n in Counter(op.name for op in OPERATIONS).items() if n > 1]
    names = {op.name for op in PUBLIC_OPERATIONS}
    assert all(link.operation in names for op in PUBLIC_OPERATIONS for link in op.links)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_every_operation_has_the_handler_it_names(op: Operation) -> None:
    service, method = op.handler.split(".")
    assert (service == "server") == (op.owner is Owner.SERVER)
    handler = getattr(SERVICES[service], method)
    values: list[Any] = [p.name for p in op.params] + (["body"] if op.body else [])
    extra = {"token": "t"} if op.auth is Auth.JOB_TOKEN else {}  # the job-token route hands on the caller's token
    inspect.signature(handler).bind(None, *values, **{q.name: q.default for q in op.query}, **extra)  # self, then the call


# A value of another JSON type than each declared one: a field of that type refuses it.
WRONG = {"integer": "seven", "number": "seven", "string": 5, "boolean": "yes", "object": "x", "array": "x"}


# For a field of several types (a name or an object): the first of these that none of them takes.
SAMPLES = {"integer": 7, "string": "seven", "boolean": True, "array": ["x"], "object": {"x": 1}}


def _wrong_value(schema: dict[str, Any], defs: dict[str, Any]) -> object:
    """A value no type of the field's JSON schema accepts (``anyOf`` of types and null, ``$ref`` included)."""
    branches = [defs[b["$ref"].split("/")[-1]] if "$ref" in b else b for b in schema.get("anyOf", [schema])]
    types = {branch.get("type") for branch in branches} - {"null", None}
    assert types, schema
    if len(types) == 1:
        return WRONG[types.pop()]
    taken = types | ({"integer"} if "number" in types else set())
    return next(value for kind, value in SAMPLES.items() if kind not in taken)


BODY_FIELDS = [(op, field) for op in PUBLIC_OPERATIONS if op.body for field in op.body.model_fields]


@pytest.fixture
def jp_server_config(workspace: Workspace) -> dict:
    return {"ServerApp": {"jpserver_extensions": {"mlops_magics": True}, "allow_unauthenticated_access": False}}


@pytest.mark.parametrize(("op", "field"), BODY_FIELDS, ids=[f"{op.method} {op.path} {field}" for op, field in BODY_FIELDS])
async def test_a_wrong_type_in_any_body_is_a_400_naming_the_field(
    jp_fetch, workspace: Workspace, op: Operation, field: str
) -> None:
    assert op.body is not None
    schema = op.body.model_json_schema()
    body = {field: _wrong_value(schema["properties"][field], schema.get("$defs", {}))}
    parts = op.path.strip("/").replace("{name}", "harness").split("/")
    # The job-token route checks that a token is there first (and which one, at the controller, after the body).
    headers = {"Authorization": "Bearer some-token"} if op.auth is Auth.JOB_TOKEN else {}
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("mlops", "api", *parts, method=op.method, body=json.dumps(body), headers=headers)
    payload = json.loads(refused.value.response.body)
    assert refused.value.code == 400 and payload["code"] == "invalid_input", payload
    assert f"field `{field}`: " in payload["message"], payload
    assert Controller(workspace).running() is None  # refused at the face, before a controller was needed
