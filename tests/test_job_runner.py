"""The job runner as the controller starts it: ``python -m mlops_magics.jobs.runner RUN_DIR`` in a session of its
own, a real kernel per run, and what it leaves in RUN_DIR (progress, output notebook, log, result) and its exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

RUNNER = [sys.executable, "-m", "mlops_magics.jobs.runner"]


def write_notebook(path: Path, *sources: str, kernelspec: str | None = "python3") -> Path:
    cells = [
        {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": "# A job"}
        if source is None
        else {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [], "source": source}
        for i, source in enumerate(sources)
    ]
    metadata = {"kernelspec": {"name": kernelspec, "display_name": kernelspec, "language": "python"}} if kernelspec else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}))
    return path


def start(run_dir: Path, notebook: Path, **plan: Any) -> subprocess.Popen[str]:
    run_dir.mkdir(parents=True)
    plan = {
        "job": "nightly",
        "run_id": "nightly/1",
        "notebook": str(notebook),
        "parameters": {},
        "kernel": None,
        "cwd": None,
        "env": {},
        "timeout_s": None,
        **plan,
    }
    (run_dir / "run.json").write_text(json.dumps(plan))
    return subprocess.Popen(
        [*RUNNER, str(run_dir)],
        cwd="/",  # the runner takes every path from run.json, none from where it starts
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@dataclass
class Ended:
    code: int
    seconds: float
    stderr: str
    result: dict[str, Any]
    progress: dict[str, Any]
    log: str
    output: dict[str, Any] | None


def finish(process: subprocess.Popen[str], run_dir: Path, limit: float = 60) -> Ended:
    began = time.monotonic()
    try:
        _, stderr = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    seconds = time.monotonic() - began
    output = run_dir / "output.ipynb"
    return Ended(
        code=process.returncode,
        seconds=seconds,
        stderr=stderr,
        result=json.loads((run_dir / "result.json").read_text()),
        progress=json.loads((run_dir / "progress.json").read_text()),
        log=(run_dir / "run.log").read_text(),
        output=json.loads(output.read_text()) if output.exists() else None,
    )


def wait_for(run_dir: Path, check: Any, limit: float = 30) -> dict[str, Any]:
    """progress.json once ``check(progress)`` holds (read as a face would, while the run goes on)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            progress = json.loads((run_dir / "progress.json").read_text())
        except FileNotFoundError:
            progress = None
        if progress is not None and check(progress):
            return progress
        time.sleep(0.05)
    raise AssertionError(f"progress never reached the state wanted: {progress}")


