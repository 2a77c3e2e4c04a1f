"""A model deployment answered over HTTP on a real port: every payload format, every bad input, the token,
kill -9, a swap under a steady client loop, rollback, the request log, feedback, metrics, docs, user apps."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from mlops_magics import tracking
from mlops_magics.controller import Controller
from mlops_magics.errors import Conflict, MLOpsError
from mlops_magics.train.background import WRITER
from mlops_magics.train.run import TrainRequest, track
from mlops_magics.train.tracker import MLflowTracker
from mlops_magics.workspace import Workspace
from tests.conftest import Kernel, KernelRun

X, Y = load_breast_cancer(return_X_y=True, as_frame=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def register(workspace: Workspace, model, name: str = "cancer") -> str:
    result = track(MLflowTracker(workspace), model, TrainRequest(experiment="serving", data=(X, Y), model_name=name))
    WRITER.flush()
    return result.version


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One deployment shared by the read-only tests of this module (starting one costs seconds)."""
    home = tmp_path_factory.mktemp("serving") / ".mlops"
    os.environ["MLOPS_HOME"] = str(home)
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: one left by an earlier module would be this store.
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    workspace = Workspace(home)
    register(workspace, LogisticRegression(max_iter=5000).fit(X, Y))
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("cancer", {"model": "cancer@challenger", "port": free_port(), "token": True})
    yield workspace, controller, view
    from tests.conftest import stop_controller

    stop_controller(workspace)
    os.environ.pop("MLOPS_HOME", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)


def bearer(view) -> dict[str, str]:
    """The Authorization header of a token deployment: the token asked for explicitly, as no view holds it."""
    token = Controller(Workspace.current(), notify=lambda line: None).deployment_token(view["name"])["token"]
    return {"Authorization": f"Bearer {token}"}


def post(view, payload=None, *, content=None, headers=None, token=True) -> httpx.Response:
    sent = bearer(view) if token and view.get("has_token") else {}
    sent.update(headers or {})
    if payload is not None:
        return httpx.post(f"{view['url']}/invocations", json=payload, headers=sent, timeout=30)
    return httpx.post(f"{view['url']}/invocations", content=content, headers=sent, timeout=30)


def test_every_payload_format_equals_pyfunc(served) -> None:
    workspace, _, view = served
    tracking.mlflow_for(workspace)
    expected = mlflow.pyfunc.load_model("models:/cancer@challenger").predict(X.head(25)).tolist()
    rows = X.head(25)
    split = json.loads(rows.to_json(orient="split", index=False))
    records = json.loads(rows.to_json(orient="records"))
    for payload in (
        {"dataframe_split": split},
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": records},
        {"instances": rows.to_numpy().tolist()},
        {"inputs": {c: rows[c].tolist() for c in rows.columns}},
    ):
        answer = post(view, payload)
        assert answer.status_code == 200, (list(payload), answer.text)
        assert answer.json()["predictions"] == expected
        assert answer.headers["x-request-id"]
    csv = post(view, content=rows.to_csv(index=False).encode(), headers={"Content-Type": "text/csv"})
    assert csv.json()["predictions"] == expected


