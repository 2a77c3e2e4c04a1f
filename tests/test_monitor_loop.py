"""The closed loop end to end, on a real deployment on a real port: a standing monitor sees drift, its alert starts
the retrain job, which reads the new training set in one call, retrains from the champion, passes the review and
swaps the deployment, with no failed request under a client loop; then a deliberately bad version swapped in by
hand is found worse on its feedback labels and rolled back automatically. The loop's record links every step."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlops_magics import tracking
from mlops_magics.controller import Controller
from mlops_magics.errors import InvalidInput
from mlops_magics.monitor import actions
from mlops_magics.monitor.training import training_set
from mlops_magics.monitor.watch import judge
from mlops_magics.monitor.window import Window
from mlops_magics.train.background import WRITER
from mlops_magics.train.run import TrainRequest, track
from mlops_magics.train.tracker import MLflowTracker
from mlops_magics.workspace import Workspace
from tests.test_jobs import notebook, wait_for
from tests.test_monitor_check import FEATURES, draw, register
from tests.test_monitor_decay import send_labelled, wait_labels
from tests.test_monitors import order, until
from tests.test_serving import free_port

THRESHOLD = 0.8  # the live labels' relation: age + income > 0.8 (the model learnt > 0)

RETRAIN = """\
%load_ext mlops_magics
import numpy as np, pandas as pd
from mlops_magics import training_set

new = training_set(deployment, since=window)
print(new)
rng = np.random.default_rng(0)
X_old = pd.DataFrame(rng.normal(0.0, 1.0, (2000, 4)), columns=['age', 'income', 'score', 'visits'])
y_old = pd.Series((X_old.age + X_old.income > 0).astype(int), name='label')
fit_on, X_test, y_test = new.held_out(0.3)  # the newest 30% judge the retrained model
X_train, y_train = fit_on.combined(X_old, y_old)
y_test = y_test.astype(int)
"""
TRAIN = "%train --from loans@champion --data X_train,y_train --eval X_test,y_test --model loans"
REVIEW = "review = %review loans --data X_test,y_test --metric f1 --deploy loans\nprint(review.summary())"


def live_labels(frame: pd.DataFrame) -> np.ndarray:
    return (frame.age + frame.income > THRESHOLD).astype(int).to_numpy()


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    """A workspace with 'loans' v1 promoted champion and deployed as loans@champion on a free port."""
    import os

    home = tmp_path_factory.mktemp("loop") / ".mlops"
    os.environ["MLOPS_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    workspace = Workspace(home)
    register(workspace, "loans")
    client = tracking.mlflow_for(workspace).MlflowClient(workspace.tracking_uri)
    client.set_registered_model_alias("loans", "champion", "1")
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("loans", {"model": "loans@champion", "port": free_port()})
    yield workspace, controller, view
    from tests.conftest import stop_controller

    stop_controller(workspace)
    os.environ.pop("MLOPS_HOME", None)


class ClientLoop:
    """Requests sent one after another from a thread until stopped; every answer's status kept."""

    def __init__(self, url: str) -> None:
        self.url, self.statuses, self.versions = url, [], set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rows = draw(5, seed=99, shift={"income": 1.0})
        body = {"dataframe_split": rows.to_dict("split")}
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                try:
                    answer = client.post(f"{self.url}/invocations", json=body)
                    self.statuses.append(answer.status_code)
                    self.versions.add(answer.headers.get("x-model-version"))
                except httpx.HTTPError as exc:
                    self.statuses.append(type(exc).__name__)
                time.sleep(0.02)

    def __enter__(self) -> ClientLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def steps(incident: dict[str, Any]) -> list[tuple[str, str]]:
    return [(step["step"], step["state"]) for step in incident["steps"]]


