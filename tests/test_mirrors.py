"""%%train --mirror: W&B and Comet written offline in a real kernel and read back from disk, compared with the MLflow
run; a mirror that throws leaves the MLflow run whole; a third-party mirror found through its entry point."""

from __future__ import annotations

import glob
import json
import struct
import threading
import zipfile
from pathlib import Path

import mlflow
import psutil
import pytest

from mlops_magics import tracking
from mlops_magics.errors import MLOpsError
from mlops_magics.train.mirrors import registry
from mlops_magics.workspace import Workspace

SETUP = (
    "%load_ext mlops_magics\n"
    "from sklearn.datasets import load_breast_cancer\n"
    "from sklearn.model_selection import train_test_split\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "X, y = load_breast_cancer(return_X_y=True, as_frame=True)\n"
    "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n"
)
TRAIN = "model = LogisticRegression(C=0.5, max_iter=2000).fit(X_train, y_train)"

THIRD_PARTY = """
from mlops_magics.train.mirrors.base import Mirrored


class BrokenMirror:
    name = "broken"
    extra = "broken"
    requires = "json"

    def record(self, run, folder):
        raise RuntimeError("the tracker is down")


class MissingMirror:
    name = "missing"
    extra = "missing"
    requires = "no_such_tracker_package"

    def record(self, run, folder):
        return Mirrored(folder)
"""


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_PROJECT", "COMET_API_KEY", "COMET_PROJECT_NAME", registry.DEFAULT_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution (its metadata on the path) that registers two mirrors under the group."""
    site = tmp_path / "site"
    info = site / "third_party_mirror-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: third-party-mirror\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{registry.GROUP}]\nbroken = third_party_mirror:BrokenMirror\nmissing = third_party_mirror:MissingMirror\n"
    )
    (site / "third_party_mirror.py").write_text(THIRD_PARTY)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))  # the kernel finds it too
    return site


def _client(workspace: Workspace) -> mlflow.MlflowClient:
    tracking.mlflow_for(workspace)
    return mlflow.MlflowClient(workspace.tracking_uri)


def test_names_come_from_the_flag_or_the_workspace_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(registry.DEFAULT_ENV, "wandb")
    assert registry.names(None) == ("wandb",)
    assert registry.names("comet, WANDB,comet") == ("comet", "wandb")
    assert registry.names("none") == ()
    with pytest.raises(MLOpsError, match="unknown mirror 'neptune'; known: .*comet.*wandb"):
        registry.load(("neptune",))


def test_a_third_party_mirror_is_found_and_a_missing_package_names_the_extra(third_party: Path) -> None:
    assert {"broken", "missing", "comet", "wandb"} <= set(registry.available())
    assert [m.name for m in registry.load(("broken",))] == ["broken"]
    with pytest.raises(MLOpsError) as raised:
        registry.load(("missing",))
    assert str(raised.value) == "mirror 'missing' needs no_such_tracker_package: pip install 'mlops-magics[missing]'"


def test_an_unknown_mirror_fails_before_the_cell_runs(kernel_factory, offline) -> None:
    kernel = kernel_factory()
    assert kernel.run(SETUP).status == "ok"
    run = kernel.run("%%train --mirror neptune --data X_train,y_train\nran = True\n" + TRAIN)
    assert "unknown mirror 'neptune'" in run.text
    assert "Traceback" not in run.text
    assert "False" in kernel.run("print('ran' in globals())").stdout


def _comet_messages(path: str) -> list[dict]:
    with zipfile.ZipFile(path) as archive:
        return [json.loads(line) for line in archive.read("messages.json").decode().splitlines() if line.strip()]


