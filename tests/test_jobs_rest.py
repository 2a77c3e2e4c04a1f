"""A job's trigger token through a real Jupyter server: an outside caller (no Jupyter token, no cookie) runs the
job with parameters; a wrong token queues nothing; the token opens that one route and nothing else."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from mlops_magics.controller import Controller
from mlops_magics.workspace import Workspace
from tests.test_jobs import notebook, wait_for


@pytest.fixture
def jp_server_config(workspace: Workspace) -> dict:
    return {"ServerApp": {"jpserver_extensions": {"mlops_magics": True}, "allow_unauthenticated_access": False}}


async def test_an_outside_caller_runs_a_job_with_its_token_and_nothing_else(
    jp_fetch, jp_base_url: str, http_server_port, workspace: Workspace
) -> None:
    notebook(workspace.root / "report.ipynb", "assert region == 'us-east', region")
    spec = {"notebook": "report.ipynb", "parameters": {"alpha": 2.0}}
    created = json.loads((await jp_fetch("mlops", "api", "jobs", "report", method="PUT", body=json.dumps(spec))).body)
    assert created["has_token"] is False
    issued = json.loads((await jp_fetch("mlops", "api", "jobs", "report", "token", method="POST", body="{}")).body)
    token, route = issued["token"], issued["route"]
    assert route == "/mlops/api/jobs/report/trigger"
    url = f"http://127.0.0.1:{http_server_port[-1]}{jp_base_url.rstrip('/')}{route}"

    async with httpx.AsyncClient(timeout=60) as outside:  # as curl would: no Jupyter token, no cookie, no _xsrf
        wrong = await outside.post(url, json={}, headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "unauthorized"
        missing = await outside.post(url, json={})
        assert missing.status_code == 401
        elsewhere = await outside.get(url.replace("/report/trigger", ""), headers={"Authorization": f"Bearer {token}"})
        assert elsewhere.status_code == 403  # the job token is not Jupyter's: it opens the trigger route only
    # The call a CI pipeline makes, made with curl itself.
    curl = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-X", "POST", url, "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json",
        "--data", json.dumps({"parameters_text": {"region": "us-east"}}), "-w", "\n%{http_code}",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    answer, _ = await curl.communicate()
    body, status = answer.decode().rsplit("\n", 1)
    assert curl.returncode == 0 and status == "200", (status, body)
    run = json.loads(body)
    assert run["trigger"] == "token" and run["number"] == 1 and run["parameters"]["region"] == "us-east"
    assert wait_for(Controller(workspace), "report", 1)["state"] == "succeeded"
    assert [r["number"] for r in Controller(workspace).job_runs("report")] == [1]  # the refused calls queued nothing

    await jp_fetch("mlops", "api", "jobs", "report", "token", method="DELETE")
    async with httpx.AsyncClient(timeout=30) as outside:
        revoked = await outside.post(url, json={}, headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401
