"""CSV and Parquet files on this machine, read here without Dask: each file one partition, streamed in chunks.

A Parquet file is read batch by batch with pyarrow, a CSV file chunk by chunk with pandas' reader, so memory holds
a few chunks, not the file. The frames are the ones ``dask.dataframe.read_parquet`` / ``read_csv`` would give for
the same file (the same column types, strings as ``string[pyarrow]``, CSV types guessed from the same first rows
and a later chunk that contradicts the guess failing with the same advice), cut at the same rows when Dask makes
one partition of a file: a profile of a local file is the one the Dask path computes, without importing Dask
(~2.5 s) in a process that has no cluster.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from mlops_magics.errors import InvalidInput

PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
CSV_SUFFIXES = frozenset({".csv", ".tsv"})
CSV_HEAD_ROWS = 10  # the rows dask.dataframe.read_csv guesses a CSV's column types from (its sample_rows)

Format = Literal["parquet", "csv"]
Piece = tuple[pd.DataFrame, int]  # a chunk of rows, and how many chunks its file makes


@dataclass(frozen=True)
class LocalFiles:
    pattern: str
    paths: tuple[str, ...]
    format: Format
    meta: pd.DataFrame = field(repr=False)  # no rows; the columns and the types every chunk is given
    sep: str = ","
    given: dict[str, str] | None = None  # CSV column types given to the reader (text, after a wrong guess)
    fraction: float | None = None  # each chunk sampled down to this share of its rows (``--sample``)
    seed: int = 0

    @property
    def dtypes(self) -> pd.Series:
        return self.meta.dtypes

    def chunks(self, index: int, rows: int) -> Iterator[Piece]:
        """File ``index`` in chunks of ``rows`` rows (the last one shorter), each with how many the file makes."""
        pieces = _parquet_chunks(self, index, rows) if self.format == "parquet" else _csv_chunks(self, index, rows)
        for number, (chunk, count) in enumerate(pieces):
            if self.fraction is not None and len(chunk):
                chunk = chunk.sample(frac=self.fraction, random_state=self.seed + index * 1000 + number)
            yield chunk, count

    def rows(self) -> int:
        """Rows in all the files: from Parquet footers, by reading CSV files through (Dask's ``len`` does too)."""
        if self.format == "parquet":
            import pyarrow.parquet as pq

            return sum(pq.ParquetFile(path).metadata.num_rows for path in self.paths)
        total = 0
        for path in self.paths:  # the first column as text: counted as the reader counts rows, never typed
            with pd.read_csv(path, sep=self.sep, usecols=[0], dtype=object, chunksize=1_000_000) as reader:
                total += sum(len(chunk) for chunk in reader)
        return total

    def sampled(self, fraction: float, seed: int) -> LocalFiles:
        return replace(self, fraction=fraction, seed=seed)

    def read(self) -> pd.DataFrame:
        """All the files as one frame (the chunks concatenated, index 0..n-1)."""
        pieces = [chunk for index in range(len(self.paths)) for chunk, _ in self.chunks(index, 1_000_000)]
        return pd.concat(pieces, ignore_index=True) if pieces else self.meta

    def with_types(self, given: dict[str, str]) -> LocalFiles:
        """The same CSV files with these column types given to the reader (and its column types guessed again)."""
        return open_files(self.pattern, list(self.paths), {**(self.given or {}), **given})


def local_format(paths: list[str]) -> Format | None:
    """``parquet`` or ``csv`` when every file is one of them, else None."""
    suffixes = {Path(p).suffix.lower() for p in paths}
    if suffixes <= PARQUET_SUFFIXES:
        return "parquet"
    if suffixes <= CSV_SUFFIXES:
        return "csv"
    return None


def open_files(pattern: str, paths: list[str], given: dict[str, str] | None = None) -> LocalFiles:
    """The files' column types read from the first one (a Parquet footer, a CSV's first rows); a file that cannot be
    read is one line naming why."""
    kind = local_format(paths)
    if kind is None:
        suffixes = sorted({Path(p).suffix.lower() for p in paths})
        raise InvalidInput(f"{pattern}: unsupported file type(s) {suffixes}; accepted: .csv, .tsv, .parquet")
    try:
        if kind == "parquet":
            return LocalFiles(pattern, tuple(paths), kind, _parquet_meta(paths[0]))
        sep = "\t" if {Path(p).suffix.lower() for p in paths} == {".tsv"} else ","
        return LocalFiles(pattern, tuple(paths), kind, _csv_meta(paths[0], sep, given), sep, given)
    except (OSError, ValueError) as exc:
        reason = (str(exc).splitlines() or [""])[0]
        raise InvalidInput(f"{pattern}: cannot be read ({type(exc).__name__}: {reason})") from None


# --- Parquet -----------------------------------------------------------------------------------------------------
def _arrow_types(arrow_type: Any) -> Any:
    """Arrow types as dask.dataframe.read_parquet maps them (strings as ``string[pyarrow]``, dates and decimals
    as Arrow types); None leaves pyarrow's own choice."""
    import pyarrow as pa

    if arrow_type in (pa.string(), pa.large_string()):
        return pd.StringDtype("pyarrow")
    if arrow_type in (pa.date32(), pa.date64()) or pa.types.is_decimal(arrow_type):
        return pd.ArrowDtype(arrow_type)
    return None


def _to_pandas(table: Any) -> pd.DataFrame:
    return table.to_pandas(types_mapper=_arrow_types, split_blocks=True)


def _parquet_meta(path: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return _to_pandas(pq.ParquetFile(path).schema_arrow.empty_table())


def _parquet_chunks(files: LocalFiles, index: int, rows: int) -> Iterator[Piece]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = files.paths[index]
    try:
        reader = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot be read ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0]})") from None
    schema = reader.schema_arrow
    count = max(1, math.ceil(reader.metadata.num_rows / rows))
    held: list[Any] = []
    held_rows = 0
    yielded = 0
    # Batches end at row-group boundaries; rows are regrouped so chunks start at multiples of ``rows`` in the file.
    for batch in reader.iter_batches(batch_size=rows):
        held.append(batch)
        held_rows += batch.num_rows
        while held_rows >= rows:
            table = pa.Table.from_batches(held, schema=schema)
            held, held_rows = table.slice(rows).to_batches(), held_rows - rows
            yield _checked(files, _to_pandas(table.slice(0, rows)), path), count
            yielded += 1
    if held_rows or not yielded:
        yield _checked(files, _to_pandas(pa.Table.from_batches(held, schema=schema)), path), count


