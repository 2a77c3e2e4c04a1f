"""A window of a deployment's logged requests (``serving.requestlog`` segments): the last duration of traffic
(``--window 1h``) or the last rows (``--window 10000``).

Segments are read newest first and reading stops once the window is covered: a segment is written after every row
it holds, so one older than the window's start holds none of the window (a duration); the rows of the newest
segments reach the count (rows). A segment that cannot be read (corrupt, cut short, not a request segment) is
skipped and named, never a crash. Rows served by another model version than the one checked are left out and
counted.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mlops_magics.errors import InvalidInput

INPUT = "input."
TRAFFIC = ["request_id", "row", "prediction", "status", "latency_ms", "time", "model_version"]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


@dataclass(frozen=True)
class Window:
    """The last ``seconds`` of traffic, or the last ``rows`` logged rows (one of the two)."""

    text: str
    seconds: float | None = None
    rows: int | None = None

    @classmethod
    def parse(cls, text: str | int) -> Window:
        """``1h``, ``30m``, ``90s``, ``2d``: a duration; ``10000``: a number of rows."""
        word = str(text).strip().lower()
        if word.isdigit() and int(word) > 0:
            return cls(word, rows=int(word))
        found = _DURATION.fullmatch(word)
        if found and float(found[1]) > 0:
            return cls(word, seconds=float(found[1]) * _UNITS[found[2]])
        raise InvalidInput(f"--window takes a duration (90s, 30m, 1h, 2d) or a number of rows (10000), got {str(text)[:40]!r}")

    def describe(self) -> str:
        return f"last {self.rows:,} rows" if self.rows is not None else f"last {self.text}"


@dataclass(frozen=True)
class Skipped:
    segment: str
    reason: str


@dataclass
class WindowData:
    """The window's rows: ``inputs`` (columns without the ``input.`` prefix) and ``traffic`` (request_id, row,
    prediction, status, latency_ms, time, model_version), row for row."""

    window: Window
    inputs: pd.DataFrame
    traffic: pd.DataFrame
    segments_read: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    other_versions: int = 0  # rows of the window served by another model version: left out
    start: float | None = None  # epoch seconds: the window's start (a duration), else its first row's time

    @property
    def since(self) -> float | None:
        """From when on feedback labels can belong to the window's requests (None: it has no rows)."""
        if self.start is not None:
            return self.start
        if not self.rows:
            return None
        return float(self.traffic["time"].min().timestamp())

    @property
    def rows(self) -> int:
        return len(self.inputs)


def read_window(folder: Path, window: Window, version: str | None = None, now: float | None = None) -> WindowData:
    """The window of the request log in ``folder``; only ``version``'s rows when it is given."""
    now = time.time() if now is None else now
    start = now - window.seconds if window.seconds is not None else None
    frames: list[pd.DataFrame] = []
    skipped: list[Skipped] = []
    rows = 0
    for segment in newest_first(folder):
        try:
            modified = segment.stat().st_mtime
        except OSError:  # removed meanwhile
            continue
        if start is not None and modified < start:
            break
        try:
            table = _read(segment)
        except Exception as exc:  # a cut-short or corrupt file: its rows are lost, the check goes on
            skipped.append(Skipped(segment.name, why_unreadable(exc)))
            continue
        if start is not None:
            table = table[table["time"] >= pd.Timestamp(start, unit="s", tz="UTC")]
        frames.append(table)
        rows += len(table)
        if window.rows is not None and rows >= window.rows:
            break
    table = pd.concat(frames, ignore_index=True) if frames else _empty()
    table = table.sort_values("time", kind="stable", ignore_index=True)
    if window.rows is not None:
        table = table.tail(window.rows).reset_index(drop=True)
    other = 0
    if version is not None:
        mine = table["model_version"].astype(str) == str(version)
        other = int((~mine).sum())
        table = table[mine].reset_index(drop=True)
    inputs = table[[c for c in table.columns if c.startswith(INPUT)]]
    inputs = inputs.rename(columns=lambda c: c.removeprefix(INPUT))
    return WindowData(window, inputs, table[TRAFFIC], len(frames), skipped, other, start)


def newest_first(folder: Path, kind: str = "requests") -> list[Path]:
    """A deployment's log segments of one kind (requests, feedback), newest first."""
    if not folder.is_dir():
        return []
    segments = []
    for path in folder.glob(f"{kind}-*.parquet"):
        try:
            segments.append((path.stat().st_mtime, path.name, path))
        except OSError:
            continue
    return [path for *_, path in sorted(segments, reverse=True)]


def _read(segment: Path) -> pd.DataFrame:
    table = pd.read_parquet(segment)
    missing = [c for c in TRAFFIC if c not in table.columns]
    if missing:
        raise ValueError(f"not a request segment: no column {', '.join(missing)}")
    table["time"] = pd.to_datetime(table["time"], utc=True)
    return table


def why_unreadable(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in TRAFFIC})
    frame["time"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame
