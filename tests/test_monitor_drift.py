"""Drift statistics from two profiles' summaries: the right features flagged, and the numbers scipy gives on the raw data.

Agreement with scipy on the raw data (what the summaries of 256 points per numeric column allow):
- Wasserstein-1 / reference std within 0.01;
- Kolmogorov-Smirnov distance within 0.005, its p-value within one order of magnitude where scipy's is above 1e-10
  (below that a difference of 0.0003 in the distance already moves the p-value tenfold);
- Jensen-Shannon distance, chi-square statistic and p-value of exact counts: equal (1e-9);
- PSI within 0.005 (or 2%) of PSI over 20 bins at the raw reference's quantiles (the edges differ a little).
The same tolerances hold when the current side is a monitor's window folded from 200 log segments (KLL sketches).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlops_magics.api.monitors import MonitorSpec
from mlops_magics.eda import Profile, profile
from mlops_magics.errors import InvalidInput
from mlops_magics.monitor import FeatureDrift, Thresholds, drift_report, feature_drift
from mlops_magics.monitor.drift import OTHER, PSI_BINS
from mlops_magics.monitor.thresholds import TESTS, thresholds_of
from mlops_magics.monitor.window import Window, read_window

ROWS = 100_000
FORMAT_1 = Path(__file__).parent / "data" / "profile-format-1.json"
CHANNELS = ["web", "app", "store", "phone"]
RATINGS = [1, 2, 3, 4, 5]


def requests(
    rows: int, seed: int, *, shift: float = 0.0, channel_shares: tuple[float, ...] = (0.5, 0.3, 0.15, 0.05), visits: float = 3.0
) -> pd.DataFrame:
    """Features of a model's requests: two floats, a 0/1 int, a 5-value int, a Poisson count, a category, a bool.
    ``shift``: the amount's mean moved by that many standard deviations (10)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(50.0 + 10.0 * shift, 10.0, rows),
            "latency": rng.lognormal(0.0, 0.8, rows),
            "flag": (rng.random(rows) < 0.3).astype(np.int64),
            "rating": rng.choice(RATINGS, rows, p=[0.1, 0.15, 0.3, 0.3, 0.15]),
            "visits": np.minimum(rng.poisson(visits, rows), 30),
            "channel": rng.choice(CHANNELS, rows, p=list(channel_shares)),
            "member": rng.random(rows) < 0.4,
        }
    )


def profiled(frame: pd.DataFrame) -> Profile:
    return profile(frame, progress=False)


@pytest.fixture(scope="module")
def reference_frame() -> pd.DataFrame:
    return requests(ROWS, seed=1)


@pytest.fixture(scope="module")
def reference(reference_frame: pd.DataFrame) -> Profile:
    # As the monitor reads it: the saved training profile, through JSON.
    return Profile.from_json(profiled(reference_frame).to_json())


@pytest.fixture(scope="module")
def same_frame() -> pd.DataFrame:
    return requests(ROWS, seed=2)


@pytest.fixture(scope="module")
def shifted_frame() -> pd.DataFrame:
    return requests(ROWS, seed=3, shift=0.3, channel_shares=(0.35, 0.3, 0.2, 0.15), visits=3.6)


def test_the_same_distributions_flag_nothing(reference: Profile, same_frame: pd.DataFrame) -> None:
    report = drift_report(reference, profiled(same_frame))
    assert report.verdict == "no drift", report.reason
    assert report.drifted == [] and report.schema_changes == []
    assert [f.verdict for f in report.features] == ["no drift"] * 7
    for feature in report.features:
        assert feature.effect_size is not None and feature.effect_size < feature.threshold / 4, feature


