"""%%train --search on this machine's processes (no cluster), in a real kernel, with the pipeline people use most:
a ColumnTransformer over string and numeric columns with missing values, then a classifier."""

from __future__ import annotations

import mlflow

from mlops_magics import tracking
from mlops_magics.workspace import Workspace

PENGUINS = """%load_ext mlops_magics
import numpy as np, pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
rng = np.random.default_rng(0)
n = 240
species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], n)
penguins = pd.DataFrame({
    "island": rng.choice(["Biscoe", "Dream", "Torgersen"], n),
    "sex": rng.choice(["male", "female", None], n),
    "bill_length_mm": rng.normal(40, 4, n) + (species == "Gentoo") * 8,
    "flipper_length_mm": rng.normal(195, 8, n) + (species == "Chinstrap") * 10,
})
penguins.loc[rng.choice(n, 12, replace=False), "bill_length_mm"] = np.nan
y = pd.Series(species, name="species")
def preprocess():
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["bill_length_mm", "flipper_length_mm"]),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), ["island", "sex"]),
    ])
"""


def _tracked(run) -> str:
    """The HTML the %%train result shows (a search also shows its progress bar)."""
    return next(r["text/html"] for r in run.results if "mlops-train" in r.get("text/html", ""))


SEARCH = '%%train --search grid --space "clf__C=0.1,1,10" --cv 3 --data penguins,y --model penguins --experiment penguins\n'


def test_local_search_of_a_column_transformer_pipeline_is_tracked(kernel_factory, workspace: Workspace) -> None:
    kernel = kernel_factory()
    assert kernel.run(PENGUINS).status == "ok"
    searched = kernel.run(SEARCH + 'pipe = Pipeline([("pre", preprocess()), ("clf", LogisticRegression(max_iter=500))])')
    assert searched.status == "ok", searched.text
    assert "Traceback" not in searched.text and "Error" not in searched.text, searched.text
    # The refit uses every core without setting n_jobs, which LogisticRegression deprecates with a FutureWarning.
    assert "FutureWarning" not in searched.text and "n_jobs" not in searched.text, searched.text
    flushed = kernel.run(
        "from mlops_magics.train.background import WRITER\nWRITER.flush()\nprint(type(pipe.named_steps['pre']).__name__)"
    )
    assert "ColumnTransformer" in flushed.stdout, flushed.text

    tracking.mlflow_for(workspace)
    client = mlflow.MlflowClient(workspace.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("penguins").experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.info.status == "FINISHED"
    assert "best {'clf__C'" in parent.data.tags["mlops.search"]
    assert len([r for r in runs if "mlflow.parentRunId" in r.data.tags]) == 3
    version = client.get_model_version_by_alias("penguins", "challenger")
    assert version.run_id == parent.info.run_id


def test_a_failed_cell_leaves_nothing_the_next_cell_is_blamed_for(kernel_factory) -> None:
    kernel = kernel_factory()
    assert kernel.run(PENGUINS).status == "ok"
    failed = kernel.run(
        SEARCH + 'first = Pipeline([("pre", preprocess()), ("clf", LogisticRegression())])\nraise RuntimeError("a typo")'
    )
    assert "the cell failed; nothing was tracked" in failed.text, failed.text
    # An estimator the failed cell made is not the next search's: only what a cell sets is its model.
    again = kernel.run(SEARCH + 'second = Pipeline([("pre", preprocess()), ("clf", LogisticRegression(max_iter=500))])')
    assert again.status == "ok", again.text
    assert "several" not in again.text and "as <code>second</code>" in _tracked(again), again.text
    # `model = pipe.fit(...)` names one fitted model twice: it is tracked, not "several fitted models".
    kernel.run('pipe = Pipeline([("pre", preprocess()), ("clf", LogisticRegression(max_iter=500))])')
    fitted = kernel.run("%%train --data penguins,y --experiment penguins\nmodel = pipe.fit(penguins, y)")
    assert fitted.status == "ok", fitted.text
    assert "several" not in fitted.text and "as <code>model</code>" in _tracked(fitted), fitted.text
