"""Inputs with missing values, unseen categories, whole and fractional numbers and stray whitespace, in every
payload format, against a realistic pipeline (imputers, one-hot encoding that ignores unknown categories)
served over HTTP: where pyfunc answers, the deployment answers the same; where it refuses, a one-line 4xx.

The reference is what MLflow's own scoring server passes to ``pyfunc.predict``: for the JSON formats, the
frame it makes of the ``dataframe_records`` form of the rows (a JSON null is None, a NaN token NaN); for CSV,
the frame it reads from the same CSV body (an empty field is NaN). MLflow's ``instances`` and ``inputs``
readers turn a null in a string column into the string "None"; ours gives every JSON format the same frame.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import httpx
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_magics import tracking
from mlops_magics.controller import Controller
from mlops_magics.serving.inputs import columns_of
from mlops_magics.train.background import WRITER
from mlops_magics.train.run import TrainRequest, track
from mlops_magics.train.tracker import MLflowTracker
from mlops_magics.workspace import Workspace
from tests.test_serving import free_port

STRINGS, NUMBERS = ["island", "sex"], ["bill_length_mm", "flipper_length_mm", "body_mass_g", "year"]


def penguins(rows: int = 400, seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    """A penguins-like table: two string and four number columns, missing values in ``sex`` and
    ``bill_length_mm`` (also among the first rows, from which the signature is inferred)."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Chinstrap", "Gentoo"], rows)
    frame = pd.DataFrame(
        {
            "island": np.where(species == "Gentoo", "Biscoe", rng.choice(["Dream", "Torgersen", "Biscoe"], rows)),
            "sex": rng.choice(["male", "female"], rows).astype(object),
            "bill_length_mm": rng.normal(39, 3, rows) + (species == "Chinstrap") * 9 + (species == "Gentoo") * 8,
            "flipper_length_mm": rng.normal(190, 6, rows) + (species == "Gentoo") * 27,
            "body_mass_g": rng.normal(3700, 400, rows) + (species == "Gentoo") * 1400,
            "year": rng.choice([2007, 2008, 2009], rows),
        }
    )
    frame.loc[[1, 3, *rng.choice(rows, 20, replace=False)], "sex"] = None
    frame.loc[[2, *rng.choice(rows, 8, replace=False)], "bill_length_mm"] = np.nan
    return frame, pd.Series(species, name="species")


def pipeline() -> Pipeline:
    prepare = ColumnTransformer(
        [
            ("strings", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), STRINGS),
            ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), NUMBERS),
        ]
    )
    return Pipeline([("prepare", prepare), ("classify", LogisticRegression(max_iter=2000))])


BASE = {"island": "Biscoe", "sex": "female", "bill_length_mm": 47.5, "flipper_length_mm": 214.0, "body_mass_g": 5000.5}
BASE["year"] = 2008
NAN = float("nan")
# name -> rows. Each is sent in every format.
MATRIX: dict[str, list[dict[str, Any]]] = {
    "complete": [BASE],
    "sex null": [{**BASE, "sex": None}],
    "island null (a required string column)": [{**BASE, "island": None}],
    "sex NaN": [{**BASE, "sex": NAN}],
    "island NaN": [{**BASE, "island": NAN}],
    "sex empty string": [{**BASE, "sex": ""}],
    "sex left out (an optional column)": [{k: v for k, v in BASE.items() if k != "sex"}],
    "island left out (a required column)": [{k: v for k, v in BASE.items() if k != "island"}],
    "bill null": [{**BASE, "bill_length_mm": None}],
    "flipper null (a required number column)": [{**BASE, "flipper_length_mm": None}],
    "bill NaN": [{**BASE, "bill_length_mm": NAN}],
    "flipper infinite": [{**BASE, "flipper_length_mm": float("inf")}],
    "year null (an integer column)": [{**BASE, "year": None}],
    "unseen island": [{**BASE, "island": "Atlantis"}],
    "unseen sex, with whitespace": [{**BASE, "sex": " female "}],
    "whitespace around a number": [{**BASE, "bill_length_mm": " 47.5 "}],
    "a number as text": [{**BASE, "body_mass_g": "5000.5"}],
    "a word in a number column": [{**BASE, "body_mass_g": "heavy"}],
    "whole body mass (int for double)": [{**BASE, "body_mass_g": 5000}],
    "year as 2008.0 (float for long)": [{**BASE, "year": 2008.0}],
    "a number in a string column": [{**BASE, "sex": 1}],
    "one null spoils no batch": [BASE, {**BASE, "sex": None}, {**BASE, "island": "Atlantis", "bill_length_mm": None}],
    "a whole column of nulls": [{**BASE, "sex": None}, {**BASE, "sex": None, "island": None}],
}
# MLflow's JSON reader truncates 2008.5 to 2008 for a long column; pyfunc itself and MLflow's CSV reader refuse it.
STRICTER = {"year 2008.5 (a fraction for long)": [{**BASE, "year": 2008.5}]}
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs", "csv")


