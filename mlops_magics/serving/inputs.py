"""Request bodies of MLflow's scoring protocol, parsed and checked against the model's signature.

Errors say what is wrong in a few words and name columns; they never echo the request body back.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class RequestError(Exception):
    def __init__(self, status: int, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail

    def payload(self) -> dict[str, Any]:
        code = {400: "bad_request", 401: "unauthorized", 413: "too_large", 422: "invalid_input"}.get(self.status, "error")
        return {"error_code": code, "message": self.message, **self.detail}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "number", "integer", "boolean", "string", "datetime", "any"


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
        columns.append(Column(spec.name, kind))
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
            if not isinstance(data, list):
                raise RequestError(400, f"{keys[0]} needs a list of records")
            return pd.DataFrame.from_records(data)
        if isinstance(data, dict):  # {"inputs": {"col": [values], ...}}
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
        raise RequestError(400, f"malformed JSON ({str(exc).split(':')[0]})") from None


def parse(body: bytes, content_type: str, columns: list[Column] | None) -> pd.DataFrame:
    if content_type.startswith("text/csv"):
        try:
            return pd.read_csv(io.BytesIO(body))
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


def _cast(series: pd.Series, column: Column) -> pd.Series:
    if column.kind in ("number", "integer"):
        converted = pd.to_numeric(series, errors="coerce")
        bad = converted.isna() & series.notna()
        if bad.any():
            raise ValueError
        if column.kind == "integer" and not (converted.dropna() % 1 == 0).all():
            raise ValueError
        return converted.astype("float64") if column.kind == "number" else converted.astype("int64")
    if column.kind == "boolean":
        if not series.map(lambda v: isinstance(v, (bool, np.bool_))).all():
            raise ValueError
        return series.astype(bool)
    if column.kind == "string":
        if not series.map(lambda v: isinstance(v, str)).all():
            raise ValueError
        return series
    if column.kind == "datetime":
        return pd.to_datetime(series)
    return series


def check(frame: pd.DataFrame, columns: list[Column] | None) -> pd.DataFrame:
    """The frame in the signature's column order and types; 422 naming the columns when it does not fit."""
    if len(frame) == 0:
        raise RequestError(422, "the request has no rows")
    if columns is None:
        return frame
    names = [c.name for c in columns]
    present = [str(c) for c in frame.columns]
    missing = [n for n in names if n not in present]
    extra = [c for c in present if c not in names]
    if missing or extra:
        raise RequestError(422, "the columns do not match the model's signature", missing=missing, unexpected=extra)
    frame.columns = present
    if all(c.kind == "number" for c in columns):
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
    for column in columns:
        try:
            typed[column.name] = _cast(frame[column.name], column)
        except (ValueError, TypeError):
            wrong.append({"column": column.name, "expected": column.kind})
    if wrong:
        raise RequestError(422, "some columns have values of the wrong type", wrong_types=wrong)
    return pd.DataFrame(typed, columns=names)
