"""Benchmark: one drift check of 100k current rows against a 1M-row reference, 20 features (10 float, 5 integer,
5 categorical), drift planted in 4 numeric features and 1 categorical one; Evidently's ``DataDriftPreset``, scipy on
the raw data, scipy from a stored reference summary and ours from the stored training profile, each one whole
process timed from outside; then one check over 10M logged rows, for its peak RSS.

Usage::

    .venv/bin/python benchmarks/monitor.py                        # 1M x 100k, 3 runs each, then the 10M check
    .venv/bin/python benchmarks/monitor.py --quick                # 100k x 10k, 1 run each, a 1M check
    .venv/bin/python benchmarks/monitor.py --repeat 1 --skip-big --json runs.json

Evidently runs in its own virtualenv (its install pulls pandas 3, which breaks it)::

    python -m venv benchmarks/.venv-evidently
    benchmarks/.venv-evidently/bin/pip install 'evidently>=0.7,<0.8' 'pandas<3'

**Data.** Seeded (``default_rng([seed, stream, chunk])``), written once to ``benchmarks/data/monitor/`` (reused while
its stamp matches). Floats: normal, lognormal, uniform, exponential, gamma, beta columns; integers: Poisson(3),
ages 18-90, Binomial(10, 0.3), incomes (lognormal, rounded), weekdays 0-6; categories: 5, 20, 8 and 100 Zipf-weighted
levels and a yes/no column. The current rows are drawn from the same distributions with the drift ``PLANTED``: f0
+0.3 std, f3 +0.5 std and f6 +0.4 std (shifts), i0 Poisson(3) -> Poisson(3.7) (+0.4 std, compared by exact counts),
c2's first level from 40% of the rows to 28% (its share moved to two others).

**Setup, not timed.** A scratch workspace (``MLOPS_HOME`` in a temporary folder): a scikit-learn pipeline (ordinal
encoding of the categories, ridge regression) fitted on the reference and tracked the ``%%train`` way
(``train.run.track``: it logs the training profile, ``profile/profile.json``, and registers the model), deployed on a
free port by the workspace's controller, and sent the current rows over HTTP (1,000 rows a request), which the
deployment logs as Parquet segments. The stored profile is downloaded from the run once (ours' stored reference);
scipy's stored summary is built from the reference data once (1,000 quantiles per numeric column of more than 50
values, exact counts otherwise).

**Timed, each a whole process** (``subprocess``, wall clock from outside: interpreter start, imports, reading, the
check, exit; peak RSS from ``os.wait4``'s ``ru_maxrss``):

- ``evidently``: reads both Parquet files, ``Report([DataDriftPreset()]).run(current, reference)`` on the raw frames
  (Evidently's defaults: it picks each column's test), reads each column's ``ValueDrift`` (a distance is drift at or
  over its threshold, a p-value below it);
- ``scipy-raw``: reads both files; ``ks_2samp`` per numeric column, ``chi2_contingency`` of the level counts per
  categorical one; drift at p < 0.05;
- ``scipy-summary``: reads the stored summary (JSON) and the current file; ``ks_2samp`` of the 1,000 reference
  quantiles against the current values for the distance, its p-value from ``kstwo`` at the true sizes;
  ``chi2_contingency`` of the counts; drift at p < 0.05;
- ``ours``: the functions ``monitor.check`` runs, bare: loads the stored profile (never the reference data), reads the
  deployment's request log (``read_window``), profiles the window and computes ``drift_report``;
- ``ours-cli``: ``mlops monitor DEPLOYMENT --window ROWS --json``, the user's path: asks the controller what the
  deployment serves, downloads the training profile from the run, reads the log, profiles it, drift of every
  feature and of the predictions, traffic, feedback; exit 3 on drift;
- ``ours-cli-warm``: the same again right after, with the segment summaries the check before kept beside the log
  (what a standing monitor's next check finds). ``ours`` and ``ours-cli`` run with none kept (removed before each
  run): a first check of a log nobody checked yet.

Runs are interleaved (every tool once per round). Before each run the script waits (at most ``--wait-idle`` s) for
the machine to be idle; "other load" is the machine's busy time (``/proc/stat``) less the child's own CPU, over the
run's wall time, and a run under more than ``--busy-limit`` cores of other load is redone (at most twice). The
figures are the median run's; every run is listed.

**10M logged rows, last.** The drifted distribution again, 10M rows, predicted by the registered model in chunks and
logged by the request log's own two halves (``RequestLog`` writes spool files, ``SpoolConverter`` turns them into
Parquet segments of about 100k rows), the segments moved into the deployment's log folder. Then ``mlops monitor
DEPLOYMENT --window 10000000 --json``, whole process, its peak RSS polled (psutil, 0.1 s) beside ``ru_maxrss``; it
is stopped past ``--big-limit-mb`` so that it cannot take the machine's memory from others.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = REPO / ".venv" / "bin" / "python"
MLOPS = REPO / ".venv" / "bin" / "mlops"
EVIDENTLY_PYTHON = HERE / ".venv-evidently" / "bin" / "python"
DATA = HERE / "data" / "monitor"
GENERATOR = 1  # bump when the data changes: files with another stamp are written again

FLOATS = [f"f{i}" for i in range(10)]
INTS = [f"i{i}" for i in range(5)]
CATEGORIES = [f"c{i}" for i in range(5)]
FEATURES = FLOATS + INTS + CATEGORIES
PLANTED = ["f0", "f3", "f6", "i0", "c2"]
TARGET = "target"
MODEL = "bench"
DEPLOYMENT = "bench"
REQUEST_ROWS = 1_000  # rows per request, current rows sent over HTTP and 10M rows logged alike
SEGMENT_ROWS = 100_000  # rows per segment of the 10M log
CHUNK_ROWS = 250_000  # rows drawn at a time
SUMMARY_QUANTILES = 1_000
LEVELS = 50  # at most this many values: a numeric column's summary keeps exact counts (as the profile does)
P_VALUE = 0.05
TOOLS = ["evidently", "scipy-raw", "scipy-summary", "ours", "ours-cli", "ours-cli-warm"]
COLD = ("ours", "ours-cli")  # run with no kept segment summaries (a one-shot check of a log nobody checked yet)
LABELS = {
    "evidently": "Evidently 0.7 DataDriftPreset, raw frames",
    "scipy-raw": "scipy on the raw data (ks_2samp / chi2_contingency)",
    "scipy-summary": "scipy from a stored reference summary",
    "ours": "ours, bare: stored profile + read_window + profile + drift_report",
    "ours-cli": "ours, `mlops monitor` on the real deployment",
    "ours-cli-warm": "ours, `mlops monitor` again (segment summaries kept by the run before)",
}


# --- data -------------------------------------------------------------------------------------------------------


def _zipf(levels: int, power: float = 1.1) -> list[float]:
    weights = [1 / (k + 1) ** power for k in range(levels)]
    return [w / sum(weights) for w in weights]


def _c2_drifted() -> list[float]:
    """c2's shares with its first level's share cut from 0.40 to 0.28, the 0.12 given to levels 3 and 5."""
    shares = _zipf(8)
    shares[0] -= 0.12
    shares[3] += 0.06
    shares[5] += 0.06
    return shares


def draw_chunk(rng: Any, rows: int, drifted: bool) -> Any:
    """``rows`` rows of the 20 features; ``drifted``: the current distribution (the ``PLANTED`` shifts)."""
    import numpy as np
    import pandas as pd

    lognormal_std = float(np.sqrt((np.exp(0.36) - 1) * np.exp(2 + 0.36)))  # of lognormal(1, 0.6): f3
    columns: dict[str, Any] = {
        "f0": rng.normal(50, 10, rows) + (0.3 * 10 if drifted else 0.0),
        "f1": rng.lognormal(0, 0.5, rows),
        "f2": rng.normal(0, 1, rows),
        "f3": rng.lognormal(1, 0.6, rows) + (0.5 * lognormal_std if drifted else 0.0),
        "f4": rng.uniform(0, 100, rows),
        "f5": rng.normal(-3, 2, rows),
        "f6": rng.exponential(2, rows) + (0.4 * 2 if drifted else 0.0),
        "f7": rng.normal(1000, 250, rows),
        "f8": rng.gamma(2, 3, rows),
        "f9": rng.beta(2, 5, rows),
        "i0": rng.poisson(3.7 if drifted else 3.0, rows),
        "i1": rng.integers(18, 91, rows),
        "i2": rng.binomial(10, 0.3, rows),
        "i3": np.round(rng.lognormal(10, 0.5, rows)).astype(np.int64),
        "i4": rng.integers(0, 7, rows),
    }
    for name, levels, shares in (
        ("c0", 5, _zipf(5)),
        ("c1", 20, _zipf(20)),
        ("c2", 8, _c2_drifted() if drifted else _zipf(8)),
        ("c3", 100, _zipf(100)),
        ("c4", 2, [0.7, 0.3]),
    ):
        names = np.array([f"{name}_{k:02d}" for k in range(levels)] if levels > 2 else ["yes", "no"], dtype=object)
        columns[name] = names[rng.choice(levels, rows, p=shares)]
    frame = pd.DataFrame(columns)
    for name in INTS:
        frame[name] = frame[name].astype(np.int64)
    return frame


def target_of(frame: Any, rng: Any) -> Any:
    noise = rng.normal(0, 1, len(frame))
    return 0.05 * frame["f0"] + frame["f2"] - 0.3 * frame["f5"] + 0.2 * frame["i0"] + (frame["c2"] == "c2_00") + noise


def draw(rows: int, seed: int, stream: int, drifted: bool) -> Any:
    import numpy as np
    import pandas as pd

    chunks = [
        draw_chunk(np.random.default_rng([seed, stream, k]), min(CHUNK_ROWS, rows - start), drifted)
        for k, start in enumerate(range(0, rows, CHUNK_ROWS))
    ]
    return pd.concat(chunks, ignore_index=True)


def _stamp(rows: int, seed: int, stream: int) -> str:
    return json.dumps({"generator": GENERATOR, "rows": rows, "seed": seed, "stream": stream}, sort_keys=True)


def data_path(kind: str, rows: int) -> Path:
    return DATA / f"{kind}-{rows}.parquet"


def write_data(rows: int, current_rows: int, seed: int) -> None:
    """The reference (stream 0, with the target) and the current rows (stream 1, drifted), unless already there."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    DATA.mkdir(parents=True, exist_ok=True)
    for kind, size, stream, drifted in (("reference", rows, 0, False), ("current", current_rows, 1, True)):
        path, stamp = data_path(kind, size), _stamp(size, seed, stream)
        with contextlib.suppress(Exception):
            if pq.read_schema(path).metadata.get(b"mlops.bench") == stamp.encode():
                continue
        frame = draw(size, seed, stream, drifted)
        if kind == "reference":
            frame[TARGET] = target_of(frame, np.random.default_rng([seed, 9]))
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"mlops.bench": stamp.encode()})
        pq.write_table(table, path)