def test_bad_inputs_get_short_errors_that_never_echo_the_body(served) -> None:
    _, _, view = served
    row = json.loads(X.head(1).to_json(orient="records"))[0]
    secret = "do-not-echo-" + "x" * 20
    cases = [
        (post(view, {"dataframe_records": [{k: v for k, v in row.items() if k != "mean radius"}]}), 422, "mean radius"),
        (post(view, {"dataframe_records": [{**row, "extra": secret}]}), 422, "extra"),
        (post(view, {"dataframe_records": [{**row, "mean radius": secret}]}), 422, "wrong type"),
        (
            post(view, content=b'{"dataframe_records": [' + secret.encode(), headers={"Content-Type": "application/json"}),
            400,
            "malformed JSON",
        ),
        (post(view, {"nonsense": [1]}), 400, "exactly one of the keys"),
        (post(view, {"instances": [[secret, *list(row.values())[1:]]]}), 422, "wrong type"),
        # "nan" is read as NaN (as MLflow reads it); this model has no imputer, so it refuses it, as pyfunc does.
        (
            post(view, {"dataframe_split": {"columns": list(row), "data": [["nan", *list(row.values())[1:]]]}}),
            422,
            "the model cannot predict this input (ValueError: mean radius has missing values)",
        ),
        (post(view, content=b"x" * (10 * 2**20 + 10), headers={"Content-Type": "application/json"}), 413, "over the limit"),
        (post(view, {"dataframe_records": [row]}, token=False), 401, "bearer token"),
        (post(view, {"dataframe_records": [row]}, headers={"Authorization": "Bearer nope"}, token=False), 401, "bearer token"),
    ]
    for answer, status, fragment in cases:
        assert answer.status_code == status, answer.text
        assert fragment in answer.json()["message"] or fragment in answer.text
        assert secret not in answer.text
    body = cases[0][0].json()
    assert body["missing"] == ["mean radius"] and body["unexpected"] == []
    auth = bearer(view)
    for bad in ({"request_id": "r", "label": None}, {"request_id": "r", "label": 1, "row": "first"}, {"label": 1}, [{}]):
        answer = httpx.post(f"{view['url']}/feedback", json=bad, headers=auth)
        assert answer.status_code == 422 and "request_id" in answer.json()["message"], answer.text
    assert cases[1][0].json()["unexpected"] == ["extra"]


def test_health_version_metrics_docs_feedback_and_request_log(served) -> None:
    workspace, _, view = served
    assert httpx.get(f"{view['url']}/ping").status_code == 200
    health = httpx.get(f"{view['url']}/health").json()
    assert health["status"] == "healthy" and health["model"] == "models:/cancer@challenger"
    assert httpx.get(f"{view['url']}/version", headers=bearer(view)).json()["model_version"] == "1"
    answer = post(view, {"dataframe_records": json.loads(X.head(2).to_json(orient="records"))})
    request_id = answer.headers["x-request-id"]
    metrics = httpx.get(f"{view['url']}/metrics", headers=bearer(view)).text
    assert 'mlops_requests_total{status="200"}' in metrics and "mlops_request_seconds_bucket" in metrics
    assert httpx.get(f"{view['url']}/metrics").status_code == 401
    docs = httpx.get(f"{view['url']}/docs").text
    assert "mean radius" in docs and "/invocations" in docs
    feedback = httpx.post(
        f"{view['url']}/feedback",
        json=[{"request_id": request_id, "row": 0, "label": 1}, {"request_id": request_id, "row": 1, "label": 0}],
        headers=bearer(view),
    )
    assert feedback.json() == {"accepted": 2}
    # A row the signature takes (a missing number) but the model cannot predict: refused, and logged as refused.
    gap = post(view, {"dataframe_records": [{**json.loads(X.head(1).to_json(orient="records"))[0], "mean radius": None}]})
    assert gap.status_code == 422, gap.text
    folder = workspace.requests / "cancer"
    deadline = time.monotonic() + 10
    logged = pd.DataFrame({"request_id": []})
    while time.monotonic() < deadline and not (
        gap.headers["x-request-id"] in set(logged.request_id) and list(folder.glob("feedback-*.parquet"))
    ):
        time.sleep(0.2)
        segments = list(folder.glob("requests-*.parquet"))
        logged = pd.concat(pd.read_parquet(p) for p in segments) if segments else logged
    mine = logged[logged.request_id == request_id]
    assert len(mine) == 2 and {"input.mean radius", "prediction", "latency_ms", "status"} <= set(mine.columns)
    assert set(mine.status) == {200}
    refused = logged[logged.request_id == gap.headers["x-request-id"]]
    assert list(refused.status) == [422] and refused.prediction.isna().all()
    labels = pd.concat(pd.read_parquet(p) for p in folder.glob("feedback-*.parquet"))
    assert set(labels[labels.request_id == request_id].label) == {0, 1}


def test_killed_worker_is_back_within_two_seconds(served) -> None:
    _, controller, view = served
    worker = controller.deployment("cancer")["workers"][0]
    os.kill(worker, signal.SIGKILL)
    started = time.monotonic()
    row = {"dataframe_records": json.loads(X.head(1).to_json(orient="records"))}
    while True:
        try:
            if post(view, row).status_code == 200 and controller.deployment("cancer")["workers"] != [worker]:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() - started < 2, "not healthy again within 2 s"
        time.sleep(0.02)


