"""Feedback labels of a deployment (``POST /feedback``, logged as ``feedback-*.parquet`` segments beside the
requests: request_id, row, label, time), read for the requests of a window.

A label arrives after its request, possibly long after the window closed, so the labels read are those logged
since the window's start, up to now. Segments are read newest first and reading stops at one written before that
start (a segment is written after every label it holds). A segment that cannot be read is skipped and named, as
the window's request segments are. A row labelled twice keeps its latest label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mlops_magics.monitor.window import Skipped, newest_first, why_unreadable

COLUMNS = ["request_id", "row", "label", "time"]


@dataclass
class Feedback:
    labels: pd.DataFrame  # request_id, row, label, time: one row per labelled request row
    segments_read: int = 0
    skipped: list[Skipped] = field(default_factory=list)


def read_feedback(folder: Path, since: float | None = None) -> Feedback:
    """The labels in ``folder`` logged at or after ``since`` (epoch seconds; None: all of them)."""
    frames: list[pd.DataFrame] = []
    skipped: list[Skipped] = []
    for segment in newest_first(folder, "feedback"):
        try:
            modified = segment.stat().st_mtime
        except OSError:  # removed meanwhile
            continue
        if since is not None and modified < since:
            break
        try:
            table = _read(segment)
        except Exception as exc:  # a cut-short or corrupt file: its labels are lost, the check goes on
            skipped.append(Skipped(segment.name, why_unreadable(exc)))
            continue
        if since is not None:
            table = table[table["time"] >= pd.Timestamp(since, unit="s", tz="UTC")]
        frames.append(table)
    if not frames:
        return Feedback(_empty(), 0, skipped)
    labels = pd.concat(frames, ignore_index=True).sort_values("time", kind="stable")
    labels = labels.drop_duplicates(["request_id", "row"], keep="last").reset_index(drop=True)
    return Feedback(labels, len(frames), skipped)


def _read(segment: Path) -> pd.DataFrame:
    table = pd.read_parquet(segment)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"not a feedback segment: no column {', '.join(missing)}")
    table = table[COLUMNS].copy()
    table["request_id"] = table["request_id"].astype(str)
    table["row"] = table["row"].astype("int64")
    table["time"] = pd.to_datetime(table["time"], utc=True)
    return table


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({"request_id": pd.Series(dtype=object), "row": pd.Series(dtype="int64")})
    frame["label"] = pd.Series(dtype=object)
    frame["time"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame
