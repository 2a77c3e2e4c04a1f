"""A window of a deployment's logged requests (``serving.requestlog`` segments): the last duration of traffic
(``--window 1h``) or the last rows (``--window 10000``), summarised segment by segment.

Which rows (``plan_window``): segments are taken newest first until the window is covered. A segment is written
after every row it holds, so one older than the window's start holds none of the window (a duration); the newest
segments whole, and the newest rows of the oldest one needed, make the count (rows).

What they come to (``Planned.read``): each segment is read ``CHUNK_ROWS`` rows at a time and summarised
(``summary.RequestSummary``: column statistics with KLL quantile sketches, level counts, traffic counts), and the
summaries are folded, so memory holds one chunk and the summaries, whatever the window's size. A segment wholly in
the window is summarised once and its summary kept beside it (``cache``): later windows fold the kept summary
instead of reading it. Of the rows themselves only those with a feedback label are kept (their request_id, row,
prediction and status), for the performance join.

A segment that cannot be read (corrupt, cut short, not a request segment) is skipped and named, never a crash: what
was read of it is left out. Rows served by another model version than the one checked are left out and counted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mlops_magics.errors import InvalidInput
from mlops_magics.monitor import cache
from mlops_magics.monitor.summary import INPUT, RequestSummary, summarise

if TYPE_CHECKING:
    import pyarrow.parquet as pq

    from mlops_magics.eda.profile import Profile

TRAFFIC = ["request_id", "row", "prediction", "status", "latency_ms", "time", "model_version"]
KEYS = ["request_id", "row", "prediction", "status"]  # what the performance join needs of a labelled row
CHUNK_ROWS = 250_000  # rows of a segment read at a time
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
    """The window's rows of the version checked: their ``summary``, and ``traffic`` (request_id, row, prediction,
    status) of those that have a feedback label, when labels were given."""

    window: Window
    summary: RequestSummary = field(default_factory=RequestSummary)
    traffic: pd.DataFrame = field(default_factory=lambda: _empty_traffic())
    segments_read: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    other_versions: int = 0  # rows of the window served by another model version: left out
    start: float | None = None  # epoch seconds: the window's start (a duration), else its first row's time

    @property
    def since(self) -> float | None:
        """From when on feedback labels can belong to the window's requests (None: it has no rows)."""
        if self.start is not None:
            return self.start
        return self.summary.first if self.rows else None

    @property
    def rows(self) -> int:
        return self.summary.rows

    @property
    def error_rate(self) -> float | None:
        """Share of the rows answered with status >= 500 (None: no rows)."""
        return self.summary.server_errors / self.rows if self.rows else None

    @property
    def prediction_lists(self) -> bool:
        return self.summary.prediction_lists

    def profile(self) -> Profile:
        """The profile of the window's inputs (columns without the ``input.`` prefix)."""
        return self.summary.inputs_profile(f"requests, {self.window.describe()}", self.segments_read)


@dataclass
class WindowRows:
    """The window's rows themselves, for what needs rows, not statistics (a training set, the first rows after a
    swap): ``inputs`` (columns without the ``input.`` prefix) and ``traffic`` (``TRAFFIC``), row for row, in the
    order served; ``logged``: the rows of the window (of the version read), also those left out for want of a
    label."""

    window: Window
    inputs: pd.DataFrame = field(default_factory=pd.DataFrame)
    traffic: pd.DataFrame = field(default_factory=lambda: _empty_rows())
    segments_read: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    other_versions: int = 0
    start: float | None = None
    logged: int = 0
    prediction_lists = False  # the traffic holds every prediction: the performance join looks at them itself

    @property
    def rows(self) -> int:
        return self.logged

    @property
    def since(self) -> float | None:
        if self.start is not None:
            return self.start
        return float(self.traffic["time"].min().timestamp()) if len(self.traffic) else None

    @property
    def error_rate(self) -> float | None:
        """Share of the rows answered with status >= 500 (of those held)."""
        return float((self.traffic["status"].astype(int) >= 500).mean()) if len(self.traffic) else None

    def head(self, rows: int) -> WindowRows:
        """Its first ``rows`` rows (when it holds every row of the window)."""
        if self.logged > rows:
            self.inputs, self.traffic, self.logged = self.inputs.head(rows), self.traffic.head(rows), rows
        return self


@dataclass
class _Part:
    """A segment of the window: its newest ``take`` rows (a rows window's oldest segment) or every row in the
    window; ``kept``: its kept summaries, when the whole segment is in the window and they could be trusted."""

    segment: Path
    take: int | None = None
    kept: dict[str, tuple[int, float | None]] | None = None  # rows and first time by version, from the kept header