# --- setup: the workspace, the trained and deployed model, its logged traffic, the stored summaries ------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _logged_rows(folder: Path) -> int:
    import pandas as pd

    rows = 0
    for path in folder.glob("requests-*.parquet"):
        with contextlib.suppress(Exception):
            rows += len(pd.read_parquet(path, columns=["row"]))
    return rows


def setup(home: Path, rows: int, current_rows: int, out: Path) -> dict[str, Any]:
    """Train and track the model on the reference, deploy it, send it the current rows; store both summaries."""
    import httpx
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from mlops_magics import tracking
    from mlops_magics.controller import Controller
    from mlops_magics.monitor.cache import FOLDER as KEPT
    from mlops_magics.train.background import WRITER
    from mlops_magics.train.run import PROFILE_ARTIFACT, TrainRequest, track
    from mlops_magics.train.tracker import MLflowTracker
    from mlops_magics.workspace import Workspace

    workspace = Workspace(home)
    reference = pd.read_parquet(data_path("reference", rows))
    x, y = reference[FEATURES], reference[TARGET]
    encode = ColumnTransformer(
        [("categories", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), CATEGORIES)],
        remainder="passthrough",
    )
    model = Pipeline([("encode", encode), ("ridge", Ridge())]).fit(x, y)
    started = time.perf_counter()
    result = track(MLflowTracker(workspace), model, TrainRequest(experiment="monitor-benchmark", data=(x, y), model_name=MODEL))
    WRITER.flush()
    tracked = time.perf_counter() - started
    if result.error or result.version is None:
        raise RuntimeError(f"tracking the model failed: {result.error or result.steps}")
    client = tracking.mlflow_for(workspace).MlflowClient()
    stored = Path(client.download_artifacts(result.run_id, PROFILE_ARTIFACT, str(out)))
    summary = out / "scipy-summary.json"
    summary.write_text(json.dumps(scipy_summary(x)))
    del reference, x, y

    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy(DEPLOYMENT, {"model": f"{MODEL}@challenger", "port": _free_port()})
    current = pd.read_parquet(data_path("current", current_rows), columns=FEATURES)
    with httpx.Client(timeout=60) as http:
        for start in range(0, len(current), REQUEST_ROWS):
            rows_sent = current.iloc[start : start + REQUEST_ROWS]
            answer = http.post(f"{view['url']}/invocations", json={"dataframe_split": rows_sent.to_dict("split")})
            if answer.status_code != 200:
                raise RuntimeError(f"the deployment answered {answer.status_code}: {answer.text[:300]}")
    folder = workspace.requests / DEPLOYMENT
    deadline = time.monotonic() + 120
    while _logged_rows(folder) < len(current):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{_logged_rows(folder)} of {len(current)} rows logged after 120 s")
        time.sleep(0.5)
    return {
        "home": str(home),
        "log": str(folder),
        "kept": KEPT,  # where the check keeps segment summaries, in the log folder
        "version": result.version,
        "run_id": result.run_id,
        "profile": str(stored),
        "profile_bytes": stored.stat().st_size,
        "summary": str(summary),
        "summary_bytes": summary.stat().st_size,
        "segments": len(list(folder.glob("requests-*.parquet"))),
        "track_s": tracked,
    }


