"""`%monitor`'s prediction drift and performance from feedback labels ("decay") on a real deployment: a model trained
through the training path (so its predictions on the training data are profiled), served on a real port, sent
traffic and then the true labels of that traffic through POST /feedback."""

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

from mlops_magics import tracking
from mlops_magics.errors import InvalidInput
from mlops_magics.monitor.check import NO_REFERENCE_PREDICTIONS, MonitorOrder, carry_out, check
from mlops_magics.monitor.feedback import read_feedback
from mlops_magics.monitor.performance import Limit, limits_from, performance
from mlops_magics.monitor.summary import RequestSummary
from mlops_magics.monitor.window import Window, WindowData
from mlops_magics.train.run import PREDICTIONS_ARTIFACT, prediction_frame
from tests.test_monitor_check import draw, loans_deployed, register, wait_logged

ACCURACY = [Limit("accuracy", "min", 0.85)]


def truth(frame: pd.DataFrame) -> np.ndarray:
    """The relation the model was trained on (``register``)."""
    return (frame.age + frame.income > 0).astype(int).to_numpy()


def send_labelled(view: dict, frame: pd.DataFrame, labels: np.ndarray | None, batch: int = 25) -> int:
    """Requests of ``frame``; then, when ``labels`` is given, each row's label as feedback for its request."""
    for start in range(0, len(frame), batch):
        rows = frame.iloc[start : start + batch]
        answer = httpx.post(f"{view['url']}/invocations", json={"dataframe_split": rows.to_dict("split")}, timeout=30)
        assert answer.status_code == 200, answer.text
        if labels is None:
            continue
        request_id = answer.headers["x-request-id"]
        items = [{"request_id": request_id, "row": i, "label": int(labels[start + i])} for i in range(len(rows))]
        given = httpx.post(f"{view['url']}/feedback", json=items, timeout=30)
        assert given.status_code == 200, given.text
    return len(frame)


def logged(folder: Path, kind: str) -> int:
    return sum(len(pd.read_parquet(p, columns=["row"])) for p in folder.glob(f"{kind}-*.parquet"))


