"""Which way each metric points: one list in Python, judged against the scorers, and sent to the panel."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

from mlops_magics.train import metrics
from mlops_magics.train.direction import HIGHER_IS_BETTER
from mlops_magics.workspace import Workspace


@pytest.fixture
def jp_server_config(workspace: Workspace) -> dict:
    return {"ServerApp": {"jpserver_extensions": {"mlops_magics": True}, "allow_unauthenticated_access": False}}


@pytest.mark.parametrize("name", sorted(metrics.SCORERS))
def test_each_scorer_points_the_way_the_list_says(name: str) -> None:
    # A model fitted on the labels scores better than one fitted on shuffled labels, whichever way the metric points.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    classification = name not in ("rmse", "mae", "r2")
    y = (x[:, 0] + 0.3 * x[:, 1] > 0).astype(int) if classification else 2.0 * x[:, 0] - x[:, 2]
    make = (lambda: LogisticRegression()) if classification else (lambda: Ridge())
    good = make().fit(x, y)
    bad = make().fit(x, rng.permutation(y))
    good_score = metrics.score(good, x, y, (name,))[name]
    bad_score = metrics.score(bad, x, y, (name,))[name]
    assert metrics.better(name, good_score, bad_score) > 0, (name, good_score, bad_score)
    assert (name in HIGHER_IS_BETTER) == (good_score > bad_score)


def test_the_search_score_is_better_large() -> None:
    # scikit-learn's search scorers are greater-is-better (errors come negated): a higher mean_cv_score wins.
    assert metrics.better("mean_cv_score", -0.2, -0.5) > 0


async def test_status_sends_the_list_to_the_panel(jp_fetch) -> None:
    status = json.loads((await jp_fetch("mlops", "api", "status")).body)
    assert status["higher_is_better"] == sorted(HIGHER_IS_BETTER)
    assert {"accuracy", "mean_cv_score", "r2", "roc_auc"} <= set(status["higher_is_better"])
    assert not {"rmse", "mae"} & set(status["higher_is_better"])
