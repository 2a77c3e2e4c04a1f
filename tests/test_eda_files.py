"""Local CSV and Parquet files profiled without Dask: the same profile as the Dask path, and no Dask imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.stats.contingency import association

from mlops_magics.eda import engine, profile
from mlops_magics.eda.correlations import _cramer
from mlops_magics.errors import InvalidInput
from mlops_magics.workspace import Workspace

ROWS = 4_321
CHUNK = 1_000  # rows per chunk in these tests, so a few thousand rows make several chunks and row groups
SAMPLE = 2_000
# Modules a profile of a local file has no use for, and what each costs a process to import (seconds, about).
UNUSED = {"dask": 0.5, "dask.dataframe": 2.4, "distributed": 0.3, "scipy.stats": 0.4, "scipy.spatial": 0.3, "httpx": 0.1}
UNUSED |= {"pydantic": 0.1}  # with the cluster specs' models: `mlops eda` asks no controller and makes no cluster spec


def frame(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2021-01-01")
    return pd.DataFrame(
        {
            "f": np.where(rng.random(rows) < 0.1, np.nan, rng.normal(size=rows)),
            "g": rng.normal(size=rows) * 3 + 1,
            "i": pd.array(np.where(rng.random(rows) < 0.1, None, rng.integers(0, 9, rows)), dtype="Int64"),
            "j": rng.integers(0, 1000, rows),
            "s": np.where(rng.random(rows) < 0.1, None, rng.choice(["a", "b", "c"], rows)).astype(object),
            "word": rng.choice(["red", "green", "blue", "grey"], rows),
            "b": rng.random(rows) < 0.5,
            "t": start + pd.to_timedelta(rng.integers(0, 10**6, rows), unit="s"),
            "y": rng.integers(0, 2, rows),
        }
    )


def comparable(result: Any) -> dict[str, Any]:
    data = json.loads(result.to_json())
    del data["created_at"], data["engine"]["seconds"], data["title"], data["source"]
    data["overview"]["memory_bytes"] = pytest.approx(data["overview"]["memory_bytes"], rel=1e-3)
    return data


def approx(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: approx(v) for k, v in value.items()}
    if isinstance(value, list):
        return [approx(v) for v in value]
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True)
    return value


def same_profile(path: Path | str, on_dask: Any, target: str | None = None) -> None:
    local = profile(str(path), target=target, sample_rows=SAMPLE, progress=False)
    assert local.data["engine"]["where"] == "local threads"
    dasked = profile(on_dask, target=target, sample_rows=SAMPLE, progress=False)
    assert comparable(local) == approx(comparable(dasked))


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "CHUNK_ROWS", CHUNK)


def test_parquet_row_groups_give_the_profile_dask_gives(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    frame().to_parquet(path, row_group_size=700)  # chunks of 1,000 rows are cut across row groups
    same_profile(path, dd.read_parquet(path), target="y")


def test_a_glob_and_a_folder_of_parquet_files_give_the_profile_dask_gives(tmp_path: Path) -> None:
    data = frame()
    (tmp_path / "parts").mkdir()
    for number, start in enumerate(range(0, ROWS, 1_500)):
        data.iloc[start : start + 1_500].to_parquet(tmp_path / "parts" / f"part-{number}.parquet")
    files = sorted(str(p) for p in (tmp_path / "parts").glob("*.parquet"))
    same_profile(tmp_path / "parts" / "*.parquet", dd.read_parquet(files))
    same_profile(tmp_path / "parts", dd.read_parquet(files))


def test_parquet_types_dask_maps_read_alike(tmp_path: Path) -> None:
    path = tmp_path / "types.parquet"
    table = pa.table(
        {
            "large": pa.array(["u", "v", None] * 500, pa.large_string()),
            "day": pa.array([1, None, 19_000] * 500, pa.date32()),
            "price": pa.array([1, 2, None] * 500, pa.decimal128(5, 2)),
        }
    )
    pq.write_table(table, path)
    same_profile(path, dd.read_parquet(path))
    # A Parquet date32 column used to fail the profile (NotImplementedError on .dt.tz).
    day = profile(str(path), progress=False).column("day")
    assert day["kind"] == "datetime" and day["missing"] == 500 and day["min"] < day["max"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_csv_gives_the_profile_dask_gives(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"data{suffix}"
    sep = "\t" if suffix == ".tsv" else ","
    frame().to_csv(path, sep=sep, index=False)
    same_profile(path, dd.read_csv(path, sep=sep, assume_missing=True, blocksize="64MB"), target="y")


def test_words_after_the_guess_are_read_as_text_as_dask_is_told_to(tmp_path: Path) -> None:
    rows = 5_000
    note = np.arange(rows).astype(str).astype(object)
    note[rows // 2 :: 97] = "error"  # after the first chunk: the guess (numbers) fails there
    path = tmp_path / "late.csv"
    pd.DataFrame({"note": note, "x": np.arange(rows, dtype=float)}).to_csv(path, index=False)
    same_profile(path, dd.read_csv(path, assume_missing=True, blocksize="64MB", dtype={"note": "object"}))
    assert profile(str(path), progress=False).column("note")["content"] == "mixed"
    sampled = profile(str(path), sample=1_000, progress=False)  # counting the rows first reads no types
    assert sampled.column("note")["content"] == "mixed" and 800 < sampled.rows < 1_200


def test_a_missing_boolean_in_a_csv_stays_missing(tmp_path: Path) -> None:
    """Dask casts a chunk's True/False/empty column to bool, and the empty cell becomes True."""
    flags = pd.Series([True, False] * 2_500, dtype=object)
    flags[3_000] = None
    pd.DataFrame({"flag": flags}).to_csv(tmp_path / "flags.csv", index=False)
    column = profile(str(tmp_path / "flags.csv"), progress=False).column("flag")
    assert (column["kind"], column["missing"], dict(column["top"])) == ("boolean", 1, {False: 2_500, True: 2_499})