def encode(rows: list[dict[str, Any]], form: str) -> tuple[bytes, str]:
    """The rows in one payload format; missing values as Python's json.dumps writes them (null, NaN)."""
    names = [c for c in BASE if any(c in row for row in rows)]
    if form == "csv":
        return pd.DataFrame(rows, columns=names).to_csv(index=False).encode(), "text/csv"
    if form == "dataframe_split":
        payload: Any = {"columns": names, "data": [[row.get(c) for c in names] for row in rows]}
    elif form == "inputs":
        payload = {c: [row.get(c) for row in rows] for c in names}
    else:
        payload = rows
    return json.dumps({form: payload}).encode(), "application/json"


def mlflow_answer(model: Any, body: bytes, content_type: str) -> list[Any] | None:
    """What MLflow's scoring server answers (its reading of the body, then pyfunc's predict); None: refused."""
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc.scoring_server import invocations

    try:
        response = invocations(body, content_type, model, model.metadata.get_input_schema())
    except MlflowException:
        return None
    return json.loads(response.response)["predictions"] if response.status == 200 else None


def pyfunc_answer(model: Any, frame: pd.DataFrame) -> list[Any] | None:
    try:
        return np.asarray(model.predict(frame)).tolist()
    except Exception:
        return None


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    home = tmp_path_factory.mktemp("inputs") / ".mlops"
    os.environ["MLOPS_HOME"] = str(home)
    workspace = Workspace(home)
    x, y = penguins()
    result = track(
        MLflowTracker(workspace), pipeline().fit(x, y), TrainRequest(experiment="inputs", data=(x, y), model_name="penguins")
    )
    WRITER.flush()
    assert result.error is None and result.version == "1", result.error
    tracking.mlflow_for(workspace)
    model = mlflow.pyfunc.load_model("models:/penguins/1")
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("penguins", {"model": "penguins/1", "port": free_port()})
    logging.getLogger("mlflow").setLevel(logging.ERROR)  # MLflow warns of every extra or odd input
    yield model, view
    from tests.conftest import stop_controller

    stop_controller(workspace)
    os.environ.pop("MLOPS_HOME", None)


def test_the_signature_has_optional_columns_from_data_with_missing_values(deployed) -> None:
    model, _ = deployed
    required = {c.name: c.required for c in columns_of(model.metadata)}
    assert required == {c: c not in ("sex", "bill_length_mm") for c in BASE}


def test_a_null_in_a_string_column_is_answered_as_pyfunc_answers_it(deployed) -> None:
    """The reported case: one ``"sex": null`` used to fail the whole batch with 422 'expected string'."""
    model, view = deployed
    rows = [BASE, {**BASE, "sex": None}]
    answer = httpx.post(f"{view['url']}/invocations", json={"dataframe_records": rows}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == np.asarray(model.predict(pd.DataFrame(rows))).tolist()
    csv = b"island,sex,bill_length_mm,flipper_length_mm,body_mass_g,year\nBiscoe,,47.5,214.0,5000.5,2008\n"
    answer = httpx.post(f"{view['url']}/invocations", content=csv, headers={"Content-Type": "text/csv"}, timeout=30)
    assert answer.status_code == 200, answer.text


def test_every_input_in_every_format_is_answered_as_pyfunc_answers_it(deployed) -> None:
    model, view = deployed
    outcomes: dict[str, list[str]] = {"answered": [], "refused": []}
    with httpx.Client(timeout=30) as client:
        for case, rows in MATRIX.items():
            records = encode(rows, "dataframe_records")
            for form in FORMATS:
                body, content_type = encode(rows, form)
                expected = mlflow_answer(model, *(encode(rows, "csv") if form == "csv" else records))
                answer = client.post(f"{view['url']}/invocations", content=body, headers={"Content-Type": content_type})
                where = f"{case} as {form}: {answer.status_code} {answer.text[:300]}"
                if expected is not None:
                    assert answer.status_code == 200, where
                    assert answer.json()["predictions"] == expected, where
                    outcomes["answered"].append(f"{case} as {form}")
                else:
                    assert answer.status_code in (400, 422), where
                    message = answer.json()["message"]
                    assert message and "\n" not in message, where
                    outcomes["refused"].append(f"{case} as {form}")
                if form != "csv":  # pyfunc on the rows as a frame, where it takes them as they are
                    direct = pyfunc_answer(model, pd.DataFrame(rows))
                    if direct is not None:
                        assert answer.status_code == 200 and answer.json()["predictions"] == direct, where
    # Both sides of the matrix are exercised: most inputs answer, the ones no model can take are refused.
    assert len(outcomes["answered"]) >= 90 and len(outcomes["refused"]) >= 15, outcomes["refused"]
    assert "sex null as dataframe_records" in outcomes["answered"]
    assert "year null (an integer column) as csv" in outcomes["refused"]


def test_a_fraction_in_an_integer_column_is_refused_as_pyfunc_refuses_it(deployed) -> None:
    model, view = deployed
    for rows in STRICTER.values():
        assert pyfunc_answer(model, pd.DataFrame(rows)) is None
        for form in FORMATS:
            body, content_type = encode(rows, form)
            answer = httpx.post(f"{view['url']}/invocations", content=body, headers={"Content-Type": content_type})
            assert answer.status_code == 422, (form, answer.text)
            assert "year (expected integer)" in answer.json()["message"]
