"""The REST face through a real Jupyter server (pytest-jupyter): authentication, spec, error shape, clusters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from tornado.httpclient import HTTPClientError

from mlops_magics.server.app import API_PREFIX
from mlops_magics.server.handlers import ROUTES
from mlops_magics.workspace import Workspace

SPEC = yaml.safe_load((Path(__file__).parents[1] / "api" / "openapi.yaml").read_text())
METHODS = ("get", "put", "patch", "post", "delete")


@pytest.fixture
def jp_server_config(workspace: Workspace) -> dict:
    return {
        "ServerApp": {
            "jpserver_extensions": {"mlops_magics": True},
            # An unauthenticated route fails the build instead of shipping.
            "allow_unauthenticated_access": False,
        }
    }


def _spec_routes() -> set[tuple[str, str]]:
    return {(path, method) for path, item in SPEC["paths"].items() for method in item if method in METHODS}


def _server_routes() -> set[tuple[str, str]]:
    routes = set()
    for pattern, handler in ROUTES:
        path = f"{API_PREFIX}/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
        routes |= {(path, method) for method in METHODS if method in vars(handler)}
    return routes


def test_openapi_spec_matches_the_routes() -> None:
    assert _server_routes() == _spec_routes()


def _concrete(path: str) -> list[str]:
    return (
        path.removeprefix("/")
        .replace("{name}", "default")
        .replace("{profile_id}", "20260101-000000-abcdef")
        .replace("{experiment_id}", "0")
        .replace("{run_id}", "abc")
        .replace("{number}", "1")
        .split("/")
    )


@pytest.mark.parametrize(("path", "method"), sorted(_spec_routes()))
@pytest.mark.parametrize("header", [None, "token wrong-token"], ids=["no-token", "wrong-token"])
async def test_every_route_refuses_a_missing_or_wrong_token(jp_fetch, path: str, method: str, header) -> None:
    headers = {"Authorization": header or ""}
    body = "{}" if method in ("put", "patch", "post") else None
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch(*_concrete(path), method=method.upper(), headers=headers, body=body)
    # The job-token route takes a job's own token instead of Jupyter's: without it, 401.
    by_job_token = any("jobToken" in scheme for scheme in SPEC["paths"][path][method].get("security", []))
    status, code = (401, "unauthorized") if by_job_token else (403, "forbidden")
    assert caught.value.code == status
    payload = json.loads(caught.value.response.body)
    assert payload["code"] == code and payload["message"]


async def test_status_and_workspace(jp_fetch, workspace: Workspace) -> None:
    status = json.loads((await jp_fetch("mlops", "api", "status")).body)
    assert status["workspace"] == str(workspace.home)
    described = json.loads((await jp_fetch("mlops", "api", "workspace")).body)
    assert described["state_db"] == str(workspace.state_db)
    assert described["tracking_uri"] == f"sqlite:///{workspace.mlflow_db}"


async def test_cluster_lifecycle_over_rest(jp_fetch) -> None:
    assert json.loads((await jp_fetch("mlops", "api", "clusters")).body) == []
    started = json.loads(
        (await jp_fetch("mlops", "api", "clusters", "default", method="PUT", body=json.dumps({"workers": 1}))).body
    )
    assert started["status"] == "running" and started["workers"] == 1
    listed = json.loads((await jp_fetch("mlops", "api", "clusters")).body)
    assert [c["name"] for c in listed] == ["default"]
    scaled = await jp_fetch("mlops", "api", "clusters", "default", method="PATCH", body=json.dumps({"workers": 2}))
    assert json.loads(scaled.body)["workers"] == 2
    stopped = await jp_fetch("mlops", "api", "clusters", "default", method="DELETE")
    assert json.loads(stopped.body)["status"] == "stopped"
    status = json.loads((await jp_fetch("mlops", "api", "status")).body)
    assert status["controller"]["pid"] > 0


@pytest.mark.parametrize(
    ("method", "parts", "body", "code", "expected"),
    [
        ("PUT", ("clusters", "default"), "{not json", 400, "not valid JSON"),
        ("PUT", ("clusters", "default"), "[1]", 400, "must be a JSON object"),
        ("PUT", ("clusters", "default"), '{"workers": 0}', 400, "field `workers`: must be 1-10000 (got 0)"),
        ("PUT", ("clusters", "bad name"), "{}", 400, "cluster name 'bad name' is not accepted"),
        ("PATCH", ("clusters", "default"), "{}", 400, "field `workers`: is required"),
        ("GET", ("clusters", "ghost"), None, 404, "no cluster named 'ghost'"),
        ("DELETE", ("clusters", "ghost"), None, 404, "no cluster named 'ghost'"),
    ],
)
async def test_errors_have_one_json_shape(jp_fetch, method, parts, body, code, expected) -> None:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("mlops", "api", *parts, method=method, body=body)
    assert caught.value.code == code
    payload = json.loads(caught.value.response.body)
    assert set(payload) == {"code", "message"}
    assert expected in payload["message"]
