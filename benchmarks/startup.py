"""Benchmark: what a process pays from its start — ``%load_ext mlops_magics``, and ``mlops eda`` on a 1M x 20 Parquet
file against a plain pandas script and ydata-profiling (minimal), each a whole process.

Usage::

    .venv/bin/python benchmarks/startup.py                      # 7 runs each (ydata: 2), median
    .venv/bin/python benchmarks/startup.py --repeat 3 --ydata-repeat 1 --wait-idle 30
    git archive REV mlops_magics | tar -x -C /tmp/before    # then, beside the code of REV:
    .venv/bin/python benchmarks/startup.py --before /tmp/before --skip-ydata

Every run is a fresh ``python`` process timed from outside (``subprocess.run``, wall clock): interpreter start,
imports, reading the file, the work, writing the result, exit. Runs of the tools are interleaved (A B C, A B C, ...)
so a slow spell of a shared machine falls on each of them alike; before each run the script waits (at most
``--wait-idle`` s) for an idle machine and records how many cores other work took meanwhile.

- ``load_ext``: ``import IPython``, an ``InteractiveShell``, then ``ip.run_line_magic('load_ext', 'mlops_magics')``,
  timed inside the process; and the whole process, beside the same process without the ``load_ext`` line.
- ``mlops eda``: ``mlops eda data.parquet`` in a fresh workspace (``MLOPS_HOME``): profile, HTML report and JSON saved.
- ``pandas``: ``read_parquet``, ``describe(include="all")``, ``quantile`` (7 levels), ``corr``, ``nunique``.
- ``ydata-min``: ``read_parquet``, ``ProfileReport(minimal=True).to_file(report.html)``.

The data is ``benchmarks/eda.py``'s seeded 1M x 20 table (10 float, 5 Int64, 5 string columns, 5% missing), written
once to ``benchmarks/data/`` (gitignored) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import eda as eda_bench  # noqa: E402  (the 1M x 20 generator, idle-wait and environment of the EDA benchmark)

BIN = Path(sys.executable).parent

SHELL = "import IPython\nfrom IPython.core.interactiveshell import InteractiveShell\nip = InteractiveShell.instance()\n"
LOAD_EXT = (
    SHELL + "import time\nstarted = time.perf_counter()\nip.run_line_magic('load_ext', 'mlops_magics')\n"
    "print(time.perf_counter() - started)\n"
)
PANDAS = """
import sys
import pandas as pd
frame = pd.read_parquet(sys.argv[1])
frame.describe(include="all")
frame.quantile([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99], numeric_only=True)
frame.corr(numeric_only=True)
frame.nunique()
"""
YDATA = """
import sys, warnings
warnings.simplefilter("ignore")
import pandas as pd
from ydata_profiling import ProfileReport
ProfileReport(pd.read_parquet(sys.argv[1]), minimal=True, progress_bar=False).to_file(sys.argv[2])
"""

TOOLS = {
    "ipython": "python: import IPython + InteractiveShell (no extension)",
    "load_ext": "python: import IPython + InteractiveShell + %load_ext mlops_magics",
    "ours": "mlops eda data.parquet (profile + HTML report + JSON saved)",
    "pandas": "python: read_parquet + describe + quantile + corr + nunique",
    "ydata-min": "python: read_parquet + ydata-profiling minimal=True to_file(html)",
    "load_ext-before": "the same %load_ext process, code of --before",
    "ours-before": "the same mlops eda process, code of --before",
}


def command(tool: str, data: Path, scratch: Path) -> list[str]:
    python = sys.executable
    tool = tool.removesuffix("-before")
    if tool == "ipython":
        return [python, "-c", SHELL]
    if tool == "load_ext":
        return [python, "-c", LOAD_EXT]
    if tool == "ours":
        return [str(BIN / "mlops"), "eda", str(data)]
    if tool == "pandas":
        return [python, "-c", PANDAS, str(data)]
    return [python, "-c", YDATA, str(data), str(scratch / "ydata.html")]


def run_once(tool: str, data: Path, scratch: Path, max_wait: float, before: Path | None) -> dict[str, float]:
    """One fresh process: wall seconds, its CPU seconds, other work's cores meanwhile, and what it printed."""
    eda_bench.wait_idle(max_wait)
    workspace = scratch / f"workspace-{time.monotonic_ns()}"  # a fresh workspace each run, as a first use
    env = {**os.environ, "MLOPS_HOME": str(workspace), "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    if tool.endswith("-before") and before is not None:
        env["PYTHONPATH"] = str(before)  # its mlops_magics ahead of the installed one
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy, started = eda_bench._busy_seconds(), time.perf_counter()
    done = subprocess.run(command(tool, data, scratch), capture_output=True, text=True, env=env, cwd=scratch)
    wall, busy = time.perf_counter() - started, eda_bench._busy_seconds() - busy
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{tool} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = {"wall": wall, "cpu": cpu, "other_load": max(0.0, (busy - cpu) / wall) if wall > 0 else 0.0}
    if tool.startswith("load_ext"):
        result["inside"] = float(done.stdout.strip().splitlines()[-1])
    if tool.startswith("ours"):
        assert "1,000,000 rows x 20 columns" in done.stdout, done.stdout
    return result


def measure(
    data: Path, repeat: int, ydata_repeat: int, max_wait: float, skip_ydata: bool, before: Path | None
) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {tool: [] for tool in TOOLS}
    with tempfile.TemporaryDirectory(prefix="mlops-startup-") as folder:
        scratch = Path(folder)
        for round_ in range(repeat):
            tools = ["ipython", "load_ext", "ours", "pandas"]
            if before is not None:
                tools += ["load_ext-before", "ours-before"]
            if not skip_ydata and round_ < ydata_repeat:
                tools.append("ydata-min")
            for tool in tools:
                result = run_once(tool, data, scratch, max_wait, before)
                results[tool].append(result)
                inside = f" (load_ext itself {result['inside']:.3f} s)" if "inside" in result else ""
                print(
                    f"  round {round_ + 1}: {tool:<15} {result['wall']:6.2f} s wall, {result['cpu']:6.2f} s CPU, "
                    f"other load {result['other_load']:.2f} cores{inside}",
                    flush=True,
                )
    return results


def median(runs: list[dict], key: str = "wall") -> float:
    return statistics.median(r[key] for r in runs) if runs else float("nan")


def _verdict(passed: bool, measured: bool = True) -> str:
    return "not run" if not measured else "PASS" if passed else "MISS"


def report(results: dict[str, list[dict]]) -> str:
    lines = [
        "| process | median s | runs (s) | median CPU s | max other load (cores) |",
        "|---|---:|---|---:|---:|",
    ]
    for tool, label in TOOLS.items():
        runs = results[tool]
        if not runs:
            continue
        walls = ", ".join(f"{r['wall']:.2f}" for r in runs)
        load = max(r["other_load"] for r in runs)
        lines.append(f"| {label} | {median(runs):.2f} | {walls} | {median(runs, 'cpu'):.2f} | {load:.2f} |")
    inside = [r["inside"] for r in results["load_ext"]]
    ours, pandas, ydata = median(results["ours"]), median(results["pandas"]), median(results["ydata-min"])
    extension = median(results["load_ext"]) - median(results["ipython"])
    lines += [
        "",
        "| measure | value | target | result |",
        "|---|---:|---:|---|",
        f"| `load_ext` call itself (median, in-process) | {statistics.median(inside):.3f} s | <= 0.3 s | "
        f"{_verdict(statistics.median(inside) <= 0.3)} |",
        f"| whole process with `load_ext` minus without (medians) | {extension:.3f} s | | |",
        f"| whole process with `load_ext` (median) | {median(results['load_ext']):.2f} s | | |",
        f"| ydata-min / `mlops eda` (whole processes, medians) | {ydata / ours:.1f}x | >= 10x | "
        f"{_verdict(ydata / ours >= 10, bool(results['ydata-min']))} |",
        f"| `mlops eda` / pandas script (whole processes, medians) | {ours / pandas:.2f} | <= 1.00 | "
        f"{_verdict(ours <= pandas)} |",
    ]
    if results["ours-before"]:
        inside_before = statistics.median(r["inside"] for r in results["load_ext-before"])
        now, eda_before = statistics.median(inside), median(results["ours-before"])
        lines += [
            f"| `load_ext` call itself, --before -> now (medians) | {inside_before:.3f} s -> {now:.3f} s | | |",
            f"| `mlops eda` whole process, --before -> now (medians) | {eda_before:.2f} s -> {ours:.2f} s | | |",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="fresh processes per tool (median reported)")
    parser.add_argument("--ydata-repeat", type=int, default=2, help="ydata-profiling runs (~40 s each)")
    parser.add_argument("--skip-ydata", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wait-idle", type=float, default=120, help="seconds to wait at most for an idle machine per run")
    parser.add_argument("--json", type=Path, help="also write every run here")
    parser.add_argument("--before", type=Path, help="a folder holding an earlier mlops_magics/, measured beside this one")
    args = parser.parse_args(argv)

    print(eda_bench.environment(), flush=True)
    data = eda_bench.ensure_parquet("1m", args.seed)
    print(f"data: {data.relative_to(REPO)} (1,000,000 rows x 20 columns, seed {args.seed})", flush=True)
    before = args.before.resolve() if args.before else None
    if before is not None and not (before / "mlops_magics" / "__init__.py").exists():
        parser.error(f"--before {before}: no mlops_magics/ package in it")
    results = measure(data, args.repeat, args.ydata_repeat, args.wait_idle, args.skip_ydata, before)
    print()
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