def test_swap_under_a_steady_client_loop_fails_no_request_and_rollback(workspace: Workspace) -> None:
    register(workspace, LogisticRegression(max_iter=5000).fit(X, Y))
    register(workspace, DecisionTreeClassifier(max_depth=2).fit(X, Y))
    controller = Controller(workspace, notify=lambda line: None)
    port = free_port()
    view = controller.deploy("swap", {"model": "cancer/1", "port": port})
    payload = {"dataframe_records": json.loads(X.head(3).to_json(orient="records"))}
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()

    def client_loop() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    answer = client.post(f"{view['url']}/invocations", json=payload)
                    if answer.status_code != 200:
                        failures.append(f"{answer.status_code} {answer.text[:80]}")
                    answered[0] += 1
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    swapped = controller.deploy("swap", {"model": "cancer/2", "port": port})
    assert swapped["version"] == "2" and swapped["previous_model"] == "cancer/1"
    time.sleep(0.5)
    rolled = controller.rollback_deployment("swap")
    assert rolled["version"] == "1"
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join()
    assert answered[0] > 50
    assert failures == []
    with pytest.raises(Conflict, match="stop it first"):
        controller.deploy("swap", {"model": "cancer/2", "port": port + 1})
    with pytest.raises(Conflict, match="already in use"):
        controller.deploy("other", {"model": "cancer/2", "port": port})
    with pytest.raises(MLOpsError, match="cannot load models:/cancer/9"):
        controller.deploy("missing", {"model": "cancer/9", "port": free_port()})
    controller.stop_deployment("swap")


def test_rollback_returns_to_the_version_served_before_wherever_its_alias_moved(kernel_factory, workspace: Workspace) -> None:
    """The reported case: served as cancer@challenger (v1); a new version moves challenger to v2; v2 is swapped
    in; the rollback must serve v1 again (it used to re-resolve the alias and serve v2) and say so."""
    first_model = LogisticRegression(max_iter=5000).fit(X, Y)
    register(workspace, first_model)
    kernel = kernel_factory()
    port = free_port()
    deployed = kernel.run(f"%load_ext mlops_magics\n%deploy cancer@challenger --name peng --port {port}")
    assert "cancer@challenger v1" in deployed.stdout, deployed.text
    register(workspace, DecisionTreeClassifier(max_depth=1).fit(X, Y))  # v2: challenger moves to it
    swapped = kernel.run(f"%deploy cancer/2 --name peng --port {port}")
    assert "cancer/2 v2" in swapped.stdout, swapped.text
    rolled = kernel.run("%deploy rollback peng")
    assert rolled.status == "ok", rolled.text
    assert "rolled back 'peng' from cancer/2 v2 to cancer/1 v1 (deployed earlier as cancer@challenger)" in rolled.stdout
    url = f"http://127.0.0.1:{port}"
    version = httpx.get(f"{url}/version").json()
    assert version["model_version"] == "1" and version["model"] == "models:/cancer/1"
    rows = {"dataframe_split": json.loads(X.to_json(orient="split", index=False))}
    assert httpx.post(f"{url}/invocations", json=rows, timeout=30).json()["predictions"] == first_model.predict(X).tolist()
    # Rolling back again returns to v2, by its exact version too.
    again = kernel.run("%deploy rollback peng")
    assert "rolled back 'peng' from cancer/1 v1 to cancer/2 v2" in again.stdout, again.text
    assert httpx.get(f"{url}/version").json()["model_version"] == "2"
    kernel.run("%deploy stop peng")


