"""Benchmark: a 5-cell notebook run as a job by the controller (warm kernel and cold) against papermill, nbclient,
``jupyter execute``, ``jupyter nbconvert --execute`` and the same code as a plain script; then 1,000 cron schedules
held by one controller.

Usage::

    .venv/bin/python benchmarks/jobs.py                      # 5 runs each (median), 1,000 schedules, 60 s windows
    .venv/bin/python benchmarks/jobs.py --repeat 3 --schedules 200 --window 20 --notebooks light
    .venv/bin/python benchmarks/jobs.py --skip-schedules --json runs.json

**Runs.** Each tool runs the same notebook (``light``: json, math and random from the standard library, 20,000
seeded values, their mean and spread, a JSON line printed; ``pandas``: the same with ``import pandas`` and a
group-by). The first cell writes ``time.time()`` to a file outside every watched folder. A tool other than ours is
one whole process, timed from outside (``subprocess.run``, wall clock): interpreter start, imports, kernel start,
the cells, the output notebook written (nbclient, nbconvert, papermill), kernel stop, exit. Ours is the controller
already running with the job saved, timed from just before ``Controller.run_job`` until ``job_run`` (polled every
``--poll-ms``) says ``succeeded``; warm is the controller as shipped (a standby runner with a started kernel: the
script waits for its ``standby/*.ready`` file before each run), cold is a second controller started with
``MLOPS_WARM_KERNELS=0`` (a fresh runner and kernel per run). "Trigger -> first cell" is from the same start to the
time the first cell wrote. Tools run interleaved (A B C ..., A B C ...) after one unrecorded warm-up round; before
each run the script waits (at most ``--wait-idle`` s) for an idle machine. A run's CPU is the tool's process tree
(ours: the controller, its runs and standby runners, their kernels, and this script's polling); "other load" is
the machine's busy time (``/proc/stat``) less that CPU, over the run's wall time.

**Schedules.** A third controller (as shipped) holds ``--schedules`` jobs on the light notebook with ``0 3 1 1 *``
(not due during the benchmark). The time to create them through the API is reported. The controller's own CPU
(its process, all its threads, not its children: runs and the standby) is read from psutil over ``--window`` s:
with the quiet schedules only; with 3 more jobs due every 10 s (seconds-level cron, staggered by 3 s); after
those are paused. Each due run's lateness is its record's ``started_at`` (the runner launched; ``queued_at`` beside
it) and its first cell's time, minus its scheduled time (``trigger_detail``), read from ``state.db`` and the run's
log; a scheduled time in the window without a run counts as missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import nbformat
import psutil

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))

import eda as eda_bench  # noqa: E402  (the idle-wait and machine-load helpers of the EDA benchmark)

from mlops_magics.controller import Controller  # noqa: E402
from mlops_magics.controller.info import read_info  # noqa: E402
from mlops_magics.workspace import Workspace  # noqa: E402

FINISHED = {"succeeded", "failed", "timed_out", "cancelled"}
QUIET_CRON = "0 3 1 1 *"  # 03:00 on January 1st: never due while the benchmark runs (but on that night)
DUE_EVERY_S = 10
DUE_OFFSETS_S = (0, 3, 6)  # three seconds-level schedules, staggered
FIRST_CELL = re.compile(r"first cell at (\d+\.\d+)")

TOOLS = {
    "script": "python script.py (the cells as one script)",
    "ours-warm": "ours: Controller.run_job -> succeeded, warm kernel (standby runner)",
    "ours-cold": "ours: Controller.run_job -> succeeded, cold (MLOPS_WARM_KERNELS=0)",
    "nbclient": "python -c NotebookClient(nb).execute() + nbformat.write",
    "jupyter-execute": "jupyter execute in.ipynb (nbclient's CLI)",
    "nbconvert": "jupyter nbconvert --to notebook --execute",
    "papermill": "papermill in.ipynb out.ipynb",
}

NBCLIENT = """
import sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(nb, sys.argv[2])
"""


# --- the notebooks -----------------------------------------------------------------------------------------
def cells(kind: str, mark: Path | None) -> list[str]:
    """The 5 cells; the first prints its start time and, given ``mark``, writes it there."""
    first = 'import json\nimport math\nimport time\n\nstarted_at = time.time()\nprint("first cell at", repr(started_at))'
    if mark is not None:
        first += f"\nwith open({str(mark)!r}, 'w') as mark:\n    mark.write(repr(started_at))"
    values = "import random\n\nrng = random.Random(0)\nvalues = [rng.gauss(10.0, 2.0) for _ in range(20_000)]"
    if kind == "light":
        return [
            first,
            values,
            "mean = math.fsum(values) / len(values)\n"
            "std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))\n"
            "above = sum(v > mean + 2 * std for v in values)",
            'summary = {"n": len(values), "mean": round(mean, 4), "std": round(std, 4), "above_2sd": above}',
            "print(json.dumps(summary))",
        ]
    return [
        first,
        values,
        'import pandas as pd\n\nframe = pd.DataFrame({"value": values, "group": [i % 7 for i in range(len(values))]})',
        'summary = frame.groupby("group")["value"].agg(["mean", "std", "count"])',
        "print(summary.round(3).to_string())",
    ]


def write_notebook(path: Path, sources: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def write_script(path: Path, sources: list[str]) -> Path:
    path.write_text("\n\n".join(sources) + "\n")
    return path


# --- controllers -------------------------------------------------------------------------------------------
@dataclass
class Bench:
    """A throwaway workspace (its root under the scratch folder) and its controller."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.workspace = Workspace(self.root / ".mlops")
        self.controller = Controller(self.workspace, notify=lambda line: None)

    def start(self) -> int:
        """Start its controller with ``env`` over this process's environment; its pid."""
        saved = {name: os.environ.get(name) for name in self.env}
        os.environ.update(self.env)
        try:
            return self.controller.ensure().pid
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    @property
    def pid(self) -> int:
        info = read_info(self.workspace.controller_info)
        assert info is not None, "no controller"
        return info.pid

    def standby_ready(self) -> bool:
        return any((self.workspace.home / "standby").glob("*.ready"))

    def wait_standby(self, timeout: float) -> float | None:
        """Seconds until a standby runner is ready, or None when none came within ``timeout``."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.standby_ready():
                return time.perf_counter() - started
            time.sleep(0.02)
        return None

    def stop(self) -> None:
        """Stop the controller, then whatever it started that is still alive (runs, standby runners, kernels)."""
        try:
            started = psutil.Process(self.pid).children(recursive=True)
        except (AssertionError, psutil.Error):
            started = []
        self.controller.shutdown()
        time.sleep(0.5)
        for process in started:
            with contextlib.suppress(psutil.Error):
                if process.is_running():
                    process.kill()
        for process in psutil.process_iter(["cmdline"]):  # a run's or standby's kernel: its command names the root
            with contextlib.suppress(psutil.Error):
                if str(self.root) in " ".join(process.info["cmdline"] or []) and process.pid != os.getpid():
                    process.kill()


def wait_finished(controller: Controller, job: str, number: int, poll_s: float, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = controller.job_run(job, str(number))
        if run["state"] in FINISHED:
            return run
        time.sleep(poll_s)
    raise RuntimeError(f"run {number} of {job} did not end within {timeout} s")


# --- one run of one tool -----------------------------------------------------------------------------------
@dataclass
class Setup:
    scratch: Path
    mark: Path
    notebooks: dict[str, Path]  # kind -> the notebook the tools other than ours read
    scripts: dict[str, Path]
    warm: Bench | None
    cold: Bench
    poll_s: float
    standby_timeout: float


def tool_command(tool: str, setup: Setup, kind: str) -> list[str]:
    notebook = setup.notebooks[kind]
    out = setup.scratch / "out" / f"{tool}-{kind}.ipynb"
    if tool == "script":
        return [sys.executable, str(setup.scripts[kind])]
    if tool == "nbclient":
        return [sys.executable, "-c", NBCLIENT, str(notebook), str(out), str(notebook.parent)]
    if tool == "jupyter-execute":
        return [str(BIN / "jupyter"), "execute", str(notebook)]
    if tool == "nbconvert":
        return [str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute", str(notebook), "--output", str(out)]
    if tool == "papermill":
        return [str(BIN / "papermill"), str(notebook), str(out)]
    raise ValueError(tool)


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants, each with the children it has reaped: a descendant that
    ends moves its seconds into its parent's, so the difference of two readings is what the tree used between them."""
    total = 0.0
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def own_cpu() -> float:
    """This process's CPU seconds and its reaped children's (a tool run by ``subprocess.run``)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def run_once(tool: str, kind: str, setup: Setup, max_wait: float) -> dict[str, Any]:
    """One run: wall seconds to the end, seconds to the first cell, its CPU and how busy other work kept the machine."""
    setup.mark.unlink(missing_ok=True)
    bench = setup.warm if tool == "ours-warm" else setup.cold
    if tool == "ours-warm":
        assert bench is not None
        if bench.wait_standby(setup.standby_timeout) is None:
            raise RuntimeError(f"no standby runner became ready within {setup.standby_timeout} s")
    eda_bench.wait_idle(max_wait)
    extra: dict[str, Any] = {}
    if tool.startswith("ours"):
        assert bench is not None
        busy, cpu = eda_bench._busy_seconds(), own_cpu() + tree_cpu(bench.pid)  # the poller, the controller and its runs
        wall_start, started = time.time(), time.perf_counter()
        number = bench.controller.run_job(kind, {})["number"]
        run = wait_finished(bench.controller, kind, number, setup.poll_s)
        wall = time.perf_counter() - started
        cpu, busy = own_cpu() + tree_cpu(bench.pid) - cpu, eda_bench._busy_seconds() - busy
        if run["state"] != "succeeded":
            raise RuntimeError(f"{tool} {kind} run {number}: {run['state']}: {run['reason']}")
        log = (bench.workspace.job_run(kind, number) / "run.log").read_text()
        extra["warm_kernel"] = "already started" in log
    else:
        env = {**os.environ, "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1"}
        command, cwd = tool_command(tool, setup, kind), setup.notebooks[kind].parent
        busy, cpu = eda_bench._busy_seconds(), own_cpu()
        wall_start, started = time.time(), time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
        wall = time.perf_counter() - started
        cpu, busy = own_cpu() - cpu, eda_bench._busy_seconds() - busy
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {kind} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    first = float(setup.mark.read_text()) - wall_start
    other = max(0.0, (busy - cpu) / wall) if wall > 0 else 0.0
    return {"wall": wall, "first_cell": first, "cpu": cpu, "other_load": other, **extra}


# --- the runs section --------------------------------------------------------------------------------------
def measure_runs(
    scratch: Path, kinds: list[str], tools: list[str], repeat: int, max_wait: float, poll_s: float, standby_timeout: float
) -> tuple[dict[str, dict[str, list[dict[str, Any]]]], list[str]]:
    notes: list[str] = []
    mark = scratch / "marks" / "first_cell_at"
    mark.parent.mkdir(parents=True)
    (scratch / "out").mkdir()
    tools_folder = scratch / "tools"
    notebooks = {kind: write_notebook(tools_folder / f"job_{kind}.ipynb", cells(kind, mark)) for kind in kinds}
    scripts = {kind: write_script(tools_folder / f"job_{kind}.py", cells(kind, mark)) for kind in kinds}  # not pandas.py
    cold = Bench(scratch / "workspace-cold", {"MLOPS_WARM_KERNELS": "0"})
    warm = Bench(scratch / "workspace-warm") if "ours-warm" in tools else None
    benches = [b for b in (cold, warm) if b is not None]
    try:
        for bench in benches:
            for kind in kinds:
                write_notebook(bench.root / f"{kind}.ipynb", cells(kind, mark))
            bench.start()
            for kind in kinds:
                bench.controller.put_job(kind, {"notebook": f"{kind}.ipynb"})
        if warm is not None:
            waited = warm.wait_standby(standby_timeout)
            if waited is None:
                notes.append(f"ours-warm: no standby runner became ready within {standby_timeout:g} s: not measured")
                tools = [t for t in tools if t != "ours-warm"]
            else:
                print(f"standby runner ready {waited:.1f} s after the first job was saved", flush=True)
        setup = Setup(scratch, mark, notebooks, scripts, warm, cold, poll_s, standby_timeout)
        results: dict[str, dict[str, list[dict[str, Any]]]] = {kind: {tool: [] for tool in tools} for kind in kinds}
        for round_ in range(-1, repeat):  # round -1: a warm-up (page cache, compiled bytecode), not recorded
            for kind in kinds:
                for tool in tools:
                    result = run_once(tool, kind, setup, max_wait)
                    label = "warm-up" if round_ < 0 else f"round {round_ + 1}"
                    warm_note = "" if "warm_kernel" not in result else f", warm kernel: {result['warm_kernel']}"
                    print(
                        f"  {label}: {kind:<6} {tool:<16} {result['wall']:6.2f} s, first cell {result['first_cell']:5.2f} s, "
                        f"CPU {result['cpu']:5.2f} s, other load {result['other_load']:.2f} cores{warm_note}",
                        flush=True,
                    )
                    if round_ >= 0:
                        results[kind][tool].append(result)
        warm_runs = [r for kind in kinds for r in results[kind].get("ours-warm", [])]
        if any(not r["warm_kernel"] for r in warm_runs):
            notes.append(f"ours-warm: {sum(not r['warm_kernel'] for r in warm_runs)} run(s) did not get the warm kernel")
        return results, notes
    finally:
        for bench in benches:
            bench.stop()


def median(runs: list[dict[str, Any]], key: str = "wall") -> float:
    return statistics.median(r[key] for r in runs) if runs else float("nan")


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def report_runs(results: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    lines = [
        "| notebook | tool | median s | runs (s) | overhead over the script s | trigger/start -> first cell s "
        "(median) | CPU s (median) | other load, max (cores) |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for kind, by_tool in results.items():
        script = median(by_tool["script"])
        for tool, runs in by_tool.items():
            walls = ", ".join(f"{r['wall']:.2f}" for r in runs)
            over = "" if tool == "script" else f"{median(runs) - script:.2f}"
            other = max(r["other_load"] for r in runs)
            lines.append(
                f"| {kind} | {TOOLS[tool]} | {median(runs):.2f} | {walls} | {over} | "
                f"{median(runs, 'first_cell'):.2f} | {median(runs, 'cpu'):.2f} | {other:.2f} |"
            )
    lines += ["", "| measure | value | target | result |", "|---|---:|---:|---|"]
    for kind, by_tool in results.items():
        script = median(by_tool["script"])
        nbclient = median(by_tool["nbclient"]) - script if "nbclient" in by_tool else float("nan")
        for tool in ("ours-warm", "ours-cold"):
            if tool not in by_tool:
                continue
            over = median(by_tool[tool]) - script
            target = "<= 0.50" if tool == "ours-warm" else ""
            result = verdict(over / nbclient <= 0.5) if tool == "ours-warm" else ""
            lines.append(
                f"| {kind}: {tool} overhead / nbclient overhead (over the script, medians) | "
                f"{over:.2f} / {nbclient:.2f} = {over / nbclient:.2f} | {target} | {result} |"
            )
        if "ours-warm" in by_tool:
            first = median(by_tool["ours-warm"], "first_cell")
            worst = max(r["first_cell"] for r in by_tool["ours-warm"])
            lines.append(
                f"| {kind}: trigger -> first cell running, warm (median; worst) | {first:.3f} s; {worst:.3f} s | "
                f"<= 0.3 s | {verdict(first <= 0.3)} |"
            )
        if "ours-cold" in by_tool:
            cold = median(by_tool["ours-cold"], "first_cell")
            lines.append(f"| {kind}: trigger -> first cell running, cold (median) | {cold:.3f} s | | |")
        for tool in ("papermill", "nbconvert", "jupyter-execute"):
            if tool in by_tool and "ours-warm" in by_tool:
                ratio = median(by_tool[tool]) / median(by_tool["ours-warm"])
                lines.append(f"| {kind}: {tool} / ours-warm (whole run, medians) | {ratio:.1f}x | | |")
    return "\n".join(lines)


# --- the schedules section ---------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def children_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each live descendant (runs, the standby runner and their kernels)."""
    found = {}
    for process in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            found[process.pid] = times.user + times.system
    return found