@dataclass
class Planned:
    """The segments of a window and which of their rows it holds."""

    window: Window
    start: float | None
    parts: list[_Part]
    skipped: list[Skipped]
    since: float | None  # from when on feedback labels can belong to its requests (None: all)

    def read(self, version: str | None = None, labels: pd.DataFrame | None = None) -> WindowData:
        """The window's rows summarised (only ``version``'s when it is given), and those of its rows that have a
        label in ``labels`` (request_id, row) kept."""
        data = WindowData(self.window, skipped=list(self.skipped), start=self.start)
        wanted = _label_keys(labels) if labels is not None and len(labels) else None
        labelled: list[pd.DataFrame] = []
        for part in self.parts:
            try:
                found, traffic = self._summaries(part, version, wanted)
            except Exception as exc:  # a cut-short or corrupt file: its rows are lost, the check goes on
                data.skipped.append(Skipped(part.segment.name, why_unreadable(exc)))
                continue
            data.segments_read += 1
            for served, summary in found.items():
                if version is None or served == str(version):
                    data.summary.fold(summary)
                else:
                    data.other_versions += summary.rows
            if len(traffic):
                labelled.append(traffic)
        if labelled:
            data.traffic = pd.concat(labelled, ignore_index=True)
        return data

    def rows(self, version: str | None = None, labels: pd.DataFrame | None = None) -> WindowRows:
        """The window's rows themselves (only ``version``'s when it is given), in the order they were served; only
        those with a label in ``labels`` (request_id, row) when it is given. Memory holds the rows returned."""
        data = WindowRows(self.window, skipped=list(self.skipped), start=self.start)
        wanted = _label_keys(labels) if labels is not None else None
        frames: list[pd.DataFrame] = []
        for part in self.parts:
            try:
                kept, logged, other = [], 0, 0
                for rows, _ in self._chunks(part):
                    mine = rows["model_version"].astype(str) == str(version) if version is not None else None
                    if mine is not None:
                        other += int((~mine).sum())
                        rows = rows[mine.to_numpy()]
                    logged += len(rows)
                    if wanted is not None:
                        rows = rows[_has_label(rows, wanted)]
                    kept.append(rows)
            except Exception as exc:  # a cut-short or corrupt file: its rows are lost, the read goes on
                data.skipped.append(Skipped(part.segment.name, why_unreadable(exc)))
                continue
            data.segments_read += 1
            data.logged += logged
            data.other_versions += other
            frames.extend(kept)
        if frames:
            table = pd.concat(frames, ignore_index=True).sort_values("time", kind="stable", ignore_index=True)
            data.inputs = table[[c for c in table.columns if c.startswith(INPUT)]].rename(columns=lambda c: c.removeprefix(INPUT))
            data.traffic = table[TRAFFIC]
        return data

    def _summaries(
        self, part: _Part, version: str | None, wanted: np.ndarray | None
    ) -> tuple[dict[str, RequestSummary], pd.DataFrame]:
        """The part's summaries by model version, and its labelled rows of ``version``."""
        import pyarrow.parquet as pq

        kept = cache.load(part.segment) if part.kept is not None else None
        if kept is not None:  # else damaged since the plan: the segment is read instead
            if wanted is None:
                return kept, _empty_traffic()
            rows = pq.read_table(part.segment, columns=[*KEYS, "model_version"]).to_pandas()
            return kept, _labelled(rows, version, wanted)
        found: dict[str, RequestSummary] = {}
        labelled: list[pd.DataFrame] = []
        whole = True
        for rows, complete in self._chunks(part):
            whole = whole and complete
            served = rows["model_version"].astype(str)
            for name, group in rows.groupby(served, sort=False):
                found.setdefault(str(name), RequestSummary()).fold(summarise(group))
            if wanted is not None:
                labelled.append(_labelled(rows, version, wanted))
        if whole:  # every row of the segment: its summaries hold for every later window holding it
            cache.store(part.segment, found)
        traffic = pd.concat(labelled, ignore_index=True) if labelled else _empty_traffic()
        return found, traffic

    def _chunks(self, part: _Part) -> Iterator[tuple[pd.DataFrame, bool]]:
        """The part's rows in the window, ``CHUNK_ROWS`` of the segment at a time, and whether that was every row
        of the chunk."""
        import pyarrow.parquet as pq

        file = pq.ParquetFile(part.segment)
        _check_columns(file.schema_arrow.names)
        chosen = _newest(file, part.take) if part.take is not None else None
        offset = 0
        for batch in file.iter_batches(batch_size=CHUNK_ROWS):
            rows = batch.to_pandas()
            if not isinstance(rows["time"].dtype, pd.DatetimeTZDtype):  # as the log writes it: already UTC times
                rows["time"] = pd.to_datetime(rows["time"], utc=True)
            if chosen is not None:
                keep = chosen[offset : offset + len(rows)]
            elif self.start is not None:
                keep = (rows["time"] >= pd.Timestamp(self.start, unit="s", tz="UTC")).to_numpy()
            else:
                keep = np.ones(len(rows), dtype=bool)
            offset += len(rows)
            complete = bool(keep.all())
            yield (rows if complete else rows[keep]), complete