def test_killed_deployment_process_is_restarted_and_survives_a_new_controller(workspace: Workspace) -> None:
    register(workspace, LogisticRegression(max_iter=5000).fit(X, Y))
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("cancer", {"model": "cancer@challenger", "port": free_port()})
    os.kill(view["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = controller.deployment("cancer")
        if now["status"] == "healthy" and now["pid"] != view["pid"]:
            break
        time.sleep(0.2)
    assert now["status"] == "healthy" and now["restarts"] >= 1
    # The controller goes away; the deployment stays up and the next controller adopts it.
    controller.shutdown()
    assert httpx.get(f"{view['url']}/health").status_code == 200
    adopted = controller.deployment("cancer")
    assert adopted["pid"] == now["pid"] and adopted["status"] == "healthy"
    logs = subprocess.run(
        [sys.executable, "-m", "mlops_magics.cli", "deploy", "logs", "cancer", "--lines", "5"], capture_output=True, text=True
    )
    assert logs.returncode == 0 and "uvicorn" in logs.stdout
    stopped = subprocess.run(
        [sys.executable, "-m", "mlops_magics.cli", "deploy", "stop", "cancer"], capture_output=True, text=True
    )
    assert "stopped" in stopped.stdout
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{view['url']}/health", timeout=2)


def test_users_own_app(workspace: Workspace, tmp_path: Path) -> None:
    app = tmp_path / "hello.py"
    app.write_text(
        "import http.server, os\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'hello')\n"
        "http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n"
    )
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("hello", {"command": f"{sys.executable} {app}", "port": free_port()})
    assert view["status"] == "healthy"
    assert httpx.get(view["url"]).text == "hello"
    controller.stop_deployment("hello")


def deploy_with_token_in_a_kernel(kernel_factory, workspace: Workspace) -> tuple[Kernel, KernelRun, int, str]:
    """A fresh kernel runs ``%deploy cancer@challenger --name web --token``: the kernel, what the cell printed, the
    port, and the token (read through the controller, as ``mlops deploy token`` does)."""
    register(workspace, LogisticRegression(max_iter=5000).fit(X, Y))
    kernel = kernel_factory()
    port = free_port()
    run = kernel.run(f"%load_ext mlops_magics\n%deploy cancer@challenger --name web --port {port} --token")
    assert run.status == "ok", run.text
    return kernel, run, port, Controller(workspace, notify=lambda line: None).deployment_token("web")["token"]


def test_deploy_magic_in_a_kernel(kernel_factory, workspace: Workspace) -> None:
    kernel, run, port, token = deploy_with_token_in_a_kernel(kernel_factory, workspace)
    assert f"deployment 'web': healthy — cancer@challenger v1 at http://127.0.0.1:{port}" in run.stdout
    assert "requests need its bearer token: `mlops deploy token web` prints it" in run.stdout and token not in run.text
    status = kernel.run("%deploy status")
    assert "deployment 'web': healthy" in status.stdout
    bad = kernel.run("%deploy cancer@challenger --name web2 --port 0")
    assert bad.status == "error" and "--port must be 1-65535" in bad.stderr
    assert "stopped" in kernel.run("%deploy stop web").stdout


def test_requests_never_unpickle(served) -> None:
    """A pickle sent as a body is just bytes that do not parse."""
    import pickle

    _, _, view = served
    answer = post(view, content=pickle.dumps(np.arange(3)), headers={"Content-Type": "application/json"})
    assert answer.status_code == 400


def _count(text: str, series: str) -> float:
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(series + " ")))


def test_metrics_count_every_worker_and_survive_a_replaced_worker(workspace: Workspace) -> None:
    register(workspace, LogisticRegression(max_iter=5000).fit(X, Y))
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("counted", {"model": "cancer@challenger", "port": free_port(), "workers": 2})
    rows = {"dataframe_split": json.loads(X.head(3).to_json(orient="split", index=False))}
    for _ in range(20):  # a new connection each time: both workers answer some
        assert httpx.post(f"{view['url']}/invocations", json=rows).status_code == 200
    assert httpx.post(f"{view['url']}/invocations", json={"dataframe_records": [{"nope": 1}]}).status_code == 422
    os.kill(controller.deployment("counted")["workers"][0], signal.SIGKILL)
    time.sleep(1)
    for _ in range(6):  # whichever worker answers the scrape, it counts the whole deployment
        text = httpx.get(f"{view['url']}/metrics").text
        assert _count(text, 'mlops_requests_total{status="200"}') == 20
        assert _count(text, 'mlops_requests_total{status="422"}') == 1
        assert _count(text, "mlops_predicted_rows_total") == 60
        assert _count(text, 'mlops_request_seconds_bucket{le="+Inf"}') == 21
        assert _count(text, "mlops_batch_rows_count") == 20
    controller.stop_deployment("counted")
