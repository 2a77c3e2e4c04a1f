"""The layers are enforced: `lint-imports` (import-linter, the contracts in pyproject.toml) passes on this tree,
and fails on a copy of it with one import that breaks a rule. The faces parse into orders the stages carry out."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_magics import arguments
from mlops_magics.cluster_actions import ACTIONS, ClusterOrder, waits_for
from mlops_magics.errors import InvalidInput
from mlops_magics.serving.deploy import DeployOrder
from mlops_magics.train.cell import TrainOrder, experiment_name

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: the copy's package is found before the editable install of this one.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_every_contract() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    shutil.copytree(ROOT / "mlops_magics", tree / "mlops_magics", ignore=shutil.ignore_patterns("labextension", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


BREAKS = [
    # (module, the import added to it, what lint-imports says)
    ("workspace.py", "from mlops_magics import magics", "mlops_magics.workspace is not allowed to import mlops_magics.magics"),
    (
        "controller/client.py",
        "from mlops_magics import cluster",
        "mlops_magics.controller.client is not allowed to import mlops_magics.cluster",
    ),
    ("eda/run.py", "from mlops_magics.train import run", "mlops_magics.eda is not allowed to import mlops_magics.train"),
    (
        "serving/deploy.py",
        "from mlops_magics.controller.services import template",
        "is not allowed to import mlops_magics.controller.services",
    ),
    ("magics.py", "from mlops_magics import cli", "mlops_magics.magics is not allowed to import mlops_magics.cli"),
    (
        "cli.py",
        "from mlops_magics.controller import app",
        "mlops_magics.cli is not allowed to import mlops_magics.controller.app",
    ),
    ("eda/report.py", "from mlops_magics.eda import profile", "No cycles are allowed in mlops_magics.eda"),
    ("eda/compare.py", "from mlops_magics import monitor", "mlops_magics.eda is not allowed to import mlops_magics.monitor"),
    # A new stage fails the check until it is placed in a layer.
    ("unplaced.py", "from mlops_magics import errors", "not listed as layers: - mlops_magics.unplaced"),
]


@pytest.mark.parametrize(("module", "line", "said"), BREAKS, ids=[f"{m}: {line}" for m, line, _ in BREAKS])
def test_one_import_against_the_layers_fails_the_check(copy: Path, module: str, line: str, said: str) -> None:
    path = copy / "mlops_magics" / module
    original = path.read_text() if path.exists() else None
    path.write_text((original or '"""A stage not placed in the layers."""\n') + f"\n{line}  # noqa\n")
    try:
        done = lint_imports(copy)
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_text(original)
    assert done.returncode != 0, done.stdout
    assert said in " ".join(done.stdout.split()), done.stdout


def test_the_copy_keeps_every_contract_when_untouched(copy: Path) -> None:
    # The failures above come from the import each adds, not from the copy.
    done = lint_imports(copy)
    assert done.returncode == 0, done.stdout + done.stderr


# --- the faces parse; the stages carry out ------------------------------------------------------------


def parsed(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    return arguments.parse(parser, line)


def test_cluster_words_become_one_order_per_action() -> None:
    parser = arguments.cluster_parser("%cluster")
    assert arguments.cluster_order(parsed(parser, "")) == ClusterOrder("list", "default")
    assert arguments.cluster_order(parsed(parser, "status --name big")) == ClusterOrder("status", "big")
    assert arguments.cluster_order(parsed(parser, "scale 3")) == ClusterOrder("scale", "default", workers=3)
    assert arguments.cluster_order(parsed(parser, "stop")) == ClusterOrder("stop", "default")
    start = arguments.cluster_order(parsed(parser, "start --workers 1"))
    assert (start.action, start.spec and start.spec.workers) == ("start", 1)
    assert set(ACTIONS) == {"list", "start", "status", "scale", "stop"}
    assert waits_for(start) == "starting LocalCluster, 1 worker(s) x 1 thread(s), memory auto"
    assert waits_for(ClusterOrder("scale", "default", workers=3)) == "scaling to 3 worker(s)"
    assert waits_for(ClusterOrder("stop", "default")) is None
    with pytest.raises(InvalidInput, match=r"workers must be a whole number >= 1 \(got 'many'\)"):
        arguments.cluster_order(parsed(parser, "scale many"))


def test_deploy_words_become_an_order() -> None:
    parser = arguments.deploy_parser("%deploy")
    assert arguments.deploy_order(parsed(parser, "")) == DeployOrder("status")
    assert arguments.deploy_order(parsed(parser, "status cancer")) == DeployOrder("status", "cancer")
    assert arguments.deploy_order(parsed(parser, "stop --all")) == DeployOrder("stop", every=True)
    assert arguments.deploy_order(parsed(parser, "logs cancer --lines 5")) == DeployOrder("logs", "cancer", lines=5)
    assert arguments.deploy_order(parsed(parser, "token cancer --rotate")).rotate
    order = arguments.deploy_order(parsed(parser, "cancer@champion --port 8123"))
    assert (order.action, order.name, order.spec and order.spec.port) == ("deploy", "cancer", 8123)
    for line, message in (
        ("rollback", "rollback needs the deployment's name: rollback NAME"),
        ("a b", "one model at a time"),
        ("status --rotate", "--rotate goes with token"),
        ("stop ../x", "deployment name"),
    ):
        with pytest.raises(InvalidInput, match=message):
            arguments.deploy_order(parsed(parser, line))


def test_train_words_become_an_order_checked_before_the_cell_runs() -> None:
    parser = arguments.train_parser("%%train")
    order = arguments.train_order(parsed(parser, "--data X,y --metrics accuracy,f1 --params a=1,b=x --search grid"))
    assert order == TrainOrder(data="X,y", metrics=("accuracy", "f1"), params={"a": "1", "b": "x"}, search="grid")
    order.check()
    with pytest.raises(InvalidInput, match="unknown metric 'acuracy'"):
        arguments.train_order(parsed(parser, "--metrics acuracy")).check()
    with pytest.raises(InvalidInput, match="--eval takes two variable names"):
        arguments.train_order(parsed(parser, "--eval X_test")).check()
    with pytest.raises(InvalidInput, match="--params takes k=v pairs"):
        arguments.train_order(parsed(parser, "--params oops"))
    assert experiment_name(None, "work/churn.ipynb") == "churn"
    assert experiment_name("mine", "work/churn.ipynb") == "mine"
    assert experiment_name(None, None) == "default"


def test_held_out_data_for_mlops_review_is_split_by_the_review_stage(tmp_path: Path) -> None:
    import pandas as pd

    from mlops_magics.review.data import held_out

    path = tmp_path / "held_out.csv"
    pd.DataFrame({"a": [1.0, 2.0], "label": [0, 1]}).to_csv(path, index=False)
    x, y = held_out(str(path), "label")
    assert list(x.columns) == ["a"] and list(y) == [0, 1]
    with pytest.raises(InvalidInput, match=r"--target 'y' is not a column of .*held_out.csv; columns are \['a', 'label'\]"):
        held_out(str(path), "y")