def plan_window(folder: Path, window: Window, now: float | None = None) -> Planned:
    """Which segments of the request log in ``folder`` the window takes, and which of their rows."""
    now = time.time() if now is None else now
    start = now - window.seconds if window.seconds is not None else None
    segments = newest_first(folder)
    cache.prune(folder, {segment.name for segment in segments})
    parts: list[_Part] = []
    skipped: list[Skipped] = []
    rows = 0
    for segment in segments:
        try:
            modified = segment.stat().st_mtime
        except OSError:  # removed meanwhile
            continue
        if start is not None and modified < start:
            break
        kept = cache.meta(segment)
        if start is not None:
            inside = kept is not None and all(first is None or first >= start for _, first in kept.values())
            parts.append(_Part(segment, kept=kept if inside else None))
            continue
        assert window.rows is not None
        try:
            count = sum(rows for rows, _ in kept.values()) if kept is not None else _row_count(segment)
        except Exception as exc:
            skipped.append(Skipped(segment.name, why_unreadable(exc)))
            continue
        if rows + count > window.rows:
            parts.append(_Part(segment, take=window.rows - rows))
            break
        parts.append(_Part(segment, kept=kept))
        rows += count
        if rows >= window.rows:
            break
    since = start if start is not None else _first_time(parts[-1]) if parts else None
    return Planned(window, start, parts, skipped, since)


def read_window(
    folder: Path, window: Window, version: str | None = None, now: float | None = None, labels: pd.DataFrame | None = None
) -> WindowData:
    """The window of the request log in ``folder``; only ``version``'s rows when it is given."""
    return plan_window(folder, window, now).read(version, labels)


def read_rows(
    folder: Path, window: Window, version: str | None = None, now: float | None = None, labels: pd.DataFrame | None = None
) -> WindowRows:
    """The rows of the window of the request log in ``folder`` (only ``version``'s; only those with a label in
    ``labels``), for what needs the rows themselves."""
    return plan_window(folder, window, now).rows(version, labels)


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


def _check_columns(names: list[str]) -> None:
    missing = [c for c in TRAFFIC if c not in names]
    if missing:
        raise ValueError(f"not a request segment: no column {', '.join(missing)}")


def _row_count(segment: Path) -> int:
    import pyarrow.parquet as pq

    metadata = pq.read_metadata(segment)
    _check_columns(metadata.schema.to_arrow_schema().names)
    return int(metadata.num_rows)


def _times(segment: Path) -> np.ndarray:
    """Each row's time, in nanoseconds since the epoch."""
    import pyarrow.parquet as pq

    column = pq.read_table(segment, columns=["time"]).column("time").to_pandas()
    return pd.to_datetime(column, utc=True).to_numpy(dtype="datetime64[ns]").view(np.int64)


def _newest(file: pq.ParquetFile, take: int) -> np.ndarray:
    """Which rows of the segment are its newest ``take`` (by time; of equal times, the later rows)."""
    times = pd.to_datetime(file.read(columns=["time"]).column("time").to_pandas(), utc=True)
    order = np.argsort(times.to_numpy(dtype="datetime64[ns]").view(np.int64), kind="stable")
    chosen = np.zeros(len(order), dtype=bool)
    chosen[order[len(order) - take :]] = True
    return chosen


def _first_time(part: _Part) -> float | None:
    """The earliest time of the rows the window takes of its oldest segment (None: unknown, all labels are read)."""
    if part.kept is not None:
        firsts = [first for _, first in part.kept.values() if first is not None]
        return min(firsts) if firsts else None
    try:
        times = np.sort(_times(part.segment))
    except Exception:  # unreadable: skipped and named when read
        return None
    if not times.size:
        return None
    taken = times[times.size - part.take :] if part.take is not None else times
    return float(taken[0]) / 1e9


def _key_hashes(request_ids: pd.Series, rows: pd.Series) -> np.ndarray:
    keys = pd.DataFrame({"request_id": request_ids.astype(str).to_numpy(dtype=object), "row": rows.to_numpy(np.int64)})
    return pd.util.hash_pandas_object(keys, index=False).to_numpy()


def _label_keys(labels: pd.DataFrame) -> np.ndarray:
    return np.unique(_key_hashes(labels["request_id"], labels["row"]))


def _has_label(rows: pd.DataFrame, wanted: np.ndarray) -> np.ndarray:
    """Which rows' (request_id, row) is among ``wanted`` (hashes: a rare false match is dropped by the exact join
    that follows)."""
    if not len(rows) or not wanted.size:
        return np.zeros(len(rows), dtype=bool)
    keys = _key_hashes(rows["request_id"], rows["row"])
    return wanted[np.minimum(np.searchsorted(wanted, keys), wanted.size - 1)] == keys


def _labelled(rows: pd.DataFrame, version: str | None, wanted: np.ndarray) -> pd.DataFrame:
    """The rows of ``version`` that have a label (``_has_label``): their ``KEYS``."""
    if version is not None:
        rows = rows[rows["model_version"].astype(str) == str(version)]
    return rows.loc[_has_label(rows, wanted), KEYS].reset_index(drop=True)


def why_unreadable(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def _empty_rows() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in TRAFFIC})
    frame["time"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame


def _empty_traffic() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("row", "status") else object) for c in KEYS})
