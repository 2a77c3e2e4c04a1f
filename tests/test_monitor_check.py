"""`%monitor`'s one-shot check on a real deployment: a model trained through the training path (so its training
profile is logged), served on a real port, sent traffic; the check reads the request log it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlops_magics import tracking
from mlops_magics.controller import Controller
from mlops_magics.errors import InvalidInput, NotFound
from mlops_magics.monitor.check import MonitorOrder, carry_out, check, thresholds_from
from mlops_magics.monitor.window import Window, read_window
from mlops_magics.train.background import WRITER
from mlops_magics.train.run import PROFILE_ARTIFACT, TrainRequest, track
from mlops_magics.train.tracker import MLflowTracker
from mlops_magics.workspace import Workspace
from tests.test_serving import free_port

FEATURES = ["age", "income", "score", "visits"]


def draw(rows: int, seed: int, shift: dict[str, float] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(0.0, 1.0, (rows, len(FEATURES))), columns=FEATURES)
    for name, by in (shift or {}).items():
        frame[name] += by
    return frame


def register(workspace: Workspace, name: str) -> str:
    x = draw(2000, seed=0)
    y = pd.Series((x.age + x.income > 0).astype(int), name="label")
    model = LogisticRegression().fit(x, y)
    result = track(MLflowTracker(workspace), model, TrainRequest(experiment="monitor", data=(x, y), model_name=name))
    WRITER.flush()
    return result.version


def send(view: dict, frame: pd.DataFrame, batch: int = 25) -> int:
    for start in range(0, len(frame), batch):
        rows = frame.iloc[start : start + batch]
        answer = httpx.post(f"{view['url']}/invocations", json={"dataframe_split": rows.to_dict("split")}, timeout=30)
        assert answer.status_code == 200, answer.text
    return len(frame)


def wait_logged(folder: Path, rows: int, timeout: float = 20) -> None:
    """Until the request log holds ``rows`` rows (the log writes its segments every one to two seconds)."""
    deadline = time.monotonic() + timeout
    logged = 0
    while time.monotonic() < deadline:
        logged = sum(len(pd.read_parquet(p, columns=["row"])) for p in folder.glob("requests-*.parquet"))
        if logged >= rows:
            return
        time.sleep(0.3)
    raise AssertionError(f"{logged} of {rows} rows logged after {timeout} s")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    yield from loans_deployed(tmp_path_factory, "monitor")


def loans_deployed(tmp_path_factory, folder: str):
    """A workspace of its own with the 'loans' model trained, registered and deployed on a free port."""
    home = tmp_path_factory.mktemp(folder) / ".mlops"
    os.environ["MLOPS_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    workspace = Workspace(home)
    register(workspace, "loans")
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("loans", {"model": "loans@challenger", "port": free_port()})
    yield workspace, controller, view
    from tests.conftest import stop_controller

    stop_controller(workspace)
    os.environ.pop("MLOPS_HOME", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)


def test_no_traffic_then_same_distribution_then_two_shifted_features(deployed) -> None:
    workspace, controller, view = deployed
    folder = workspace.requests / "loans"

    quiet = check(workspace, "loans", "1h", controller=controller)
    assert quiet.verdict == "no data" and quiet.rows == 0 and quiet.error_rate is None
    assert "no rows" in quiet.reason and "no data" in repr(quiet)

    sent = send(view, draw(400, seed=1))
    wait_logged(folder, sent)
    same = check(workspace, "loans", "400", controller=controller)
    assert same.verdict == "no drift", repr(same)
    assert same.rows == 400 and same.requests == 16 and same.version == "1"
    assert [f.feature for f in same.drift.features] == FEATURES  # the signature's inputs: the label is left out
    assert same.error_rate == 0.0 and same.client_error_rate == 0.0 and 0 < same.latency_p50_ms <= same.latency_p95_ms

    sent += send(view, draw(400, seed=2, shift={"income": 1.0, "visits": -0.8}))
    wait_logged(folder, sent)
    shifted = check(workspace, "loans", "400", controller=controller)
    assert shifted.verdict == "drift" and shifted.drifted == ["income", "visits"], repr(shifted)
    assert shifted.prediction_drift.verdict == "drift" and shifted.findings == ["drift"]
    page = shifted._repr_html_()
    assert page.count("background:#fdecea") == 2 and "2 of 4 feature(s) drifted" in page
    as_dict = shifted.to_dict()
    assert as_dict["drifted"] == ["income", "visits"] and as_dict["drift"]["features"][1]["verdict"] == "drift"

    # the last hour holds both halves; the order's thresholds and features go through as asked
    # (the thresholds judge the predictions too: income moved, so did they)
    loose = {"wasserstein": "5", "psi": "5", "jensen_shannon": "0.5"}
    wide = carry_out(workspace, MonitorOrder("loans", "1h", loose, ["income"]), controller)
    assert wide is not None and wide.rows == 800 and wide.verdict == "no drift" and wide.drift.thresholds.wasserstein == 5
    assert wide.prediction_drift.verdict == "no drift"

    # the shell face: plain text, exit 3 on drift
    env = {**os.environ, "MLOPS_HOME": str(workspace.home)}
    shell = subprocess.run(
        [sys.executable, "-m", "mlops_magics.cli", "monitor", "loans", "--window", "400"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert shell.returncode == 3, shell.stderr
    assert shell.stdout.startswith("loans (loans v1): drift") and "income" in shell.stdout

    # a corrupt segment and a cut-short one, newest of all: skipped and named, the check goes on
    good = next(iter(folder.glob("requests-*.parquet")))
    (folder / "requests-29991231T235959-broken.parquet").write_bytes(b"PAR1 not parquet at all")
    (folder / "requests-29991231T235959-halfway.parquet").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    damaged = check(workspace, "loans", "400", controller=controller)
    assert damaged.verdict == "drift" and damaged.drifted == ["income", "visits"] and damaged.rows == 400
    assert sorted(s.segment for s in damaged.skipped) == [
        "requests-29991231T235959-broken.parquet",
        "requests-29991231T235959-halfway.parquet",
    ]
    assert "2 log segment(s) could not be read and were skipped" in repr(damaged)


def test_unknown_deployment_a_model_without_profile_and_bad_input(deployed) -> None:
    workspace, controller, view = deployed
    with pytest.raises(NotFound) as unknown:
        check(workspace, "nowhere", controller=controller)
    assert "no deployment named 'nowhere'" in unknown.value.message and "\n" not in unknown.value.message

    # rows of another version than the one checked are left out, and counted
    logged = read_window(workspace.requests / "loans", Window.parse("1d"), version="2")
    assert logged.rows == 0 and logged.other_versions >= 800

    version = register(workspace, "loans")  # a second version, whose training profile is then lost
    client = tracking.mlflow_for(workspace).MlflowClient()
    run = client.get_model_version("loans", version).run_id
    artifacts = Path(client.get_run(run).info.artifact_uri.removeprefix("file://"))
    (artifacts / PROFILE_ARTIFACT).unlink()
    controller.deploy("loans", {"model": f"loans/{version}", "port": view["spec"]["port"]})
    with pytest.raises(NotFound) as missing:
        check(workspace, "loans", controller=controller)
    assert missing.value.message == (
        f"loans v{version} (served by 'loans') has no training profile: train it with %%train --data X,y to log one"
    )

    for bad, words in (
        (lambda: Window.parse("1w"), "--window takes a duration"),
        (lambda: Window.parse("0"), "--window takes a duration"),
        (lambda: thresholds_from({"wasserstien": "0.2"}), "no threshold named 'wasserstien'"),
        (lambda: thresholds_from({"psi": "high"}), "--threshold psi: 'high' is not a number"),
        (lambda: thresholds_from({}, "wasserstein,chi2"), "no drift test named 'chi2'; known: wasserstein, psi, jensen_shannon"),
        (lambda: thresholds_from({"psi": "-1"}), "threshold psi must be a positive number"),
    ):
        with pytest.raises(InvalidInput) as refused:
            bad()
        assert words in refused.value.message


def test_the_window_reads_newest_segments_first_and_stops_once_covered(tmp_path: Path) -> None:
    now = time.time()

    def segment(name: str, age_s: float, versions: list[str]) -> None:
        at = pd.to_datetime([now - age_s - 1] * len(versions), unit="s", utc=True)
        table = pd.DataFrame(
            {
                "request_id": [f"{name}-{i}" for i in range(len(versions))],
                "row": 0,
                "input.x": np.arange(len(versions), dtype=float),
                "prediction": 1,
                "latency_ms": 1.0,
                "status": 200,
                "time": at,
                "model": "models:/m@champion",
                "model_version": versions,
            }
        )
        path = tmp_path / f"requests-{name}.parquet"
        table.to_parquet(path)
        os.utime(path, (now - age_s, now - age_s))

    segment("old", 7200, ["1"] * 5)
    segment("middle", 600, ["1"] * 3)
    segment("new", 60, ["1", "2", "2", "2"])
    # every row labelled: the rows of the window that the performance join gets are the window's rows
    labels = pd.DataFrame(
        {"request_id": [f"{n}-{i}" for n, rows in (("old", 5), ("middle", 3), ("new", 4)) for i in range(rows)]}
    )
    labels["row"] = 0
    for again in (False, True):  # the second time from the summaries kept beside the segments
        last_hour = read_window(tmp_path, Window.parse("1h"), version="2", now=now, labels=labels)
        assert last_hour.segments_read == 2 and last_hour.rows == 3 and last_hour.other_versions == 4
        assert list(last_hour.summary.inputs) == ["x"] and sorted(last_hour.traffic.request_id) == ["new-1", "new-2", "new-3"]
        assert last_hour.summary.requests == 3 and last_hour.since == now - 3600
        last_rows = read_window(tmp_path, Window.parse("6"), now=now, labels=labels)
        assert last_rows.segments_read == 2 and last_rows.rows == 6 and last_rows.since == pytest.approx(now - 601)
        assert sorted(last_rows.traffic.request_id) == ["middle-1", "middle-2", "new-0", "new-1", "new-2", "new-3"]
        x = last_rows.profile().column("x")
        assert (x["min"], x["max"], x["mean"]) == (0.0, 3.0, 1.5)  # middle's x 1, 2 and new's 0..3
        everything = read_window(tmp_path, Window.parse("2d"), now=now)
        assert everything.rows == 12 and everything.skipped == [] and read_window(tmp_path / "none", Window.parse("5")).rows == 0
        kept = sorted(p.name for p in (tmp_path / ".summaries").iterdir())
        assert kept == [f"requests-{name}.parquet.json" for name in ("middle", "new", "old")], again
