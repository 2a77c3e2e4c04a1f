"""%eda's alerts on tables with known problems: each planted problem found, each clean column left alone, the
same answer from a CSV file as from memory, and a relation to the target that does not rank IDs as signal."""

from __future__ import annotations

from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from mlops_magics.eda import profile
from mlops_magics.eda.content import evidence_of
from mlops_magics.eda.profile import Profile

ROWS = 3_000
VOCABULARY = "the parcel came late but support was kind and quick item broken refund slow great value would order again"
WORDS = VOCABULARY.split()


def planted_frame(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Clean columns of every kind, and one column per planted problem (strings, as a CSV reader gives them)."""
    rng = np.random.default_rng(seed)
    dates = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 4 * 365 * 86_400, rows), unit="s")
    revenue = rng.integers(200, 60_000, rows)
    refund = rng.normal(40, 8, rows).round(2)
    refund[rng.random(rows) < 0.7] = 0.0
    price = rng.gamma(4.0, 20.0, rows).round(2)
    quantity = rng.integers(1, 40, rows).astype(str).astype(object)
    quantity[rng.random(rows) < 0.05] = "unknown"
    missing = pd.Series(rng.normal(size=rows))
    missing[rng.random(rows) < 0.4] = np.nan
    return pd.DataFrame(
        {
            # clean: nothing should be said about these
            "churn": (rng.random(rows) < 0.12).astype(np.int64),
            "income": rng.normal(52_000, 9_000, rows).round(2),
            "segment": rng.choice(["retail", "smb", "enterprise"], rows),
            "city": rng.choice(["New York City", "Rio de Janeiro", "Los Angeles", "Paris"], rows),
            "active": rng.random(rows) < 0.4,
            "has_app": (rng.random(rows) < 0.3).astype(np.int64),
            "visits": rng.poisson(3.0, rows),
            # planted
            "country": ["NL"] * rows,
            "phone_missing": missing,
            "customer_id": [f"C{i:07d}" for i in rng.permutation(rows)],
            "amount": rng.lognormal(3.0, 1.3, rows).round(2),
            "refund": refund,
            "price": price,
            "price_incl_tax": (price * 1.21 + rng.normal(0, 0.5, rows)).round(2),
            "signup": list(dates.strftime("%Y-%m-%d %H:%M:%S")),
            "feedback": [" ".join(rng.choice(WORDS, rng.integers(4, 15))) for _ in range(rows)],
            "list_price": [f"{v:,.2f}" for v in rng.uniform(1_000, 90_000, rows)],
            "revenue": [f"{v:,}" if g else str(v) for v, g in zip(revenue, rng.random(rows) < 0.5, strict=True)],
            "quantity": quantity,
        }
    )


PLANTED = {
    ("constant", "country"),
    ("high_missing", "phone_missing"),
    ("id_like", "customer_id"),
    ("skewed", "amount"),
    ("zeros", "refund"),
    ("high_correlation", "price"),
    ("dates_as_text", "signup"),
    ("free_text", "feedback"),
    ("numbers_as_text", "list_price"),
    ("numbers_as_text", "revenue"),
    ("inconsistent_format", "revenue"),
    ("mixed_types", "quantity"),
}
CLEAN = ["churn", "income", "segment", "city", "active", "has_app", "visits"]


def _alerts(result: Profile) -> set[tuple[str, str | None]]:
    return {(a["kind"], a["column"]) for a in result.alerts}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return planted_frame()


@pytest.fixture(scope="module")
def in_memory(frame: pd.DataFrame) -> Profile:
    return profile(frame, target="churn", progress=False)


@pytest.fixture(scope="module")
def from_csv(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Profile:
    path = tmp_path_factory.mktemp("csv") / "planted.csv"
    frame.to_csv(path, index=False)
    return profile(str(path), target="churn", progress=False)


@pytest.mark.parametrize(("kind", "column"), sorted(PLANTED))
def test_each_planted_problem_is_found(in_memory: Profile, from_csv: Profile, kind: str, column: str) -> None:
    assert (kind, column) in _alerts(in_memory)
    assert (kind, column) in _alerts(from_csv)


def test_nothing_else_is_flagged(in_memory: Profile, from_csv: Profile) -> None:
    for result in (in_memory, from_csv):
        extra = _alerts(result) - PLANTED
        assert not extra, extra
        assert not [a for a in result.alerts if set(a.get("columns") or []) & set(CLEAN)]


@pytest.mark.parametrize("column", CLEAN)
def test_clean_columns_are_not_flagged(in_memory: Profile, column: str) -> None:
    assert [a["message"] for a in in_memory.alerts if a["column"] == column] == []


def test_csv_and_memory_give_the_same_kinds_and_alerts(in_memory: Profile, from_csv: Profile) -> None:
    for name, column in in_memory.columns.items():
        assert from_csv.column(name).get("content") == column.get("content"), name
    assert _alerts(in_memory) == _alerts(from_csv)
    assert in_memory.column("signup")["content"] == "date"
    assert in_memory.column("feedback")["content"] == "text"
    assert in_memory.column("revenue")["evidence"]["inconsistent_format"] is True


def test_python_objects_in_memory_read_like_their_csv_text(tmp_path: Path) -> None:
    """An object column of ints and words in memory, and the same column in a CSV (all strings): both mixed."""
    rng = np.random.default_rng(4)
    values = [int(v) if v % 7 else "unknown" for v in rng.integers(0, 100, 2_000)]
    frame = pd.DataFrame({"mix": pd.Series(values, dtype=object), "x": rng.normal(size=2_000)})
    frame.to_csv(tmp_path / "mix.csv", index=False)
    for result in (profile(frame, progress=False), profile(str(tmp_path / "mix.csv"), progress=False)):
        assert result.column("mix")["content"] == "mixed"
        assert {(a["kind"], a["column"]) for a in result.alerts} == {("mixed_types", "mix")}


def test_words_after_dasks_type_guess_are_mixed_not_an_error(tmp_path: Path) -> None:
    """Dask types a CSV column from its first rows; words further down are reported as mixed, not a failure."""
    rows = 100_000
    note = np.arange(rows).astype(str).astype(object)
    note[rows // 2 :: 97] = "error"
    pd.DataFrame({"note": note, "x": np.arange(rows, dtype=float)}).to_csv(tmp_path / "late.csv", index=False)
    guessed = dd.read_csv(tmp_path / "late.csv").dtypes["note"]
    assert pd.api.types.is_numeric_dtype(guessed)  # Dask guessed numbers from the head of the file
    result = profile(str(tmp_path / "late.csv"), progress=False)
    assert result.rows == rows
    assert result.column("note")["content"] == "mixed"
    assert ("mixed_types", "note") in _alerts(result)


def test_dates_as_text_show_their_range(in_memory: Profile, frame: pd.DataFrame) -> None:
    evidence = in_memory.column("signup")["evidence"]
    parsed = pd.to_datetime(frame["signup"])
    assert pd.Timestamp(evidence["date_min"]) == parsed.min()
    assert pd.Timestamp(evidence["date_max"]) == parsed.max()
    html = in_memory.html()
    assert "dates as text" in html and str(parsed.min()) in html


def test_day_first_dates_with_many_values_are_read_day_first() -> None:
    rng = np.random.default_rng(8)
    when = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86_400, 5_000), unit="s")
    column = profile(pd.DataFrame({"at": when.strftime("%d/%m/%Y %H:%M:%S")}), progress=False).column("at")
    assert column["content"] == "date"
    assert pd.Timestamp(column["evidence"]["date_min"]) == when.min().floor("s")
    assert pd.Timestamp(column["evidence"]["date_max"]) == when.max().floor("s")


def test_binary_target_is_not_skewed_nor_zeros_and_a_rare_class_is_imbalance() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=20_000)
    frame = pd.DataFrame({"x": x, "rare": (rng.random(20_000) < 0.03).astype(int), "common": (x > 0.5).astype(int)})
    result = profile(frame, target="rare", progress=False)
    assert _alerts(result) == {("imbalanced", "rare")}
    assert "rarest class 1 is 3." in next(a["message"] for a in result.alerts)
    # 31% positive: balanced enough; a rare binary feature is imbalanced as a boolean would be, never skewed or zeros
    assert _alerts(profile(frame, target="common", progress=False)) == {("imbalanced", "rare")}


def test_target_relation_sets_ids_and_text_apart(in_memory: Profile) -> None:
    target = in_memory.data["target"]
    ranked = [r["column"] for r in target["associations"]]
    apart = {r["column"]: r["reason"] for r in target["set_apart"]}
    assert "customer_id" in apart and "unique per row" in apart["customer_id"]
    assert "feedback" in apart and "free text" in apart["feedback"]
    assert "customer_id" not in ranked and "feedback" not in ranked
    assert all(abs(r["score"] or 0) < 0.2 for r in target["associations"])  # none of these columns is signal
    signup = next(r for r in target["associations"] if r["column"] == "signup")
    assert "parsed from text as dates" in signup["measure"]
    assert "unique per row: η = 1 by construction" in in_memory.html()


def test_a_real_signal_still_ranks_first_among_many_level_columns() -> None:
    rng = np.random.default_rng(6)
    rows = 4_000
    x = rng.normal(size=rows)
    frame = pd.DataFrame(
        {
            "y": x + rng.normal(scale=0.5, size=rows),
            "when": pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(rows), unit="min")).astype(str),
            "order_id": [f"O{i}" for i in range(rows)],
            "zip": rng.choice([f"{z:05d}" for z in rng.integers(0, 99_999, 1_500)], rows).astype(object) + "X",
            "signal": np.where(x > 0, "high", "low"),
        }
    )
    target = profile(frame, target="y", progress=False).data["target"]
    assert target["associations"][0]["column"] == "signal" and target["associations"][0]["score"] > 0.6
    zip_score = next(r["score"] for r in target["associations"] if r["column"] == "zip")
    assert zip_score < 0.15  # ~1,300 levels over 4,000 rows: raw η is about 0.57 by chance alone
    assert {r["column"] for r in target["set_apart"]} == {"order_id"}


def test_content_evidence_merges_like_one_pass() -> None:
    values = np.array(["1,000", "1244", "2021-03-04", "a few words here", "x", 5, 2.5], dtype=object)
    counts = np.array([3, 2, 4, 1, 6, 2, 1])
    whole = evidence_of(values, counts)
    merged = evidence_of(values[:3], counts[:3]).merge(evidence_of(values[3:], counts[3:]))
    assert merged == whole
    assert (whole.probed, whole.numbers, whole.grouped, whole.ungrouped, whole.dates, whole.words) == (19, 8, 3, 2, 4, 7)


def test_amounts_with_currency_and_percent_signs_are_numbers_as_text() -> None:
    rng = np.random.default_rng(9)
    prices = [f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}" for v in rng.normal(800, 900, 300)]  # "$1,204.50", "-$3.10"
    frame = pd.DataFrame({"price": prices, "rate": [f"{v:.1f}%" for v in rng.uniform(0, 100, 300)]})
    result = profile(frame, progress=False)
    assert [result.column(c)["content"] for c in ("price", "rate")] == ["number", "number"]
    assert _alerts(result) == {("numbers_as_text", "price"), ("numbers_as_text", "rate")}


def test_profile_of_many_partitions_reads_the_same_content(frame: pd.DataFrame, in_memory: Profile) -> None:
    parted = profile(dd.from_pandas(frame, npartitions=6), target="churn", progress=False)
    assert [parted.column(c)["content"] for c in ("signup", "feedback", "revenue")] == ["date", "text", "number"]
    for name, column in in_memory.columns.items():
        assert parted.column(name).get("content") == column.get("content"), name
    assert _alerts(parted) == _alerts(in_memory)


def test_constant_column_correlates_with_nothing() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=5_000), "b": rng.lognormal(size=5_000), "k": np.full(5_000, 4.0)})
    result = profile(frame, progress=False)
    assert not [a for a in result.alerts if a["kind"] == "high_correlation"]
