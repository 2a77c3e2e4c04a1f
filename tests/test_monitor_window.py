"""The window's summaries kept beside the log segments (``monitor.cache``): used when they can be trusted, ignored
and written again when they cannot (damaged, half-written, stale, a link), never read from outside the deployment's
folder; and a window read in bounded chunks gives the statistics of the whole."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_magics.monitor import cache, window
from mlops_magics.monitor.window import Window, read_rows, read_window


def log_segment(folder: Path, name: str, values: np.ndarray, age_s: float, now: float, versions: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = len(values)
    table = pd.DataFrame(
        {
            "request_id": [f"{name}-{i // 2}" for i in range(rows)],  # two rows a request
            "row": np.arange(rows) % 2,
            "input.x": values,
            "input.city": np.where(np.arange(rows) % 3 == 0, "paris", "oslo"),
            "prediction": (values > 0).astype(np.int64),
            "latency_ms": np.repeat(np.arange(rows // 2 + 1, dtype=float), 2)[:rows],
            "status": np.where(np.arange(rows) % 10 == 0, 503, 200),
            "time": pd.to_datetime(np.full(rows, now - age_s - 1), unit="s", utc=True),
            "model": "models:/m/1",
            "model_version": versions or ["1"] * rows,
        }
    )
    path = folder / f"requests-{name}.parquet"
    table.to_parquet(path)
    os.utime(path, (now - age_s, now - age_s))
    return path


def resealed(kept: bytes, change: Callable[[bytes], bytes]) -> bytes:
    """A kept summary with its header changed by ``change`` and sealed again with the header's new digest."""
    _, blobs_digest, size, rest = kept.split(b"\n", 3)
    header = change(rest[: int(size)])
    digest = hashlib.sha256(header).hexdigest().encode()
    return b"\n".join([digest, blobs_digest, b"%d" % len(header), header + rest[int(size) :]])


@pytest.fixture
def logged(tmp_path: Path) -> tuple[Path, float, np.ndarray]:
    now = time.time()
    rng = np.random.default_rng(7)
    values = rng.normal(size=3_000)
    log_segment(tmp_path, "a", values[:1_000], 300, now)
    log_segment(tmp_path, "b", values[1_000:], 100, now)
    return tmp_path, now, values


def _x(data: window.WindowData) -> dict:
    return data.profile().column("x")


