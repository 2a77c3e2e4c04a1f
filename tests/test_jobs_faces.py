"""`%job` in a real kernel and `mlops job` in a shell: the same operations, parsed, called and shown."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from mlops_magics.workspace import HOME_ENV, Workspace
from tests.conftest import Kernel
from tests.test_jobs import notebook


def test_the_magic_creates_runs_and_shows_a_job(kernel_factory: Callable[[], Kernel], workspace: Workspace) -> None:
    notebook(workspace.root / "nb.ipynb", "print('hello from the job', region)")
    kernel = kernel_factory()
    assert kernel.run("%load_ext mlops_magics").status == "ok"
    created = kernel.run("%job create hello --notebook nb.ipynb --cron '0 6 * * *' --tz Europe/Paris --param alpha=2")
    assert created.status == "ok", created.text
    assert "job 'hello': nb.ipynb — cron '0 6 * * *' (Europe/Paris); next 20" in created.stdout
    assert "alpha: float = 0.5" in created.stdout
    ran = kernel.run("%job run hello --param region=eu-west --wait")
    assert ran.status == "ok", ran.text
    assert "run 1: succeeded" in ran.stdout and "[manual]" in ran.stdout
    logs = kernel.run("%job logs hello")
    assert "hello from the job eu-west" in logs.stdout
    refused = kernel.run("%job create bad --notebook nb.ipynb --cron 'soon'")
    assert refused.status == "error" and "--cron 'soon' is not a cron expression" in refused.text
    token = kernel.run("token = %job token hello\ntoken")
    assert token.status == "ok" and "trigger token" in token.stdout
    shown = "\n".join(r.get("text/plain", "") for r in token.results)
    assert "hidden" in shown.lower() or "***" in shown, shown  # the token itself never lands in the notebook


def test_the_cli_runs_a_job_and_exits_by_its_outcome(workspace: Workspace) -> None:
    notebook(workspace.root / "ok.ipynb", "x = 1")
    notebook(workspace.root / "boom.ipynb", "raise RuntimeError('boom')")
    env = {**os.environ, HOME_ENV: str(workspace.home)}

    def mlops(*words: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "mlops_magics.cli", "job", *words]
        return subprocess.run(command, env=env, cwd=workspace.root, capture_output=True, text=True, timeout=180)

    assert mlops("create", "ok", "--notebook", "ok.ipynb").returncode == 0
    assert mlops("create", "boom", "--notebook", "boom.ipynb", "--retries", "1", "--backoff", "0").returncode == 0
    good = mlops("run", "ok", "--wait")
    assert good.returncode == 0 and "run 1: succeeded" in good.stdout, good.stderr
    bad = mlops("run", "boom", "--wait")
    assert bad.returncode == 1 and "run 1: failed" in bad.stdout and "RuntimeError: boom" in bad.stdout, bad.stdout
    runs = mlops("runs", "boom")
    assert "attempt" not in runs.stdout and "run 1: failed" in runs.stdout
    status = mlops("status")
    assert "job 'boom'" in status.stdout and "job 'ok'" in status.stdout
    token = mlops("token", "ok")
    assert token.returncode == 0 and len(token.stdout.strip()) > 30 and "curl" in token.stderr
    unknown = mlops("run", "nope")
    assert unknown.returncode == 2 and "no job 'nope'" in unknown.stderr
