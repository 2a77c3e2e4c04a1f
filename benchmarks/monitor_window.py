"""Benchmark: the memory and time of one monitor check (``monitor.check``) over a window of 10M logged rows.

Usage::

    .venv/bin/python benchmarks/monitor_window.py                    # 10M rows, 5,000-row segments
    .venv/bin/python benchmarks/monitor_window.py --rows 1000000      # a quick look
    .venv/bin/python benchmarks/monitor_window.py --json out.json

The workspace (``benchmarks/data/monitor-<rows>-<segment rows>/``, gitignored, reused by later runs) holds a model
registered through the training path (``train.run.track``: its training profile and its predictions' profile
logged to MLflow as ``%%train`` logs them), trained on 100,000 rows of 20 features: 10 float (normal, lognormal),
5 integer (few values and many), 5 categorical (5 to 300 levels). Its request log holds ``--rows`` logged rows
written as the deployment writes them: the table ``serving.requestlog.requests_table`` makes of requests of
``--rows-per-request`` rows (each a JSON body: strings and numbers mixed; built here column by column, checked equal
to ``requests_table``'s on the first segment), written to Parquet by the converter's ``_write_segment``,
one segment per ``--segment-rows`` (the converter writes one every 2 seconds: 5,000 rows is 2,500 one-row
requests a second, about what one deployment answered in ``benchmarks/serve.py``). Drift is planted in two
features (f0 +0.5 std, c0's first level from 40% to 25% of the rows), 1% of the requests fail with 503.

Each check runs in a fresh child process, the way a standing monitor's check or ``mlops monitor`` runs it:
``check(workspace, "bench", WINDOW)`` with a client answering the deployment's view (what the controller's
monitors service passes). Measured: the child's peak RSS (``VmHWM``, the whole process: interpreter, pandas,
MLflow, the profiles, the window) and the check's wall time. The checks, in order:

- ``cold 1d``: a duration window holding every row, no segment summarised before: each segment read in chunks,
  summarised, its summary kept beside it (``.summaries/``);
- ``warm 1d``: the same window again, every segment's kept summary folded instead of read;
- ``warm rows``: ``--window <rows>`` (the last N rows), from the kept summaries;
- ``empty``: a window of one second (no rows): what the process costs without any window.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

FORMAT = 1  # bump when the generator changes, so a stale workspace is written again
MiB = 1024 * 1024
NAME = "bench"
FLOATS = [f"f{i}" for i in range(10)]
INTS = [f"i{i}" for i in range(5)]
CATS = [f"c{i}" for i in range(5)]
LEVELS = [5, 10, 20, 50, 300]


def features(rows: int, rng: np.random.Generator, drifted: bool) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for i, name in enumerate(FLOATS):
        values = rng.normal(10.0 * i, 1.0 + i, rows) if i % 2 == 0 else rng.lognormal(0.0, 0.5 + i / 10, rows)
        columns[name] = values + (0.5 * 1.0 if drifted and i == 0 else 0.0)
    columns["i0"] = rng.integers(0, 2, rows)
    columns["i1"] = rng.integers(0, 10, rows)
    columns["i2"] = rng.poisson(4.0, rows)
    columns["i3"] = rng.integers(0, 1_000, rows)
    columns["i4"] = rng.integers(18, 90, rows)
    for i, (name, levels) in enumerate(zip(CATS, LEVELS, strict=True)):
        shares = np.full(levels, 1.0)
        if i == 0:
            shares = np.array([0.4 if not drifted else 0.25, *([0.6 / (levels - 1)] * (levels - 1))])
            if drifted:
                shares[1:] = 0.75 / (levels - 1)
        shares = shares / shares.sum()
        columns[name] = np.array([f"{name}-{k}" for k in range(levels)], dtype=object)[rng.choice(levels, rows, p=shares)]
    return pd.DataFrame(columns)


def register(home: Path) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlops_magics.train.background import WRITER
    from mlops_magics.train.run import TrainRequest, track
    from mlops_magics.train.tracker import MLflowTracker
    from mlops_magics.workspace import Workspace

    x = features(100_000, np.random.default_rng(1), drifted=False)
    y = pd.Series(((x.f0 - 0) / 1 + (x.c0 == "c0-0") + x.i1 / 10 > 1.2).astype(int), name="label")
    prepare = ColumnTransformer(
        [("numbers", StandardScaler(), FLOATS + INTS), ("levels", OneHotEncoder(handle_unknown="ignore"), CATS)]
    )
    model = make_pipeline(prepare, LogisticRegression(max_iter=200)).fit(x, y)
    track(MLflowTracker(Workspace(home)), model, TrainRequest(experiment="bench", data=(x, y), model_name=NAME))
    WRITER.flush()


def segment_table(frame: pd.DataFrame, index: int, at: float, rows_per_request: int) -> pd.DataFrame:
    """One segment's table as ``requests_table`` builds it from requests of ``rows_per_request`` rows, built here
    column by column (``requests_table`` of the same requests is checked to give the same on the first segment)."""
    rng = np.random.default_rng([8, index])
    rows = len(frame)
    sizes = np.diff(np.append(np.arange(0, rows, rows_per_request), rows))
    failed = rng.random(sizes.size) < 0.01
    table = frame.add_prefix("input.")
    table.insert(0, "row", np.concatenate([np.arange(n) for n in sizes]))
    table.insert(0, "request_id", np.repeat([uuid.uuid4().hex for _ in sizes], sizes))
    predicted = (frame.f0 > 1.0).astype(np.int64).to_numpy()
    table["prediction"] = np.where(np.repeat(failed, sizes), np.nan, predicted)
    table["latency_ms"] = np.repeat(rng.gamma(2.0, 2.0, sizes.size), sizes)
    table["status"] = np.repeat(np.where(failed, 503, 200), sizes)
    table["time"] = pd.to_datetime(np.full(rows, at), unit="s", utc=True)
    table["model"] = f"models:/{NAME}/1"
    table["model_version"] = "1"
    return table


def _as_requests(table: pd.DataFrame, at: float) -> pd.DataFrame:
    """``requests_table`` of the requests ``table`` holds, each sent as a JSON body (strings and numbers mixed)."""
    from mlops_magics.serving.requestlog import _Request, requests_table

    items = []
    for request_id, rows in table.groupby("request_id", sort=False):
        inputs = rows.filter(like="input.").rename(columns=lambda c: c.removeprefix("input.")).reset_index(drop=True)
        status = int(rows.status.iloc[0])
        predictions = [None] * len(rows) if status >= 500 else rows.prediction.astype(int).tolist()
        latency = float(rows.latency_ms.iloc[0])
        model = f"models:/{NAME}/1"
        items.append(_Request(str(request_id), latency, status, at, len(rows), inputs, None, predictions, model, "1"))
    return requests_table(items)


def write_log(folder: Path, rows: int, segment_rows: int, rows_per_request: int) -> tuple[int, int]:
    """The request log's segments, oldest first, each written when the converter would have (every 2 s)."""
    import pyarrow as pa

    from mlops_magics.serving.requestlog import _write_segment

    folder.mkdir(parents=True, exist_ok=True)
    segments = -(-rows // segment_rows)
    now = time.time()
    written = 0
    for index in range(segments):
        count = min(segment_rows, rows - index * segment_rows)
        at = now - 2.0 * (segments - index)
        table = segment_table(features(count, np.random.default_rng([7, index]), drifted=True), index, at, rows_per_request)
        if index == 0:
            pd.testing.assert_frame_equal(table, _as_requests(table, at), check_exact=True)
        path = _write_segment(folder, "requests", pa.Table.from_pandas(table, preserve_index=False))
        final = path.with_name(f"requests-{index:06d}-{path.name.removeprefix('requests-')}")
        path.rename(final)
        os.utime(final, (at + 2.0, at + 2.0))
        written += final.stat().st_size
    return segments, written


def prepare(args: argparse.Namespace) -> Path:
    home = HERE / "data" / f"monitor-{args.rows}-{args.segment_rows}-{args.rows_per_request}" / ".mlops"
    marker = home.parent / "ready.json"
    if marker.exists() and json.loads(marker.read_text()).get("format") == FORMAT:
        return home
    import shutil

    shutil.rmtree(home.parent, ignore_errors=True)
    home.mkdir(parents=True)
    started = time.perf_counter()
    env_home = os.environ.get("MLOPS_HOME")
    os.environ["MLOPS_HOME"] = str(home)
    register(home)
    segments, size = write_log(home / "requests" / NAME, args.rows, args.segment_rows, args.rows_per_request)
    if env_home is None:
        os.environ.pop("MLOPS_HOME", None)
    marker.write_text(json.dumps({"format": FORMAT, "segments": segments, "bytes": size}))
    print(f"wrote {args.rows:,} rows in {segments:,} segments ({size / MiB:,.0f} MiB) in {time.perf_counter() - started:.0f} s")
    return home


class _Deployments:
    """The deployment's view, as the controller answers it for a registered model."""

    def deployment(self, name: str) -> dict[str, Any]:
        return {"name": name, "spec": {"model": f"{NAME}@champion"}, "model_uri": f"models:/{NAME}/1", "version": "1"}


def child(home: Path, window: str) -> None:
    from mlops_magics.monitor.check import check
    from mlops_magics.workspace import Workspace

    os.environ["MLOPS_HOME"] = str(home)
    started = time.perf_counter()
    result = check(Workspace(home), NAME, window, controller=_Deployments())  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    hwm = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    print(
        json.dumps(
            {
                "window": window,
                "seconds": round(seconds, 2),
                "peak_rss_mib": round(hwm / 1024, 1),
                "rows": result.rows,
                "requests": result.requests,
                "segments_read": result.segments_read,
                "verdict": result.verdict,
                "drifted": result.drifted,
                "error_rate": result.error_rate,
                "latency_p50_ms": result.latency_p50_ms,
                "prediction_drift": result.prediction_drift.verdict,
            }
        )
    )


def run_child(home: Path, window: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(home), "--window", window],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the check failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) if folder.is_dir() else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--segment-rows", type=int, default=5_000)
    parser.add_argument("--rows-per-request", type=int, default=10)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--window", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.window)
        return
    home = prepare(args)
    kept = home / "requests" / NAME / ".summaries"
    if kept.exists():
        import shutil

        shutil.rmtree(kept)
    results = []
    for label, window in (("cold 1d", "1d"), ("warm 1d", "1d"), ("warm rows", str(args.rows)), ("empty", "1s")):
        found = run_child(home, window)
        found["check"] = label
        results.append(found)
        print(json.dumps(found))
    segments = home / "requests" / NAME
    report = {
        "rows": args.rows,
        "segment_rows": args.segment_rows,
        "rows_per_request": args.rows_per_request,
        "segments_mib": round(_size(segments) / MiB, 1),
        "summaries_mib": round(_size(kept) / MiB, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "checks": results,
    }
    print()
    print("| check | window | rows | segments read | seconds | peak RSS MiB | verdict | drifted |")
    print("|---|---|---:|---:|---:|---:|---|---|")
    for r in results:
        print(
            f"| {r['check']} | {r['window']} | {r['rows']:,} | {r['segments_read']:,} | {r['seconds']:.1f} | "
            f"{r['peak_rss_mib']:,.0f} | {r['verdict']} | {', '.join(r['drifted'])} |"
        )
    print(f"\nsegments {report['segments_mib']:,} MiB on disk; kept summaries {report['summaries_mib']:,} MiB")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
