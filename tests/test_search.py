"""The search runner against scikit-learn's own GridSearchCV, on local processes (the cluster case is in test_train)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops_magics.errors import InvalidInput
from mlops_magics.train.search import parse_space, run_search

X, Y = load_breast_cancer(return_X_y=True, as_frame=True)


def test_grid_matches_scikit_learn() -> None:
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    space = {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]}
    ours = run_search(pipe, X, Y, "grid", space, 3, None, progress=False)
    theirs = GridSearchCV(pipe, space, cv=3).fit(X, Y)
    assert ours.best_params == theirs.best_params_
    np.testing.assert_allclose(ours.cv_results["mean_test_score"], theirs.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(ours.cv_results["rank_test_score"], theirs.cv_results_["rank_test_score"])
    np.testing.assert_allclose(ours.best_estimator.predict_proba(X), theirs.best_estimator_.predict_proba(X))
    assert ours.failures == []


def test_random_search_samples_the_asked_number_of_trials() -> None:
    found = run_search(LogisticRegression(max_iter=200), X, Y, "random", {"C": [0.01, 0.1, 1, 10, 100]}, 2, 3, progress=False)
    assert len(found.cv_results["params"]) == 3
    assert found.best_params in found.cv_results["params"]


def test_failed_candidates_score_nan_and_are_reported() -> None:
    space = {"C": [0.1, 1.0], "penalty": ["l1", "l2"]}  # lbfgs refuses l1
    found = run_search(LogisticRegression(max_iter=200), X, Y, "grid", space, 3, None, progress=False)
    scores = found.cv_results["mean_test_score"]
    failed = [p["penalty"] == "l1" for p in found.cv_results["params"]]
    assert np.isnan(scores[failed]).all() and np.isfinite(scores[~np.array(failed)]).all()
    assert found.best_params["penalty"] == "l2"
    assert len(found.failures) == 6 and "'penalty': 'l1'" in found.failures[0] and "ValueError" in found.failures[0]
    assert found.cv_results["rank_test_score"][failed].min() > found.cv_results["rank_test_score"][~np.array(failed)].max()


def test_every_trial_failing_is_one_clear_error() -> None:
    with pytest.raises(InvalidInput, match="every trial failed; the first: .*penalty"):
        run_search(LogisticRegression(), X, Y, "grid", {"penalty": ["l1"]}, 2, None, progress=False)


def test_the_refit_keeps_the_users_n_jobs() -> None:
    unset = run_search(RandomForestClassifier(n_estimators=5, random_state=0), X, Y, "grid", {"max_depth": [2, 3]}, 2, None)
    assert unset.best_estimator.n_jobs is None and unset.best_estimator.n_estimators == len(unset.best_estimator.estimators_)
    chosen = run_search(RandomForestClassifier(n_estimators=5, n_jobs=1), X, Y, "grid", {"max_depth": [2]}, 2, None)
    assert chosen.best_estimator.n_jobs == 1


@pytest.mark.parametrize(
    ("kind", "space", "cv", "message"),
    [
        ("bayes", {"C": [1]}, 3, "--search 'bayes' is not known"),
        ("grid", {"nope": [1]}, 3, "--space names \\['nope'\\]"),
        ("grid", {"C": [1]}, 1, "--cv must be a whole number >= 2"),
    ],
)
def test_bad_arguments(kind: str, space: dict, cv: int, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        run_search(LogisticRegression(), X, Y, kind, space, cv, None, progress=False)


def test_parse_space() -> None:
    assert parse_space("C=0.1,1 penalty=l1,l2 fit_intercept=true max_depth=none") == {
        "C": [0.1, 1],
        "penalty": ["l1", "l2"],
        "fit_intercept": [True],
        "max_depth": [None],
    }
    with pytest.raises(InvalidInput, match="is not NAME=V1,V2"):
        parse_space("C")


def test_a_searched_away_step_with_n_jobs_does_not_break_the_refit() -> None:
    from sklearn.feature_selection import SelectFromModel

    pipe = make_pipeline(
        SelectFromModel(RandomForestClassifier(n_estimators=5, random_state=0)), LogisticRegression(max_iter=500)
    )
    found = run_search(pipe, X, Y, "grid", {"selectfrommodel": ["passthrough"]}, 2, None, progress=False)
    assert found.best_estimator.named_steps["selectfrommodel"] == "passthrough"


class CannotTravel(LogisticRegression):
    """An estimator that cannot be sent to another process."""

    def __reduce__(self):
        raise TypeError("this estimator stays in its process")


def test_a_pool_that_cannot_run_the_fits_is_one_clear_error() -> None:
    from mlops_magics.errors import MLOpsError

    with pytest.raises(
        MLOpsError,
        match=r"^the search could not run its fits: .*TypeError: this estimator stays in its process\); nothing was tracked$",
    ):
        run_search(CannotTravel(), X, Y, "grid", {"C": [0.1, 1.0]}, 2, None, progress=False)
