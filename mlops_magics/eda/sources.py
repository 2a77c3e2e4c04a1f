"""What can be profiled: a pandas DataFrame, a Dask DataFrame, or a CSV/Parquet path or glob (read with Dask)."""

from __future__ import annotations

import ast
import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import pandas as pd

from mlops_magics.errors import InvalidInput

ACCEPTED = "a pandas DataFrame, a Dask DataFrame, or the path or glob of CSV or Parquet files"


@dataclass
class Source:
    description: str
    dtypes: pd.Series
    pandas: pd.DataFrame | None = None  # profiled in this process, in row chunks on local threads
    dask: dd.DataFrame | None = None  # profiled partition by partition, on the cluster when there is one
    csv: str | None = None  # the path or glob when the data is CSV files (their column types are guessed)

    @property
    def partitions(self) -> int:
        if self.pandas is not None:
            return 1
        assert self.dask is not None
        return self.dask.npartitions


def _files(pattern: str) -> list[str]:
    path = Path(pattern).expanduser()
    if path.is_dir():
        found = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in (".parquet", ".pq", ".csv"))
        if not found:
            raise InvalidInput(f"{pattern}: the folder has no .csv or .parquet files")
        return found
    found = sorted(glob.glob(str(path)))
    if not found:
        raise InvalidInput(f"{pattern}: no such file (or nothing matches the glob)")
    return found


def _read(pattern: str, dtypes: dict[str, str] | None = None) -> dd.DataFrame:
    files = _files(pattern)
    suffixes = {Path(f).suffix.lower() for f in files}
    try:
        if suffixes <= {".parquet", ".pq"} or (Path(pattern).is_dir() and not suffixes - {".parquet", ".pq"}):
            return dd.read_parquet(files)
        if suffixes <= {".csv", ".tsv"}:
            sep = "\t" if suffixes == {".tsv"} else ","
            return dd.read_csv(files, assume_missing=True, blocksize="64MB", sep=sep, dtype=dtypes)
    except (OSError, ValueError) as exc:
        root = exc
        while root.__cause__ is not None:  # dask wraps the reader's own error; show that one
            root = root.__cause__
        reason = (str(root).splitlines() or [""])[0]
        raise InvalidInput(f"{pattern}: cannot be read ({type(root).__name__}: {reason})") from None
    raise InvalidInput(f"{pattern}: unsupported file type(s) {sorted(suffixes)}; accepted: .csv, .tsv, .parquet")


def open_source(data: Any, name: str | None = None) -> Source:
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        frame = data
        if not frame.columns.is_unique:
            raise InvalidInput(f"{name or 'the DataFrame'} has duplicate column names; rename them before profiling")
        return Source(name or "pandas DataFrame", frame.dtypes, pandas=frame)
    if isinstance(data, dd.DataFrame):
        return Source(name or "Dask DataFrame", data.dtypes, dask=data)
    if isinstance(data, (str, Path)):
        frame = _read(str(data))
        is_csv = all(Path(f).suffix.lower() in (".csv", ".tsv") for f in _files(str(data)))
        return Source(str(data), frame.dtypes, dask=frame, csv=str(data) if is_csv else None)
    raise InvalidInput(f"cannot profile {name or 'this'} (a {type(data).__module__}.{type(data).__name__}); give {ACCEPTED}")


_DTYPE_ADVICE = re.compile(r"dtype=(\{[^}]*\})")


def guessed_wrong(source: Source, error: ValueError) -> Source | None:
    """The CSV source read again with the column types Dask says it guessed wrong, when that is the error.

    Dask guesses a CSV's column types from its first rows; a column of numbers with words further down (a "n/a",
    an "error 4") then fails in a later partition. Read as text, the profile reports it as mixed.
    """
    advice = _DTYPE_ADVICE.search(str(error))
    if source.csv is None or advice is None:
        return None
    try:
        dtypes = {str(k): str(v) for k, v in ast.literal_eval(advice.group(1)).items()}
    except (ValueError, SyntaxError, AttributeError):
        return None
    frame = _read(source.csv, dtypes)
    return Source(source.description, frame.dtypes, dask=frame, csv=source.csv)
