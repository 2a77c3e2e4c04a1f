"""The request log: inputs, prediction, latency, status and id of (a sample of) requests, written off the hot
path as Parquet segments in the workspace — the drift monitor's input. Feedback (true labels) likewise."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FLUSH_SECONDS = 2.0
FLUSH_ROWS = 20_000


Build = Callable[[list[Any]], pd.DataFrame]


class SegmentWriter:
    """Items appended from the server's loop (cheap: a tuple); a thread turns them into a table and writes it as
    ``<kind>-<time>-<n>.parquet``."""

    def __init__(self, folder: Path, kind: str, build: Build) -> None:
        self.folder = folder
        self.kind = kind
        self._build = build
        self._frames: list[Any] = []
        self._rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"{kind}-log", daemon=True)
        self._thread.start()

    def append(self, item: Any, rows: int) -> None:
        with self._lock:
            self._frames.append(item)
            self._rows += rows
        if self._rows >= FLUSH_ROWS:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            self.flush()

    def flush(self) -> Path | None:
        with self._lock:
            frames, self._frames, self._rows = self._frames, [], 0
        if not frames:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.kind}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}.parquet"
        table = self._build(frames)
        tmp = path.with_suffix(".tmp")
        table.to_parquet(tmp, index=False)
        tmp.replace(path)  # readers never see half a segment
        return path

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()


def _requests_table(items: list[tuple[str, pd.DataFrame, np.ndarray, float, int, float]]) -> pd.DataFrame:
    """The logged requests as one table, built in the writer thread (never on the request path).

    Inputs are stacked as arrays, not concatenated as thousands of small frames: the event loop shares the
    interpreter with this thread, so the build must be short.
    """
    columns = list(items[0][1].columns)
    same = all(list(frame.columns) == columns for _, frame, *_ in items)
    if same:
        inputs = pd.DataFrame(np.concatenate([frame.to_numpy() for _, frame, *_ in items]), columns=columns)
    else:
        inputs = pd.concat([frame for _, frame, *_ in items], ignore_index=True)
    sizes = [len(frame) for _, frame, *_ in items]
    table = inputs.add_prefix("input.")
    table.insert(0, "row", np.concatenate([np.arange(n) for n in sizes]))
    table.insert(0, "request_id", np.repeat([item[0] for item in items], sizes))
    predictions = np.concatenate([np.asarray(item[2]).reshape(len(item[1]), -1) for item in items])
    table["prediction"] = predictions[:, 0] if predictions.shape[1] == 1 else list(predictions)
    table["latency_ms"] = np.repeat([item[3] for item in items], sizes)
    table["status"] = np.repeat([item[4] for item in items], sizes)
    table["time"] = pd.to_datetime(np.repeat([item[5] for item in items], sizes), unit="s", utc=True)
    return table


def _feedback_table(items: list[list[dict[str, Any]]]) -> pd.DataFrame:
    flat = [(i, at) for batch, at in items for i in batch]
    return pd.DataFrame(
        {
            "request_id": [str(i["request_id"]) for i, _ in flat],
            "row": [int(i.get("row", 0)) for i, _ in flat],
            "label": [i["label"] for i, _ in flat],
            "time": [pd.Timestamp(at, unit="s", tz="UTC") for _, at in flat],
        }
    )


class RequestLog:
    def __init__(self, folder: Path, rate: float) -> None:
        self.rate = rate
        self.requests = SegmentWriter(folder, "requests", _requests_table) if rate > 0 else None
        self.feedback = SegmentWriter(folder, "feedback", _feedback_table)

    def record(self, request_id: str, frame: pd.DataFrame, predictions: np.ndarray, latency_ms: float, status: int) -> None:
        if self.requests is None or (self.rate < 1 and random.random() >= self.rate):
            return
        # The frame is not changed after the request; keeping a reference is enough.
        self.requests.append((request_id, frame, predictions, latency_ms, status, time.time()), len(frame))

    def record_feedback(self, items: list[dict[str, Any]]) -> None:
        self.feedback.append((items, time.time()), len(items))

    def close(self) -> None:
        if self.requests is not None:
            self.requests.close()
        self.feedback.close()
