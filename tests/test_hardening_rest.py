"""Bad input at the REST face and at the controller's own API: always a 4xx in the one JSON error shape, never
a 500, never a URL built from an unchecked name (a real Jupyter server, a real controller, raw request paths)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

import httpx
import psutil
import pytest
from tornado.httpclient import HTTPResponse

from mlops_magics.controller import Controller
from mlops_magics.controller.info import read_info
from mlops_magics.errors import InvalidInput
from mlops_magics.server.handlers import METHODS, JobTokenHandler, MLOpsHandler
from mlops_magics.workspace import Workspace

Fetch = Callable[..., Awaitable[HTTPResponse]]


@pytest.fixture
def jp_server_config(workspace: Workspace) -> dict:
    return {"ServerApp": {"jpserver_extensions": {"mlops_magics": True}, "allow_unauthenticated_access": False}}


@pytest.fixture
def raw(http_server_client, jp_base_url: str, jp_auth_header: dict) -> Fetch:
    """A request on a path sent exactly as written (jp_fetch would quote the '%' of '%2F' again)."""

    async def fetch(method: str, path: str, body: str | None = None, token: bool = True) -> HTTPResponse:
        if body is None and method in ("PUT", "PATCH", "POST"):
            body = "{}"
        return await http_server_client.fetch(
            f"{jp_base_url}mlops/api/{path}",
            method=method,
            body=body,
            headers=dict(jp_auth_header) if token else {},
            raise_error=False,
            allow_nonstandard_methods=True,
        )

    return fetch


def _error(answer: HTTPResponse, status: int | None = None) -> dict:
    assert answer.headers["Content-Type"].startswith("application/json"), answer.body[:200]
    payload = json.loads(answer.body)
    assert set(payload) == {"code", "message"}, payload
    assert "\n" not in payload["message"] and "Traceback" not in payload["message"]
    if status is not None:
        assert answer.code == status, payload
    return payload


# --- defect 1: a deployment spec that is not one is refused where it arrives ----------------------------


async def test_a_bool_port_is_refused_and_no_record_is_left(raw: Fetch) -> None:
    answer = await raw("PUT", "deployments/badspec", '{"model": "nosuchmodel", "port": true}')
    payload = _error(answer, 400)
    assert payload == {"code": "invalid_input", "message": "field `port`: must be a whole number 1-65535 (got true)"}
    assert _error(await raw("GET", "deployments/badspec"), 404)["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"model": 5}', "field `model`: must be a string (got 5)"),
        ('{"model": "m", "host": 5}', "field `host`: must be a string (got 5)"),
        ('{"model": "m", "log_rate": "x"}', 'field `log_rate`: must be a number 0-1 (got "x")'),
        ('{"model": "m", "log_rate": NaN}', "field `log_rate`: must be a finite number (got NaN)"),
        ('{"model": "m", "workers": 1e400}', "field `workers`: must be a whole number 1-256 (got Infinity)"),
        ('{"model": "m", "max_body": "x"}', 'field `max_body`: must be a whole number 1-1073741824 (got "x")'),
        ('{"model": "m", "token": "yes"}', 'field `token`: must be true or false (got "yes")'),
        ('{"model": "m", "host": "127.0.0.1/x"}', "field `host`: must be a host name"),
        ('{"model": "m", "colour": "red"}', "field `colour`: is not a known field; accepted: model, command"),
        ('{"port": 9000}', "a deployment serves one thing"),
    ],
)
async def test_deployment_bodies_name_the_bad_field(raw: Fetch, body: str, message: str) -> None:
    payload = _error(await raw("PUT", "deployments/web", body), 400)
    assert payload["code"] == "invalid_input" and message in payload["message"]


@pytest.mark.parametrize(
    ("method", "body", "message"),
    [
        ("PATCH", '{"workers": NaN}', "field `workers`: must be a whole number 1-10000 (got NaN)"),
        ("PATCH", '{"workers": 1e400}', "field `workers`: must be a whole number 1-10000 (got Infinity)"),
        ("PATCH", '{"workers": true}', "field `workers`: must be a whole number 1-10000 (got true)"),
        ("PATCH", '{"workers": "2"}', 'field `workers`: must be a whole number 1-10000 (got "2")'),
        ("PATCH", '{"workers": 2, "threads": 1}', "field `threads`: is not a known field"),
        ("PUT", '{"factory_kwargs": "x"}', 'field `factory_kwargs`: must be a JSON object (got "x")'),
        ("PUT", '{"workers": 2.5}', "field `workers`: must be a whole number 1-10000 (got 2.5)"),
        ("PUT", '{"memory_limit": null}', "field `memory_limit`: must be a string (got null)"),
    ],
)
async def test_cluster_bodies_name_the_bad_field(raw: Fetch, method: str, body: str, message: str) -> None:
    payload = _error(await raw(method, "clusters/default", body), 400)
    assert payload["code"] == "invalid_input" and message in payload["message"]


@pytest.mark.parametrize("lines", ["abc", "1e3", "", "%00", "-1", "0", "10001", "%EF%BC%91", "2.0"])
async def test_log_lines_are_a_whole_number_from_1_to_10000(raw: Fetch, lines: str) -> None:
    payload = _error(await raw("GET", f"deployments/web/logs?lines={lines}"), 400)
    assert payload["message"].startswith("lines must be a whole number 1-10000")


# --- defect 2: names and ids are checked before they reach a URL ----------------------------------------


async def test_a_rollback_of_a_traversing_name_does_not_stop_the_controller(raw: Fetch, workspace: Workspace) -> None:
    pid = Controller(workspace).status()["pid"]
    for path in ("deployments/..%2Fshutdown%3F/rollback", "deployments/..%2F..%2Fshutdown/rollback"):
        payload = _error(await raw("POST", path), 400)
        assert "deployment name" in payload["message"] and "is not accepted" in payload["message"]
    assert psutil.pid_exists(pid) and Controller(workspace).status()["pid"] == pid


BAD_NAMES = ["%00", "..%2Fshutdown%3F", "..", "%2E%2E", "a%20b", "a%0Ab", "%FF", "x" * 300, "%3F", "a%2Fb", "%E2%80%AE"]
NAMED_PATHS = [
    ("clusters/{}", METHODS),
    ("deployments/{}", ("GET", "PUT", "DELETE")),
    ("deployments/{}/rollback", ("POST",)),
    ("deployments/{}/logs", ("GET",)),
    ("profiles/{}", ("GET",)),
    ("profiles/{}/report", ("GET",)),
    ("experiments/{}/runs", ("GET",)),
    ("runs/{}", ("GET",)),
]


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_bad_names_and_ids_are_400_on_every_route(raw: Fetch, name: str) -> None:
    """The issue counted 45 such requests answering 500 (GET clusters/%00 the first)."""
    for template, methods in NAMED_PATHS:
        for method in methods:
            answer = await raw(method, template.format(name))
            assert 400 <= answer.code < 500, (method, template, name, answer.code, answer.body[:200])
            _error(answer)


def test_the_controller_client_checks_names_before_building_a_url(workspace: Workspace) -> None:
    controller = Controller(workspace)
    for call in (
        lambda: controller.rollback_deployment("../shutdown?"),
        lambda: controller.deployment("a/b"),
        lambda: controller.cluster("\x00"),
        lambda: controller.deployment_logs("web", 0),
        lambda: controller.deployment_logs("web", True),
        lambda: controller.scale_cluster("default", {"workers": 2.5}),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidInput):
            call()
    assert controller.running() is None  # refused before a controller was even needed


# --- defect 5: the JSON error shape everywhere, 405 with Allow --------------------------------------------


@pytest.mark.parametrize("path", ["", "nope", "clusters/a/b", "deployments/web/restart", "status/", "clusters/", "%00"])
async def test_unknown_paths_answer_the_json_shape(raw: Fetch, path: str) -> None:
    for method in METHODS:
        payload = _error(await raw(method, path), 404)
        assert payload["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "status", "GET"),
        ("DELETE", "deployments", "GET"),
        ("POST", "clusters/default", "GET, PUT, PATCH, DELETE"),
        ("GET", "deployments/web/rollback", "POST"),
        ("DELETE", "mlflow-ui", "GET, PUT"),
    ],
)
async def test_a_wrong_method_is_405_with_allow(raw: Fetch, method: str, path: str, allow: str) -> None:
    answer = await raw(method, path)
    payload = _error(answer, 405)
    assert payload["code"] == "method_not_allowed" and allow in payload["message"]
    assert answer.headers["Allow"] == allow


def _extension_routes(jp_serverapp) -> list[tuple[str, type[MLOpsHandler]]]:
    """The handler table the extension mounted (so a new route is covered without touching this test)."""
    apps = jp_serverapp.extension_manager.extension_apps["mlops_magics"]
    return [(pattern, handler) for app in apps for pattern, handler in app.handlers]


def _concrete(pattern: str) -> str:
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: {"profile_id": "20260101-000000-abcdef"}.get(m[1], "abc"), pattern)
    return path.replace("(?:/.*)?", "/no-such-route").removeprefix("/mlops/api/").removeprefix("/mlops/api")


async def test_every_route_in_the_handler_table_refuses_a_missing_token(raw: Fetch, jp_serverapp) -> None:
    routes = _extension_routes(jp_serverapp)
    assert len(routes) >= 17
    for pattern, handler in routes:
        for name in re.findall(r"\(\?P<(\w+)>", pattern):
            assert name in handler.path_checks, f"{handler.__name__} does not check its path parameter {name!r}"
        by_job_token = issubclass(handler, JobTokenHandler)  # its own token, not Jupyter's: 401 without it
        for method in METHODS:
            answer = await raw(method, _concrete(pattern), token=False)
            if by_job_token and method not in handler.allowed_methods():  # refused either way, never served
                assert answer.code in (403, 405), (method, pattern, answer.code)
                continue
            status, code = (401, "unauthorized") if by_job_token else (403, "forbidden")
            assert answer.code == status, (method, pattern, answer.code)
            assert _error(answer)["code"] == code


# --- the controller's own API (anything on loopback holding its token) -------------------------------------


def test_the_controller_api_checks_what_it_is_sent(workspace: Workspace) -> None:
    pid = Controller(workspace).status()["pid"]
    info = read_info(workspace.controller_info)
    assert info is not None
    auth = {"Authorization": f"Bearer {info.token}"}

    def call(method: str, path: str, body: str | None = None) -> httpx.Response:
        headers = {**auth, "Content-Type": "application/json"}
        return httpx.request(method, f"{info.url}{path}", content=body, headers=headers, timeout=15)

    cases = [
        ("POST", "/deployments/..%2Fshutdown%3F/rollback", None, 4),
        ("GET", "/clusters/%00", None, 400),
        ("GET", "/deployments/web/logs?lines=abc", None, 400),
        ("GET", "/deployments/web/logs?lines=-1", None, 400),
        ("PATCH", "/clusters/default", '{"workers": NaN}', 400),
        ("PUT", "/clusters/default", '{"factory_kwargs": "x"}', 400),
        ("PUT", "/deployments/badspec", '{"model": "nosuchmodel", "port": true}', 400),
        ("GET", "/nope", None, 404),
    ]
    for method, path, body, status in cases:
        answer = call(method, path, body)
        assert answer.status_code // 100 == 4 if status == 4 else answer.status_code == status, (path, answer.text)
        assert set(answer.json()) == {"code", "message"}, answer.text
    wrong = call("POST", "/status")
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    assert set(wrong.headers["Allow"].split(", ")) == {"GET", "HEAD"}
    assert Controller(workspace).status()["pid"] == pid
    assert Controller(workspace).deployments() == []
