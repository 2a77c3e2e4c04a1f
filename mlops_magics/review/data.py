"""Held-out data named on a command line: a CSV or Parquet path (or glob) and its target column, split into the
features and the target that ``review`` judges on (``mlops review --data PATH --target COLUMN``)."""

from __future__ import annotations

from typing import Any

from mlops_magics.errors import InvalidInput


def held_out(path: str, target: str) -> tuple[Any, Any]:
    from mlops_magics.eda.sources import open_source

    frame = open_source(path).whole()
    if target not in frame.columns:
        raise InvalidInput(f"--target {target!r} is not a column of {path}; columns are {list(frame.columns)}")
    return frame.drop(columns=[target]), frame[target]
