"""The request log: inputs, prediction, latency, status and id of (a sample of) requests, and feedback (true
labels), as Parquet segments in the workspace — the drift monitor's input.

Two halves, in two processes, so that logging never holds a worker's interpreter:
- a worker (``RequestLog``) appends each record to a buffer as bytes (the checked input array, the
  predictions as JSON) and, once a second, writes the buffer out as one spool file (``.spool/<pid>-<n>.spool``);
- the deployment process (``SpoolConverter``, in its main loop) turns spool files into
  ``requests-<time>-<id>.parquet`` / ``feedback-...parquet`` segments and removes them. Spool files left by a
  killed deployment are converted by the next one.

Building Parquet in the worker (as a first version did) paused its event loop for tens of milliseconds at each
flush: a p99 of ~210 ms against a p50 of 10 ms.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import struct
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

log = logging.getLogger("mlops.serving.requestlog")
FLUSH_SECONDS = 1.0  # a worker writes its spool file this often (what a killed worker can lose)
CONVERT_SECONDS = 2.0  # the deployment process turns spool files into segments this often
FLUSH_BYTES = 8 * 2**20
SPOOL = ".spool"
_FRAME = struct.Struct("<cI")  # kind, length of what follows
_HEADER, _REQUEST, _FEEDBACK = b"H", b"R", b"F"
# A request record: latency ms, status, time, rows, bytes of inputs, their encoding, bytes of the request id;
# then the id, the inputs and the predictions (JSON).
_RECORD = struct.Struct("<dHdIIBB")
_F8, _JSON = 0, 1


def _frame(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return _FRAME.pack(kind, len(body)) + body


class RequestLog:
    """A worker's half: cheap appends on the event loop; a thread writes the spool file."""

    def __init__(
        self, folder: Path, rate: float, model: str = "", version: str | None = None, columns: list[str] | None = None
    ) -> None:
        self.rate = rate
        self.spool = folder / SPOOL
        # The signature's columns, once per file: the checked frames of a model with a signature have them, in
        # this order, so a record carries only its numbers.
        self._columns = list(columns) if columns else None
        self._header = orjson.dumps({"model": model, "version": version, "columns": self._columns})
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._sequence = 0
        self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)
        self._thread.start()

    def record(self, request_id: str, frame: pd.DataFrame, predictions: Any, latency_ms: float, status: int) -> None:
        if self.rate <= 0 or (self.rate < 1 and random.random() >= self.rate):
            return
        values = frame.to_numpy()
        if values.dtype == np.float64 and self._columns is not None and values.shape[1] == len(self._columns):
            inputs, encoding = values.tobytes(), _F8
        else:  # no signature, strings, mixed types: JSON with the column names (rarer; still no frame built here)
            split = {"columns": [str(c) for c in frame.columns], "data": values.tolist()}
            inputs, encoding = _dumps(split), _JSON
        name = request_id.encode()[:255]
        fixed = _RECORD.pack(latency_ms, status, time.time(), len(frame), len(inputs), encoding, len(name))
        self._append(_frame(_REQUEST, fixed, name, inputs, _encode_predictions(np.asarray(predictions))))

    def record_feedback(self, items: list[dict[str, Any]]) -> None:
        self._append(_frame(_FEEDBACK, orjson.dumps([time.time(), items], default=str)))

    def _append(self, data: bytes) -> None:
        with self._lock:
            self._buffer += data
            full = len(self._buffer) >= FLUSH_BYTES
        if full:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except OSError:
                log.exception("writing the request log spool failed")

    def flush(self) -> Path | None:
        with self._lock:
            data, self._buffer = self._buffer, bytearray()
        if not data:
            return None
        self.spool.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        path = self.spool / f"{os.getpid()}-{self._sequence:08d}.spool"
        tmp = path.with_suffix(".part")
        with tmp.open("wb") as out:
            out.write(_frame(_HEADER, self._header))
            out.write(data)
        tmp.replace(path)  # the converter only reads whole files
        return path

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()


def _dumps(split: dict[str, Any]) -> bytes:
    """JSON the converter can read back. A string with a lone surrogate (JSON's "\\ud800" is valid input, and the
    model may answer it) is no UTF-8: it is logged with that character replaced, rather than not at all."""
    try:
        return orjson.dumps(split, default=str)
    except TypeError:
        data = [[_utf8(v) for v in row] for row in split["data"]]
        return orjson.dumps({"columns": [_utf8(c) for c in split["columns"]], "data": data}, default=str)


def _utf8(value: Any) -> Any:
    return value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else value


def _encode_predictions(predictions: np.ndarray) -> bytes:
    if predictions.dtype.kind in "biuf":
        return orjson.dumps(predictions, option=orjson.OPT_SERIALIZE_NUMPY)
    try:
        return orjson.dumps(predictions.tolist(), default=str)  # labels as strings, dates, objects
    except TypeError:  # a label with a lone surrogate (a model echoing its input)
        return orjson.dumps([_utf8(p) for p in predictions.tolist()], default=str)