def test_drift_retrains_passes_the_gate_swaps_without_a_failed_request_then_a_worse_version_is_rolled_back(champion) -> None:
    workspace, controller, view = champion
    folder = workspace.requests / "loans"
    shifted = draw(300, seed=5, shift={"income": 1.0})
    send_labelled(view, shifted, live_labels(shifted))
    wait_labels(folder, 300)

    # the new training set, in one call: the labelled requests, and what the deployment serves
    new = training_set(workspace, controller, "loans", since="1h")
    assert new.rows == 300 and list(new.X.columns) == FEATURES and new.y.astype(int).tolist() == live_labels(shifted).tolist()
    assert new.reference["model"] == "loans" and new.reference["version"] == "1" and new.reference["data_sha256"]
    with pytest.raises(InvalidInput, match="give a duration"):
        training_set(workspace, controller, "loans", since="last tuesday")

    notebook(
        workspace.root / "retrain.ipynb",
        RETRAIN,
        TRAIN,
        REVIEW,
        parameters="deployment = 'loans'\nwindow = '1h'\nmonitor = ''\ndrifted = ''",
    )
    controller.put_job("retrain-loans", {"notebook": "retrain.ipynb", "on_event": "alert:loans", "timeout_s": 600})
    with ClientLoop(view["url"]) as loop:
        actions.carry_out(controller, order("loans --every 10s --window 1h --on-drift retrain=retrain-loans"))
        alert = until(lambda: [a for a in controller.alerts() if a["run"] is not None], timeout=90)[0]
        assert (alert["kind"], alert["job"], alert["run"]) == ("drift", "retrain-loans", 1)
        run = wait_for(controller, "retrain-loans", 1, timeout=240)
        assert run["state"] == "succeeded", run
        served = until(lambda: controller.deployment("loans")["version"] == "2", timeout=60)
        assert served
        time.sleep(1.0)  # requests on both sides of the swap
    failed = [status for status in loop.statuses if status != 200]
    assert len(loop.statuses) > 50 and failed == [], failed[:5]
    assert controller.deployment("loans")["spec"]["model"] == "loans/2"

    monitor = controller.monitor("loans")
    assert monitor["watching"]["version"] == "2" and monitor["watching"]["previous_version"] == "1"
    first = controller.monitor_timeline("loans")[0]
    assert first["alert"]["id"] == alert["id"]
    assert steps(first) == [
        ("alert", "done"),
        ("retrain", "done"),
        ("model", "done"),
        ("review", "done"),
        ("swap", "done"),
        ("watch", "running"),
    ], first
    assert "passed the gates" in first["steps"][3]["message"] and first["steps"][4]["message"] == "v1 -> v2"

    # v2 serves labelled traffic; then a deliberately bad version is swapped in by hand
    before = draw(200, seed=6, shift={"income": 1.0})
    send_labelled(view, before, live_labels(before))
    wait_labels(folder, 500)
    x = draw(2000, seed=0)
    bad = LogisticRegression().fit(x, 1 - (x.age + x.income > 0).astype(int))  # every label flipped
    track(
        MLflowTracker(workspace),
        bad,
        TrainRequest(experiment="monitor", data=(x, pd.Series(0, index=x.index)), model_name="loans"),
    )
    WRITER.flush()
    spec = {**controller.deployment("loans")["spec"], "model": "loans/3"}
    assert controller.deploy("loans", spec)["version"] == "3"
    after = draw(200, seed=7, shift={"income": 1.0})
    send_labelled(view, after, live_labels(after))
    wait_labels(folder, 700)

    controller.check_monitor("loans")
    assert controller.deployment("loans")["version"] == "2"  # rolled back, to the exact version
    rollback = [a for a in controller.alerts() if a["kind"] == "rollback"]
    assert len(rollback) == 1 and "rolled back to v2" in rollback[0]["message"] and "f1" in rollback[0]["message"]
    assert controller.monitor("loans")["watching"] is None
    # a swap leaves the new version with no rows for a moment: that is not "no traffic"
    assert [a["kind"] for a in controller.alerts() if a["kind"] == "no traffic"] == []
    incidents = controller.monitor_timeline("loans")
    by_hand = incidents[0]
    assert by_hand["alert"] is None and steps(by_hand)[-3:] == [("swap", "done"), ("watch", "failed"), ("rollback", "done")]
    assert steps(incidents[1])[-1] == ("watch", "done") and "superseded" in incidents[1]["steps"][-1]["message"]
    lines = actions.carry_out(controller, order("timeline loans")).lines
    assert lines[0] == "a swap without an alert" and any("rollback [done]: rolled back to v2" in line for line in lines)


def _segment(folder: Path, name: str, frame: pd.DataFrame, written: float) -> None:
    import os

    path = folder / f"requests-{name}.parquet"
    frame.to_parquet(path)
    os.utime(path, (written, written))


def _traffic(rows: int, version: str, start: float, failed: int = 0) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "request_id": [f"{version}-{i // 10}" for i in range(rows)],
            "row": [i % 10 for i in range(rows)],
            "prediction": [1] * rows,
            "status": [500] * failed + [200] * (rows - failed),
            "latency_ms": [1.0] * rows,
            "time": pd.to_datetime([start + i * 0.1 for i in range(rows)], unit="s", utc=True),
            "model_version": [version] * rows,
            "input.age": np.arange(rows, dtype=float),
        }
    )
    return frame


def test_the_watch_judges_error_rates_and_waits_for_enough_rows(tmp_path: Path) -> None:
    now = time.time()
    swapped = now - 60
    _segment(tmp_path, "a", _traffic(200, "1", swapped - 100, failed=2), swapped - 1)
    window = Window.parse("1h")

    few = _traffic(20, "2", swapped + 1, failed=20)
    _segment(tmp_path, "b", few, swapped + 5)
    early = judge(tmp_path, window, "2", "1", swapped, 0.05, now=now)
    assert early.outcome == "watching" and early.new.rows == 20 and early.previous.error_rate == 0.01  # too few to judge

    _segment(tmp_path, "c", _traffic(100, "2", swapped + 10, failed=10), swapped + 30)
    worse = judge(tmp_path, window, "2", "1", swapped, 0.05, now=now)
    assert worse.outcome == "roll back" and "25.0% of 120 rows failed (5xx), against 1.0% before" in worse.message

    same = judge(tmp_path, window, "2", "1", swapped, 0.5, now=now)
    assert same.outcome == "watching"
    kept = judge(tmp_path, Window.parse("100"), "2", "1", swapped, 0.5, now=now)  # its first 100 rows are its window
    assert kept.outcome == "kept" and kept.new.rows == 100 and "not worse" in kept.message