def scipy_summary(frame: Any) -> dict[str, Any]:
    """Per column: 1,000 quantiles, the row count and the standard deviation (a numeric column of many values), or
    exact counts per value (a category, or a numeric column of at most ``LEVELS`` values)."""
    import numpy as np

    summary: dict[str, Any] = {}
    points = (np.arange(SUMMARY_QUANTILES) + 0.5) / SUMMARY_QUANTILES
    for name in FEATURES:
        column = frame[name]
        counts = column.value_counts()
        if name in CATEGORIES or len(counts) <= LEVELS:
            summary[name] = {"counts": {str(k): int(v) for k, v in counts.items()}}
        else:
            values = column.to_numpy(dtype=np.float64)
            summary[name] = {"quantiles": np.quantile(values, points).tolist(), "rows": len(values), "std": float(values.std())}
    return summary


def teardown(home: Path) -> None:
    """Stop the deployment and the controller of the scratch workspace, and whatever they left running."""
    import psutil

    from mlops_magics.controller import Controller
    from mlops_magics.workspace import Workspace

    controller = Controller(Workspace(home), notify=lambda line: None)
    with contextlib.suppress(Exception):
        controller.stop_deployment(DEPLOYMENT)
    with contextlib.suppress(Exception):
        controller.shutdown()
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "mlops_magics" in cmdline and str(home) in cmdline:
            with contextlib.suppress(psutil.Error):
                process.kill()


# --- the 10M logged rows ---------------------------------------------------------------------------------------