def gone(pid: int, limit: float = 5) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def kernels_of(run_id: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("MLOPS_RUN_ID") == run_id and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def outputs_text(cell: dict[str, Any]) -> str:
    parts = []
    for output in cell["outputs"]:
        if output["output_type"] == "stream":
            parts.append("".join(output["text"]))
        elif "data" in output:
            parts.append("".join(output["data"].get("text/plain", "")))
    return "".join(parts)


def test_a_run_that_succeeds_leaves_its_progress_output_log_and_result(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "work" / "job.ipynb",
        None,
        'import os, sys\nprint("hello from", os.environ["MLOPS_JOB"])\nprint("cwd", os.getcwd())',
        'print("to stderr", file=sys.stderr)\nvalue = 21 * 2',
        "",  # empty: nbclient skips it, and it is not counted
        "value",
    )
    run_dir = tmp_path / "runs" / "1"
    ended = finish(start(run_dir, notebook), run_dir)

    assert ended.code == 0, ended.stderr
    assert ended.result["state"] == "succeeded"
    assert ended.result["reason"] is None and ended.result["failed_cell"] is None
    assert 0 < ended.result["duration_s"] < ended.seconds + 1
    datetime.fromisoformat(ended.result["finished_at"])
    progress = ended.progress
    assert (progress["cells_done"], progress["cells_total"], progress["current_cell"]) == (3, 3, None)
    assert progress["pid"] > 0 and datetime.fromisoformat(progress["started_at"]) <= datetime.fromisoformat(
        progress["updated_at"]
    )
    assert isinstance(progress["kernel_pid"], int) and gone(progress["kernel_pid"])

    cells = ended.output["cells"]
    assert cells[0]["cell_type"] == "markdown"
    assert outputs_text(cells[1]) == f"hello from nightly\ncwd {notebook.parent}\n"  # cwd null: the notebook's folder
    assert outputs_text(cells[2]) == "to stderr\n"
    assert outputs_text(cells[4]) == "42"
    assert [c.get("execution_count") for c in cells[1:]] == [1, 2, None, 3]
    assert ended.output["metadata"]["language_info"]["name"] == "python"
    assert ended.output["metadata"]["mlops"]["run_id"] == "nightly/1"

    log = ended.log
    assert log.index("run nightly/1 of job nightly") < log.index("hello from nightly") < log.index("cell 1/3 done in")
    assert log.index("to stderr") < log.index("cell 2/3 done in") < log.index("cell 3/3 done in")
    assert log.rstrip().splitlines()[-1].endswith(f"run succeeded in {ended.result['duration_s']:.2f} s")


def test_the_kernel_gets_the_runs_environment_and_working_directory(tmp_path: Path) -> None:
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    notebook = write_notebook(
        tmp_path / "job.ipynb",
        "import os\n"
        "assert os.environ['MLOPS_RUN_ID'] == 'nightly/7', os.environ.get('MLOPS_RUN_ID')\n"
        "assert os.environ['MLOPS_JOB'] == 'nightly'\n"
        "assert os.environ['DATA_PATH'] == '/data/new.parquet'\n"
        f"assert os.getcwd() == {str(workdir)!r}, os.getcwd()\n"
        "open('made-here.txt', 'w').write('x')",
    )
    run_dir = tmp_path / "run"
    ended = finish(
        start(run_dir, notebook, run_id="nightly/7", cwd=str(workdir), env={"DATA_PATH": "/data/new.parquet"}), run_dir
    )
    assert ended.result["state"] == "succeeded", ended.result
    assert (workdir / "made-here.txt").exists()


def test_a_cell_that_raises_fails_the_run_and_the_cells_after_it_do_not_run(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "job.ipynb",
        "x = 1",
        'raise ValueError("bad input\\nsecond line")',
        'print("never printed")',
    )
    run_dir = tmp_path / "run"
    ended = finish(start(run_dir, notebook), run_dir)

    assert ended.code == 1
    assert ended.result["state"] == "failed"
    assert ended.result["reason"] == "cell 2 raised ValueError: bad input"
    assert ended.result["failed_cell"] == {
        "index": 1,
        "source": 'raise ValueError("bad input\\nsecond line")',
        "ename": "ValueError",
        "evalue": "bad input\nsecond line",
    }
    assert (ended.progress["cells_done"], ended.progress["cells_total"]) == (1, 3)
    cells = ended.output["cells"]
    assert [o["output_type"] for o in cells[1]["outputs"]] == ["error"]
    assert cells[2]["outputs"] == [] and cells[2]["execution_count"] is None
    assert "cell 2/3 failed in" in ended.log and "Traceback" in ended.log and "ValueError: bad input" in ended.log
    assert "\x1b[" not in ended.log  # the traceback's colours are for a terminal, not for a log file
    assert "never printed" not in ended.log
    assert gone(ended.progress["kernel_pid"])


def test_a_run_past_its_timeout_is_stopped_as_timed_out(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "job.ipynb", 'print("started")', "import time\ntime.sleep(120)", "x = 1")
    run_dir = tmp_path / "run"
    began = time.monotonic()
    ended = finish(start(run_dir, notebook, timeout_s=5), run_dir)
    seconds = time.monotonic() - began

    assert ended.code == 124
    assert ended.result["state"] == "timed_out"
    assert ended.result["reason"] == "ran longer than 5 s (timeout)"
    assert ended.result["failed_cell"]["index"] == 1  # where it was when its time ran out
    assert 5 <= seconds < 5 + 4, seconds
    assert ended.progress["cells_done"] == 1
    assert "started" in outputs_text(ended.output["cells"][0])
    assert gone(ended.progress["kernel_pid"])


def test_sigterm_cancels_the_run_and_stops_its_kernel(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "job.ipynb", 'print("first")', "import time\ntime.sleep(120)")
    run_dir = tmp_path / "run"
    run_id = f"cancel/{os.getpid()}-{time.monotonic_ns()}"
    process = start(run_dir, notebook, run_id=run_id)
    progress = wait_for(run_dir, lambda p: p["current_cell"] == 1)
    assert (progress["cells_done"], progress["cells_total"], progress["pid"]) == (1, 2, process.pid)
    assert [kernel.pid for kernel in kernels_of(run_id)] == [progress["kernel_pid"]]
    # While it runs, the output notebook already holds what the cells before printed.
    output = json.loads((run_dir / "output.ipynb").read_text())
    assert outputs_text(output["cells"][0]) == "first\n"

    os.killpg(process.pid, signal.SIGTERM)  # as the controller cancels: the runner's whole session
    sent = time.monotonic()
    ended = finish(process, run_dir, limit=15)
    assert time.monotonic() - sent < 5
    assert ended.code == 143
    assert (ended.result["state"], ended.result["reason"]) == ("cancelled", "cancelled")
    assert ended.result["failed_cell"]["index"] == 1
    assert gone(progress["kernel_pid"]) and kernels_of(run_id) == []
    assert "run cancelled in" in ended.log


def test_a_kernel_that_exits_in_a_cell_fails_the_run_within_seconds(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "job.ipynb", 'print("before")', "import os\nos._exit(1)", 'print("after")')
    run_dir = tmp_path / "run"
    ended = finish(start(run_dir, notebook), run_dir, limit=20)

    assert ended.code == 1
    assert ended.result["state"] == "failed"
    assert ended.result["reason"] == "the kernel died while running cell 2"
    assert ended.result["failed_cell"]["index"] == 1
    assert ended.seconds < 10
    assert "after" not in ended.log


def test_a_kernel_killed_from_outside_fails_the_run_within_seconds(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "job.ipynb", "import time\ntime.sleep(120)")
    run_dir = tmp_path / "run"
    process = start(run_dir, notebook)
    progress = wait_for(run_dir, lambda p: p["current_cell"] == 0 and p["kernel_pid"])
    time.sleep(0.2)  # the cell is running, not just sent
    os.kill(progress["kernel_pid"], signal.SIGKILL)
    killed = time.monotonic()
    ended = finish(process, run_dir, limit=20)

    assert time.monotonic() - killed < 5
    assert (ended.code, ended.result["state"]) == (1, "failed")
    assert ended.result["reason"] == "the kernel died while running cell 1"


def test_a_missing_notebook_fails_the_run_with_that_reason(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    missing = tmp_path / "gone.ipynb"
    ended = finish(start(run_dir, missing), run_dir)
    assert ended.code == 1
    assert ended.result["state"] == "failed"
    assert ended.result["reason"] == f"notebook {missing} not found"
    assert (ended.progress["cells_total"], ended.progress["kernel_pid"]) == (0, None)
    assert f"notebook {missing} not found" in ended.log


def test_an_unknown_kernelspec_fails_the_run(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "job.ipynb", "x = 1", kernelspec="no-such-kernel")
    run_dir = tmp_path / "run"
    ended = finish(start(run_dir, notebook), run_dir)
    assert (ended.code, ended.result["reason"]) == (1, "kernelspec 'no-such-kernel' not found")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no run.json"),
        ("{not json", "not readable JSON"),
        ("[1, 2]", "not an object"),
        (json.dumps({"run_id": "a/1", "notebook": "/x.ipynb"}), "'job' must be str"),
        (json.dumps({"job": "a", "run_id": "a/1", "notebook": "x.ipynb"}), "'notebook' must be an absolute path"),
        (json.dumps({"job": "a", "run_id": "a/1", "notebook": "/x.ipynb", "env": {"A": 1}}), "'env' must map names"),
        (json.dumps({"job": "a", "run_id": "a/1", "notebook": "/x.ipynb", "timeout_s": -1}), "'timeout_s' must be"),
        (json.dumps({"job": "a", "run_id": "a/1", "notebook": "/x.ipynb", "timeout_s": True}), "'timeout_s' must be"),
    ],
)
def test_a_bad_run_json_exits_2_with_one_line(tmp_path: Path, content: str | None, says: str) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    if content is not None:
        (run_dir / "run.json").write_text(content)
    done = subprocess.run([*RUNNER, str(run_dir)], capture_output=True, text=True, timeout=30, cwd="/")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlops job runner: ") and says in lines[0], done.stderr
    result = json.loads((run_dir / "result.json").read_text())
    assert result["state"] == "failed" and result["reason"].startswith("bad run.json: ")