def test_exactly_the_shifted_features_are_flagged(reference: Profile, shifted_frame: pd.DataFrame) -> None:
    report = drift_report(reference, profiled(shifted_frame))
    assert report.verdict == "drift"
    assert report.drifted == ["amount", "visits", "channel"], report.reason
    amount = report.feature("amount")
    assert amount.effect == "wasserstein" and amount.effect_size == pytest.approx(0.3, abs=0.02)
    assert amount.p_value is not None and amount.p_value < 1e-100
    # A 0.3-std shift of a normal column: PSI near 0.09 (under its 0.2), so the Wasserstein distance flags it.
    assert amount.statistics.psi == pytest.approx(0.088, abs=0.01)
    assert report.feature("visits").effect == "jensen_shannon"
    assert report.feature("channel").effect == "jensen_shannon"
    assert report.feature("channel").statistics.jensen_shannon > 0.1


def test_tests_choose_the_effect_sizes_that_may_flag(reference: Profile, shifted_frame: pd.DataFrame) -> None:
    # Only PSI: the 0.3-std shift of amount (PSI 0.09) is no longer flagged; channel's shares still are.
    only_psi = drift_report(reference, profiled(shifted_frame), thresholds=Thresholds(tests=("psi",)))
    assert "amount" not in only_psi.drifted and only_psi.feature("amount").effect == "psi"
    # Only Wasserstein: categories are not measured by it, and say so.
    only_w = drift_report(reference, profiled(shifted_frame), thresholds=thresholds_of({}, "wasserstein"))
    assert only_w.drifted == ["amount"]
    channel = only_w.feature("channel")
    assert channel.verdict == "not comparable" and "none of the tests asked for (wasserstein)" in channel.reason
    # A standing monitor's spec takes the same names (and no other).
    assert MonitorSpec.model_validate({"deployment": "d", "every": "10m", "tests": list(TESTS)}).tests == list(TESTS)
    with pytest.raises(InvalidInput, match="tests"):
        MonitorSpec.checked({"deployment": "d", "every": "10m", "tests": ["ks"]})
    with pytest.raises(InvalidInput, match="no drift test named 'ks'; known: wasserstein, psi, jensen_shannon"):
        thresholds_of({}, "wasserstein,ks")
    with pytest.raises(InvalidInput, match="no threshold named 'tests'"):
        thresholds_of({"tests": 0.5})


@pytest.mark.parametrize("name", ["flag", "rating"])
def test_few_valued_integers_are_compared_by_exact_counts(
    reference: Profile, same_frame: pd.DataFrame, shifted_frame: pd.DataFrame, name: str
) -> None:
    for frame in (same_frame, shifted_frame):
        result = feature_drift(name, reference.column(name), profiled(frame[[name]]).column(name))
        assert result.method == "counts" and result.verdict == "no drift", result
        assert result.statistics.ks is None  # no Kolmogorov-Smirnov on a few-valued column
        assert result.histogram is not None
        assert result.histogram.labels == [str(v) for v in sorted(frame[name].unique())]


def _raw_psi(reference: np.ndarray, current: np.ndarray) -> float:
    edges = np.quantile(reference, np.linspace(0, 1, PSI_BINS + 1)[1:-1])
    r = (
        np.diff(np.concatenate(([0], np.searchsorted(np.sort(reference), edges, side="right"), [reference.size])))
        / reference.size
    )
    c = np.diff(np.concatenate(([0], np.searchsorted(np.sort(current), edges, side="right"), [current.size]))) / current.size
    r, c = np.maximum(r, 1e-4), np.maximum(c, 1e-4)  # an empty bin counted as 1e-4 of the rows
    r, c = r / r.sum(), c / c.sum()
    return float(np.sum((c - r) * np.log(c / r)))


def _agrees_on_numbers(result: FeatureDrift, reference: np.ndarray, current: np.ndarray) -> None:
    s = result.statistics
    assert result.method == "quantiles"
    wasserstein = stats.wasserstein_distance(reference, current) / reference.std(ddof=1)
    assert s.wasserstein == pytest.approx(wasserstein, abs=0.01)
    ks = stats.ks_2samp(reference, current)
    assert s.ks == pytest.approx(ks.statistic, abs=0.005)
    if ks.pvalue > 1e-10:
        assert abs(np.log10(s.ks_p_value) - np.log10(ks.pvalue)) < 1, (s.ks_p_value, ks.pvalue)
    else:
        assert s.ks_p_value < 1e-8
    assert s.psi == pytest.approx(_raw_psi(reference, current), abs=0.005, rel=0.02)