def log_big(home: Path, version: str, rows: int, seed: int) -> dict[str, Any]:
    """``rows`` drifted rows predicted by the served model and logged by the request log's two halves, in segments of
    ``SEGMENT_ROWS``, moved into the deployment's log folder."""
    import numpy as np

    from mlops_magics import tracking
    from mlops_magics.serving.requestlog import RequestLog, SpoolConverter
    from mlops_magics.workspace import Workspace

    workspace = Workspace(home)
    uri = f"models:/{MODEL}/{version}"
    model = tracking.mlflow_for(workspace).sklearn.load_model(uri)
    folder = workspace.requests / DEPLOYMENT
    started = time.perf_counter()
    written = 0
    with tempfile.TemporaryDirectory(dir=home) as scratch:
        spool_folder = Path(scratch)
        log = RequestLog(spool_folder, 1.0, uri, version, FEATURES)
        converter = SpoolConverter(spool_folder)
        rng_latency = np.random.default_rng([seed, 7])
        for k, start in enumerate(range(0, rows, SEGMENT_ROWS)):
            frame = draw_chunk(np.random.default_rng([seed, 2, k]), min(SEGMENT_ROWS, rows - start), drifted=True)
            predictions = model.predict(frame)
            for at in range(0, len(frame), REQUEST_ROWS):
                part = frame.iloc[at : at + REQUEST_ROWS]
                latency = float(rng_latency.uniform(2, 20))
                log.record(f"big-{k}-{at}", part, predictions[at : at + REQUEST_ROWS], latency, 200)
            log.flush()
            for segment in converter.convert():
                segment.rename(folder / segment.name)
                written += 1
        log.close()
        for segment in converter.convert():
            segment.rename(folder / segment.name)
            written += 1
    return {"rows": rows, "segments": written, "seconds": time.perf_counter() - started}


# --- the timed children: one check each, one JSON line out -----------------------------------------------------


def child_evidently(reference_path: str, current_path: str) -> dict[str, Any]:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    reference = pd.read_parquet(reference_path, columns=FEATURES)
    current = pd.read_parquet(current_path, columns=FEATURES)
    result = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    features: dict[str, Any] = {}
    counted = None
    for metric in result.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            counted = int(metric["value"]["count"])
        elif config["type"].endswith("ValueDrift"):
            method, threshold, value = config["method"], float(config["threshold"]), float(metric["value"])
            drifted = value < threshold if "p_value" in method else value >= threshold
            features[config["column"]] = {"method": method, "value": value, "threshold": threshold, "drifted": drifted}
    drifted = [name for name in FEATURES if features.get(name, {}).get("drifted")]
    import evidently

    return {"drifted": drifted, "counted": counted, "features": features, "version": evidently.__version__}


def child_scipy_raw(reference_path: str, current_path: str) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from scipy.stats import chi2_contingency, ks_2samp

    reference = pd.read_parquet(reference_path, columns=FEATURES)
    current = pd.read_parquet(current_path, columns=FEATURES)
    features: dict[str, Any] = {}
    for name in FEATURES:
        if name in CATEGORIES:
            table = pd.concat([reference[name].value_counts(), current[name].value_counts()], axis=1).fillna(0)
            test = chi2_contingency(table.to_numpy().T, correction=False)
            features[name] = {"test": "chi2", "statistic": float(test.statistic), "p": float(test.pvalue)}
        else:
            ks = ks_2samp(reference[name].to_numpy(np.float64), current[name].to_numpy(np.float64))
            features[name] = {"test": "ks", "statistic": float(ks.statistic), "p": float(ks.pvalue)}
    return {"drifted": [n for n in FEATURES if features[n]["p"] < P_VALUE], "features": features}


def child_scipy_summary(summary_path: str, current_path: str) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from scipy.stats import chi2_contingency, ks_2samp, kstwo

    summary = json.loads(Path(summary_path).read_text())
    current = pd.read_parquet(current_path, columns=FEATURES)
    features: dict[str, Any] = {}
    for name in FEATURES:
        stored = summary[name]
        if "counts" in stored:
            counts = current[name].astype(str).value_counts() if name in CATEGORIES else current[name].value_counts()
            keys = list(dict.fromkeys([*stored["counts"], *(str(k) for k in counts.index)]))
            by_key = {str(k): int(v) for k, v in counts.items()}
            table = np.array([[stored["counts"].get(k, 0) for k in keys], [by_key.get(k, 0) for k in keys]])
            test = chi2_contingency(table, correction=False)
            features[name] = {"test": "chi2", "statistic": float(test.statistic), "p": float(test.pvalue)}
        else:
            values = current[name].to_numpy(np.float64)
            distance = float(ks_2samp(np.asarray(stored["quantiles"]), values).statistic)
            effective = round(stored["rows"] * len(values) / (stored["rows"] + len(values)))
            features[name] = {"test": "ks", "statistic": distance, "p": float(kstwo.sf(distance, effective))}
    return {"drifted": [n for n in FEATURES if features[n]["p"] < P_VALUE], "features": features}


def _our_features(report: dict[str, Any]) -> dict[str, Any]:
    return {
        f["feature"]: {
            "verdict": f["verdict"],
            "method": f["method"],
            "effect": f["effect"],
            "value": f["effect_size"],
            "threshold": f["threshold"],
            "p": f["p_value"],
            "statistics": f["statistics"],
            "reason": f["reason"],
        }
        for f in report["features"]
    }