def _wandb_records(run_dir: str) -> list:
    """The records of a W&B offline run file (a LevelDB-style log of protobuf records, 32 KiB blocks)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(glob.glob(f"{run_dir}/run-*.wandb")[0]).read_bytes()
    block, pos, chunk, records = 32768, 7, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == 0 and kind == 0:
            break
        chunk += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST
            record = pb.Record()
            record.ParseFromString(chunk)
            records.append(record)
            chunk = b""
    return records


def test_train_mirrors_to_wandb_and_comet_offline(kernel_factory, workspace: Workspace, offline) -> None:
    kernel = kernel_factory()
    assert kernel.run(SETUP).status == "ok"
    run = kernel.run("%%train --mirror wandb,comet --data X_train,y_train --eval X_test,y_test --params note=m\n" + TRAIN)
    assert run.status == "ok", run.text
    done = kernel.run("import os\nfrom mlops_magics.train.background import WRITER\nWRITER.flush()\nprint('pid', os.getpid())")
    assert done.status == "ok", done.text
    assert "COMET" not in done.stderr and "wandb:" not in done.stderr  # the trackers' own logging stays out of cells
    pid = int(done.stdout.split("pid ")[1].split()[0])
    helpers = [p.name() for p in psutil.Process(pid).children(recursive=True)]
    assert not any("wandb" in name for name in helpers), helpers  # wandb-core stopped with the run

    client = _client(workspace)
    logged = client.search_runs([client.get_experiment_by_name("default").experiment_id])[0]
    assert logged.info.status == "FINISHED"
    params, metrics, tags = logged.data.params, logged.data.metrics, logged.data.tags
    assert "mlops.mirror.wandb.error" not in tags and "mlops.mirror.comet.error" not in tags

    # Comet: the zip's messages carry the same params and metric values, and the link back.
    zip_path = tags["mlops.mirror.comet"]
    assert zip_path.startswith(str(workspace.home / "mirrors" / "comet")) and zip_path.endswith(".zip")
    messages = _comet_messages(zip_path)
    comet_params = {
        m["payload"]["param"]["paramName"]: m["payload"]["param"]["paramValue"] for m in messages if m["type"] == "parameter_msg"
    }
    comet_metrics = {
        m["payload"]["metric"]["metricName"]: m["payload"]["metric"]["metricValue"] for m in messages if m["type"] == "metric_msg"
    }
    others = {m["payload"]["key"]: m["payload"]["value"] for m in messages if m["type"] == "log_other"}
    assert {k: str(v) for k, v in comet_params.items()} == params
    assert {k: comet_metrics[k] for k in metrics} == pytest.approx(metrics)
    assert others["mlflow_run_id"] == logged.info.run_id
    assert others["mlops.data.train.sha256"] == tags["mlops.data.train.sha256"]
    assert others["mlops.cell"] == tags["mlops.cell"]
    # The training profile's summary (30 features and the target) rides along.
    assert int(others["profile.rows"]) == int(tags["mlops.data.train.rows"]) == 426
    assert int(others["profile.columns"]) == 31 and "profile.alert_messages" in others

    # W&B: the offline run's records carry the same config and metric values.
    run_dir = tags["mlops.mirror.wandb"]
    assert run_dir.startswith(str(workspace.home / "mirrors" / "wandb")) and "offline-run-" in run_dir
    records = _wandb_records(run_dir)
    started = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    config = {u.key: json.loads(u.value_json) for u in started.config.update if u.key != "_wandb"}
    assert config.pop("mlflow_run_id") == logged.info.run_id
    assert {k: str(v) for k, v in config.items()} == params
    assert f"mlflow:{logged.info.run_id}" in started.tags
    history = {}
    for record in records:
        if record.WhichOneof("record_type") == "history":
            history.update({i.nested_key[0] if i.nested_key else i.key: json.loads(i.value_json) for i in record.history.item})
    assert {k: history[k] for k in metrics} == pytest.approx(metrics)
    summary = {}
    for record in records:
        if record.WhichOneof("record_type") == "summary":
            summary.update({i.nested_key[0] if i.nested_key else i.key: json.loads(i.value_json) for i in record.summary.update})
    assert summary["profile/rows"] == 426 and summary["profile/columns"] == 31


def test_a_mirror_that_throws_leaves_the_mlflow_run_whole(kernel_factory, workspace: Workspace, offline, third_party) -> None:
    kernel = kernel_factory()
    assert kernel.run(SETUP).status == "ok"
    run = kernel.run("%%train --mirror broken --data X_train,y_train --model mirrored\n" + TRAIN)
    assert run.status == "ok", run.text
    done = kernel.run("from mlops_magics.train.background import WRITER\nWRITER.flush()")
    assert done.status == "ok", done.text
    client = _client(workspace)
    version = client.get_model_version_by_alias("mirrored", "challenger")
    logged = client.get_run(version.run_id)
    assert logged.info.status == "FINISHED"
    assert logged.data.tags["mlops.mirror.broken.error"] == "RuntimeError: the tracker is down"
    assert "train_accuracy" in logged.data.metrics


def test_a_mirror_failure_and_an_offline_mirror_are_shown_under_the_cell(
    workspace: Workspace, third_party: Path, offline
) -> None:
    from mlops_magics.train.mirrors.base import MirroredRun
    from mlops_magics.train.mirrors.send import send
    from mlops_magics.train.run import TrainResult
    from mlops_magics.train.tracker import MLflowTracker

    tracker = MLflowTracker(workspace)
    run_id = tracker.start_run("mirrors", "shown", {})
    result = TrainResult(run_id, "mirrors", "model", "LogisticRegression", "classification", {}, None, None, threading.Event())
    run = MirroredRun("mirrors", "shown", run_id, None, {"C": 1}, {"train_accuracy": 0.9}, {})
    send(tracker, registry.load(("broken", "comet")), run, str(workspace.home / "mirrors"), result)
    assert result.steps == {"broken": "failed", "comet": "offline"}, result.notes
    assert "comet: offline (no credentials); upload with: comet upload " in repr(result)  # the sync command, shown
    assert "mirror broken failed: RuntimeError: the tracker is down" in result._repr_html_()
    assert "mirror broken failed" in repr(result)
    assert _client(workspace).get_run(run_id).data.tags["mlops.mirror.broken.error"] == "RuntimeError: the tracker is down"


def test_a_search_s_trials_are_runs_of_their_own(kernel_factory, workspace: Workspace, offline) -> None:
    kernel = kernel_factory()
    assert kernel.run(SETUP).status == "ok"
    searched = kernel.run(
        '%%train --search grid --space "C=0.1,1" --cv 3 --mirror wandb,comet --data X_train,y_train\n'
        "model = LogisticRegression(max_iter=2000)"
    )
    assert searched.status == "ok", searched.text
    assert kernel.run("from mlops_magics.train.background import WRITER\nWRITER.flush()").status == "ok"
    client = _client(workspace)
    logged = client.search_runs([client.get_experiment_by_name("default").experiment_id], "tags.mlops.mirror.comet != ''")
    parent = next(r for r in logged if "mlops.mirror.comet" in r.data.tags)
    folder = workspace.home / "mirrors"
    zips = sorted(glob.glob(str(folder / "comet" / "*.zip")))
    assert parent.data.tags["mlops.mirror.comet"] in zips and len(zips) == 3  # the best model's run and two trials
    scores = sorted(
        m["payload"]["metric"]["metricValue"]
        for path in zips
        for m in _comet_messages(path)
        if m["type"] == "metric_msg" and m["payload"]["metric"]["metricName"] == "mean_cv_score"
    )
    assert len(scores) == 2 and all(0.8 < score <= 1 for score in scores)
    runs = glob.glob(str(folder / "wandb" / "wandb" / "offline-run-*"))
    assert len(runs) == 3
    groups = {next(r.run for r in _wandb_records(d) if r.WhichOneof("record_type") == "run").run_group for d in runs}
    assert groups == {parent.info.run_id}


def test_the_notebook_s_own_wandb_run_is_left_running(workspace: Workspace, offline, tmp_path: Path) -> None:
    import wandb

    from mlops_magics.train.mirrors.base import MirroredRun
    from mlops_magics.train.mirrors.wandb import WandbMirror

    own = wandb.init(project="own", dir=str(tmp_path), mode="offline", settings=wandb.Settings(silent=True, console="off"))
    try:
        (tmp_path / "mirror").mkdir()
        run = MirroredRun("e", "model-X", "abc", None, {"C": 1}, {"train_accuracy": 0.9}, {})
        WandbMirror().record(run, str(tmp_path / "mirror"))
        own.log({"still": 1.0})  # the notebook's run still takes records
        assert wandb.run is own
    finally:
        own.finish()
        wandb.teardown()


def test_a_review_is_mirrored_too(kernel_factory, workspace: Workspace, offline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(registry.DEFAULT_ENV, "comet")  # the workspace's default: every %%train and %review
    kernel = kernel_factory()
    assert kernel.run(SETUP).status == "ok"
    assert kernel.run("%%train --data X_train,y_train --model reviewed\n" + TRAIN).status == "ok"
    reviewed = kernel.run("r = %review reviewed --data X_test,y_test")
    assert reviewed.status == "ok", reviewed.text
    assert "comet: offline (no credentials); upload with: comet upload" in reviewed.text
    client = _client(workspace)
    review_run = client.search_runs([client.get_experiment_by_name("reviews").experiment_id])[0]
    messages = _comet_messages(review_run.data.tags["mlops.mirror.comet"])
    comet_metrics = {
        m["payload"]["metric"]["metricName"]: m["payload"]["metric"]["metricValue"] for m in messages if m["type"] == "metric_msg"
    }
    assert {k: comet_metrics[k] for k in review_run.data.metrics} == pytest.approx(review_run.data.metrics)
    others = {m["payload"]["key"]: m["payload"]["value"] for m in messages if m["type"] == "log_other"}
    assert others["mlflow_run_id"] == review_run.info.run_id


def test_a_review_whose_mirror_throws_is_shown_and_still_decides(
    kernel_factory, workspace: Workspace, offline, third_party
) -> None:
    kernel = kernel_factory()
    assert kernel.run(SETUP).status == "ok"
    assert kernel.run("%%train --mirror none --data X_train,y_train --model shaky\n" + TRAIN).status == "ok"
    reviewed = kernel.run(
        "import os\nos.environ['MLOPS_MIRRORS'] = 'broken'\nr = %review shaky --data X_test,y_test\nprint(r.promoted)"
    )
    assert reviewed.status == "ok", reviewed.text
    assert "mirror broken failed: RuntimeError: the tracker is down" in reviewed.text and "True" in reviewed.stdout
    client = _client(workspace)
    review_run = client.search_runs([client.get_experiment_by_name("reviews").experiment_id])[0]
    assert review_run.data.tags["mlops.mirror.broken.error"] == "RuntimeError: the tracker is down"
    assert str(client.get_model_version_by_alias("shaky", "champion").version) == "1"


def test_a_job_s_retrain_is_mirrored_as_a_run_of_the_same_project(controller, workspace: Workspace, offline) -> None:
    """A job (a monitor's retrain is one) trains in its own kernel: its environment's MLOPS_MIRRORS applies, the
    mirror is written before the kernel ends, and it carries the job and run it came from."""
    from tests.test_jobs import notebook, wait_for

    notebook(workspace.root / "retrain.ipynb", SETUP, "%%train --data X_train,y_train --experiment churn\n" + TRAIN)
    controller.put_job("retrain", {"notebook": "retrain.ipynb", "env": {registry.DEFAULT_ENV: "comet"}})
    controller.run_job("retrain", {})
    done = wait_for(controller, "retrain", 1, timeout=180)
    assert done["state"] == "succeeded", done
    client = _client(workspace)
    logged = client.search_runs([client.get_experiment_by_name("churn").experiment_id])[0]
    assert logged.data.tags["mlops.job"] == "retrain" and logged.data.tags["mlops.job_run"] == "1"
    zip_path = logged.data.tags["mlops.mirror.comet"]
    with zipfile.ZipFile(zip_path) as archive:
        experiment = json.loads(archive.read("experiment.json"))
    assert experiment["project_name"] == "churn"  # the same project as the notebook's own %%train runs
    others = {m["payload"]["key"]: m["payload"]["value"] for m in _comet_messages(zip_path) if m["type"] == "log_other"}
    assert others["mlops.job"] == "retrain" and others["mlflow_run_id"] == logged.info.run_id
