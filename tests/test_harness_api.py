"""The REST harness: every route of api/openapi.yaml, found in the spec (a new route is covered by itself), against a
real Jupyter server with the extension in Jupyter's default setting, over a throwaway workspace.

- without the token: every route and method refuses, whatever the name in the path;
- schemathesis over the whole spec with the token: no 5xx, answers match the spec, 405 with Allow, the negative space
  only for operations that start real processes (tests/schemathesis.toml, tests/schemathesis_hooks.py);
- hostile names and ids on every path parameter, at the REST face and at the controller's own API: refused in the
  one JSON error shape, never a 5xx, never a file made anywhere.

Inside `make test` the generated parts are bounded (MLOPS_FUZZ_EXAMPLES, MLOPS_FUZZ_SECONDS); `make fuzz` runs them
longer (docs/security.md has the figures of the last run).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

pytest.importorskip("schemathesis", reason="schemathesis 4 needs Python 3.11 or later")

import schemathesis
import tomllib  # 3.11+, as schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mlops_magics.controller import Controller
from mlops_magics.controller.info import read_info
from tests.api_harness import (
    EXAMPLES,
    FUZZED_CHANGES,
    HTTP_METHODS,
    PROCESS_STARTING,
    REPO,
    SECONDS,
    SPEC_PATH,
    HostileName,
    NamedRoute,
    Seeded,
    Served,
    hostile_names,
    job_token_paths,
    listing,
    named_routes,
    operations,
    refused_by_pattern,
    seed_workspace,
    served_jupyter,
    settled,
)
from tests.schemathesis_hooks import GUARDED, NEVER_SENT

pytestmark = pytest.mark.harness

METHODS = tuple(m.upper() for m in HTTP_METHODS)
NAME_EXAMPLES = int(os.environ.get("MLOPS_FUZZ_NAME_EXAMPLES", str(15 * EXAMPLES)))
# Refused by every body model (unknown field): should a name check ever let a hostile name through, nothing starts.
REFUSED_BODY = b'{"harness": "an unknown field"}'


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the seeded runs go where the server reads them
    with served_jupyter(tmp_path) as server:
        yield server


def _request(url: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> tuple[int, dict, str]:
    """One request with the path sent exactly as written (no client normalises '..' or re-quotes '%')."""
    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    try:
        sent = {**headers, "Content-Type": "application/json"} if body is not None else headers
        connection.request(method, path, body=body, headers=sent)
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read().decode(errors="replace")
    finally:
        connection.close()


def _error_shape(status: int, text: str) -> dict:
    payload = json.loads(text)
    assert isinstance(payload, dict) and set(payload) == {"code", "message"}, (status, text[:300])
    assert "\n" not in payload["message"] and "Traceback" not in payload["message"], payload
    return payload


def _concrete(route: NamedRoute | None, path: str, segment: str) -> str:
    return route.with_segment(segment) if route is not None else path


# --- without the token ------------------------------------------------------------------------------------------------


def test_every_route_refuses_a_missing_token_in_jupyters_default_setting(served: Served) -> None:
    """Jupyter's allow_unauthenticated_access defaults to True (test_server.py sets False): even so, a caller
    without the token gets 403 on every method of every route, before its name or method is looked at."""
    by_path = {route.path: route for route in named_routes()}
    paths = [path for path in {op.split(" ", 1)[1] for op in operations()}]
    for path in sorted(paths):
        route = by_path.get(path)
        # A route reached with a job's trigger token instead of Jupyter's answers 401 (it names the scheme it wants).
        status_wanted, code = (401, "unauthorized") if path in job_token_paths() else (403, "forbidden")
        segments = ["20260101-000000-abcdef", "%00", "..%2Fshutdown"] if route is not None else [""]
        for segment in segments:
            for method in (*METHODS, "HEAD"):
                for headers in ({}, {"Authorization": "token wrong"}):
                    body = b"{}" if method in ("PUT", "PATCH", "POST") else None
                    status, _, text = _request(served.url, method, _concrete(route, path, segment), headers, body)
                    assert status == status_wanted, (method, path, segment, headers, status, text[:200])
                    if method != "HEAD":
                        assert _error_shape(status, text)["code"] == code


# --- schemathesis over the spec ---------------------------------------------------------------------------------------


def _schemathesis(served: Served, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict, list[dict]]:
    report_dir, guard_log = tmp_path / "schemathesis-report", tmp_path / "guard.jsonl"
    env = {
        **os.environ,
        "MLOPS_HARNESS_URL": served.url,
        "MLOPS_HARNESS_TOKEN": served.token,
        "MLOPS_HARNESS_GUARD_LOG": str(guard_log),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    argv = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(REPO / "tests" / "schemathesis.toml"),
        "run", str(SPEC_PATH), "--max-examples", str(EXAMPLES), "--max-time", str(SECONDS),
        "--report", "json", "--report-dir", str(report_dir), "--no-color",
    ]  # fmt: skip
    if os.environ.get("MLOPS_FUZZ_SEED"):
        argv += ["--seed", os.environ["MLOPS_FUZZ_SEED"]]
    # Its cache and reports land in the throwaway folder (cwd), never in the repository.
    run = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=SECONDS + 600)
    reports = sorted(report_dir.glob("*.json"))
    assert reports, f"schemathesis wrote no report (exit {run.returncode}):\n{(run.stdout + run.stderr)[-6000:]}"
    guarded = [json.loads(line) for line in guard_log.read_text().splitlines()] if guard_log.exists() else []
    return run, json.loads(reports[-1].read_text()), guarded


def _unclassified_changes() -> set[str]:
    changing = {op for op in operations() if not op.startswith("GET ")}
    return changing - set(PROCESS_STARTING) - set(FUZZED_CHANGES)


def test_every_operation_that_changes_state_is_classified_before_it_is_fuzzed() -> None:
    assert _unclassified_changes() == set(), "add them to PROCESS_STARTING or FUZZED_CHANGES in tests/api_harness.py"
    config = tomllib.loads((REPO / "tests" / "schemathesis.toml").read_text())
    negative_only = {name for op in config["operations"] if op.get("generation", {}).get("mode") == "negative"
                     for name in op["include-name"]}  # fmt: skip
    left_out = {op["include-name"] for op in config["operations"] if op.get("enabled") is False}
    assert negative_only | left_out == set(PROCESS_STARTING)
    assert set(GUARDED) | NEVER_SENT == set(PROCESS_STARTING)


def _assert_seeded_reads_match_the_spec(served: Served, seeded: Seeded) -> None:
    schema = schemathesis.openapi.from_path(SPEC_PATH)
    reads = {
        "/mlops/api/profiles/{profile_id}": {"profile_id": seeded.profile_id},
        "/mlops/api/profiles/{profile_id}/report": {"profile_id": seeded.profile_id},
        "/mlops/api/experiments/{experiment_id}/runs": {"experiment_id": seeded.experiment_id},
        "/mlops/api/runs/{run_id}": {"run_id": seeded.run_id},
        "/mlops/api/models": {},
    }
    with httpx.Client(base_url=served.url, headers=served.auth, timeout=60) as client:
        for path, values in reads.items():
            answer = client.get(path.format(**values))
            log = (served.root.parent / "jupyter.log").read_text(errors="replace")[-3000:]
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300], seeded, log)
            schema[path]["GET"].validate_response(answer)  # raises, naming what differs from the spec
    assert seeded.model in answer.text, answer.text[:300]  # the last read: the registered model is listed


def test_schemathesis_over_the_whole_spec(served: Served, tmp_path: Path) -> None:
    assert _unclassified_changes() == set()  # never fuzz an operation that might start something
    seeded = seed_workspace(served.workspace)
    started = time.monotonic()
    run, report, guarded = _schemathesis(served, tmp_path)
    cases, failures = report["test_cases"], report["failures"]
    print(
        f"\nschemathesis: {cases['generated']} cases over {report['operations']['tested']} operations in "
        f"{time.monotonic() - started:.0f} s (--max-examples {EXAMPLES}, --max-time {SECONDS}, seed {report['seed']}); "
        f"{cases['with_failures']} with failures; {len(guarded)} kept from starting a process"
    )
    assert run.returncode == 0 and not failures and not report["errors"], (run.stdout + run.stderr)[-12000:]
    # Every operation of the spec ran, but the one with no input at all (see tests/schemathesis.toml).
    assert report["operations"]["tested"] == len(operations()) - 1, report["operations"]
    # The seeded records are served and match the spec (schemathesis's generated ids rarely hit them, and whether its
    # stateful phase follows the links within --max-time depends on the machine: asked here, every time).
    _assert_seeded_reads_match_the_spec(served, seeded)
    # Nothing was started: no cluster, no deployment, no MLflow UI.
    controller = Controller(served.workspace)
    assert controller.clusters() == [] and controller.deployments() == []
    assert controller.mlflow_ui()["status"] == "stopped"
    assert all(case["operation"] in PROCESS_STARTING for case in guarded), guarded


# --- hostile names and ids ---------------------------------------------------------------------------------------------


def _probe_rest(served: Served, route: NamedRoute, method: str, name: HostileName) -> None:
    path = route.with_segment(name.segment)
    body = REFUSED_BODY if method in ("PUT", "PATCH", "POST") else None
    by_job_token = route.path in job_token_paths()
    auth = {"Authorization": "Bearer a-trigger-token-the-job-never-had"} if by_job_token else served.auth
    status, headers, text = _request(served.url, method, path, auth, body)
    # A segment that is not one whole name may reach the trigger route as a well-formed name (401: the wrong token, as
    # for a job that exists) or leave it for a route that wants Jupyter's token instead of the trigger token (403).
    refused = (400, 404, 405) + ((401, 403) if by_job_token and not name.whole else ())
    assert status in refused, (method, path[:300], status, text[:300])
    payload = _error_shape(status, text)
    if not name.whole:
        return
    if method in route.methods:  # the name check refused it, by name
        assert status == 400 and payload["message"].startswith(route.parameter.noun), (method, path[:300], payload)
    else:  # a method the path does not take: 405 with Allow, whatever the name
        assert status == 405 and headers.get("Allow") == ", ".join(route.methods), (method, path[:300], headers)


def _probe_controller(url: str, token: str, route: NamedRoute, method: str, name: HostileName) -> None:
    path = route.with_segment(name.segment).removeprefix("/mlops/api")
    body = REFUSED_BODY if method in ("PUT", "PATCH", "POST") else None
    status, _, text = _request(url, method, path, {"Authorization": f"Bearer {token}"}, body)
    assert status in (400, 404, 405), (method, path[:300], status, text[:300])
    _error_shape(status, text)


def test_hostile_names_are_refused_on_every_named_route(served: Served, tmp_path: Path) -> None:
    """Traversal, encoded separators, NUL, very long, unicode and dots in every path parameter of every route, at
    the REST face and at the controller's API (loopback callers with its token)."""
    routes = named_routes()
    assert {r.parameter.name for r in routes} == {"name", "number", "profile_id", "experiment_id", "run_id"}
    controller_routes = [
        r for r in routes if r.path.startswith(("/mlops/api/clusters/", "/mlops/api/deployments/", "/mlops/api/jobs/"))
    ]
    Controller(served.workspace).status()  # starts the controller
    settled(served.workspace)
    info = read_info(served.workspace.controller_info)
    assert info is not None
    before = listing(tmp_path)  # the throwaway folder and what lies beside it

    @settings(max_examples=NAME_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(face=st.sampled_from(["rest", "controller"]), data=st.data(), method=st.sampled_from(METHODS), name=hostile_names())
    def probe(face: str, data: st.DataObject, method: str, name: HostileName) -> None:
        route = data.draw(st.sampled_from(routes if face == "rest" else controller_routes))
        assume(refused_by_pattern(name, route.parameter.pattern))
        sent[face] += 1
        if face == "rest":
            _probe_rest(served, route, method, name)
        else:
            _probe_controller(info.url, info.token, route, method, name)

    sent, started = {"rest": 0, "controller": 0}, time.monotonic()
    probe()
    print(f"\nhostile names: {sent['rest']} requests to the REST face, {sent['controller']} to the controller API, "
          f"over {len(routes)} routes, in {time.monotonic() - started:.0f} s")  # fmt: skip
    made = sorted(listing(tmp_path) - before)
    assert made == [], made[:20]
