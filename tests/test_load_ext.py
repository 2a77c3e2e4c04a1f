"""`%load_ext mlops_magics` points the kernel's own MLflow at the workspace, cheaply."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_magics.workspace import Workspace

HEAVY = ("mlflow", "sklearn", "dask.dataframe")
# What %load_ext must not import: each is paid by the magic that needs it. pydantic (~0.1 s with the specs' models)
# and httpx (~0.1 s) too: the cluster specs and the controller's client are made when a magic first needs them.
NOT_AT_LOAD_EXT = (*HEAVY, "dask", "distributed", "scipy.stats", "pandas", "numpy", "pydantic", "httpx", "sqlalchemy")


def test_a_fresh_kernel_loads_a_registered_model_after_load_ext(kernel_factory, workspace: Workspace, tmp_path: Path) -> None:
    trainer = kernel_factory()
    trained = trainer.run(
        "%load_ext mlops_magics\n"
        "from sklearn.datasets import load_iris\nfrom sklearn.tree import DecisionTreeClassifier\n"
        "X, y = load_iris(return_X_y=True, as_frame=True)"
    )
    assert trained.status == "ok", trained.text
    assert trainer.run("%%train --data X,y --model penguins\nm = DecisionTreeClassifier().fit(X, y)").status == "ok"
    assert trainer.run("from mlops_magics.train.background import WRITER\nWRITER.flush()").status == "ok"

    fresh = kernel_factory()
    loaded = fresh.run(
        "import sys\n%load_ext mlops_magics\n"
        f"print('heavy', [m for m in {HEAVY!r} if m in sys.modules])\n"
        "import mlflow.pyfunc\n"
        "model = mlflow.pyfunc.load_model('models:/penguins@challenger')\n"
        "print('registry', mlflow.get_registry_uri())\n"
        "from sklearn.datasets import load_iris\n"
        "print('predicted', len(model.predict(load_iris(as_frame=True).data)))"
    )
    assert loaded.status == "ok", loaded.text
    assert "heavy []" in loaded.stdout  # the extension imported none of them
    assert f"registry {workspace.tracking_uri}" in loaded.stdout and "predicted 150" in loaded.stdout
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()


def test_a_tracking_uri_the_user_set_stays(kernel_factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    mine = f"sqlite:///{tmp_path / 'mine.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mine)
    kernel = kernel_factory()
    run = kernel.run("%load_ext mlops_magics\nimport mlflow\nprint('uri', mlflow.get_tracking_uri())")
    assert f"uri {mine}" in run.stdout, run.text


def test_load_ext_imports_only_what_registering_the_magics_needs(kernel_factory) -> None:
    kernel = kernel_factory()
    loaded = kernel.run(
        "import sys, time\n"
        f"before = [m for m in {NOT_AT_LOAD_EXT!r} if m in sys.modules]\n"
        "started = time.perf_counter()\n"
        "get_ipython().run_line_magic('load_ext', 'mlops_magics')\n"
        "print('seconds', time.perf_counter() - started)\n"
        f"print('before', before, 'after', [m for m in {NOT_AT_LOAD_EXT!r} if m in sys.modules])"
    )
    assert loaded.status == "ok", loaded.text
    assert "before [] after []" in loaded.stdout
    seconds = float(loaded.stdout.split("seconds ", 1)[1].split()[0])
    assert seconds < 1.0  # ~0.04 s on an idle machine; bounded loosely, a shared test machine may be busy