def test_parameters_are_injected_after_the_parameters_cell(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "job.ipynb", 'alpha = 0.5\nregion = "eu"', "print(alpha * 2, region)")
    raw = json.loads(notebook.read_text())
    raw["cells"][0]["metadata"]["tags"] = ["parameters"]
    notebook.write_text(json.dumps(raw))
    run_dir = tmp_path / "run"
    ended = finish(start(run_dir, notebook, parameters={"alpha": 0.75, "region": "us-east"}), run_dir)

    assert ended.result["state"] == "succeeded", ended.result
    cells = ended.output["cells"]
    assert [c["metadata"].get("tags") for c in cells] == [["parameters"], ["injected-parameters"], []]
    assert outputs_text(cells[2]) == "1.5 us-east\n"
    assert (ended.progress["cells_done"], ended.progress["cells_total"]) == (3, 3)
    assert ended.output["metadata"]["mlops"]["parameters"] == {"alpha": 0.75, "region": "us-east"}


def test_a_cancel_while_the_kernel_starts_leaves_no_kernel_behind(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "job.ipynb", "import time\ntime.sleep(120)")
    run_dir = tmp_path / "run"
    run_id = f"early/{os.getpid()}-{time.monotonic_ns()}"
    process = start(run_dir, notebook, run_id=run_id)
    deadline = time.monotonic() + 20
    while not (run_dir / "run.log").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGTERM)
    ended = finish(process, run_dir, limit=15)
    assert (ended.code, ended.result["state"], ended.result["reason"]) == (143, "cancelled", "cancelled")
    time.sleep(0.5)  # a kernel left behind would still be there
    assert kernels_of(run_id) == []


