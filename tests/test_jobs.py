"""Jobs end to end: a real controller runs notebooks in real kernels — on demand with parameters, on a schedule,
on new data, from outside with a token — and keeps exactly one run per trigger through a `kill -9`."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest

from mlops_magics.controller import Controller
from mlops_magics.controller.info import read_info
from mlops_magics.errors import Conflict, Forbidden, InvalidInput, NotFound
from mlops_magics.state import sessions
from mlops_magics.state.models import JobRunRecord
from mlops_magics.workspace import Workspace

FINISHED = {"succeeded", "failed", "timed_out", "cancelled"}


def notebook(path: Path, *cells: str, parameters: str | None = "alpha = 0.5\nregion = 'eu'\ndata_path = ''") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if parameters is not None:
        nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb.cells.extend(nbformat.v4.new_code_cell(source) for source in cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def wait_for(controller: Controller, job: str, number: int, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = controller.job_run(job, str(number))
        if run["state"] in FINISHED:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {number} of {job} did not end within {timeout} s: {run}")


def runs_of(workspace: Workspace, job: str) -> list[JobRunRecord]:
    with sessions(workspace.state_db)() as session:
        return list(session.query(JobRunRecord).filter_by(job=job).order_by(JobRunRecord.number))


def test_a_run_on_demand_gets_typed_parameters_and_keeps_its_output(controller: Controller, workspace: Workspace) -> None:
    notebook(
        workspace.root / "retrain.ipynb",
        "import os\nassert isinstance(alpha, float) and region == 'eu-west', (alpha, region)",
        "print('alpha is', alpha, 'job', os.environ['MLOPS_JOB'], 'run', os.environ['MLOPS_RUN'])",
    )
    job = controller.put_job("retrain", {"notebook": "retrain.ipynb", "parameters": {"alpha": 1}})
    assert job["spec"]["parameters"] == {"alpha": 1.0} and job["parameters_declared"]["region"] == "str = 'eu'"
    run = controller.run_job("retrain", {"parameters_text": {"region": "eu-west"}})
    assert run["number"] == 1 and run["parameters"] == {"alpha": 1.0, "region": "eu-west"}
    done = wait_for(controller, "retrain", 1)
    assert done["state"] == "succeeded", done
    assert done["cells_done"] == done["cells_total"] and done["duration_s"] > 0
    executed = nbformat.read(workspace.root / done["output"], as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'region = "eu-west"' in injected[0].source
    assert "alpha is 1.0 job retrain run 1" in "\n".join(controller.run_logs("retrain", "1")["lines"])
    assert controller.job("retrain")["last_run"]["state"] == "succeeded"


def test_bad_definitions_and_triggers_are_refused_naming_what_is_wrong(controller: Controller, workspace: Workspace) -> None:
    notebook(workspace.root / "nb.ipynb", "pass")
    cases = [
        ({"notebook": "nb.ipynb", "cron": "every day"}, InvalidInput, "field `cron`"),
        ({"notebook": "nb.ipynb", "cron": "0 6 * * *", "tz": "Mars/Olympus"}, InvalidInput, "field `tz`"),
        ({"notebook": "../outside.ipynb"}, Forbidden, "outside"),
        ({"notebook": "/etc/passwd.ipynb"}, Forbidden, "outside"),
        ({"notebook": "missing.ipynb"}, NotFound, "no notebook"),
        ({"notebook": "nb.ipynb", "parameters": {"beta": 1}}, InvalidInput, "beta"),
        ({"notebook": "nb.ipynb", "parameters": {"alpha": "high"}}, InvalidInput, "alpha"),
        ({"notebook": "nb.ipynb", "kernel": "no-such-kernel"}, InvalidInput, "no-such-kernel"),
        # A lone surrogate: JSON carries it, no file name can hold it (the REST harness once found it a 500).
        ({"notebook": "~\uda9d\udcb9.ipynb"}, InvalidInput, "not UTF-8"),
        ({"notebook": "nb.ipynb", "env": {"A": "\ud800"}}, InvalidInput, "not UTF-8"),
    ]
    for spec, error, fragment in cases:
        with pytest.raises(error, match=fragment):
            controller.put_job("bad", spec)
    controller.put_job("ok", {"notebook": "nb.ipynb"})
    with pytest.raises(InvalidInput, match="beta"):
        controller.run_job("ok", {"parameters": {"beta": 2}})
    assert runs_of(workspace, "ok") == []  # nothing was queued


def test_a_failing_cell_a_dying_kernel_a_timeout_and_a_cancel(controller: Controller, workspace: Workspace) -> None:
    notebook(workspace.root / "fails.ipynb", "x = 1", "raise ValueError('bad data')", "y = 2")
    notebook(workspace.root / "dies.ipynb", "import os\nos._exit(1)")
    notebook(workspace.root / "slow.ipynb", "import time\ntime.sleep(60)")
    controller.put_job("fails", {"notebook": "fails.ipynb"})
    controller.put_job("dies", {"notebook": "dies.ipynb"})
    controller.put_job("late", {"notebook": "slow.ipynb", "timeout_s": 3})
    controller.put_job("long", {"notebook": "slow.ipynb"})
    for name in ("fails", "dies", "late", "long"):
        controller.run_job(name, {})
    failed = wait_for(controller, "fails", 1)
    assert failed["state"] == "failed" and "ValueError" in failed["reason"] and "bad data" in failed["reason"]
    assert "raise ValueError" in failed["failed_cell"]["source"]
    started = time.monotonic()
    died = wait_for(controller, "dies", 1, timeout=30)
    assert died["state"] == "failed" and "kernel died" in died["reason"], died
    late = wait_for(controller, "late", 1, timeout=60)
    assert late["state"] == "timed_out" and "3 s" in late["reason"]
    while controller.job_run("long", "1")["state"] != "running":
        time.sleep(0.1)
    cancelled = controller.cancel_run("long", "1")
    assert cancelled["state"] == "cancelled", cancelled
    with pytest.raises(Conflict, match="already ended"):
        controller.cancel_run("long", "1")
    assert time.monotonic() - started < 120


def test_a_seconds_schedule_fires_on_time_twice(controller: Controller, workspace: Workspace) -> None:
    notebook(workspace.root / "tick.ipynb", "print('tick')")
    job = controller.put_job("tick", {"notebook": "tick.ipynb", "cron": "* * * * * */4", "concurrency": "allow"})
    assert job["next_run_at"] is not None
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and len(controller.job_runs("tick")) < 2:
        time.sleep(0.2)
    runs = sorted(controller.job_runs("tick"), key=lambda r: r["number"])[:2]
    assert len(runs) == 2 and all(r["trigger"] == "cron" for r in runs)
    for run in runs:
        scheduled = run["trigger_detail"]
        queued = run["queued_at"]
        from datetime import datetime

        late = (datetime.fromisoformat(queued) - datetime.fromisoformat(scheduled)).total_seconds()
        assert -1 <= late <= 1.5, (scheduled, queued)
    controller.pause_job("tick")
    assert controller.job("tick")["next_run_at"] is None


def test_kill_9_of_the_controller_mid_run_keeps_one_run_that_ends(controller: Controller, workspace: Workspace) -> None:
    notebook(workspace.root / "work.ipynb", "import time\ntime.sleep(4)", "print('done')")
    controller.put_job("work", {"notebook": "work.ipynb"})
    ready_standby(workspace)  # the run goes to a standby runner: the next controller adopts it all the same
    controller.run_job("work", {})
    while controller.job_run("work", "1")["state"] != "running":
        time.sleep(0.1)
    info = read_info(workspace.controller_info)
    assert info is not None
    os.kill(info.pid, signal.SIGKILL)
    again = Controller(workspace, notify=lambda line: None)
    done = wait_for(again, "work", 1, timeout=60)
    assert done["state"] == "succeeded", done
    assert [r.number for r in runs_of(workspace, "work")] == [1]
    assert "already started" in "\n".join(again.run_logs("work", "1")["lines"])


def test_a_new_file_runs_the_job_once_also_after_a_restart(controller: Controller, workspace: Workspace) -> None:
    import pandas as pd

    inbox = workspace.root / "inbox"
    inbox.mkdir()
    pd.DataFrame({"x": [1]}).to_parquet(inbox / "old.parquet")  # there before the job: not new
    notebook(workspace.root / "ingest.ipynb", "import pandas as pd\nprint('rows', len(pd.read_parquet(data_path)))")
    controller.put_job("ingest", {"notebook": "ingest.ipynb", "on_data": "inbox/*.parquet"})
    pd.DataFrame({"x": [1, 2, 3]}).to_parquet(inbox / "new.parquet")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not controller.job_runs("ingest"):
        time.sleep(0.2)
    run = wait_for(controller, "ingest", 1)
    assert run["state"] == "succeeded" and run["trigger"] == "data" and run["trigger_detail"].endswith("new.parquet")
    assert "rows 3" in "\n".join(controller.run_logs("ingest", "1")["lines"])
    controller.shutdown()
    again = Controller(workspace, notify=lambda line: None)
    again.ensure()
    time.sleep(2)
    assert [r["number"] for r in again.job_runs("ingest")] == [1]


def standbys_of(workspace: Workspace) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = process.info["cmdline"] or []
        if "--standby" in command and any(str(workspace.home) in part for part in command):
            with contextlib.suppress(psutil.Error):
                if process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
    return found


def ready_standby(workspace: Workspace, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not list((workspace.home / "standby").glob("*.ready")):
        assert time.monotonic() < deadline, "no standby runner became ready"
        time.sleep(0.1)


def test_standby_kernels_take_runs_one_each_and_end_with_the_last_job(controller: Controller, workspace: Workspace) -> None:
    notebook(workspace.root / "warm.ipynb", "import os\nprint('in', os.getcwd(), os.environ['MLOPS_JOB'])")
    assert standbys_of(workspace) == []  # no job, no kernel kept waiting
    controller.put_job("warm", {"notebook": "warm.ipynb"})
    for number in (1, 2):  # each run takes a standby; the pool starts the next as it gives one out
        ready_standby(workspace)
        controller.run_job("warm", {})
        done = wait_for(controller, "warm", number)
        assert done["state"] == "succeeded", done
        lines = "\n".join(controller.run_logs("warm", str(number))["lines"])
        assert "already started" in lines and f"in {workspace.root} warm" in lines, lines
    ready_standby(workspace)
    controller.delete_job("warm")
    deadline = time.monotonic() + 30
    while standbys_of(workspace) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert standbys_of(workspace) == [] and not list((workspace.home / "standby").glob("*.ready"))


def test_an_event_runs_each_job_that_waits_for_it_once(controller: Controller, workspace: Workspace) -> None:
    notebook(workspace.root / "retrain.ipynb", "print('retraining')")
    controller.put_job("retrain", {"notebook": "retrain.ipynb", "on_event": "alert:churn-drift"})
    controller.put_job("paused", {"notebook": "retrain.ipynb", "on_event": "alert:churn-drift"})
    controller.pause_job("paused")
    controller.put_job("other", {"notebook": "retrain.ipynb", "on_event": "alert:fraud"})
    started = controller.raise_event({"event": "alert:churn-drift", "detail": "psi 0.31 on tenure"})
    assert [(r["job"], r["trigger"], r["trigger_detail"]) for r in started] == [("retrain", "event", "psi 0.31 on tenure")]
    assert wait_for(controller, "retrain", 1)["state"] == "succeeded"
    assert controller.job_runs("paused") == [] and controller.job_runs("other") == []
    assert controller.raise_event({"event": "alert:nobody-listens"}) == []
    with pytest.raises(InvalidInput, match="is not an event"):
        controller.raise_event({"event": "drift"})
    with pytest.raises(InvalidInput, match="is not an event"):
        controller.put_job("bad", {"notebook": "retrain.ipynb", "on_event": "alert:../x"})


def test_a_run_with_a_cluster_of_its_own_starts_it_uses_it_and_stops_it(controller: Controller, workspace: Workspace) -> None:
    notebook(
        workspace.root / "dask.ipynb",
        "import os\nfrom distributed import Client\nclient = Client()  # DASK_SCHEDULER_ADDRESS: the run's cluster",
        "print('workers', len(client.scheduler_info()['workers']), 'answer', client.submit(lambda: 21 * 2).result())\n"
        "print('address', os.environ['DASK_SCHEDULER_ADDRESS'])\nclient.close()",
    )
    job = controller.put_job("dask", {"notebook": "dask.ipynb", "cluster": {"kind": "local", "workers": 1}})
    assert job["spec"]["cluster"]["workers"] == 1
    controller.run_job("dask", {})
    done = wait_for(controller, "dask", 1, timeout=180)
    lines = "\n".join(controller.run_logs("dask", "1", 200)["lines"])
    assert done["state"] == "succeeded", (done, lines)
    assert "workers 1 answer 42" in lines and "cluster stopped" in lines, lines
    address = next(line.split()[-1] for line in lines.splitlines() if line.startswith("address "))
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    with pytest.raises(OSError):  # the scheduler is gone with the run
        socket.create_connection((host, int(port)), timeout=2).close()
    assert controller.clusters() == []  # the workspace's clusters are not touched
    with pytest.raises(InvalidInput, match="cluster"):
        controller.put_job("dask", {"notebook": "dask.ipynb", "cluster": {"kind": "local", "workers": 0}})