def window(bench: Bench, seconds: float) -> dict[str, float]:
    """The controller's own CPU over ``seconds`` (fraction of one core), its RSS, and its descendants' CPU."""
    pid = bench.pid
    before, kids_before, busy_before = cpu_seconds(pid), children_cpu(pid), eda_bench._busy_seconds()
    started = time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - started
    after, kids_after, busy = cpu_seconds(pid), children_cpu(pid), eda_bench._busy_seconds() - busy_before
    kids = sum(kids_after[p] - kids_before[p] for p in kids_after if p in kids_before)
    rss = psutil.Process(pid).memory_info().rss / 2**20
    return {
        "seconds": wall,
        "cpu": (after - before) / wall,
        "kept_children_cpu": kids / wall,
        "machine_busy": busy / wall,
        "rss_mib": rss,
    }


@dataclass
class DueRun:
    job: str
    number: int
    scheduled: datetime
    queued_at: datetime
    started_at: datetime | None
    first_cell: float | None
    state: str

    @property
    def late_start(self) -> float | None:
        return None if self.started_at is None else (self.started_at - self.scheduled).total_seconds()

    @property
    def late_first_cell(self) -> float | None:
        return None if self.first_cell is None else self.first_cell - self.scheduled.timestamp()


def utc(moment: datetime) -> datetime:
    """SQLite gives back the UTC times it was given without their zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def due_runs(bench: Bench, jobs: list[str]) -> list[DueRun]:
    from mlops_magics.state import sessions
    from mlops_magics.state.models import JobRunRecord

    found = []
    with sessions(bench.workspace.state_db)() as session:
        for record in session.query(JobRunRecord).filter(JobRunRecord.job.in_(jobs)).order_by(JobRunRecord.queued_at):
            log = bench.workspace.job_run(record.job, record.number) / "run.log"
            match = FIRST_CELL.search(log.read_text()) if log.exists() else None
            found.append(
                DueRun(
                    record.job,
                    record.number,
                    datetime.fromisoformat(record.trigger_detail),
                    utc(record.queued_at),
                    None if record.started_at is None else utc(record.started_at),
                    float(match.group(1)) if match else None,
                    record.state,
                )
            )
    return found


def measure_schedules(scratch: Path, count: int, seconds: float, progress: Callable[[str], None]) -> dict[str, Any]:
    from mlops_magics.jobs import schedule

    bench = Bench(scratch / "workspace-schedules")
    write_notebook(bench.root / "light.ipynb", cells("light", None))
    result: dict[str, Any] = {"schedules": count}
    try:
        bench.start()
        started = time.perf_counter()
        for index in range(count):
            bench.controller.put_job(f"quiet-{index:04d}", {"notebook": "light.ipynb", "cron": QUIET_CRON})
            if (index + 1) % 100 == 0:
                progress(f"  {index + 1} schedules saved, {time.perf_counter() - started:.1f} s")
        result["create_s"] = time.perf_counter() - started
        listed = time.perf_counter()
        assert len(bench.controller.jobs()) == count
        result["list_s"] = time.perf_counter() - listed
        time.sleep(5)  # the standby runner starts, the last saves settle
        result["idle_before"] = window(bench, seconds)
        progress(f"  idle, {count} quiet schedules: controller {result['idle_before']['cpu']:.2%} of a core")

        due = [f"due-{offset}" for offset in DUE_OFFSETS_S]
        crons = {name: f"* * * * * {offset}-59/{DUE_EVERY_S}" for name, offset in zip(due, DUE_OFFSETS_S, strict=True)}
        for name in due:
            bench.controller.put_job(name, {"notebook": "light.ipynb", "cron": crons[name]})
        enabled = datetime.now().astimezone()
        result["with_due"] = window(bench, seconds)
        ended = datetime.now().astimezone()  # times up to 1 s before it count (a later one may meet the pause)
        for name in due:
            bench.controller.pause_job(name)
        progress(f"  with {len(due)} due schedules: controller {result['with_due']['cpu']:.2%} of a core")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(r.state in ("queued", "running") for r in due_runs(bench, due)):
            time.sleep(0.5)
        time.sleep(3)
        result["idle_after"] = window(bench, seconds)
        progress(f"  idle again: controller {result['idle_after']['cpu']:.2%} of a core")

        last = ended - timedelta(seconds=1)
        runs = [r for r in due_runs(bench, due) if enabled < r.scheduled <= last]
        expected = {(name, moment) for name in due for moment in schedule.times_between(crons[name], "UTC", enabled, last)}
        made = {(r.job, r.scheduled) for r in runs}
        result["due_expected"] = len(expected)
        result["due_missed"] = sorted(f"{name} {moment.isoformat()}" for name, moment in expected - made)
        result["due_runs"] = [
            {
                "job": r.job,
                "number": r.number,
                "scheduled": r.scheduled.isoformat(),
                "state": r.state,
                "late_queued_s": (r.queued_at - r.scheduled).total_seconds(),
                "late_started_s": r.late_start,
                "late_first_cell_s": r.late_first_cell,
            }
            for r in runs
        ]
        return result
    finally:
        bench.stop()


def report_schedules(result: dict[str, Any]) -> str:
    runs = result["due_runs"]
    started = [r["late_started_s"] for r in runs if r["late_started_s"] is not None]
    queued = [r["late_queued_s"] for r in runs]
    first = [r["late_first_cell_s"] for r in runs if r["late_first_cell_s"] is not None]
    on_time = not result["due_missed"] and len(started) == len(runs) and all(s <= 1.0 for s in started)
    lines = [
        "| window | seconds | controller CPU (one core) | controller RSS MiB | its standby and runs alive throughout (one core) "
        "| machine busy (cores) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "idle_before": f"{result['schedules']:,} quiet schedules, idle",
        "with_due": f"+ {len(DUE_OFFSETS_S)} schedules due every {DUE_EVERY_S} s (runs going)",
        "idle_after": "the due ones paused, idle again",
    }
    for key, label in labels.items():
        w = result[key]
        lines.append(
            f"| {label} | {w['seconds']:.0f} | {w['cpu']:.2%} | {w['rss_mib']:.0f} | {w['kept_children_cpu']:.2%} | "
            f"{w['machine_busy']:.2f} |"
        )

    def spread(values: list[float]) -> str:
        if not values:
            return "none"
        return f"median {statistics.median(values):.3f} s, max {max(values):.3f} s"

    idle = max(result["idle_before"]["cpu"], result["idle_after"]["cpu"])
    lines += [
        "",
        "| measure | value | target | result |",
        "|---|---:|---:|---|",
        f"| create {result['schedules']:,} cron jobs through the API (PUT /jobs/NAME each) | {result['create_s']:.1f} s "
        f"({result['create_s'] / result['schedules'] * 1000:.0f} ms a job) | | |",
        f"| list them (GET /jobs) | {result['list_s']:.2f} s | | |",
        f"| controller CPU, idle with {result['schedules']:,} schedules (worse of before/after) | {idle:.2%} | < 1% | "
        f"{verdict(idle < 0.01)} |",
        f"| due runs: scheduled times in the window / runs made / missed | {result['due_expected']} / {len(runs)} / "
        f"{len(result['due_missed'])} | | |",
        f"| scheduled -> queued | {spread(queued)} | | |",
        f"| scheduled -> started (runner launched, state running) | {spread(started)} | <= 1 s each | {verdict(on_time)} |",
        f"| scheduled -> first cell running | {spread(first)} | | |",
    ]
    return "\n".join(lines)


# --- main --------------------------------------------------------------------------------------------------
def environment() -> str:
    from importlib.metadata import version

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    packages = ", ".join(
        f"{name} {version(name)}" for name in ("nbclient", "nbconvert", "papermill", "ipykernel", "jupyter_client", "pandas")
    )
    return f"{os.cpu_count()} CPUs, {memory:.1f} GiB RAM, {platform.platform()}; Python {platform.python_version()}, {packages}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per tool and notebook (median reported)")
    parser.add_argument("--notebooks", default="light,pandas", help="comma-separated from: light, pandas")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated from: " + ",".join(TOOLS))
    parser.add_argument("--schedules", type=int, default=1000, help="quiet cron jobs held by one controller")
    parser.add_argument("--window", type=float, default=60, help="seconds of each controller-CPU window")
    parser.add_argument("--skip-runs", action="store_true")
    parser.add_argument("--skip-schedules", action="store_true")
    parser.add_argument("--poll-ms", type=float, default=20, help="how often ours is asked whether the run ended")
    parser.add_argument("--wait-idle", type=float, default=60, help="seconds to wait at most for an idle machine per run")
    parser.add_argument("--standby-timeout", type=float, default=60, help="seconds to wait for a ready standby runner")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.notebooks.split(",") if k.strip()]
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [k for k in kinds if k not in ("light", "pandas")] + [t for t in tools if t not in TOOLS]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    if "script" not in tools:
        tools.insert(0, "script")
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    print(environment(), flush=True)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mlops-jobs-bench-") as folder:
        scratch = Path(folder)
        if not args.skip_runs:
            results, notes = measure_runs(
                scratch / "runs", kinds, tools, args.repeat, args.wait_idle, args.poll_ms / 1000, args.standby_timeout
            )
            figures["runs"], figures["notes"] = results, notes
            print()
            print(report_runs(results))
            for note in notes:
                print(f"note: {note}")
        if not args.skip_schedules:
            print(f"\n{args.schedules:,} schedules:", flush=True)
            schedules = measure_schedules(
                scratch / "schedules", args.schedules, args.window, lambda line: print(line, flush=True)
            )
            figures["schedules"] = schedules
            print()
            print(report_schedules(schedules))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a SIGTERM still stops the controllers it started
    main()