def test_a_sample_of_a_local_file_is_about_that_many_rows(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    frame().to_parquet(path)
    sampled = profile(str(path), sample=1_000, progress=False)
    assert 800 < sampled.rows < 1_200 and "sample of about 1,000 rows" in sampled.title
    assert profile(str(path), sample=10_000, progress=False).rows == ROWS


def test_files_without_a_column_of_the_first_are_one_line(tmp_path: Path) -> None:
    frame().to_parquet(tmp_path / "a.parquet")
    frame().drop(columns=["g"]).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(InvalidInput, match=r"b.parquet has no column\(s\) \['g'\] that .*a.parquet has"):
        profile(str(tmp_path / "*.parquet"), progress=False)


def test_a_connected_cluster_reads_the_files(tmp_path: Path) -> None:
    from distributed import Client

    path = tmp_path / "data.parquet"
    frame().to_parquet(path)
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None):
        on_cluster = profile(str(path), sample_rows=SAMPLE, progress=False)
    assert on_cluster.data["engine"]["where"] == "dask cluster"
    local = profile(str(path), sample_rows=SAMPLE, progress=False)
    on_cluster.data["engine"]["where"] = "local threads"  # chunks sample alike there: the same profile
    assert comparable(on_cluster) == approx(comparable(local))


def test_cramers_v_is_scipys() -> None:
    rng = np.random.default_rng(3)
    for shape in ((2, 2), (3, 5), (7, 4)):
        table = rng.integers(1, 50, size=shape)
        assert _cramer(table) == pytest.approx(association(table, method="cramer"), rel=1e-12)


def test_mlops_eda_on_a_local_file_imports_no_dask_or_scipy_stats(tmp_path: Path, workspace: Workspace) -> None:
    path = tmp_path / "data.parquet"
    frame().to_parquet(path)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mlops_magics.cli", "eda", str(path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{ROWS:,} rows x 9 columns" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert sorted(imported & set(UNUSED)) == []


def test_profiling_puts_numpys_huge_page_advice_back() -> None:
    from numpy._core.multiarray import _set_madvise_hugepage  # the pass turns it off: faults cost less

    for advised in (True, False):
        _set_madvise_hugepage(advised)
        profile(frame(), progress=False)
        assert _set_madvise_hugepage(True) is advised