# --- standby runners ----------------------------------------------------------------------------------------------


def standby(ready_file: Path) -> subprocess.Popen[str]:
    """A standby runner as the controller's pool starts it: its kernel starts, then it waits for a run on stdin."""
    process = subprocess.Popen(
        [*RUNNER, "--standby", str(ready_file)],
        cwd="/",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while not ready_file.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the standby never became ready"
        time.sleep(0.05)
    return process


def kernel_children(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]


def give(process: subprocess.Popen[str], run_dir: Path) -> None:
    """What the controller does: the run's folder, one line, then the end of input."""
    assert process.stdin is not None
    process.stdin.write(f"{run_dir}\n")
    process.stdin.close()
    process.stdin = None  # communicate() then leaves it alone


def plan_file(run_dir: Path, notebook: Path, **plan: Any) -> None:
    run_dir.mkdir(parents=True)
    plan = {"job": "nightly", "run_id": "nightly/1", "notebook": str(notebook), "env": {}, **plan}
    (run_dir / "run.json").write_text(json.dumps(plan))


def test_a_standby_runs_in_its_started_kernel_with_the_runs_folder_and_environment(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "nb" / "job.ipynb",
        "import os, time\nprint(time.time())",
        "print(os.getcwd(), os.environ['MLOPS_JOB'], os.environ['MLOPS_RUN_ID'], os.environ['REGION'])",
    )
    process = standby(tmp_path / "s.ready")
    kernel = kernel_children(process.pid)
    assert len(kernel) == 1  # started before any run
    plan_file(tmp_path / "run", notebook, env={"REGION": "eu-west"})
    sent = time.time()
    give(process, tmp_path / "run")
    ended = finish(process, tmp_path / "run")
    assert ended.code == 0 and ended.result["state"] == "succeeded", (ended.result, ended.log)
    assert f"already started (pid {kernel[0].pid})" in ended.log
    assert not (tmp_path / "s.ready").exists()
    first, second = ended.output["cells"]
    assert float(outputs_text(first)) - sent < 5  # it ran at once (the figure is benchmarks/jobs.py's, not a test's)
    assert outputs_text(second).split() == [str(tmp_path / "nb"), "nightly", "nightly/1", "eu-west"]
    assert gone(kernel[0].pid)


def test_a_run_the_standby_kernel_does_not_fit_gets_a_fresh_kernel(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "job.ipynb", "import os\nprint(os.environ['PYTHONHASHSEED'])")
    process = standby(tmp_path / "s.ready")
    warm = kernel_children(process.pid)[0].pid
    plan_file(tmp_path / "run", notebook, env={"PYTHONHASHSEED": "7"})
    give(process, tmp_path / "run")
    ended = finish(process, tmp_path / "run")
    assert ended.result["state"] == "succeeded", (ended.result, ended.log)
    assert "does not fit this run (the run sets PYTHONHASHSEED, read when an interpreter starts)" in ended.log
    assert outputs_text(ended.output["cells"][0]).strip() == "7"
    assert gone(warm)


@pytest.mark.parametrize("how", ["end of input", "SIGTERM"])
def test_a_standby_without_a_run_ends_and_stops_its_kernel(tmp_path: Path, how: str) -> None:
    process = standby(tmp_path / "s.ready")
    warm = kernel_children(process.pid)[0].pid
    if how == "SIGTERM":
        os.killpg(process.pid, signal.SIGTERM)
    else:
        assert process.stdin is not None
        process.stdin.close()  # the controller stopped or died
    assert process.wait(timeout=30) == 0
    assert gone(warm) and not (tmp_path / "s.ready").exists()
