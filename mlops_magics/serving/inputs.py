"""Request bodies of MLflow's scoring protocol, parsed and checked against the model's signature.

What passes is what MLflow's own scoring server passes to the model for a ``dataframe_records`` body (and
for CSV, what it reads from the CSV): the same values, so the predictions are pyfunc's. Missing values are
accepted wherever MLflow accepts them: a JSON ``null`` (or ``NaN``) in a string, number or boolean column,
an empty CSV field, an optional column left out. We are stricter in one place: an integer column takes whole
numbers only (MLflow's JSON reader truncates 2008.5 to 2008; its CSV reader and pyfunc refuse it).

Errors say what is wrong in a few words and name columns; they never echo the request body back.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pandas.api.types import infer_dtype

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class RequestError(Exception):
    def __init__(self, status: int, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail

    def payload(self) -> dict[str, Any]:
        codes = {400: "bad_request", 401: "unauthorized", 408: "timeout", 413: "too_large", 415: "unsupported_media_type"}
        code = {**codes, 422: "invalid_input"}.get(self.status, "error")
        return {"error_code": code, "message": self.message, **self.detail}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "number", "integer", "boolean", "string", "datetime", "any"
    required: bool = True  # an optional column (MLflow infers one from data with missing values) may be left out


_KINDS = {
    "double": "number",
    "float": "number",
    "long": "integer",
    "integer": "integer",
    "boolean": "boolean",
    "string": "string",
    "datetime": "datetime",
    "binary": "any",
}


def columns_of(model_meta: Any) -> list[Column] | None:
    """The input columns a model's signature declares (None when it has no column signature)."""
    signature = getattr(model_meta, "signature", None)
    inputs = getattr(signature, "inputs", None)
    if inputs is None or not getattr(inputs, "has_input_names", lambda: False)():
        return None
    columns = []
    for spec in inputs.inputs:
        kind = _KINDS.get(str(getattr(spec, "type", "any")).split(".")[-1].lower(), "any")
        columns.append(Column(spec.name, kind, bool(getattr(spec, "required", True))))
    return columns


def _frame(payload: Any, columns: list[Column] | None) -> pd.DataFrame:
    if not isinstance(payload, dict):
        raise RequestError(400, f"the JSON body must be an object with one of the keys {list(FORMATS)}")
    keys = [key for key in FORMATS if key in payload]
    if len(keys) != 1:
        raise RequestError(400, f"the JSON body needs exactly one of the keys {list(FORMATS)}")
    data = payload[keys[0]]
    try:
        if keys[0] == "dataframe_split":
            if not isinstance(data, dict) or "data" not in data:
                raise RequestError(400, "dataframe_split needs {'columns': [...], 'data': [[...], ...]}")
            return pd.DataFrame(data["data"], columns=data.get("columns"))
        if keys[0] == "dataframe_records" or (isinstance(data, list) and data and isinstance(data[0], dict)):
            if not isinstance(data, list) or not all(isinstance(record, dict) for record in data):
                raise RequestError(400, f"{keys[0]} needs a list of records, each an object of column: value")
            return pd.DataFrame.from_records(data)
        if isinstance(data, dict):  # {"inputs": {"col": [values], ...}}, or one row {"inputs": {"col": value}}
            if data and not any(isinstance(v, (list, dict)) for v in data.values()):
                return pd.DataFrame([data])
            return pd.DataFrame(data)
        if isinstance(data, list):  # rows without names: the signature's column order
            rows = np.asarray(data, dtype=object)
            if rows.ndim == 1:
                rows = rows.reshape(1, -1)
            names = [c.name for c in columns] if columns else None
            if names is not None and rows.shape[1] != len(names):
                raise RequestError(422, f"each row needs {len(names)} values (the columns {names}); got {rows.shape[1]}")
            return pd.DataFrame(rows, columns=names)
    except RequestError:
        raise
    except (ValueError, TypeError) as exc:
        raise RequestError(400, f"the {keys[0]} payload cannot be read as a table ({type(exc).__name__})") from None
    raise RequestError(400, f"{keys[0]} needs a list of rows or records")


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # NaN and Infinity are not JSON, but Python's json.dumps (so `requests.post(json=...)` of a frame's
        # records) writes them for missing values, and MLflow's server reads them: the slower reader, only then.
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise RequestError(400, f"malformed JSON ({str(exc).split(':')[0]})") from None


def parse(body: bytes, content_type: str, columns: list[Column] | None) -> pd.DataFrame:
    if content_type.startswith("text/csv"):
        # String columns stay strings ("007", "1"), an empty field is a missing value: as MLflow reads CSV.
        strings = {c.name: object for c in columns or [] if c.kind == "string"}
        try:
            return pd.read_csv(io.BytesIO(body), dtype=strings or None)
        except (ValueError, pd.errors.ParserError) as exc:
            raise RequestError(400, f"the CSV body cannot be parsed ({type(exc).__name__})") from None
    if not content_type.startswith("application/json"):
        raise RequestError(415 if content_type else 400, "send application/json (MLflow's scoring protocol) or text/csv")
    return _frame(_loads(body), columns)


def read(body: bytes, content_type: str, columns: list[Column] | None) -> pd.DataFrame:
    """The request as the frame the model takes: ``check(parse(...))``, with a shortcut for the common case."""
    if columns and content_type.startswith("application/json") and all(c.kind == "number" for c in columns):
        payload = _loads(body)
        fast = _numeric_rows(payload, [c.name for c in columns])
        return fast if fast is not None else check(_frame(payload, columns), columns)
    return check(parse(body, content_type, columns), columns)