def _agrees_on_counts(result: FeatureDrift, reference: pd.Series, current: pd.Series) -> None:
    s = result.statistics
    assert result.method == "counts"
    levels = sorted(set(reference) | set(current), key=str)
    table = np.array([[np.sum(reference == v) for v in levels], [np.sum(current == v) for v in levels]])
    shares = table / table.sum(axis=1, keepdims=True)
    assert s.jensen_shannon == pytest.approx(jensenshannon(shares[0], shares[1], base=2), abs=1e-9)
    statistic, p_value, dof, _ = stats.chi2_contingency(table, correction=False)
    assert (s.chi_square, s.chi_square_dof) == (pytest.approx(statistic, rel=1e-9), dof)
    assert s.chi_square_p_value == pytest.approx(p_value, rel=1e-6, abs=1e-300)


@pytest.mark.parametrize("window", ["same", "shifted"])
def test_statistics_agree_with_scipy_on_the_raw_data(
    reference: Profile, reference_frame: pd.DataFrame, same_frame: pd.DataFrame, shifted_frame: pd.DataFrame, window: str
) -> None:
    current = same_frame if window == "same" else shifted_frame
    report = drift_report(reference, profiled(current))
    for name in ("amount", "latency"):
        _agrees_on_numbers(report.feature(name), reference_frame[name].to_numpy(), current[name].to_numpy())
    for name in ("flag", "rating", "visits", "channel", "member"):
        _agrees_on_counts(report.feature(name), reference_frame[name], current[name])


@pytest.mark.parametrize(
    ("reference_rows", "current_rows", "shift"), [(1_000_000, 100_000, 0.05), (100_000, 2_000, 0.0), (100_000, 300, 0.5)]
)
def test_merged_and_small_summaries_agree_with_scipy(reference_rows: int, current_rows: int, shift: float) -> None:
    """A reference profiled in several chunks (summaries merged), and windows small enough to keep every value."""
    rng = np.random.default_rng(reference_rows + current_rows)
    mixture = rng.normal(np.where(rng.random(reference_rows) < 0.3, -2.0, 1.0), 0.7)
    window = rng.normal(np.where(rng.random(current_rows) < 0.3, -2.0, 1.0), 0.7) + shift * mixture.std()
    result = feature_drift(
        "x", profiled(pd.DataFrame({"x": mixture})).column("x"), profiled(pd.DataFrame({"x": window})).column("x")
    )
    _agrees_on_numbers(result, mixture, window)


def test_a_difference_too_small_a_window_cannot_tell_from_noise_is_not_drift() -> None:
    reference = profiled(requests(ROWS, seed=1)[["amount"]]).column("amount")
    window = profiled(requests(12, seed=5, shift=0.3)[["amount"]]).column("amount")
    result = feature_drift("amount", reference, window)
    assert result.effect_size > result.threshold
    assert result.verdict == "no drift" and "too few rows" in result.reason
    assert result.p_value >= Thresholds().p_value


def test_categories_beyond_those_the_profile_lists_are_compared_as_other() -> None:
    rng = np.random.default_rng(4)
    names = [f"city-{i}" for i in range(300)]
    shares = 1 / np.arange(1, 301)
    shares /= shares.sum()
    reference = profiled(pd.DataFrame({"city": rng.choice(names, ROWS, p=shares)})).column("city")
    current = profiled(pd.DataFrame({"city": rng.choice(names, ROWS, p=shares)})).column("city")
    assert not reference["levels_complete"]
    result = feature_drift("city", reference, current)
    assert result.verdict == "no drift", result.reason
    assert result.histogram is not None and result.histogram.labels[-1] == OTHER
    assert sum(result.histogram.reference) == pytest.approx(1.0)


