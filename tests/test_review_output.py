"""What a person reads: a review that says worse or better the way its metric points, reports that show when
assigned (and once when not), a text form without a picture in it, and no warnings from background work."""

from __future__ import annotations

SETUP = (
    "%load_ext mlops_magics\n"
    "from sklearn.datasets import load_diabetes\n"
    "from sklearn.dummy import DummyRegressor\n"
    "from sklearn.linear_model import Ridge\n"
    "from sklearn.model_selection import train_test_split\n"
    "X, y = load_diabetes(return_X_y=True, as_frame=True)\n"
    "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n"
)


def _reports(run, css_class: str) -> list[str]:
    return [r["text/html"] for r in run.results if css_class in r.get("text/html", "")]


def test_a_worse_rmse_is_called_worse_and_the_report_shows_once(kernel_factory) -> None:
    kernel = kernel_factory()
    assert kernel.run(SETUP).status == "ok"
    kernel.run("%%train --data X_train,y_train --model diabetes\ngood = Ridge(alpha=0.1).fit(X_train, y_train)")
    first = kernel.run("%review diabetes --data X_test,y_test --metric rmse")
    assert len(_reports(first, "mlops-review")) == 1, first.text  # not assigned: shown once, not twice
    kernel.run("%%train --data X_train,y_train --model diabetes\nbad = DummyRegressor().fit(X_train, y_train)")

    refused = kernel.run("r = %review diabetes --data X_test,y_test --metric rmse\nprint(type(r).__name__, r.passed)")
    assert refused.status == "ok", refused.text
    assert "ReviewResult False" in refused.stdout
    (report,) = _reports(refused, "mlops-review")  # assigned, and still shown
    assert "worse (lower is better)" in report and "changes by" not in report, report
    plain = kernel.run("print(repr(r))\nprint(r.reasons)")
    assert "worse (lower is better); not worse required" in plain.stdout, plain.text
    assert "rmse" in plain.stdout and "champion v1" in plain.stdout
    assert "base64" not in plain.stdout and "iVBOR" not in plain.stdout and len(plain.stdout) < 2000, plain.text

    better = kernel.run("%review diabetes --data X_test,y_test --metric r2 --min-improvement 5")
    assert "worse (higher is better); better by at least 5.0 required" in better.text, better.text


def test_an_assigned_profile_is_shown(kernel_factory) -> None:
    kernel = kernel_factory()
    kernel.run(SETUP)
    assigned = kernel.run("p = %eda X_train\nprint(type(p).__name__)")
    assert assigned.status == "ok", assigned.text
    assert "Profile" in assigned.stdout
    assert len([r for r in assigned.results if "text/html" in r]) == 1, assigned.text
    alone = kernel.run("%eda X_train")
    assert len([r for r in alone.results if "text/html" in r]) == 1, alone.text
    again = kernel.run("p")  # a later cell shows the object as usual
    assert len([r for r in again.results if "text/html" in r]) == 1, again.text


def test_background_tracking_says_nothing_into_later_cells(kernel_factory) -> None:
    kernel = kernel_factory()
    kernel.run(SETUP)
    kernel.run("class Doubler:\n    def predict(self, x):\n        return x.iloc[:, 0].to_numpy() * 2\nd = Doubler()")
    trained = kernel.run("%train --model-var d --data X_train,y_train --model doubler")
    assert trained.status == "ok", trained.text
    later = kernel.run("from mlops_magics.train.background import WRITER\nWRITER.flush()\nprint('flushed')")
    assert later.stdout.strip() == "flushed", later.text
    for said in (trained.stderr, later.stderr):
        assert "Warning" not in said and "mlflow" not in said, said