# --- the deployment process's half ------------------------------------------------------------------------
@dataclass
class _Request:
    request_id: str
    latency_ms: float
    status: int
    at: float
    rows: int
    inputs: pd.DataFrame | np.ndarray
    columns: list[str] | None
    predictions: Any
    model: str
    version: str | None


Labels = list[tuple[float, list[dict[str, Any]]]]


@dataclass
class Spooled:
    """The records of one spool file that could be read, and how many could not."""

    requests: list[_Request]
    feedback: Labels
    bad: int = 0


def read_spool(path: Path) -> Spooled:
    """The records of one spool file that can be read. One that cannot is counted and skipped: each says its own
    length, so the ones after it are still found. A spool file is renamed into place whole, so one that ends
    inside a record was damaged since: its last record is counted too."""
    data = path.read_bytes()
    spooled = Spooled([], [])
    header: dict[str, Any] = {"model": "", "version": None}
    at = 0
    while at + _FRAME.size <= len(data):
        kind, size = _FRAME.unpack_from(data, at)
        if at + _FRAME.size + size > len(data):
            break
        body = memoryview(data)[at + _FRAME.size : at + _FRAME.size + size]
        at += _FRAME.size + size
        try:
            if kind == _HEADER:
                header = orjson.loads(body)
            elif kind == _FEEDBACK:
                when, items = orjson.loads(body)
                spooled.feedback.append((float(when), [dict(item) for item in items]))
            elif kind == _REQUEST:
                spooled.requests.append(_request(body, header))
            else:
                raise ValueError(f"unknown record kind {kind!r}")
        except Exception:
            spooled.bad += 1
    if at < len(data):  # it ends inside a record
        spooled.bad += 1
    return spooled


def _request(body: memoryview, header: dict[str, Any]) -> _Request:
    latency_ms, status, when, rows, input_size, encoding, name_size = _RECORD.unpack_from(body)
    start = _RECORD.size + name_size
    request_id = bytes(body[_RECORD.size : start]).decode(errors="replace")
    raw = body[start : start + input_size]
    columns = header.get("columns")
    if encoding == _F8 and columns:
        inputs: pd.DataFrame | np.ndarray = np.frombuffer(raw, dtype=np.float64).reshape(rows, len(columns))
    else:
        split = orjson.loads(raw)
        inputs, columns = pd.DataFrame(split["data"], columns=split["columns"]), None
    predictions = orjson.loads(body[start + input_size :])
    return _Request(request_id, latency_ms, status, when, rows, inputs, columns, predictions, header["model"], header["version"])


def requests_table(items: list[_Request]) -> pd.DataFrame:
    """One row per input row: request_id, row, input.<column>..., prediction, latency_ms, status, time, model."""
    numeric = [i for i in items if isinstance(i.inputs, np.ndarray)]
    if len(numeric) == len(items) and all(i.columns == items[0].columns for i in items):
        inputs = pd.DataFrame(np.concatenate([i.inputs for i in items]), columns=items[0].columns)
    else:
        inputs = pd.concat(
            [i.inputs if isinstance(i.inputs, pd.DataFrame) else pd.DataFrame(i.inputs, columns=i.columns) for i in items],
            ignore_index=True,
        )
    for column in inputs.columns:
        if inputs[column].dtype == object:  # e.g. a string column where a client sent a number: one kind for Parquet
            inputs[column] = _one_kind(inputs[column].tolist())
    sizes = [i.rows for i in items]
    table = inputs.add_prefix("input.")
    table.insert(0, "row", np.concatenate([np.arange(n) for n in sizes]))
    table.insert(0, "request_id", np.repeat([i.request_id for i in items], sizes))
    predictions = [p for i in items for p in (i.predictions if isinstance(i.predictions, list) else [i.predictions])]
    if all(not isinstance(p, (list, dict)) for p in predictions):
        table["prediction"] = _one_kind(predictions)
    else:  # several outputs per row (probabilities, multi-output): kept as lists
        table["prediction"] = pd.Series(predictions, dtype=object)
    table["latency_ms"] = np.repeat([i.latency_ms for i in items], sizes)
    table["status"] = np.repeat([i.status for i in items], sizes)
    table["time"] = pd.to_datetime(np.repeat([i.at for i in items], sizes), unit="s", utc=True)
    table["model"] = np.repeat([i.model for i in items], sizes)
    table["model_version"] = np.repeat([i.version or "" for i in items], sizes)
    return table