def test_schema_changes_and_empty_windows(reference: Profile, same_frame: pd.DataFrame) -> None:
    window = same_frame.drop(columns=["latency"]).assign(session=1, rating=same_frame["rating"].astype(str))
    window["channel"] = None
    report = drift_report(reference, profiled(window))
    assert report.verdict == "schema change"
    assert report.schema_changes == ["latency", "rating", "channel", "session"]
    reasons = {f.feature: f.reason for f in report.features}
    assert reasons["latency"] == "not in the current data"
    assert reasons["rating"] == "kind changed from numeric to categorical"
    assert reasons["channel"].startswith("every value missing")
    assert reasons["session"] == "not in the reference"
    # Only the model's features checked: a column the requests add is not a change.
    assert drift_report(reference, profiled(window), features=["amount", "flag"]).verdict == "no drift"
    for empty in (None, profiled(same_frame.iloc[:0])):
        nothing = drift_report(reference, empty)
        assert nothing.verdict == "no data" and nothing.current_rows == 0
        assert {f.verdict for f in nothing.features} == {"no data"}


def test_datetimes_are_not_comparable() -> None:
    times = pd.DataFrame({"at": pd.date_range("2024-01-01", periods=1_000, freq="min")})
    result = feature_drift("at", profiled(times).column("at"), profiled(times).column("at"))
    assert result.verdict == "not comparable" and "datetime" in result.reason


def test_results_are_json_with_the_histograms_to_plot(reference: Profile, shifted_frame: pd.DataFrame) -> None:
    report = drift_report(reference, profiled(shifted_frame))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["drifted"] == ["amount", "visits", "channel"]
    amount = next(f for f in data["features"] if f["feature"] == "amount")
    histogram = amount["histogram"]
    assert len(histogram["edges"]) == len(histogram["reference"]) + 1 == len(histogram["current"]) + 1
    assert sum(histogram["reference"]) == pytest.approx(1.0) and sum(histogram["current"]) == pytest.approx(1.0)
    # The bars carry the shift: the current mean 3.0 (0.3 std) above the reference mean.
    centres = (np.array(histogram["edges"][:-1]) + np.array(histogram["edges"][1:])) / 2
    assert np.dot(centres, histogram["current"]) - np.dot(centres, histogram["reference"]) == pytest.approx(3.0, abs=0.5)


@pytest.mark.parametrize(("name", "value"), [("psi", -1.0), ("wasserstein", 0), ("p_value", 1.5), ("jensen_shannon", "high")])
def test_a_bad_threshold_is_named(name: str, value: object) -> None:
    with pytest.raises(InvalidInput, match=name):
        Thresholds(**{name: value})


