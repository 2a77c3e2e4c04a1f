"""%prep: a profile's findings become a scikit-learn pipeline — decided from the profile alone, every alert answered
or left with its reason, the same code for the same profile; in a real kernel the code lands in a new cell, runs,
trains inside %%train, deploys, and the deployment answers raw rows (missing values, unseen categories)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

from mlops_magics.eda import profile as profile_of
from mlops_magics.errors import InvalidInput
from mlops_magics.workspace import Workspace
from tests.test_serving import free_port

MESSY = """
import numpy as np, pandas as pd
rng = np.random.default_rng(7)
n = 600
df = pd.DataFrame({
    "passenger": [f"P{i:05d}" for i in range(n)],
    "cabin": np.where(rng.random(n) < 0.77, None, rng.choice(["A1", "B2", "C3"], n)),
    "fare": rng.lognormal(2.5, 1.1, n),
    "age": np.where(rng.random(n) < 0.2, np.nan, rng.normal(35, 12, n)),
    "embarked": np.where(rng.random(n) < 0.01, None, rng.choice(["S", "C", "Q"], n)),
    "ticket": [f"T{v}" for v in rng.integers(0, 400, n)],
    "deck": "main",
    "booked": pd.date_range("2024-01-01", periods=n, freq="h").astype(str),
    "amount": [str(v) for v in rng.integers(1, 900, n)],
    "member": rng.random(n) < 0.3,
    "ratio": np.where(rng.random(n) < 0.02, np.inf, rng.normal(0, 1, n)),
})
df["survived"] = ((df["fare"] > 15) ^ (rng.random(n) < 0.15)).astype(int)
df = pd.concat([df, df.iloc[:5]], ignore_index=True)  # five duplicate rows
"""


def _messy() -> pd.DataFrame:
    namespace: dict = {}
    exec(MESSY, namespace)
    return namespace["df"]


@pytest.fixture(scope="module")
def messy_profile():
    return profile_of(_messy(), target="survived", progress=False)


def test_each_finding_becomes_a_named_step_and_every_alert_is_answered_or_left(messy_profile) -> None:
    suggestion = messy_profile.suggest(data="df")
    plan, code = suggestion.plan, suggestion.code
    recipes = {d.column: d.recipe for d in plan.decisions}
    assert recipes["passenger"] == recipes["cabin"] == recipes["deck"] == "drop"
    assert recipes["fare"] == "number" and recipes["ticket"] == "strings" and recipes["booked"] == "date"
    assert recipes["amount"] == "text_number" and recipes["embarked"] == "category" and recipes["member"] == "flag"
    assert "survived" not in recipes and plan.task == "classification"
    for line in (
        "#   passenger: ID-like, 600 distinct of 605 → dropped",
        "#   deck: one value only → dropped",
        "# fare: skew ",
        '("ticket", make_pipeline(',
        "ApplyToCols(StringEncoder(random_state=0))",
        "# embarked: 3 levels, 1.",
        "df = df.drop_duplicates()  # 5 duplicate rows (0.8%)",
        "# booked: dates as text → parsed: year, month, day, seconds, scaled",
        "# ratio: ",
        "from skrub import ApplyToCols, DatetimeEncoder, StringEncoder, ToCategorical, ToDatetime, ToFloat",
        "stratify=y",
    ):
        assert line in code, (line, code)
    answered = {(column, kind) for d in plan.decisions for kind in d.answers for column in [d.column]}
    left = {(item.column, item.kind) for item in plan.left}
    for alert in messy_profile.alerts:
        key = (alert["column"], alert["kind"])
        if alert["column"] == "survived" or alert["kind"] in ("duplicates", "high_correlation"):
            continue  # the target's notes, the rows to drop, the pairs (left below)
        assert key in answered or key in left, (alert, answered, left)
    assert all(item.reason for item in plan.left)
    # The same profile gives the same code; the code compiles and makes an estimator.
    assert messy_profile.suggest(data="df").code == code
    compile(code, "<prep>", "exec")
    assert type(suggestion.pipeline()).__name__ == "ColumnTransformer"


def test_the_prep_fits_and_takes_raw_rows_with_nulls_unseen_levels_and_odd_types(messy_profile) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    data = _messy().drop_duplicates()
    X, y = data.drop(columns="survived"), data["survived"]
    model = make_pipeline(messy_profile.suggest().pipeline(), LogisticRegression(max_iter=2000)).fit(X, y)
    assert model.score(X, y) > 0.75
    raw = pd.DataFrame(
        [
            {column: None for column in X.columns},
            {**X.iloc[0].to_dict(), "embarked": "Z", "ticket": 12, "amount": "n/a", "booked": "not a date", "member": "yes"},
        ]
    )
    assert set(model.predict(raw)) <= {0, 1}


def test_bad_targets_and_tables_are_one_line_answers() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0] * 5, "c": ["a"] * 20, "nothing": [None] * 20, "id": range(20)})
    profile = profile_of(frame, progress=False)
    for target, message in (
        ("missing", "target column 'missing' is not in the profile"),
        ("c", "target column 'c' has one value only"),
        ("nothing", "target column 'nothing' has no values"),
    ):
        with pytest.raises(InvalidInput, match=message):
            profile.suggest(target)
    with pytest.raises(InvalidInput, match="regression needs numbers"):
        profile_of(frame.assign(c=["a", "b"] * 10), progress=False).suggest("c", "regression")
    with pytest.raises(InvalidInput, match="no usable feature: c: one value only"):
        profile_of(frame[["c", "id"]].assign(y=[0, 1] * 10), progress=False).suggest("y")
    old = profile_of(frame, progress=False)
    old.data.pop("format")
    with pytest.raises(InvalidInput, match=r"format None, not 1.*profile the data again with %eda"):
        old.suggest("x")
    with pytest.raises(InvalidInput, match="task 'clustering' is not known"):
        profile.suggest("x", "clustering")


def test_the_cli_writes_the_code_from_a_file_and_from_a_kept_profile(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "messy.parquet"
    _messy().to_parquet(path)
    env = {"MLOPS_HOME": str(workspace.home), "PATH": str(Path(sys.executable).parent)}
    run = subprocess.run(
        [sys.executable, "-m", "mlops_magics.cli", "prep", str(path), "--target", "survived"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "prep = ColumnTransformer(" in run.stdout and "saved in" in run.stderr
    profile_id = run.stderr.split("profile ")[1].split()[0]
    again = subprocess.run(
        [sys.executable, "-m", "mlops_magics.cli", "prep", profile_id, "--explain"], capture_output=True, text=True, env=env
    )
    assert again.returncode == 0 and "passenger" in again.stdout and "ID-like" in again.stdout, again.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "mlops_magics.cli", "prep", profile_id, "--target", "nope"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode != 0 and bad.stderr.startswith("error: target column 'nope' is not in the profile")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_prep_in_a_kernel_inserts_a_cell_that_trains_deploys_and_answers_raw_rows(kernel_factory, workspace: Workspace) -> None:
    kernel = kernel_factory()
    assert kernel.run("%load_ext mlops_magics\n" + MESSY).status == "ok"
    explained = kernel.run("%prep df --target survived --explain")
    assert explained.status == "ok" and not explained.payload and "ID-like" in explained.text, explained.text
    prepared = kernel.run("%prep df --target survived")
    assert prepared.status == "ok", prepared.text
    assert "the code is in a new cell below" in prepared.stdout
    inserted = [p for p in prepared.payload if p.get("source") == "set_next_input"]
    assert inserted and inserted[0]["replace"] is False
    cell = inserted[0]["text"]
    assert "prep = ColumnTransformer(" in cell and "df = df.drop_duplicates()" in cell
    ran = kernel.run(cell)  # the person runs the inserted cell
    assert ran.status == "ok", ran.text
    trained = kernel.run(
        "from sklearn.model_selection import train_test_split\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.ensemble import HistGradientBoostingClassifier\n"
        "X, y = df.drop(columns='survived'), df['survived']\n"
        "X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)\n"
    )
    assert trained.status == "ok", trained.text
    fitted = kernel.run(
        "%%train --model prepped --data X_train,y_train --eval X_test,y_test\n"
        "model = make_pipeline(prep, HistGradientBoostingClassifier(random_state=0)).fit(X_train, y_train)"
    )
    assert fitted.status == "ok", fitted.text
    port = free_port()
    deployed = kernel.run(f"%deploy prepped@challenger --name prepped --port {port}")
    assert deployed.status == "ok" and "healthy" in deployed.stdout, deployed.text
    try:
        rows = pd.DataFrame(
            [
                {"passenger": "P99999", "cabin": None, "fare": 80.0, "age": None, "embarked": "Z", "ticket": "T-new",
                 "deck": "main", "booked": "2025-06-01 10:00:00", "amount": "12", "member": True, "ratio": 0.3},
                {"passenger": "P99998", "cabin": "A1", "fare": 3.0, "age": 40.0, "embarked": None, "ticket": None,
                 "deck": None, "booked": None, "amount": None, "member": None, "ratio": None},
            ]
        )  # fmt: skip
        body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
        answer = httpx.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        served = answer.json()["predictions"]
        split = json.dumps(body["dataframe_split"])
        expected = kernel.run(
            f"import json\nsplit = json.loads({split!r})\n"
            "print(json.dumps(model.predict(pd.DataFrame(split['data'], columns=split['columns'])).tolist()))"
        )
        assert expected.status == "ok", expected.text
        assert served == json.loads(expected.stdout.strip()) and len(served) == 2
    finally:
        kernel.run("%deploy stop prepped")


def test_prep_from_a_kept_profile_and_a_dask_frame(kernel_factory, workspace: Workspace) -> None:
    kernel = kernel_factory()
    setup = kernel.run(
        "%load_ext mlops_magics\n" + MESSY + "import dask.dataframe as dd\nddf = dd.from_pandas(df, npartitions=3)"
    )
    assert setup.status == "ok", setup.text
    from_dask = kernel.run("s = %prep ddf --target survived --explain\nprint(s.plan.profile_id)")
    assert from_dask.status == "ok", from_dask.text
    profile_id = from_dask.stdout.strip().splitlines()[-1]
    from_profile = kernel.run(f"%prep {profile_id}")
    assert from_profile.status == "ok", from_profile.text
    cell = next(p["text"] for p in from_profile.payload if p.get("source") == "set_next_input")
    assert f"from profile {profile_id}" in cell and "for survived (classification)" in cell
    assert "# 5 duplicate rows (0.8%): drop them before fitting" in cell  # no variable to drop them from
    kept = kernel.run("p = %eda df --target survived\n%prep p")  # a Profile object: no data to drop rows from
    assert kept.status == "ok", kept.text
    cell = next(p["text"] for p in kept.payload if p.get("source") == "set_next_input")
    assert "p = p.drop_duplicates()" not in cell and "# 5 duplicate rows (0.8%): drop them before fitting" in cell
    missing = kernel.run("%prep 20200101-000000-abcdef")
    assert missing.status == "error" or "not found" in missing.text.lower(), missing.text
    assert "Traceback" not in missing.text


def test_the_rest_route_answers_the_code_and_refuses_bad_queries(tmp_path: Path) -> None:
    from mlops_magics.eda.run import run_eda
    from tests.api_harness import served_jupyter

    with served_jupyter(tmp_path) as served:
        kept = run_eda(served.workspace, _messy(), name="messy", target="survived", progress=False).saved
        url = f"{served.url}/mlops/api/profiles/{kept.id}/prep"
        answer = httpx.get(url, headers=served.auth, timeout=60)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["target"] == "survived" and body["task"] == "classification" and "prep = ColumnTransformer(" in body["code"]
        assert {"column": "passenger", "found": "ID-like, 600 distinct of 605", "done": "dropped"} in body["decisions"]
        trees = httpx.get(url, params={"model": "trees"}, headers=served.auth, timeout=60).json()
        assert trees["model"] == "trees" and 'categorical_features="from_dtype"' in trees["code"]
        regression = httpx.get(url, params={"target": "fare", "task": "regression"}, headers=served.auth, timeout=60).json()
        assert regression["task"] == "regression" and "for fare (regression)" in regression["code"]
        for params, status, words in (
            ({"target": "nope"}, 400, "target column 'nope' is not in the profile"),
            ({"task": "clustering"}, 400, 'task "clustering" is not known'),
            ({"target": "a\x00b"}, 400, "target"),
            ({"model": "forest"}, 400, 'model "forest" is not known'),  # Jupyter reads a control character in a query as a space
        ):
            refused = httpx.get(url, params=params, headers=served.auth, timeout=60)
            assert refused.status_code == status and words in refused.json()["message"], refused.text
        assert httpx.get(url.replace(kept.id, "20200101-000000-abcdef"), headers=served.auth).status_code == 404
        assert httpx.get(url).status_code == 403


def test_rules_for_what_users_tables_hold_missing_levels_boolean_flags_repeated_ids_and_a_skewed_target() -> None:
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame(
        {
            "account": np.arange(n),
            "plan": np.where(rng.random(n) < 0.1, None, rng.choice(["basic", "plus", "pro"], n)),
            "active": pd.Series(np.where(rng.random(n) < 0.1, None, rng.random(n) < 0.5), dtype=object),
            "spend": rng.lognormal(3, 1, n),
        }
    )
    frame["price"] = frame["spend"] * rng.lognormal(0, 0.3, n)
    frame = pd.concat([frame, frame.iloc[:20]], ignore_index=True)  # the duplicates repeat the account id
    suggestion = profile_of(frame, target="price", progress=False).suggest()
    recipes = {d.column: d for d in suggestion.plan.decisions}
    assert recipes["account"].recipe == "drop" and "20 duplicate rows" in recipes["account"].findings[0]
    assert recipes["plan"].findings == ("3 levels, 8.8% missing → one-hot, missing as a level",)
    assert recipes["active"].recipe == "flag"
    assert suggestion.plan.task == "regression"
    assert any(
        "TransformedTargetRegressor(model, func=np.log1p, inverse_func=np.expm1)" in n for n in suggestion.plan.target_notes
    )
    model = make_pipeline(suggestion.pipeline(), Ridge()).fit(frame.drop(columns="price"), frame["price"])
    raw = pd.DataFrame([{"account": 9999, "plan": None, "active": None, "spend": 30.0}])
    assert np.isfinite(model.predict(raw)).all()


def test_code_for_trees_leaves_missing_values_order_and_categories_to_the_model(messy_profile) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    suggestion = messy_profile.suggest(model="trees")
    code = suggestion.code
    assert suggestion.plan.model == "trees"
    for line in (
        "# age: 18% missing → left to the model (it splits on missing values)",
        '("age", "passthrough", ["age"]),',
        '("embarked", ApplyToCols(ToCategorical()), ["embarked"]),',
        ').set_output(transform="pandas")  # the categories reach the model as categories',
        'HistGradientBoostingClassifier(categorical_features="from_dtype")',
    ):
        assert line in code, (line, code)
    assert "kept (a tree splits on order" in code and "StandardScaler" not in code and "log1p" not in code
    data = _messy().drop_duplicates()
    X, y = data.drop(columns="survived"), data["survived"]
    model = make_pipeline(suggestion.pipeline(), HistGradientBoostingClassifier(categorical_features="from_dtype"))
    model.fit(X, y)
    raw = pd.DataFrame([{column: None for column in X.columns}, {**X.iloc[0].to_dict(), "embarked": "Z", "ticket": 12}])
    assert set(model.predict(raw)) <= {0, 1}
    with pytest.raises(InvalidInput, match="model 'forest' is not known; use linear or trees"):
        messy_profile.suggest(model="forest")