def child_ours(profile_path: str, log: str, rows: int, version: str) -> dict[str, Any]:
    """What ``monitor.check`` does for the features' drift, bare: phases timed inside."""
    marks = {"start": time.perf_counter()}
    from mlops_magics.eda.profile import Profile
    from mlops_magics.monitor.report import drift_report
    from mlops_magics.monitor.window import Window, read_window

    marks["imports"] = time.perf_counter()
    reference = Profile.load(Path(profile_path))
    marks["load the stored profile"] = time.perf_counter()
    data = read_window(Path(log), Window.parse(str(rows)), version)
    marks["read and summarise the window"] = time.perf_counter()
    current = data.profile()
    marks["the window's profile"] = time.perf_counter()
    report = drift_report(reference, current, FEATURES)
    marks["drift_report"] = time.perf_counter()
    names = list(marks)
    phases = {name: marks[name] - marks[before] for before, name in itertools.pairwise(names)}
    return {"drifted": report.drifted, "rows": data.rows, "phases": phases, "features": _our_features(report.to_dict())}


def run_child_mode(args: argparse.Namespace) -> None:
    home = Path(args.home) if args.home else None
    if args.child == "data":
        write_data(args.rows, args.current, args.seed)
        result: dict[str, Any] = {}
    elif args.child == "setup":
        assert home is not None
        result = setup(home, args.rows, args.current, Path(args.out))
    elif args.child == "log-big":
        assert home is not None
        result = log_big(home, args.version, args.big, args.seed)
    elif args.child == "teardown":
        assert home is not None
        teardown(home)
        result = {}
    elif args.child == "evidently":
        result = child_evidently(str(data_path("reference", args.rows)), str(data_path("current", args.current)))
    elif args.child == "scipy-raw":
        result = child_scipy_raw(str(data_path("reference", args.rows)), str(data_path("current", args.current)))
    elif args.child == "scipy-summary":
        result = child_scipy_summary(args.summary, str(data_path("current", args.current)))
    elif args.child == "ours":
        result = child_ours(args.profile, args.log, args.current, args.version)
    else:
        raise SystemExit(f"unknown child {args.child!r}")
    print(json.dumps(result, default=str))


# --- measuring ---------------------------------------------------------------------------------------------------


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all processes, all cores), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_idle(max_wait: float, threshold: float = 0.1, quiet_for: int = 3) -> float:
    """Wait (at most ``max_wait`` s) until the machine has been idle (< ``threshold`` cores busy) ``quiet_for`` s."""
    started = time.perf_counter()
    quiet = 0
    while time.perf_counter() - started < max_wait:
        busy = busy_seconds()
        time.sleep(1.0)
        quiet = quiet + 1 if busy_seconds() - busy < threshold else 0
        if quiet >= quiet_for:
            break
    return time.perf_counter() - started


def measure(command: list[str], env: dict[str, str], limit_mb: float | None = None) -> dict[str, Any]:
    """One whole process: wall seconds from outside; its peak RSS (``ru_maxrss`` of ``wait4`` on it, and polled by
    psutil every 0.1 s beside it); its CPU; the rest of the machine's load meanwhile; its last JSON line. Past
    ``limit_mb`` (polled) it is stopped."""
    import psutil

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        busy, started = busy_seconds(), time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=REPO, text=True)
        watched = psutil.Process(child.pid)
        polled, stopped = 0.0, False
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            with contextlib.suppress(psutil.Error):
                polled = max(polled, watched.memory_info().rss / 2**20)
            if limit_mb is not None and polled > limit_mb and not stopped:
                stopped = True
                child.send_signal(signal.SIGKILL)
            time.sleep(0.1)
        wall = time.perf_counter() - started
        busy = busy_seconds() - busy
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here (wait4), not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    cpu = usage.ru_utime + usage.ru_stime
    result = None
    with contextlib.suppress(Exception):
        result = json.loads(stdout) if stdout.lstrip().startswith("{\n") else json.loads(stdout.strip().splitlines()[-1])
    return {
        "rc": child.returncode,
        "wall": wall,
        "cpu": cpu,
        "peak_mb": usage.ru_maxrss / 1024,
        "polled_mb": polled,
        "stopped": stopped,
        "other_load": max(0.0, (busy - cpu) / wall) if wall > 0 else 0.0,
        "result": result,
        "stderr": stderr[-3000:],
    }


