"""%%train and %review in a real kernel against a real MLflow store (SQLite in the test's workspace)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from mlops_magics import tracking
from mlops_magics.workspace import Workspace

CANCER = (
    "%load_ext mlops_magics\n"
    "from sklearn.datasets import load_breast_cancer, load_diabetes\n"
    "from sklearn.model_selection import train_test_split\n"
    "from sklearn.linear_model import LogisticRegression, Ridge\n"
    "from sklearn.pipeline import make_pipeline\n"
    "from sklearn.preprocessing import StandardScaler\n"
    "from sklearn.tree import DecisionTreeClassifier\n"
    "X, y = load_breast_cancer(return_X_y=True, as_frame=True)\n"
    "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n"
)


def _client(workspace: Workspace) -> mlflow.MlflowClient:
    tracking.mlflow_for(workspace)  # this process's mlflow too reads the workspace's store
    return mlflow.MlflowClient(workspace.tracking_uri)


def test_train_logs_everything_and_the_model_reloads(kernel_factory, workspace: Workspace) -> None:
    kernel = kernel_factory()
    setup = kernel.run(CANCER)
    assert setup.status == "ok", setup.text
    run = kernel.run(
        "%%train --data X_train,y_train --eval X_test,y_test --model cancer --params note=first\n"
        "model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X_train, y_train)"
    )
    assert run.status == "ok", run.text
    html = next(r["text/html"] for r in run.results if "text/html" in r)
    assert "Pipeline" in html and "eval_accuracy" in html
    flushed = kernel.run(
        "from mlops_magics.train.background import WRITER\nWRITER.flush()\n"
        "import mlflow.pyfunc, numpy as np\n"
        "loaded = mlflow.pyfunc.load_model('models:/cancer@challenger')\n"
        "print('same', bool((loaded.predict(X_test) == model.predict(X_test)).all()))"
    )
    assert "same True" in flushed.stdout, flushed.text
    client = _client(workspace)
    version = client.get_model_version_by_alias("cancer", "challenger")
    logged = client.get_run(version.run_id)
    assert logged.data.params["note"] == "first"
    assert logged.data.params["logisticregression__max_iter"] == "500"
    assert {"train_accuracy", "train_f1", "train_roc_auc", "eval_accuracy", "eval_f1", "eval_roc_auc"} <= set(logged.data.metrics)
    assert logged.data.metrics["eval_accuracy"] > 0.9
    tags = logged.data.tags
    assert tags["mlops.task"] == "classification"
    assert "LogisticRegression" in tags["mlops.cell"]
    assert len(tags["mlops.data.train.sha256"]) == 16 and tags["mlops.data.train.rows"] == str(len(X_train()))
    artifacts = {a.path for a in client.list_artifacts(version.run_id)}
    assert {"cell.py", "data", "profile"} <= artifacts
    model_info = mlflow.models.get_model_info("models:/cancer@challenger")
    assert model_info.signature is not None and model_info.saved_input_example_info is not None
    requirements = mlflow.pyfunc.get_model_dependencies("models:/cancer@challenger")
    assert "scikit-learn==" in Path(requirements).read_text()


def X_train() -> pd.DataFrame:
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return train_test_split(x, y, random_state=0)[0]


def test_regression_search_and_review_gates(kernel_factory, workspace: Workspace) -> None:
    kernel = kernel_factory()
    kernel.run(CANCER)
    regression = kernel.run(
        "Xd, yd = load_diabetes(return_X_y=True, as_frame=True)\n"
        "Xd_train, Xd_test, yd_train, yd_test = train_test_split(Xd, yd, random_state=0)\n"
        "%%train --data Xd_train,yd_train --eval Xd_test,yd_test --model diabetes\n"
        "ridge = Ridge(alpha=1.0).fit(Xd_train, yd_train)"
        if False
        else "Xd, yd = load_diabetes(return_X_y=True, as_frame=True)\n"
        "Xd_train, Xd_test, yd_train, yd_test = train_test_split(Xd, yd, random_state=0)"
    )
    assert regression.status == "ok", regression.text
    trained = kernel.run(
        "%%train --data Xd_train,yd_train --eval Xd_test,yd_test --model diabetes\nridge = Ridge(alpha=1.0).fit(Xd_train, yd_train)"
    )
    assert trained.status == "ok", trained.text
    first = kernel.run("r = %review diabetes --data Xd_test,yd_test --metric r2 --min 0.2\nprint(r.summary())")
    assert "diabetes v1 passed the gates and is the first champion" in first.stdout, first.text
    client = _client(workspace)
    assert str(client.get_model_version_by_alias("diabetes", "champion").version) == "1"
    run = client.get_run(client.get_model_version_by_alias("diabetes", "champion").run_id)
    assert run.data.tags["mlops.task"] == "regression" and {"train_rmse", "eval_mae", "eval_r2"} <= set(run.data.metrics)

    # A worse challenger is refused, with each failed gate named; the champion stays.
    kernel.run(CANCER.split("\n", 1)[1])
    kernel.run("%%train --data X_train,y_train --model cancer\ngood = LogisticRegression(max_iter=5000).fit(X_train, y_train)")
    kernel.run("%review cancer --data X_test,y_test")
    kernel.run("%%train --data X_train,y_train --model cancer\nstump = DecisionTreeClassifier(max_depth=1).fit(X_train, y_train)")
    refused = kernel.run(
        "r = %review cancer --data X_test,y_test --metric f1 --min 0.99 --min-improvement 0.01\nprint(r.passed, r.reasons)"
    )
    assert refused.status == "ok", refused.text
    assert "False" in refused.stdout and "f1" in refused.stdout and "0.99 required" in refused.stdout
    assert "0.01 required" in refused.stdout
    assert str(client.get_model_version_by_alias("cancer", "champion").version) == "1"
    # A better challenger is promoted; the old champion becomes 'previous'.
    kernel.run(
        "%%train --data X_train,y_train --model cancer\nbetter = LogisticRegression(max_iter=5000, C=0.5).fit(X_train, y_train)"
    )
    promoted = kernel.run("r = %review cancer --data X_test,y_test --metric accuracy --min 0.9\nprint(r.summary())")
    assert "v3 passed the gates and is now champion" in promoted.stdout, promoted.text
    assert str(client.get_model_version_by_alias("cancer", "champion").version) == "3"
    assert str(client.get_model_version_by_alias("cancer", "previous").version) == "1"
    reviews = client.search_runs([client.get_experiment_by_name("reviews").experiment_id])
    assert len(reviews) == 4 and {r.data.tags["mlops.review.passed"] for r in reviews} == {"True", "False"}


def test_search_runs_trials_as_nested_runs_on_the_cluster(kernel_factory, workspace: Workspace) -> None:
    kernel = kernel_factory()
    kernel.run(CANCER)
    started = kernel.run("client = %cluster start --workers 2")
    assert started.status == "ok", started.text
    searched = kernel.run(
        "%%train --data X_train,y_train --search grid --space 'logisticregression__C=0.1,1,10' --cv 3 --experiment search\n"
        "pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))\n"
    )
    assert searched.status == "ok", searched.text
    kernel.run("from mlops_magics.train.background import WRITER\nWRITER.flush()")
    client = _client(workspace)
    runs = client.search_runs([client.get_experiment_by_name("search").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 3
    assert {c.data.params["logisticregression__C"] for c in children} == {"0.1", "1", "10"}
    assert "best {'logisticregression__C'" in parents[0].data.tags["mlops.search"]
    ran = kernel.run("print(sorted(client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))))")
    assert "'fit_fold'" in ran.stdout, ran.text  # the trials were tasks on the cluster, not local processes
    kernel.run("%cluster stop")


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%train --data X_train,y_train\nx = 1", "no fitted model found among the variables this cell set (x)"),
        (
            "%%train --data X_train\nm = LogisticRegression(max_iter=5000).fit(X_train, y_train)",
            "--data takes two variable names",
        ),
        ("%%train --data nope,y_train\nx = 2", "--data: nope not defined in this kernel"),
        (
            "%%train --metrics accuracy,bogus --data X_train,y_train\nm = LogisticRegression(max_iter=5000).fit(X_train, y_train)",
            "unknown metric 'bogus'",
        ),
        ("%review ghost --data X_test,y_test", "model 'ghost' has no challenger"),
        ("%train --from ghost@champion --data X_train,y_train", "no model 'ghost@champion' in the registry"),
        (
            "%%train --search grid --space 'nope=1,2' --data X_train,y_train\nm = LogisticRegression()",
            "--space names ['nope']",
        ),
    ],
)
def test_bad_input_is_one_line(kernel_factory, cell: str, message: str) -> None:
    kernel = kernel_factory()
    kernel.run(CANCER)
    run = kernel.run(cell)
    assert run.status == "error", run.text
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.text
    assert "Traceback" not in run.text


def test_model_that_cannot_take_the_data_gets_its_own_short_error(kernel_factory) -> None:
    kernel = kernel_factory()
    kernel.run(CANCER)
    kernel.run("import numpy as np\nX_bad = X_train.copy(); X_bad.iloc[0, 0] = np.nan")
    run = kernel.run("%%train --data X_bad,y_train\nm = LogisticRegression(max_iter=5000).fit(X_bad.fillna(0), y_train)")
    assert run.status == "error"
    assert "the model cannot predict on this data: ValueError: Input X contains NaN" in run.stderr, run.text


def test_cli_review_exits_non_zero_on_refusal(kernel_factory, workspace: Workspace, tmp_path) -> None:
    kernel = kernel_factory()
    kernel.run(CANCER)
    kernel.run("%%train --data X_train,y_train --model cancer\nm = LogisticRegression(max_iter=5000).fit(X_train, y_train)")
    kernel.run("from mlops_magics.train.background import WRITER\nWRITER.flush()")
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    held_out = tmp_path / "held_out.parquet"
    x.assign(target=y).to_parquet(held_out)

    def review(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "mlops_magics.cli",
                "review",
                "cancer",
                "--data",
                str(held_out),
                "--target",
                "target",
                *flags,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )

    refused = review("--min", "0.999", "--no-promote")
    assert refused.returncode == 1, refused.stderr
    assert "refused: f1" in refused.stdout
    passed = review("--min", "0.5")
    assert passed.returncode == 0, passed.stderr
    assert "first champion" in passed.stdout


class Doubler:
    """Not a scikit-learn estimator: anything with predict() is tracked and served through pyfunc."""

    def predict(self, x):
        return x.iloc[:, 0].to_numpy() * 2


def test_any_object_with_predict_goes_through_pyfunc(workspace: Workspace) -> None:
    from mlops_magics.train.background import WRITER
    from mlops_magics.train.run import TrainRequest, track
    from mlops_magics.train.tracker import MLflowTracker

    x = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 0.0, 1.0]})
    request = TrainRequest(experiment="custom", data=(x, x.a * 2), model_name="doubler", model_var="d")
    result = track(MLflowTracker(workspace), Doubler(), request)
    assert result.task == "regression" and result.metrics["train_r2"] == 1.0
    WRITER.flush()
    _client(workspace)
    loaded = mlflow.pyfunc.load_model("models:/doubler@challenger")
    assert list(loaded.predict(x)) == [2.0, 4.0, 6.0]


def test_remote_tracking_server_that_does_not_answer(workspace: Workspace, monkeypatch) -> None:
    from mlops_magics.errors import MLOpsError
    from mlops_magics.train.run import TrainRequest, track
    from mlops_magics.train.tracker import MLflowTracker

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    with pytest.raises(MLOpsError, match=r"does not answer .*; nothing was logged"):
        track(MLflowTracker(workspace), Doubler(), TrainRequest(experiment="x"))


def test_missing_targets_are_said_not_silently_dropped(kernel_factory, workspace: Workspace) -> None:
    kernel = kernel_factory()
    kernel.run(CANCER)
    kernel.run("import numpy as np\ny_nan = y_train.astype(float).copy()\ny_nan.iloc[:7] = np.nan")
    run = kernel.run(
        "%%train --data X_train,y_nan --eval X_test,y_test --experiment gaps\n"
        "m = LogisticRegression(max_iter=5000).fit(X_train[y_nan.notna()], y_nan.dropna())"
    )
    assert run.status == "ok", run.text
    rows = len(X_train())
    said = f"--data: 7 of {rows} target values are missing (NaN); train metrics are computed on the other {rows - 7} rows"
    assert said in run.text, run.text
    kernel.run("from mlops_magics.train.background import WRITER\nWRITER.flush()")
    client = _client(workspace)
    (logged,) = client.search_runs([client.get_experiment_by_name("gaps").experiment_id])
    assert {"train_accuracy", "train_f1", "train_roc_auc", "eval_accuracy"} <= set(logged.data.metrics)
    assert said in logged.data.tags["mlops.notes"]


def test_a_metric_that_does_not_apply_says_why() -> None:
    from sklearn.svm import LinearSVC

    from mlops_magics.train.metrics import evaluate

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    scores = evaluate(LinearSVC().fit(x, y), x, y)
    assert scores.skipped == {"roc_auc": "the model has no predict_proba"}
    assert scores.notes("train", "--data") == ["train_roc_auc not computed: the model has no predict_proba"]
