"""What can be profiled: a pandas DataFrame, a Dask DataFrame, or a CSV/Parquet path or glob.

Files on this machine are read here, without Dask (``files``); Dask reads them when a cluster is connected, so the
workers read them.
"""

from __future__ import annotations

import ast
import glob
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_magics.eda.files import LocalFiles, open_files
from mlops_magics.errors import InvalidInput

ACCEPTED = "a pandas DataFrame, a Dask DataFrame, or the path or glob of CSV or Parquet files"


@dataclass
class Source:
    description: str
    dtypes: pd.Series
    pandas: pd.DataFrame | None = None  # profiled in this process, in row chunks on local threads
    dask: Any = None  # a dask DataFrame: profiled partition by partition, on the cluster when there is one
    csv: str | None = None  # the path or glob when the data is CSV files (their column types are guessed)
    files: LocalFiles | None = None  # files read in this process, one partition each, in row chunks

    @property
    def partitions(self) -> int:
        if self.pandas is not None:
            return 1
        if self.files is not None:
            return len(self.files.paths)
        return self.dask.npartitions

    def on_dask(self) -> Source:
        """Files as a Dask DataFrame, for a cluster's workers to read; other sources as they are."""
        if self.files is None:
            return self
        return Source(self.description, self.dtypes, dask=_read(self.files.pattern, self.files.given), csv=self.csv)

    def whole(self) -> pd.DataFrame:
        """All the rows as one pandas DataFrame."""
        if self.pandas is not None:
            return self.pandas
        if self.files is not None:
            return self.files.read()
        return self.dask.compute()


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


def _read(pattern: str, dtypes: dict[str, str] | None = None) -> Any:
    import dask.dataframe as dd

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
    if _is_dask_frame(data):
        return Source(name or "Dask DataFrame", data.dtypes, dask=data)
    if isinstance(data, (str, Path)):
        pattern = str(data)
        files = open_files(pattern, _files(pattern))
        return Source(pattern, files.dtypes, csv=pattern if files.format == "csv" else None, files=files)
    raise InvalidInput(f"cannot profile {name or 'this'} (a {type(data).__module__}.{type(data).__name__}); give {ACCEPTED}")


def _is_dask_frame(data: Any) -> bool:
    # A process that never imported dask.dataframe holds no Dask DataFrame: the check costs no import.
    if "dask.dataframe" not in sys.modules:
        return False
    import dask.dataframe as dd

    return isinstance(data, dd.DataFrame)


_DTYPE_ADVICE = re.compile(r"dtype=(\{[^}]*\})")


def guessed_wrong(source: Source, error: ValueError) -> Source | None:
    """The CSV source read again with the column types Dask says it guessed wrong, when that is the error.

    Dask (and ``files``, as Dask does) guesses a CSV's column types from its first rows; a column of numbers with
    words further down (a "n/a", an "error 4") then fails in a later partition. Read as text, the profile reports it
    as mixed.
    """
    advice = _DTYPE_ADVICE.search(str(error))
    if source.csv is None or advice is None:
        return None
    try:
        dtypes = {str(k): str(v) for k, v in ast.literal_eval(advice.group(1)).items()}
    except (ValueError, SyntaxError, AttributeError):
        return None
    if source.files is not None:
        files = source.files.with_types(dtypes)
        return Source(source.description, files.dtypes, csv=source.csv, files=files)
    frame = _read(source.csv, dtypes)
    return Source(source.description, frame.dtypes, dask=frame, csv=source.csv)