def _one_kind(values: list[Any]) -> list[Any]:
    """A column Parquet can hold: values of mixed kinds (labels 1 and "cat" from two clients; int predictions
    before a swap, strings after) are written as strings."""
    kinds = {type(v) for v in values if not _missing(v)}
    if len(kinds) <= 1 or kinds <= {int, float}:
        return values
    return [None if _missing(v) else str(v) for v in values]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def feedback_table(items: list[tuple[float, list[dict[str, Any]]]]) -> pd.DataFrame:
    flat = [(item, at) for at, batch in items for item in batch]
    return pd.DataFrame(
        {
            "request_id": [str(i["request_id"]) for i, _ in flat],
            "row": [int(i.get("row", 0)) for i, _ in flat],
            "label": _one_kind([i["label"] for i, _ in flat]),
            "time": pd.to_datetime([at for _, at in flat], unit="s", utc=True),
        }
    )


def _fits(table: Any, items: list[Any]) -> bool:
    import pyarrow as pa

    try:
        pa.Table.from_pandas(table(items), preserve_index=False)
    except Exception:
        return False
    return True


def _write_segment(folder: Path, kind: str, table: Any) -> Path:
    import pyarrow.parquet as pq

    path = folder / f"{kind}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}.parquet"
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)  # readers never see half a segment
    return path


def _set_aside(path: Path, why: str) -> None:
    log.error("request log spool file %s %s; set aside as .bad", path, why, exc_info=sys.exc_info()[0] is not None)
    with contextlib.suppress(OSError):
        path.rename(path.with_suffix(".bad"))


class SpoolConverter:
    """The deployment process's half: spool files in, Parquet segments out.

    Called from the deployment process's own loop, not a thread: that process forks workers, and a fork while
    another thread is inside pyarrow could hand the worker a lock that nobody will release.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._last = 0.0

    def due(self) -> list[Path]:
        """Convert when ``CONVERT_SECONDS`` have passed since the last time."""
        if time.monotonic() - self._last < CONVERT_SECONDS:
            return []
        return self.convert()

    def convert(self) -> list[Path]:
        """Every finished spool file into segments. A record that cannot be read or converted is left out and
        its file set aside as ``.bad`` (and logged), so that one bad record never holds back, or duplicates, the
        others — in its file or any other."""
        self._last = time.monotonic()
        spool = self.folder / SPOOL
        files = sorted(spool.glob("*.spool"), key=lambda p: p.stat().st_mtime) if spool.is_dir() else []
        self._drop_stale_parts(spool)
        records = {}
        for path in files:
            try:
                records[path] = read_spool(path)
            except Exception:
                _set_aside(path, "cannot be read")
        if not records:
            return []
        try:
            return self._write(records)
        except OSError:  # the disk, not the data: the spool files stay for the next round
            log.exception("writing the request log failed; trying again in %s s", CONVERT_SECONDS)
            return []
        except Exception:  # some record the tables cannot hold: file by file, then record by record
            written = []
            for path, one in records.items():
                try:
                    written += self._write({path: one})
                except OSError:
                    log.exception("writing the request log failed; trying again in %s s", CONVERT_SECONDS)
                except Exception:
                    written += self._write_apart(path, one)
            return written

    def _write_apart(self, path: Path, spooled: Spooled) -> list[Path]:
        """A file some record of which the tables cannot hold: its other records are written."""
        requests = [r for r in spooled.requests if _fits(requests_table, [r])]
        feedback = [f for f in spooled.feedback if _fits(feedback_table, [f])]
        bad = spooled.bad + len(spooled.requests) - len(requests) + len(spooled.feedback) - len(feedback)
        try:
            return self._write({path: Spooled(requests, feedback, bad)})
        except OSError:
            log.exception("writing the request log failed; trying again in %s s", CONVERT_SECONDS)
        except Exception:
            _set_aside(path, "cannot be converted")
        return []

    def _write(self, records: dict[Path, Spooled]) -> list[Path]:
        """Both tables are built before either is written, and the spool files go only after both are."""
        import pyarrow as pa

        requests = [r for one in records.values() for r in one.requests]
        feedback = [f for one in records.values() for f in one.feedback]
        tables = []
        if requests:
            tables.append(("requests", pa.Table.from_pandas(requests_table(requests), preserve_index=False)))
        if feedback:
            tables.append(("feedback", pa.Table.from_pandas(feedback_table(feedback), preserve_index=False)))
        written = [_write_segment(self.folder, kind, table) for kind, table in tables]
        for path, one in records.items():
            if one.bad:  # kept for a look; what could be read of it is written
                _set_aside(path, f"holds {one.bad} record(s) that cannot be read or converted (the others were written)")
            else:
                path.unlink(missing_ok=True)
        return written

    @staticmethod
    def _drop_stale_parts(spool: Path) -> None:
        if not spool.is_dir():
            return
        for part in spool.glob("*.part"):  # a writer killed in the middle of a write
            with contextlib.suppress(OSError):
                if time.time() - part.stat().st_mtime > 60:
                    part.unlink()