# --- CSV ---------------------------------------------------------------------------------------------------------
def _csv_meta(path: str, sep: str, given: dict[str, str] | None) -> pd.DataFrame:
    """The column types dask.dataframe.read_csv(assume_missing=True) guesses: from the first rows, integers as
    floats (a later chunk may miss values), text as ``string[pyarrow]``."""
    head = pd.read_csv(path, sep=sep, dtype=given, nrows=CSV_HEAD_ROWS)
    for name in head.columns:
        if pd.api.types.is_integer_dtype(head[name].dtype) and name not in (given or {}):
            head[name] = head[name].astype(float)
    return _strings(head.iloc[:0])


def _csv_chunks(files: LocalFiles, index: int, rows: int) -> Iterator[Piece]:
    path = files.paths[index]
    types = {str(name): dtype for name, dtype in files.meta.dtypes.items()}
    count = max(1, math.ceil(_csv_lines(path) / rows))
    read = 0
    with pd.read_csv(path, sep=files.sep, dtype=files.given, chunksize=rows) as reader:
        for chunk in reader:
            read += 1
            yield _checked(files, _strings(_coerced(chunk, types)), path), max(count, read)
    if not read:
        yield files.meta, 1


def _csv_lines(path: str) -> int:
    """Data lines of a CSV file, counted as newlines (~0.1 s a GB): how many chunks it makes, known before the
    first is profiled. A quoted newline or a blank line makes it an overcount; only a chunk's sample size and
    the progress bar depend on it."""
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(1 << 24):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(0, lines - 1 + (last != b"\n"))  # less the header; a last line without its newline


def _coerced(chunk: pd.DataFrame, types: dict[str, Any]) -> pd.DataFrame:
    """The chunk in the guessed column types, or dask's own error and advice (``dtype={'col': 'object'}``) when
    the chunk contradicts the guess: ``sources.guessed_wrong`` reads the files again with that advice."""
    wrong = []
    for name in chunk.columns:
        want = types.get(str(name))
        have = chunk[name].dtype
        if want is None or have == want or (isinstance(want, pd.StringDtype) and pd.api.types.is_object_dtype(have)):
            continue
        if pd.api.types.is_float_dtype(have) and pd.api.types.is_integer_dtype(want):
            wrong.append((name, have))
            continue
        if str(want) == "bool" and chunk[name].isna().any():
            # Dask casts to bool here, and a missing value becomes True; kept missing instead.
            want = "boolean"
        try:
            chunk[name] = chunk[name].astype(want)
        except (TypeError, ValueError):
            wrong.append((name, have))
    if wrong:
        advice = ", ".join(f"{name!r}: '{have}'" for name, have in sorted(wrong, key=lambda w: str(w[0])))
        raise ValueError(f"Mismatched dtypes found in `pd.read_csv`: dtype={{{advice}}}")
    return chunk


# --- CSV text; columns checked -----------------------------------------------------------------------------------
def _strings(frame: pd.DataFrame) -> pd.DataFrame:
    """A CSV's text columns as ``string[pyarrow]``, as Dask converts them (``dataframe.convert-string``)."""
    text = {name: pd.StringDtype("pyarrow") for name, dtype in frame.dtypes.items() if _object_text(dtype)}
    return frame.astype(text) if text else frame


def _object_text(dtype: Any) -> bool:
    return pd.api.types.is_string_dtype(dtype) and dtype != pd.StringDtype("pyarrow") and not isinstance(dtype, pd.ArrowDtype)


def _checked(files: LocalFiles, frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """The chunk with the first file's columns in their order: a file without one of them cannot be profiled."""
    expected = list(files.meta.columns)
    if list(frame.columns) == expected:
        return frame
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} has no column(s) {missing} that {files.paths[0]} has; profile the files apart")
    return frame[expected]
