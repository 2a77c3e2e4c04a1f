"""Schemathesis hooks for the REST harness (tests/schemathesis.toml loads this module).

- ``refused_without_token``: Jupyter refuses a request without its token with 403 (not the 401 schemathesis's own
  ``missing_required_header`` expects); this check expects 403 in the one JSON error shape.
- the process guard: the harness generates only the negative space of operations that start real processes
  (a Dask cluster, a deployment running a shell command, the MLflow UI). A negative case can still be valid on the
  wire (an int name mutation sent as "5"; an empty body the server reads as ``{}``): before such a request leaves,
  the guard checks it with the server's own checks and, if the server would start something, replaces the name by
  one the server refuses. Each such case is written to ``MLOPS_HARNESS_GUARD_LOG`` for the test to show.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import schemathesis
from schemathesis.core import NotSet
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario

from mlops_magics import names
from mlops_magics.api.clusters import ClusterSpec
from mlops_magics.api.deployments import DeploymentSpec
from mlops_magics.errors import MLOpsError

REFUSED_NAME = "-refused-by-the-harness"  # a leading '-' fits no name pattern


@schemathesis.check
def refused_without_token(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    data = case.meta.phase.data if case.meta is not None else None
    if not isinstance(data, CoveragePhaseData) or data.scenario != CoverageScenario.MISSING_PARAMETER:
        return None
    if (data.parameter or "").lower() != "authorization":
        return None
    # The job-token route answers 401 (its own token is missing); every other route 403 (Jupyter's).
    by_job_token = any("jobToken" in scheme for scheme in case.operation.definition.raw.get("security", []))
    status, code = (401, "unauthorized") if by_job_token else (403, "forbidden")
    if response.status_code != status:
        raise AssertionError(f"a request without the token got {response.status_code}, expected {status}")
    payload = response.json()
    if not isinstance(payload, dict) or payload.get("code") != code:
        raise AssertionError(f"a request without the token got {payload!r}, expected the JSON error shape ({code})")
    return True


def _starts(check_name: Callable[[object], str], check_body: Callable[[dict[str, Any]], object]) -> Callable[[str, Any], bool]:
    """Whether the server, given this name and body, would go on to start the process (mirrors its handlers)."""

    def would_start(name: str, body: Any) -> bool:
        try:
            check_name(name)
        except MLOpsError:
            return False
        # The handler reads an empty body as {}; a string body may be sent as it is or as a JSON string.
        if isinstance(body, NotSet):
            texts = ["{}"]
        else:
            texts = [json.dumps(body)] if not isinstance(body, bytes) else []
            if isinstance(body, (str, bytes)):
                texts.append(body.decode(errors="replace") if isinstance(body, bytes) else body)
        for text in texts:
            try:
                data = json.loads(text or "{}")
            except ValueError:
                continue
            if not isinstance(data, dict):
                continue
            try:
                check_body(data)
            except MLOpsError:
                continue
            return True
        return False

    return would_start


GUARDED: dict[str, tuple[re.Pattern[str], Callable[[str, Any], bool]]] = {
    "PUT /mlops/api/clusters/{name}": (
        re.compile(r"/mlops/api/clusters/(?P<name>[^/]+)"),
        _starts(names.cluster_name, ClusterSpec.from_dict),
    ),
    "PUT /mlops/api/deployments/{name}": (
        re.compile(r"/mlops/api/deployments/(?P<name>[^/]+)"),
        _starts(names.deployment_name, DeploymentSpec.from_dict),
    ),
}
NEVER_SENT = {"PUT /mlops/api/mlflow-ui"}


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    label = f"{case.method.upper()} {case.operation.path}"
    if label in NEVER_SENT:
        raise RuntimeError(f"{label} has no negative space and starts a real process: tests/schemathesis.toml must skip it")
    if label not in GUARDED:
        return
    route, would_start = GUARDED[label]
    matched = route.fullmatch(case.formatted_path)
    if matched is None:  # another route answers it (404/405): nothing is started
        return
    if would_start(unquote(matched["name"]), case.body):
        _record(label, case)
        case.path_parameters["name"] = REFUSED_NAME


def _record(label: str, case: schemathesis.Case) -> None:
    target = os.environ.get("MLOPS_HARNESS_GUARD_LOG")
    if not target:
        return
    body = None if isinstance(case.body, NotSet) else case.body
    line = {"operation": label, "path": case.formatted_path, "body": body, "phase": case.meta.phase.name if case.meta else None}
    with open(target, "a") as out:
        out.write(json.dumps(line, default=repr) + "\n")
