"""The profiling engine against pandas on hand-made frames: exact where promised, within 1% rank otherwise."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from mlops_magics.eda import compare, profile
from mlops_magics.eda.partition import PAIRWISE_BLOCK_ROWS, PairwiseMoments
from mlops_magics.eda.profile import QUANTILES, Profile
from mlops_magics.eda.sketches import QuantileSummary, search_left
from mlops_magics.errors import InvalidInput


def awkward_frame(rows: int = 5_000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "normal": rng.normal(10, 3, rows),
            "lognormal": rng.lognormal(0, 1.5, rows),
            "ints": rng.integers(-50, 50, rows),
            "with_inf": rng.normal(size=rows),
            "all_nan": np.full(rows, np.nan),
            "constant": np.full(rows, 4.0),
            "category": rng.choice(["a", "b", "c", "d"], rows),
            "mixed": rng.choice(["x", 1, 2.5, None], rows),
            "flag": rng.random(rows) < 0.3,
            "when": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 10**6, rows), unit="s"),
        }
    )
    frame.loc[rng.random(rows) < 0.1, "normal"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "category"] = None
    frame.loc[:3, "with_inf"] = [np.inf, -np.inf, np.inf, np.nan]
    frame.loc[rng.random(rows) < 0.02, "when"] = pd.NaT
    return frame


def _finite(series: pd.Series) -> pd.Series:
    return series.replace([np.inf, -np.inf], np.nan)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return awkward_frame()


@pytest.fixture(scope="module")
def result(frame: pd.DataFrame) -> Profile:
    return profile(frame, progress=False)


@pytest.mark.parametrize("name", ["normal", "lognormal", "ints", "with_inf", "constant"])
def test_exact_statistics_equal_pandas(frame: pd.DataFrame, result: Profile, name: str) -> None:
    column, series = result.column(name), frame[name]
    finite = _finite(series)
    assert column["count"] == series.count()  # pandas counts inf as a value
    assert column["missing"] == series.isna().sum()
    assert column["mean"] == pytest.approx(finite.mean(), rel=1e-12, abs=1e-12)
    assert column["std"] == pytest.approx(finite.std(), rel=1e-12, abs=1e-12)
    assert column["min"] == finite.min()
    assert column["max"] == finite.max()
    assert column["skew"] == pytest.approx(finite.skew(), rel=1e-9, abs=1e-9)
    assert column["kurtosis"] == pytest.approx(finite.kurt(), rel=1e-9, abs=1e-9)
    assert column["zeros"] == (finite == 0).sum()
    assert column["infinite"] == np.isinf(series).sum()
    if column["distinct_exact"]:
        assert column["distinct"] == series.nunique()
    else:  # above 4,096 distinct values the count is an estimate
        assert column["distinct"] == pytest.approx(series.nunique(), rel=0.05)


@pytest.mark.parametrize("name", ["normal", "lognormal", "ints"])
def test_quantiles_within_one_percent_rank(frame: pd.DataFrame, result: Profile, name: str) -> None:
    values = np.sort(frame[name].dropna().to_numpy(dtype=float))
    for label, q in QUANTILES.items():
        estimate = result.column(name)["quantiles"][label]
        low = np.searchsorted(values, estimate, side="left") / values.size
        high = np.searchsorted(values, estimate, side="right") / values.size
        assert low - 0.01 <= q <= high + 0.01, (name, label, estimate)


def test_levels_booleans_datetimes_and_mixed(frame: pd.DataFrame, result: Profile) -> None:
    category = result.column("category")
    counts = frame["category"].value_counts()
    assert category["missing"] == frame["category"].isna().sum()
    assert category["distinct"] == 4 and category["distinct_exact"]
    assert dict(category["top"]) == counts.to_dict()
    flag = result.column("flag")
    assert flag["kind"] == "boolean" and flag["mean"] == pytest.approx(frame["flag"].mean())
    assert dict(flag["top"]) == frame["flag"].value_counts().to_dict()
    when = result.column("when")
    assert when["kind"] == "datetime"
    assert when["missing"] == frame["when"].isna().sum()
    assert pd.Timestamp(int(when["min"])) == frame["when"].min()
    assert pd.Timestamp(int(when["max"])) == frame["when"].max()
    mixed = result.column("mixed")
    assert mixed["kind"] == "categorical" and mixed["missing"] == frame["mixed"].isna().sum()
    assert set(mixed["value_types"]) >= {"int", "str"}


def test_alerts_name_what_a_person_should_fix(frame: pd.DataFrame, result: Profile) -> None:
    kinds = {(a["kind"], a["column"]) for a in result.alerts}
    assert ("all_missing", "all_nan") in kinds
    assert ("constant", "constant") in kinds
    assert ("infinite", "with_inf") in kinds
    assert ("skewed", "lognormal") in kinds
    assert ("mixed_types", "mixed") in kinds
    assert not any(column == "normal" for _, column in kinds)


def test_duplicates_correlations_and_overview() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=2_000)
    frame = pd.DataFrame({"x": x, "y": 2 * x + rng.normal(scale=0.01, size=x.size), "z": rng.normal(size=x.size)})
    frame = pd.concat([frame, frame.iloc[:25]], ignore_index=True)
    result = profile(frame, progress=False)
    overview = result.data["overview"]
    assert overview["rows"] == len(frame) and overview["duplicate_rows"] == frame.duplicated().sum() == 25
    pearson = result.data["correlations"]["pearson"]
    expected = frame.corr().to_numpy()
    assert np.allclose(np.array(pearson["matrix"], dtype=float), expected, atol=1e-4)
    spearman = np.array(result.data["correlations"]["spearman"]["matrix"], dtype=float)
    assert np.allclose(spearman, frame.corr(method="spearman").to_numpy(), atol=0.02)
    assert any(a["kind"] == "high_correlation" and set(a["columns"]) == {"x", "y"} for a in result.alerts)
    assert any(a["kind"] == "duplicates" for a in result.alerts)


def test_pairwise_moments_merge_equals_one_pass() -> None:
    rng = np.random.default_rng(5)
    matrix = rng.normal(size=(3_000, 4))
    matrix[rng.random(matrix.shape) < 0.1] = np.nan
    whole = PairwiseMoments.of(list("abcd"), matrix).correlation()
    merged = PairwiseMoments.of(list("abcd"), matrix[:1000]).merge(PairwiseMoments.of(list("abcd"), matrix[1000:]))
    assert np.allclose(whole, merged.correlation())
    assert np.allclose(whole, pd.DataFrame(matrix).corr().to_numpy())


def test_pairwise_moments_block_by_block_equal_one_product() -> None:
    rng = np.random.default_rng(6)
    matrix = np.asfortranarray(rng.normal(5, 2, size=(3 * PAIRWISE_BLOCK_ROWS + 17, 3)))
    matrix[rng.random(matrix.shape) < 0.1] = np.nan
    matrix[:5, 2] = np.inf
    kept = matrix.copy()
    moments = PairwiseMoments.of(list("abc"), matrix)
    assert np.array_equal(matrix, kept, equal_nan=True)
    mask = np.isfinite(matrix).astype(float)
    values = np.where(mask > 0, matrix, 0.0)
    n = mask.T @ mask
    mean_x = (values.T @ mask) / n
    cxy = values.T @ values - n * mean_x * mean_x.T
    assert np.array_equal(moments.n, n)
    assert np.allclose(moments.mean_x, mean_x, rtol=1e-12) and np.allclose(moments.cxy, cxy, rtol=1e-9)


@pytest.mark.parametrize("points", [100, 300_000])  # below and above the size where the points are sorted first
def test_mid_ranks_are_those_of_both_binary_searches(points: int) -> None:
    rng = np.random.default_rng(8)
    data = np.concatenate([rng.integers(-5, 5, 50_000).astype(float), rng.normal(size=50_000), [-0.0, 0.0]])
    summary = QuantileSummary.combine([QuantileSummary.of_sorted(np.sort(data[i::3])) for i in range(3)], 8192)
    probes = np.concatenate([rng.choice(data, points), [np.nan, np.inf, -np.inf, -0.0, 1e300]])
    rng.shuffle(probes)
    values, cumulative = summary.values, np.concatenate([[0.0], np.cumsum(summary.weights)])
    below = cumulative[np.searchsorted(values, probes, side="left")]
    through = cumulative[np.searchsorted(values, probes, side="right")]
    assert np.array_equal(summary.mid_rank(probes), (below + through) / (2 * summary.total))
    assert np.array_equal(search_left(values, probes), np.searchsorted(values, probes))


def test_pandas_and_dask_give_the_same_profile(frame: pd.DataFrame, result: Profile, tmp_path) -> None:
    path = tmp_path / "data.parquet"
    frame.drop(columns=["mixed"]).to_parquet(path)
    from_dask = profile(dd.from_pandas(frame.drop(columns=["mixed"]), npartitions=7), progress=False)
    from_path = profile(str(path), progress=False)
    for other in (from_dask, from_path):
        assert other.rows == result.rows
        assert other.data["overview"]["duplicate_rows"] == result.data["overview"]["duplicate_rows"]
        for name, column in other.columns.items():
            mine = result.column(name)
            for key in ("count", "missing", "distinct", "infinite", "zeros"):
                assert column.get(key) == mine.get(key), (name, key)
            for key in ("mean", "std", "min", "max"):
                expected = mine.get(key)
                assert column.get(key) == (expected if expected is None else pytest.approx(expected, rel=1e-9)), key
            if "top" in mine:
                assert dict(column["top"]) == dict(mine["top"])


def test_empty_frame_says_it_is_empty() -> None:
    result = profile(pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=object)}), progress=False)
    assert result.rows == 0
    assert [a["kind"] for a in result.alerts] == ["empty"]
    assert "The data is empty" in result.html()
    assert profile(pd.DataFrame(), progress=False).rows == 0


def test_million_level_strings_and_unhashable_values_are_profiled() -> None:
    rows = 300_000
    frame = pd.DataFrame(
        {
            "id": [f"user-{i}" for i in range(rows)],
            "payload": [[i % 3] for i in range(rows)],
        }
    )
    result = profile(frame, progress=False)
    ident = result.column("id")
    assert not ident["distinct_exact"] and abs(ident["distinct"] - rows) / rows < 0.05
    assert any(a["kind"] == "id_like" and a["column"] == "id" for a in result.alerts)
    assert result.column("payload")["distinct"] == 3
    assert len(result.to_json()) < 200_000  # kilobytes per column, never megabytes


def test_bad_input_names_what_was_given(tmp_path) -> None:
    with pytest.raises(InvalidInput, match=r"cannot profile this \(a builtins.list\); give a pandas DataFrame"):
        profile([1, 2, 3], progress=False)
    with pytest.raises(InvalidInput, match="no such file"):
        profile(str(tmp_path / "missing.csv"), progress=False)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InvalidInput, match="unsupported file type"):
        profile(str(tmp_path / "notes.txt"), progress=False)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInput, match="cannot be read"):
        profile(str(bad), progress=False)
    with pytest.raises(InvalidInput, match="target column 'nope' is not in the data"):
        profile(pd.DataFrame({"a": [1]}), target="nope", progress=False)


def test_compare_flags_the_column_that_moved() -> None:
    rng = np.random.default_rng(11)
    base = pd.DataFrame({"x": rng.normal(size=20_000), "c": rng.choice(["a", "b"], 20_000, p=[0.5, 0.5])})
    moved = pd.DataFrame({"x": rng.normal(1.0, 1, size=20_000), "c": rng.choice(["a", "b"], 20_000, p=[0.5, 0.5])})
    result = compare(profile(base, progress=False), profile(moved, progress=False))
    verdicts = {row["column"]: row for row in result.columns}
    assert verdicts["x"]["verdict"] == "drift" and verdicts["x"]["ks"] > 0.3
    assert verdicts["c"]["verdict"] == "stable" and verdicts["c"]["jensen_shannon"] < 0.05
    assert result.drifted == ["x"]
    assert "drift" in result._repr_html_()


def test_target_relation() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=5_000)
    frame = pd.DataFrame({"signal": x, "noise": rng.normal(size=5_000), "label": np.where(x > 0, "yes", "no")})
    result = profile(frame, target="label", progress=False)
    associations = result.data["target"]["associations"]
    assert associations[0]["column"] == "signal" and associations[0]["score"] > 0.7
    assert abs(associations[-1]["score"]) < 0.1