def _numeric_rows(payload: Any, names: list[str]) -> pd.DataFrame | None:
    """Rows of numbers for an all-number signature, straight into one float array in the signature's column
    order (no frame per column, no per-column checks); None sends anything else down the general path, which
    also names what is wrong."""
    if not isinstance(payload, dict) or len(payload) != 1:
        return None
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        if not isinstance(split, dict):
            return None
        rows, given = split.get("data"), split.get("columns")
        if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
            return None
        if len(given) != len(names) or set(given) != set(names):
            return None
    elif "instances" in payload or "inputs" in payload:
        rows, given = payload.get("instances", payload.get("inputs")), names
    else:
        return None
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], list):
        return None
    try:
        values = np.array(rows)  # numbers only: a string ("1.5", "nan") or None takes the general path
    except (ValueError, TypeError):
        return None
    if values.ndim != 2 or values.shape[1] != len(names) or values.dtype.kind not in "fiub":
        return None
    values = values.astype(np.float64, copy=False)
    if given != names:
        values = values[:, [given.index(name) for name in names]]
    return pd.DataFrame(values, columns=names, copy=False)


class _MissingWhole(ValueError):
    """A missing value in an integer column: no int64 holds it (MLflow refuses it too)."""


def _container(value: Any) -> bool:
    return isinstance(value, (list, dict, tuple, set))


def _cast(series: pd.Series, column: Column) -> pd.Series:
    """One column as MLflow's scoring server hands it to the model (``astype`` to the signature's type)."""
    if column.kind in ("number", "integer"):
        if column.kind == "integer" and series.dtype.kind in "iu":
            if series.dtype.kind == "u" and (series >= 2**63).any():  # 2**64-1 is no int64: not wrapped
                raise ValueError
            return series.astype("int64")
        if series.dtype == object and series.map(_container).any():
            raise ValueError
        values = series.astype("float64")  # None and NaN -> NaN; "1.5", " 2 ", "nan", True -> numbers, as MLflow
        if column.kind == "number":
            return values
        if values.isna().any():
            raise _MissingWhole
        if not (values % 1 == 0).all() or not (values.abs() < 2**63).all():  # no int64 holds 1e19: not wrapped
            raise ValueError
        return values.astype("int64")
    if column.kind == "boolean":
        if series.dtype == bool:
            return series
        if not series.map(lambda v: isinstance(v, (bool, np.bool_)) or _missing(v)).all():
            raise ValueError
        # Missing values stay (MLflow's schema check passes them as they are); without any, a plain bool column.
        return series if series.isna().any() else series.astype(bool)
    if column.kind == "string":
        # Any scalar, missing ones included: MLflow passes an object column to the model unchecked, and the
        # model (an imputer, an encoder that ignores unknown categories) decides; its refusal is a 422 too.
        if series.dtype != object:
            return series.astype(object)
        if infer_dtype(series, skipna=True) in ("string", "empty"):
            return series
        if series.map(_container).any():
            raise ValueError
        return series
    if column.kind == "datetime":
        return pd.to_datetime(series)
    return series


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _wrong_types(wrong: list[dict[str, str]]) -> RequestError:
    named = ", ".join(f"{w['column']} (expected {w['expected']})" for w in wrong)
    message = f"some columns have values of the wrong type: {named}"
    if any(w.get("problem") == "missing values" for w in wrong):
        message += "; an integer column cannot hold missing values (a signature inferred from data with them says double)"
    return RequestError(422, message, wrong_types=wrong)


def check(frame: pd.DataFrame, columns: list[Column] | None) -> pd.DataFrame:
    """The frame in the signature's column order and types; 422 naming the columns when it does not fit.

    An optional column that was left out stays out, as MLflow leaves it out: the model says whether it can do
    without it. Extra columns are refused (MLflow drops them silently): a misspelt name is then said at once.
    """
    if len(frame) == 0:
        raise RequestError(422, "the request has no rows")
    if columns is None:
        return frame
    names = [c.name for c in columns]
    present = [str(c) for c in frame.columns]
    missing = [c.name for c in columns if c.required and c.name not in present]
    extra = [c for c in present if c not in names]
    if missing or extra:
        raise RequestError(422, "the columns do not match the model's signature", missing=missing, unexpected=extra)
    if len(set(present)) != len(present):
        twice = sorted(c for c, n in Counter(present).items() if n > 1)
        raise RequestError(422, f"the columns {twice} are given more than once")
    frame.columns = present
    served = [c for c in columns if c.name in present]
    if not served:  # every column is optional and none was given
        raise RequestError(422, "the request gives none of the model's columns", missing=names, unexpected=[])
    if len(served) == len(columns) and all(c.kind == "number" for c in columns):
        # The common case, vectorised: one conversion of the whole table; the slow path below only names
        # the columns that fail.
        try:
            ordered = frame[names]
            if all(dtype.kind in "fiu" for dtype in ordered.dtypes):
                return ordered.astype("float64", copy=False)
        except (ValueError, TypeError):
            pass
    wrong = []
    typed = {}
    for column in served:
        try:
            typed[column.name] = _cast(frame[column.name], column)
        except _MissingWhole:
            wrong.append({"column": column.name, "expected": column.kind, "problem": "missing values"})
        except (ValueError, TypeError, OverflowError):
            wrong.append({"column": column.name, "expected": column.kind})
    if wrong:
        raise _wrong_types(wrong)
    return pd.DataFrame(typed, columns=[c.name for c in served])