def wait_labels(folder: Path, labels: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    found = 0
    while time.monotonic() < deadline:
        found = logged(folder, "feedback")
        if found >= labels:
            return
        time.sleep(0.3)
    raise AssertionError(f"{found} of {labels} labels logged after {timeout} s")


def flipped(labels: np.ndarray, share: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = labels.copy()
    chosen = rng.choice(len(out), int(share * len(out)), replace=False)
    out[chosen] = 1 - out[chosen]
    return out


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    yield from loans_deployed(tmp_path_factory, "decay")


def test_feedback_labels_no_feedback_then_right_then_worse_and_prediction_drift(deployed) -> None:
    workspace, controller, view = deployed
    folder = workspace.requests / "loans"

    # traffic without labels: nothing to judge
    sent = send_labelled(view, draw(400, seed=11), None)
    wait_logged(folder, sent)
    quiet = check(workspace, "loans", "400", controller=controller, limits=ACCURACY)
    assert quiet.verdict == "no drift", repr(quiet)
    assert quiet.performance.verdict == "not enough feedback"
    assert quiet.performance.reason == "not enough feedback (0 labelled rows)"
    assert quiet.prediction_drift.verdict == "no drift" and quiet.prediction_drift.method == "counts"
    assert "prediction drift: no drift" in repr(quiet) and "performance: not enough feedback" in repr(quiet)

    # the true labels: as good as in training, within the limit
    right = draw(400, seed=12)
    sent += send_labelled(view, right, truth(right))
    wait_logged(folder, sent)
    wait_labels(folder, 400)
    good = check(workspace, "loans", "400", controller=controller, limits=ACCURACY)
    assert good.verdict == "no drift" and good.findings == [], repr(good)
    found = good.performance
    assert found.verdict == "no decay" and found.labelled == 400 and found.task == "classification"
    assert found.reference == "train" and [m.metric for m in found.metrics] == ["accuracy", "f1", "roc_auc"]
    accuracy = found.metrics[0]
    assert accuracy.value > 0.95 and accuracy.reference > 0.95 and not accuracy.crossed
    assert found.metrics[2].value is None and "probabilities" in found.metrics[2].note
    assert "within the limits (--min accuracy=0.85) on 400 labelled rows" in found.reason

    # labels of a world that moved away from the model (40% flipped): decay, naming the metric
    worse = draw(400, seed=13)
    sent += send_labelled(view, worse, flipped(truth(worse), 0.4, seed=14))
    wait_logged(folder, sent)
    wait_labels(folder, 800)
    decayed = check(workspace, "loans", "400", controller=controller, limits=ACCURACY)
    assert decayed.verdict == "decay" and decayed.findings == ["decay"], repr(decayed)
    assert decayed.performance.decayed == ["accuracy"] and decayed.performance.labelled == 400
    assert decayed.reason.startswith("accuracy 0.") and "below the minimum 0.85" in decayed.reason
    assert 0.5 < decayed.performance.metrics[0].value < 0.7
    page = decayed._repr_html_()
    assert "performance: <b style='color:#c0392b'>decay</b>" in page and page.count("background:#fdecea") == 1
    assert "decay *" in repr(decayed)
    assert decayed.to_dict()["performance"]["decayed"] == ["accuracy"]

    # without limits the metrics are measured, not judged; the order's --min goes through
    measured = check(workspace, "loans", "400", controller=controller)
    assert measured.verdict == "no drift" and measured.performance.verdict == "no decay"
    assert "no --min/--max limit set" in measured.performance.reason
    ordered = carry_out(workspace, MonitorOrder("loans", "400", minimums={"f1": "0.9"}), controller)
    assert ordered is not None and ordered.verdict == "decay" and ordered.performance.decayed == ["f1"]

    # the shell face: exit 4 on decay
    env = {**os.environ, "MLOPS_HOME": str(workspace.home)}
    shell = subprocess.run(
        [sys.executable, "-m", "mlops_magics.cli", "monitor", "loans", "--window", "400", "--min", "accuracy=0.85"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert shell.returncode == 4, shell.stderr
    assert shell.stdout.startswith("loans (loans v1): decay - accuracy") and "performance: decay" in shell.stdout

    # traffic whose predictions shift (age moved up: the model says 1 far more often); the features checked are
    # left as they were, so the drift found is the predictions'
    sent += send_labelled(view, draw(400, seed=15, shift={"age": 1.5}), None)
    wait_logged(folder, sent)
    moved = check(workspace, "loans", "400", features=["score", "visits"], controller=controller)
    assert moved.drifted == [] and moved.prediction_drift.verdict == "drift", repr(moved)
    assert moved.verdict == "drift" and moved.findings == ["drift"]
    assert moved.prediction_drift.method == "counts" and moved.prediction_drift.effect_size > 0.2
    assert f"the predictions drifted ({moved.prediction_drift.effect} " in moved.reason
    assert f"prediction drift: drift - {moved.prediction_drift.effect} " in repr(moved)
    print(repr(decayed), repr(moved), sep="\n")
    assert moved.performance.reason == "not enough feedback (0 labelled rows)"


def test_a_model_without_reference_predictions_says_how_to_get_them(deployed) -> None:
    workspace, controller, view = deployed
    version = register(workspace, "loans")
    client = tracking.mlflow_for(workspace).MlflowClient()
    run = client.get_model_version("loans", version).run_id
    artifacts = Path(client.get_run(run).info.artifact_uri.removeprefix("file://"))
    (artifacts / PREDICTIONS_ARTIFACT).unlink()
    controller.deploy("loans", {"model": f"loans/{version}", "port": view["spec"]["port"]})
    old = check(workspace, "loans", "1h", controller=controller)  # no rows of this version yet
    assert old.prediction_drift.reason == NO_REFERENCE_PREDICTIONS
    folder = workspace.requests / "loans"
    rows, labels = logged(folder, "requests"), logged(folder, "feedback")
    few = draw(10, seed=21)
    sent = send_labelled(view, few, truth(few))
    wait_logged(folder, rows + sent)
    wait_labels(folder, labels + sent)
    result = check(workspace, "loans", "1h", controller=controller, limits=ACCURACY)
    assert result.rows == 10 and result.prediction_drift.verdict == "not comparable"
    assert result.prediction_drift.reason == "no reference predictions: retrain with %%train to log them"
    assert f"prediction drift: not comparable - {NO_REFERENCE_PREDICTIONS}" in repr(result)
    assert result.performance.reason == "not enough feedback (10 labelled rows)"


def test_limits_are_named_the_way_their_metric_points() -> None:
    assert limits_from({"accuracy": "0.85", "f1": "0.8"}) == [Limit("accuracy", "min", 0.85), Limit("f1", "min", 0.8)]
    assert limits_from(None, {"rmse": "3", "mae": "2"}) == [Limit("rmse", "max", 3.0), Limit("mae", "max", 2.0)]
    for minimums, maximums, words in (
        ({"rmse": "3"}, {}, "--min rmse: rmse is better smaller, so its limit is a maximum: --max rmse=3"),
        ({}, {"accuracy": "0.9"}, "--max accuracy: accuracy is better larger, so its limit is a minimum: --min accuracy=0.9"),
        ({"acuracy": "0.9"}, {}, "--min: no metric named 'acuracy'"),
        ({"accuracy": "high"}, {}, "--min accuracy: 'high' is not a number"),
        ({"accuracy": "0.9"}, {"rmse": "3"}, "metrics of classification and of regression together"),
    ):
        with pytest.raises(InvalidInput) as refused:
            limits_from(minimums, maximums)
        assert words in refused.value.message


def _segment(folder: Path, kind: str, name: str, table: pd.DataFrame, age_s: float, now: float) -> None:
    path = folder / f"{kind}-{name}.parquet"
    table.to_parquet(path)
    os.utime(path, (now - age_s, now - age_s))


def test_feedback_read_since_the_window_start_latest_label_kept_corrupt_skipped(tmp_path: Path) -> None:
    now = time.time()

    def labels(ids: list[str], values: list[float], age_s: float) -> pd.DataFrame:
        at = pd.to_datetime([now - age_s] * len(ids), unit="s", utc=True)
        return pd.DataFrame({"request_id": ids, "row": 0, "label": values, "time": at})

    _segment(tmp_path, "feedback", "old", labels(["a", "b"], [1.0, 2.0], 7200), 7200, now)
    _segment(tmp_path, "feedback", "new", labels(["b", "c"], [5.0, 6.0], 60), 60, now)
    (tmp_path / "feedback-99991231-broken.parquet").write_bytes(b"PAR1 not parquet")
    recent = read_feedback(tmp_path, since=now - 3600)
    assert recent.segments_read == 1 and sorted(recent.labels.request_id) == ["b", "c"]
    assert [s.segment for s in recent.skipped] == ["feedback-99991231-broken.parquet"]
    everything = read_feedback(tmp_path)
    assert dict(zip(everything.labels.request_id, everything.labels.label, strict=True)) == {"a": 1.0, "b": 5.0, "c": 6.0}
    assert read_feedback(tmp_path / "none").labels.empty


def test_regression_performance_beside_the_eval_metrics() -> None:
    rng = np.random.default_rng(3)
    rows = 200
    predicted = rng.normal(10, 2, rows)
    traffic = pd.DataFrame(
        {
            "request_id": [f"r{i // 10}" for i in range(rows)],
            "row": [i % 10 for i in range(rows)],
            "prediction": predicted,
            "status": 200,
            "latency_ms": 1.0,
            "time": pd.Timestamp.now(tz="UTC"),
            "model_version": "1",
        }
    )
    traffic.loc[0, "status"] = 500  # a failed request: no prediction, not scored
    traffic.loc[0, "prediction"] = np.nan
    data = WindowData(Window.parse("1h"), RequestSummary(rows=rows), traffic)
    labels = traffic[["request_id", "row"]].assign(label=predicted + rng.normal(0, 4, rows), time=traffic.time)
    from mlops_magics.monitor.feedback import Feedback

    run = {"eval_rmse": 1.0, "eval_mae": 0.8, "eval_r2": 0.9, "train_rmse": 0.5}
    found = performance(data, Feedback(labels), run, None, limits_from(None, {"rmse": "3"}))
    assert found.task == "regression" and found.reference == "eval" and found.labelled == rows - 1
    assert [m.metric for m in found.metrics] == ["rmse", "mae", "r2"] and found.metrics[0].reference == 1.0
    assert found.verdict == "decay" and found.decayed == ["rmse"] and "above the maximum 3" in found.reason
    held = performance(data, Feedback(labels), run, "regression", limits_from(None, {"rmse": "5"}))
    assert held.verdict == "no decay" and held.metrics[0].value == pytest.approx(4, abs=0.6)


def test_the_predictions_profiled_at_training() -> None:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    x = draw(300, seed=31)
    classes = LogisticRegression().fit(x, truth(x))
    frame = prediction_frame(classes, x)
    assert list(frame.columns) == ["prediction", "probability"] and set(frame.prediction) == {0, 1}
    assert frame.probability.between(0, 1).all()
    three = LogisticRegression().fit(x, truth(x) + (x.score > 1).to_numpy())
    assert list(prediction_frame(three, x).columns) == ["prediction"]  # several classes: the label only
    values = LinearRegression().fit(x, x.age * 2)
    assert list(prediction_frame(values, x).columns) == ["prediction"]
    outputs = LinearRegression().fit(x, np.c_[x.age, x.income])
    with pytest.raises(ValueError, match=r"\(2,\) outputs per row"):
        prediction_frame(outputs, x)
