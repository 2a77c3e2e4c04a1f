"""What a deployment predicts with, and how request values are typed, without a server."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import orjson
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from mlops_magics.serving.inputs import Column, read
from mlops_magics.serving.model import load

X, Y = load_iris(return_X_y=True, as_frame=True)


def test_a_models_own_pyfunc_predict_fn_is_what_serves(tmp_path: Path) -> None:
    model = LogisticRegression(max_iter=1000).fit(X, Y)
    path = tmp_path / "proba"
    signature = infer_signature(X, model.predict_proba(X))
    mlflow.sklearn.save_model(
        model, str(path), signature=signature, pyfunc_predict_fn="predict_proba", serialization_format="cloudpickle"
    )
    served, _ = load(str(path), "proba")
    body = orjson.dumps({"dataframe_split": {"columns": list(X.columns), "data": X.head(3).to_numpy().tolist()}})
    frame = read(body, "application/json", served.columns)
    np.testing.assert_allclose(served.predict(frame), mlflow.pyfunc.load_model(str(path)).predict(X.head(3)))


def test_integer_columns_take_whole_numbers() -> None:
    columns = [Column("a", "integer"), Column("b", "number")]
    frame = read(b'{"dataframe_records": [{"a": 1, "b": 2}, {"a": 3.0, "b": 4.5}]}', "application/json", columns)
    assert frame["a"].tolist() == [1, 3] and str(frame["a"].dtype) == "int64" and str(frame["b"].dtype) == "float64"


def test_requests_leaving_out_different_optional_columns_are_never_predicted_together() -> None:
    """Stacked, a request without column ``b`` would get ``b`` filled with missing values from its neighbour
    and an answer it does not get alone."""
    import asyncio

    import pandas as pd

    from mlops_magics.serving.batching import MicroBatcher

    batcher = MicroBatcher(lambda frame: frame["b"].fillna(0).to_numpy())  # needs the column, imputes its values

    async def both() -> list[object]:
        return await asyncio.gather(
            batcher.predict(pd.DataFrame({"a": [1.0]})),
            batcher.predict(pd.DataFrame({"a": [2.0], "b": [5.0]})),
            return_exceptions=True,
        )

    without_b, with_b = asyncio.run(both())
    batcher.close()
    assert isinstance(without_b, KeyError)
    assert with_b.tolist() == [5.0]


def test_the_request_log_keeps_missing_values_and_mixed_kinds_of_a_string_column(tmp_path: Path) -> None:
    import pandas as pd

    from mlops_magics.serving.requestlog import RequestLog, SpoolConverter

    log = RequestLog(tmp_path, 1.0, "models:/p/1", "1", ["sex", "mass"])
    frame = pd.DataFrame({"sex": pd.Series(["male", None, float("nan"), 1], dtype=object), "mass": [1.0, 2.0, None, 4.0]})
    log.record("r1", frame, np.array(["a", "b", "c", "d"]), 1.0, 200)
    log.close()
    (segment,) = SpoolConverter(tmp_path).convert()
    table = pd.read_parquet(segment)
    assert table["input.sex"].tolist() == ["male", None, None, "1"]
    assert table["input.mass"].isna().tolist() == [False, False, True, False]


def test_optional_columns_may_be_left_out_but_not_all_of_them() -> None:
    import pytest

    from mlops_magics.serving.inputs import RequestError

    columns = [Column("a", "number", required=False), Column("b", "string", required=False)]
    frame = read(b'{"dataframe_records": [{"a": 1}]}', "application/json", columns)
    assert list(frame.columns) == ["a"] and frame["a"].tolist() == [1.0]
    with pytest.raises(RequestError, match="none of the model's columns"):
        read(b'{"dataframe_split": {"columns": [], "data": [[]]}}', "application/json", columns)