def test_kept_summaries_give_the_window_read_from_the_segments(logged) -> None:
    folder, now, values = logged
    first = read_window(folder, Window.parse("1h"), "1", now=now)
    kept = folder / ".summaries"
    assert sorted(p.name for p in kept.iterdir()) == ["requests-a.parquet.json", "requests-b.parquet.json"]
    assert oct(kept.stat().st_mode & 0o777) == "0o700"
    again = read_window(folder, Window.parse("1h"), "1", now=now)
    latency = first.summary.latency_percentiles()  # per request: 0..499 and 0..999, each twice in the log
    assert latency == pytest.approx((np.median(np.r_[0:500, 0:1000]), np.percentile(np.r_[0:500, 0:1000], 95)), abs=1)
    assert again.summary.latency_percentiles() == latency
    for data in (first, again):
        x = _x(data)
        assert data.rows == 3_000 and data.summary.requests == 1_500 and data.summary.server_errors == 300
        assert (x["count"], x["min"], x["max"]) == (3_000, values.min(), values.max())
        assert x["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert x["quantiles"]["50%"] == pytest.approx(np.median(values), abs=0.01)
        assert data.profile().column("city")["levels"] == [["oslo", 1_999], ["paris", 1_001]]
        assert data.summary.predictions is not None and data.summary.predictions.rows == 2_700
    # the kept summaries are what a window reads: with a segment's bytes changed behind their back (same size and
    # time, which a segment never does), the window still holds its rows
    segment = folder / "requests-a.parquet"
    found = segment.stat()
    segment.write_bytes(os.urandom(found.st_size))
    os.utime(segment, ns=(found.st_atime_ns, found.st_mtime_ns))
    kept_only = read_window(folder, Window.parse("1h"), "1", now=now)
    assert kept_only.rows == 3_000 and kept_only.skipped == []


@pytest.mark.parametrize("damage", ["garbage", "half", "checksum", "other format", "not json"])
def test_a_damaged_kept_summary_is_ignored_and_written_again(logged, damage: str) -> None:
    folder, now, values = logged
    read_window(folder, Window.parse("1h"), "1", now=now)
    path = folder / ".summaries" / "requests-a.parquet.json"
    good = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(os.urandom(4_000))
    elif damage == "half":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "checksum":  # a header changed without its digest
        path.write_bytes(good.replace(b'"rows":1000', b'"rows":9000', 1))
    elif damage == "other format":  # sealed again: a summary of another format, however well kept, is not read
        path.write_bytes(resealed(good, lambda header: header.replace(cache.FORMAT.encode(), b"request-summary/0")))
    else:
        path.write_bytes(resealed(good, lambda header: b"[1, 2"))
    assert cache.load(folder / "requests-a.parquet") is None
    data = read_window(folder, Window.parse("1h"), "1", now=now)
    assert data.rows == 3_000 and _x(data)["min"] == values.min() and data.skipped == []
    assert cache.load(folder / "requests-a.parquet") is not None  # written again


def test_a_replaced_segment_is_summarised_anew_and_a_removed_one_forgotten(logged) -> None:
    folder, now, _ = logged
    read_window(folder, Window.parse("1h"), "1", now=now)
    log_segment(folder, "a", np.full(10, 100.0), 300, now)  # another file under the same name
    data = read_window(folder, Window.parse("1h"), "1", now=now)
    assert data.rows == 2_010 and _x(data)["max"] == 100.0
    (folder / "requests-b.parquet").unlink()
    assert read_window(folder, Window.parse("1h"), "1", now=now).rows == 10
    assert [p.name for p in (folder / ".summaries").iterdir()] == ["requests-a.parquet.json"]


def test_nothing_is_read_from_outside_the_deployment_folder(tmp_path: Path) -> None:
    now = time.time()
    folder = tmp_path / "requests" / "loans"
    log_segment(folder, "a", np.arange(100.0), 60, now)
    read_window(folder, Window.parse("1h"), now=now)
    kept = folder / ".summaries" / "requests-a.parquet.json"
    # a valid summary of the same segment saying other numbers, planted outside and linked in
    outside = tmp_path / "outside.json"
    planted = resealed(kept.read_bytes(), lambda header: header.replace(b'"rows":100', b'"rows":7'))
    kept.write_bytes(planted)  # in place, a well-kept summary is trusted: what a link to one must not be
    assert read_window(folder, Window.parse("1h"), now=now).rows == 7
    outside.write_bytes(planted)
    kept.unlink()
    kept.symlink_to(outside)
    assert read_window(folder, Window.parse("1h"), now=now).rows == 100
    assert kept.is_symlink() is False  # the link was replaced by a summary written in place
    # the whole folder of summaries a link to elsewhere: not read, not written
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "requests-a.parquet.json").write_bytes(outside.read_bytes())
    for name in os.listdir(folder / ".summaries"):
        (folder / ".summaries" / name).unlink()
    (folder / ".summaries").rmdir()
    (folder / ".summaries").symlink_to(elsewhere, target_is_directory=True)
    assert read_window(folder, Window.parse("1h"), now=now).rows == 100
    assert os.listdir(elsewhere) == ["requests-a.parquet.json"]
    assert (elsewhere / "requests-a.parquet.json").read_bytes() == outside.read_bytes()


def test_a_segment_read_in_chunks_is_the_segment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows read ``CHUNK_ROWS`` at a time, the window's start or row count falling inside a chunk, two versions."""
    now = time.time()
    rng = np.random.default_rng(3)
    values = rng.normal(size=5_000)
    path = log_segment(tmp_path, "a", values, 10, now, versions=["1", "2"] * 2_500)
    table = pd.read_parquet(path)
    table["time"] = pd.to_datetime(now - 999.95 + np.arange(5_000) * 0.1, unit="s", utc=True)  # 1000 s to 500 s ago
    table.to_parquet(path)
    os.utime(path, (now - 10, now - 10))
    monkeypatch.setattr(window, "CHUNK_ROWS", 700)
    since = read_window(tmp_path, Window.parse("600s"), "2", now=now)  # rows 4000.. (600 s ago on)
    assert since.rows == 500 and since.other_versions == 500 and since.segments_read == 1
    assert _x(since)["mean"] == pytest.approx(values[4_000:][1::2].mean(), rel=1e-12)
    last = read_window(tmp_path, Window.parse("1234"), now=now)
    assert last.rows == 1_234 and _x(last)["min"] == values[-1_234:].min()
    rows = read_rows(tmp_path, Window.parse("1234"), now=now)  # the rows themselves, in the order served
    assert rows.rows == 1_234 and np.array_equal(rows.inputs["x"].to_numpy(), values[-1_234:])
    labels = pd.DataFrame({"request_id": ["a-2499", "a-2000", "a-10"], "row": [1, 0, 0]})
    labelled = read_rows(tmp_path, Window.parse("1234"), "2", now=now, labels=labels)
    assert labelled.rows == 617 and labelled.other_versions == 617 and list(labelled.traffic.request_id) == ["a-2499"]
    assert not (tmp_path / ".summaries").exists()  # no window held the whole segment: nothing kept
    whole = read_window(tmp_path, Window.parse("1h"), "1", now=now)
    assert whole.rows == 2_500 and _x(whole)["mean"] == pytest.approx(values[::2].mean(), rel=1e-12)
    assert cache.load(path) is not None