def run_tool(tool: str, state: dict[str, Any], args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """One timed run of ``tool``, redone (at most twice) when other work took more than ``--busy-limit`` cores."""
    command = tool_command(tool, state, args)
    for attempt in range(3):
        waited = wait_idle(args.wait_idle)
        if tool in COLD:
            shutil.rmtree(Path(state["log"]) / state["kept"], ignore_errors=True)
        found = measure(command, env)
        found.update(tool=tool, waited=waited, attempt=attempt)
        if found["other_load"] <= args.busy_limit:
            break
    ok = found["rc"] in ((0, 3, 4) if tool.startswith("ours-cli") else (0,)) and found["result"] is not None
    if not ok:
        raise RuntimeError(f"{tool} failed (exit {found['rc']}):\n{found['stderr']}")
    found["drifted"], found["features"] = flags_of(tool, found["result"])
    return found


def tool_command(tool: str, state: dict[str, Any], args: argparse.Namespace) -> list[str]:
    me = str(Path(__file__).resolve())
    sizes = ["--rows", str(args.rows), "--current", str(args.current)]
    if tool == "evidently":
        return [str(EVIDENTLY_PYTHON), me, "--child", "evidently", *sizes]
    if tool == "scipy-raw":
        return [str(PYTHON), me, "--child", "scipy-raw", *sizes]
    if tool == "scipy-summary":
        return [str(PYTHON), me, "--child", "scipy-summary", "--summary", state["summary"], *sizes]
    if tool == "ours":
        return [str(PYTHON), me, "--child", "ours", "--profile", state["profile"], "--log", state["log"], "--version",
                state["version"], *sizes]  # fmt: skip
    return [str(MLOPS), "monitor", DEPLOYMENT, "--window", str(args.current), "--json"]


def import_breakdown(state: dict[str, Any], env: dict[str, str], rows: int, top: int = 8) -> dict[str, Any]:
    """One cold ``mlops monitor`` under ``-X importtime``: the run's wall time (importtime's overhead included), its
    imports' total, and the packages whose import cost most (each package's own root import, wherever it happened:
    one inside another overlaps it, as sqlalchemy inside mlflow)."""
    shutil.rmtree(Path(state["log"]) / state["kept"], ignore_errors=True)
    command = [str(PYTHON), "-X", "importtime", "-m", "mlops_magics.cli", "monitor", DEPLOYMENT, "--window", str(rows)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - started
    total, packages = 0.0, {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cumulative, name = line.split("|")
        if not cumulative.strip().isdigit():
            continue
        seconds = int(cumulative) / 1e6
        if len(name) - len(name.lstrip()) <= 1:  # an import no other import holds (deeper ones are indented more)
            total += seconds
        if "." not in name.strip():
            packages[name.strip()] = max(packages.get(name.strip(), 0.0), seconds)
    ranked = sorted(packages.items(), key=lambda kv: -kv[1])
    return {"wall": wall, "imports": total, "top": ranked[:top]}


def flags_of(tool: str, result: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    if tool.startswith("ours-cli"):
        return list(result["drifted"]), _our_features(result["drift"])
    return list(result["drifted"]), result["features"]


def helper(step: str, args: argparse.Namespace, env: dict[str, str], *extra: str) -> dict[str, Any]:
    """A step that is not timed (data, setup, the 10M log, teardown) in a child of the project's virtualenv."""
    command = [str(PYTHON), str(Path(__file__).resolve()), "--child", step, "--rows", str(args.rows), "--current",
               str(args.current), "--seed", str(args.seed), *extra]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"{step} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class ControllerWatch:
    """The workspace's controller, which runs ``mlops monitor``'s check: its RSS polled every 0.1 s while the check
    runs, and its CPU seconds (user + system) over that time."""

    def __init__(self, home: str) -> None:
        import threading

        import psutil

        self.process = psutil.Process(json.loads((Path(home) / "controller.json").read_text())["pid"])
        self.before_mb = self.process.memory_info().rss / 2**20
        self.peak_mb = self.before_mb
        times = self.process.cpu_times()
        self._cpu0 = times.user + times.system
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.1):
            with contextlib.suppress(Exception):
                self.peak_mb = max(self.peak_mb, self.process.memory_info().rss / 2**20)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        times = self.process.cpu_times()
        return {"before_mb": self.before_mb, "peak_mb": self.peak_mb, "cpu": times.user + times.system - self._cpu0}


def big_check(state: dict[str, Any], args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """Log ``--big`` rows, then one ``mlops monitor`` over them, its memory watched: the shell's process and the
    controller's, which runs the check."""
    logged = helper("log-big", args, env, "--home", state["home"], "--version", state["version"], "--big", str(args.big))
    waited = wait_idle(args.wait_idle)
    command = [str(MLOPS), "monitor", DEPLOYMENT, "--window", str(args.big), "--json"]
    watch = ControllerWatch(state["home"])
    found = measure(command, env, limit_mb=args.big_limit_mb)
    found.update(logged=logged, waited=waited, controller=watch.stop())
    if found["result"] is not None:
        found["drifted"] = found["result"]["drifted"]
        found["rows"] = found["result"]["rows"]
        found["verdict"] = found["result"]["verdict"]
    return found


# --- the report -------------------------------------------------------------------------------------------------


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["wall"])
    return ordered[(len(ordered) - 1) // 2]


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def _flags(drifted: list[str]) -> str:
    planted = set(PLANTED)
    missed = [n for n in PLANTED if n not in drifted]
    false = [n for n in drifted if n not in planted]
    words = ", ".join(drifted) or "none"
    notes = [f"missed {', '.join(missed)}" if missed else "", f"false {', '.join(false)}" if false else ""]
    notes = [n for n in notes if n]
    return f"{words} ({'; '.join(notes)})" if notes else f"{words} (the planted five)"


def report(
    runs: dict[str, list[dict[str, Any]]],
    state: dict[str, Any],
    big: dict[str, Any] | None,
    breakdown: dict[str, Any] | None,
    args: argparse.Namespace,
) -> str:
    lines = [
        f"Reference {args.rows:,} rows, current {args.current:,} rows, 20 features; planted drift: {', '.join(PLANTED)}.",
        f"Stored reference: our profile {state['profile_bytes'] / 1024:.0f} KiB (profile/profile.json of the run), "
        f"scipy summary {state['summary_bytes'] / 1024:.0f} KiB; the current rows in {state['segments']} log segment(s).",
        "",
        "| tool | seconds (median) | runs (s) | peak RSS MiB | polled RSS MiB | CPU s | other load (cores) | flagged |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    medians = {tool: median_run(found) for tool, found in runs.items()}
    for tool, found in runs.items():
        m = medians[tool]
        walls = ", ".join(f"{r['wall']:.2f}" for r in found)
        load = max(r["other_load"] for r in found)
        lines.append(
            f"| {LABELS[tool]} | {m['wall']:.2f} | {walls} | {max(r['peak_mb'] for r in found):,.0f} | "
            f"{max(r['polled_mb'] for r in found):,.0f} | {m['cpu']:.2f} | {load:.2f} | {_flags(m['drifted'])} |"
        )
    if "evidently" in medians:
        base = medians["evidently"]["wall"]
        cpu = medians["evidently"]["cpu"]
        lines += [
            "",
            "| tool | Evidently s / tool s | Evidently CPU s / tool CPU s | tool RSS / Evidently RSS |",
            "|---|---:|---:|---:|",
        ]
        for tool, m in medians.items():
            if tool != "evidently":
                rss = max(r["peak_mb"] for r in runs[tool]) / max(r["peak_mb"] for r in runs["evidently"])
                lines.append(f"| {LABELS[tool]} | {base / m['wall']:.1f}x | {cpu / m['cpu']:.1f}x | {rss:.2f} |")
    if "ours" in medians:
        phases = median_run(runs["ours"])["result"]["phases"]
        lines += ["", "ours, bare, inside the median run: " + "; ".join(f"{k} {v:.2f} s" for k, v in phases.items())]
    if breakdown is not None:
        top = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in breakdown["top"])
        lines += [
            "",
            f"`mlops monitor` under -X importtime: {breakdown['wall']:.2f} s, of it imports {breakdown['imports']:.2f} s; "
            f"the costliest (cumulative): {top}.",
        ]
    lines += ["", per_feature(medians)]
    lines += ["", targets(medians, big)]
    if big is not None:
        lines += ["", big_lines(big, args)]
    return "\n".join(lines)


def per_feature(medians: dict[str, dict[str, Any]]) -> str:
    tools = [tool for tool in medians if tool != "ours-cli-warm"]  # its figures are the cold run's
    head = ["feature", "planted"]
    for tool in tools:
        head.append({"evidently": "Evidently", "scipy-raw": "scipy raw p", "scipy-summary": "scipy summary p",
                     "ours": "ours, bare", "ours-cli": "ours (mlops monitor)"}[tool])  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in FEATURES:
        cells = [name, "yes" if name in PLANTED else ""]
        for tool in tools:
            f = medians[tool]["features"].get(name)
            mark = " **drift**" if name in medians[tool]["drifted"] else ""
            if f is None:
                cells.append("-")
            elif tool == "evidently":
                cells.append(f"{f['method']} {f['value']:.3g} (>= {f['threshold']:g}){mark}")
            elif tool.startswith("scipy"):
                cells.append(f"{f['test']} {f['statistic']:.3g}, p {f['p']:.2g}{mark}")
            else:
                value = f"{f['value']:.3g}" if f["value"] is not None else "-"
                p = f", p {f['p']:.2g}" if f["p"] is not None else ""
                cells.append(f"{f['method']}: {f['effect']} {value} / {f['threshold']}{p}{mark}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(medians: dict[str, dict[str, Any]], big: dict[str, Any] | None) -> str:
    lines = ["| target | measured | result |", "|---|---:|---|"]
    if "evidently" in medians:
        base = medians["evidently"]["wall"]
        for tool in ("ours-cli", "ours-cli-warm", "ours"):
            if tool in medians:
                ratio = base / medians[tool]["wall"]
                what = f">= 25x faster than Evidently, whole process ({LABELS[tool]})"
                lines.append(f"| {what} | {ratio:.1f}x | {verdict(ratio >= 25)} |")
    for tool in ("ours-cli", "ours-cli-warm", "ours"):
        if tool in medians:
            drifted = medians[tool]["drifted"]
            lines.append(f"| the planted five flagged and no other ({tool}) | {_flags(drifted)} | "
                         f"{verdict(sorted(drifted) == sorted(PLANTED))} |")  # fmt: skip
    if big is not None:
        peak = max(big["peak_mb"], big["polled_mb"], big["controller"]["peak_mb"])
        shown = f"> {peak:,.0f} MiB (stopped)" if big["stopped"] else f"{peak:,.0f} MiB (the controller, which runs it)"
        passed = peak <= 2048 and big["rc"] in (0, 3, 4)
        lines.append(f"| check over {big['logged']['rows']:,} logged rows: peak RSS <= 2,048 MiB | {shown} | {verdict(passed)} |")
    return "\n".join(lines)


def big_lines(big: dict[str, Any], args: argparse.Namespace) -> str:
    logged = big["logged"]
    state = "stopped past the limit" if big["stopped"] else f"exit {big['rc']}"
    lines = [
        f"Check over {logged['rows']:,} logged rows ({logged['segments']} segments, {logged['seconds']:.0f} s to write, "
        f"not timed); `mlops monitor {DEPLOYMENT} --window {args.big}`: {big['wall']:.1f} s, peak RSS "
        f"{big['peak_mb']:,.0f} MiB (wait4) / {big['polled_mb']:,.0f} MiB (polled), CPU {big['cpu']:.1f} s, "
        f"other load {big['other_load']:.2f} cores, {state}.",
        f"The controller, which runs the check: RSS {big['controller']['before_mb']:,.0f} MiB before, peak "
        f"{big['controller']['peak_mb']:,.0f} MiB during it (polled every 0.1 s), CPU {big['controller']['cpu']:.1f} s.",
    ]
    if big.get("verdict"):
        lines.append(f"Its verdict: {big['verdict']} over {big['rows']:,} rows; flagged {_flags(big['drifted'])}.")
    elif big["stderr"]:
        lines.append("Its error: " + big["stderr"].strip().splitlines()[-1][:300])
    return "\n".join(lines)


def environment() -> str:
    from importlib.metadata import version

    names = ["pandas", "numpy", "scipy", "pyarrow", "scikit-learn", "mlflow"]
    found = ", ".join(f"{n} {version(n)}" for n in names)
    with open("/proc/meminfo") as meminfo:
        total = int(meminfo.readline().split()[1]) / 2**20
    return f"{os.cpu_count()} CPUs, {total:.1f} GiB RAM, {platform.platform()}; Python {platform.python_version()}, {found}"


# --- main -------------------------------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="reference rows")
    parser.add_argument("--current", type=int, default=100_000, help="current rows (the window checked)")
    parser.add_argument("--big", type=int, default=10_000_000, help="logged rows of the last check (RSS)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool (the median is reported)")
    parser.add_argument("--quick", action="store_true", help="100k x 10k rows, 1 run each, a 1M check, short idle waits")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"a comma-separated subset of {','.join(TOOLS)}")
    parser.add_argument("--skip-big", action="store_true", help="leave out the check over --big logged rows")
    parser.add_argument("--big-limit-mb", type=float, default=8192, help="stop the big check past this RSS (MiB)")
    parser.add_argument("--wait-idle", type=float, default=60, help="seconds to wait at most for an idle machine per run")
    parser.add_argument("--busy-limit", type=float, default=0.25, help="redo a run under more other load (cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every run here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch workspace (its path is printed)")
    # a child's own arguments
    parser.add_argument("--child", help=argparse.SUPPRESS)
    for name in ("--home", "--out", "--summary", "--profile", "--log", "--version"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.current, args.big, args.repeat = 100_000, 10_000, 1_000_000, 1
        args.wait_idle = min(args.wait_idle, 10)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.child:
        run_child_mode(args)
        return
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        raise SystemExit(f"--tools: unknown {', '.join(unknown)}; known: {', '.join(TOOLS)}")
    if "evidently" in tools and not EVIDENTLY_PYTHON.exists():
        raise SystemExit(f"no Evidently virtualenv at {EVIDENTLY_PYTHON.parent.parent} (see this script's docstring)")

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    scratch = Path(tempfile.mkdtemp(prefix="mlops-monitor-bench-"))
    home = scratch / ".mlops"
    env = {**os.environ, "MLOPS_HOME": str(home), "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
    big = breakdown = None
    try:
        say(f"data: {args.rows:,} reference rows, {args.current:,} current rows ({DATA})")
        helper("data", args, env)
        say(f"setup: train, track, deploy, send the current rows (workspace {home})")
        (scratch / "stored").mkdir()
        state = helper("setup", args, env, "--home", str(home), "--out", str(scratch / "stored"))
        say(f"  tracked in {state['track_s']:.1f} s; {state['segments']} segment(s) logged")
        for path in (data_path("reference", args.rows), data_path("current", args.current)):
            path.read_bytes()  # in the page cache for every tool alike
        for round_ in range(args.repeat):
            for tool in tools:
                found = run_tool(tool, state, args, env)
                runs[tool].append(found)
                say(f"  round {round_ + 1} {tool}: {found['wall']:.2f} s, {found['peak_mb']:,.0f} MiB, "
                    f"other load {found['other_load']:.2f}, flagged {', '.join(found['drifted']) or 'none'}")  # fmt: skip
        if any(tool.startswith("ours-cli") for tool in tools):
            breakdown = import_breakdown(state, env, args.current)
            say(f"  importtime: {breakdown['imports']:.2f} s of imports in {breakdown['wall']:.2f} s")
        if not args.skip_big:
            say(f"big: logging {args.big:,} rows, then mlops monitor over them")
            big = big_check(state, args, env)
            say(f"  {big['wall']:.1f} s, peak {max(big['peak_mb'], big['polled_mb']):,.0f} MiB, exit {big['rc']}")
    finally:
        with contextlib.suppress(Exception):
            helper("teardown", args, env, "--home", str(home))
        if args.keep:
            say(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"Machine: {environment()}; Evidently {runs.get('evidently', [{}])[0].get('result', {}).get('version', '-')}")
    print(report(runs, state, big, breakdown, args))
    if args.json:
        every = {"state": state, "runs": runs, "big": big, "breakdown": breakdown}
        args.json.write_text(json.dumps(every, indent=2, default=str))


if __name__ == "__main__":
    main()