def _log_segments(folder: Path, frames: list[pd.DataFrame], now: float) -> pd.DataFrame:
    """Each frame as one request-log segment, oldest first, with the columns the serving request log writes; returns
    the frames' rows together (the raw data of the window)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        age = len(frames) - index
        table = frame.add_prefix("input.")
        table.insert(0, "row", 0)
        table.insert(0, "request_id", [f"s{index}-{i}" for i in range(len(frame))])
        table["prediction"] = 1
        table["latency_ms"] = 2.0
        table["status"] = 200
        table["time"] = pd.Timestamp(now - age, unit="s", tz="UTC")
        table["model"] = "models:/m/1"
        table["model_version"] = "1"
        path = folder / f"requests-{index:04d}.parquet"
        table.to_parquet(path)
        os.utime(path, (now - age, now - age))
    return pd.concat(frames, ignore_index=True)


def test_a_window_folded_from_200_segments_agrees_with_scipy(
    tmp_path: Path, reference: Profile, reference_frame: pd.DataFrame
) -> None:
    """The monitor's current side: 200 log segments, each summarised alone and folded into the window (200 merges of
    each KLL sketch), while the data drifts from segment to segment (what made repeated merges of the one pass's own
    quantile summary go wrong); then once more from the summaries kept beside the segments. The statistics agree
    with scipy on the raw rows within the same tolerances as a profile of the rows at once."""
    now = time.time()
    frames = [requests(500, seed=100 + i, shift=0.6 * i / 199, visits=3.0 + 1.2 * i / 199) for i in range(200)]
    raw = _log_segments(tmp_path, frames, now)
    for again in (False, True):
        window = read_window(tmp_path, Window.parse("1d"), "1", now=now)
        assert window.segments_read == 200 and window.rows == 100_000 and window.skipped == []
        report = drift_report(reference, window.profile())
        assert report.drifted == ["amount", "visits"], (again, report.reason)
        for name in ("amount", "latency"):
            _agrees_on_numbers(report.feature(name), reference_frame[name].to_numpy(), raw[name].to_numpy())
        for name in ("flag", "rating", "visits", "channel", "member"):
            _agrees_on_counts(report.feature(name), reference_frame[name], raw[name])
        assert len(list((tmp_path / ".summaries").iterdir())) == 200


def test_a_profile_saved_in_format_1_loads_and_compares(tmp_path: Path, reference: Profile, same_frame: pd.DataFrame) -> None:
    """``tests/data/profile-format-1.json``: the training profile of ``requests(ROWS, seed=1)`` as the first format
    wrote it (mlops-magics at 15ea767, before the monitor's summaries moved to KLL), as ``%%train`` logs it to MLflow.
    It loads; this version writes the same columns for the same data; and it is still the reference a window of
    logged requests is checked against, and an ``%eda --compare`` baseline."""
    old = Profile.load(FORMAT_1)
    assert old.data["format"] == 1 and old.rows == ROWS
    assert old.columns == reference.columns
    now = time.time()
    _log_segments(tmp_path / "same", [same_frame.iloc[i : i + 10_000] for i in range(0, ROWS, 10_000)], now)
    same = read_window(tmp_path / "same", Window.parse("1h"), now=now)
    assert drift_report(old, same.profile()).verdict == "no drift"
    shifted = requests(20_000, seed=3, shift=0.3, channel_shares=(0.35, 0.3, 0.2, 0.15), visits=3.6)
    _log_segments(tmp_path / "shifted", [shifted.iloc[i : i + 1_000] for i in range(0, 20_000, 1_000)], now)
    window = read_window(tmp_path / "shifted", Window.parse("1h"), now=now)
    assert drift_report(old, window.profile()).drifted == ["amount", "visits", "channel"]
    from mlops_magics.eda.compare import compare

    assert compare(old, profiled(same_frame)) is not None


def test_kll_summaries_folded_from_windows_of_unequal_sizes_keep_their_weights() -> None:
    """A window's segments differ in size; the merged sketch's points must still stand for every row (the weights
    datasketches gives when iterating a merged sketch do not: they summed to 5,000 for 80,000 rows)."""
    from mlops_magics.eda.sketches import KllSummary

    rng = np.random.default_rng(7)
    parts = [rng.normal(size=n) for n in (500_000, 20_000, 42_000, 38_000, 7_000, 300, 61_000)]
    parts.append(rng.normal(5.0, 1.0, size=6_000))  # a small window far from the rest: 0.9% of the rows
    folded = KllSummary.of_values(parts[0])
    for part in parts[1:]:
        folded.merge(KllSummary.of_values(part))
    points = folded.points()
    everything = np.sort(np.concatenate(parts))
    assert points.weights.sum() == pytest.approx(everything.size)
    qs = np.linspace(0.01, 0.99, 99)
    ranks = np.searchsorted(everything, points.quantiles(qs)) / everything.size
    assert np.abs(ranks - qs).max() < 0.005
    # read back, it is the same distribution as the rows: what a drift check compares stays right
    assert stats.wasserstein_distance(points.values, everything, u_weights=points.weights) < 0.01
