"""Summaries of finished request-log segments, kept beside them: ``requests/<deployment>/.summaries/<segment>.json``.

A segment is written once, whole, and never changed, so the summary of its rows (one per model version it holds)
stays true; a window holding the whole segment folds the kept summary instead of reading the segment again. That
is where a standing monitor's merges pile up (every check folds every segment of its sliding window), and why the
quantile sketches in it are KLL (``eda.sketches.KllSummary``).

A kept summary is trusted only when all of this holds, and is otherwise ignored (and written again):
- it is a regular file (not a link) in a folder ``.summaries`` that is itself no link, inside the deployment's
  folder, named after a segment of that folder; nothing is read from elsewhere;
- its header and its sketches match their SHA-256 (a half-written or damaged file fails), and it is at most
  ``MAX_BYTES``;
- it names this format and the segment's size and modification time (a segment replaced since is summarised anew).
Writing goes through a temporary file renamed into place, so readers never see half of one. A summary whose
segment is gone is removed (``prune``).

The file: the SHA-256 of the header, a line; that of the sketches, a line; the header's length, a line; the header
(JSON: the format, the segment, each version's rows and first time, the summaries with each sketch replaced by
``{"blob": i}``, the sketches' lengths); the sketches' bytes one after another. A window's plan reads the headers
only (``meta``), and reads each kept summary whole (``load``) when it folds it, one at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from mlops_magics.eda.partition import NUMERIC_LEVELS, TOP_KEPT
from mlops_magics.eda.sketches import KLL_K, TAIL
from mlops_magics.eda.stream import DISTINCT_K
from mlops_magics.monitor.summary import RequestSummary

FOLDER = ".summaries"
# What a kept summary depends on beyond the segment: a change of any of it makes the old ones stale.
FORMAT = f"request-summary/3 kll={KLL_K} tail={TAIL} distinct={DISTINCT_K} top={TOP_KEPT} levels={NUMERIC_LEVELS}"
MAX_BYTES = 64 * 2**20
_SEGMENT = re.compile(r"requests-[A-Za-z0-9_.-]+\.parquet")


def _identity(segment: Path) -> list[int] | None:
    try:
        found = segment.stat()
    except OSError:
        return None
    return [found.st_size, found.st_mtime_ns]


def _path(segment: Path) -> Path | None:
    """Where the summary of ``segment`` is kept; None for a name that is not a segment's."""
    if not _SEGMENT.fullmatch(segment.name) or segment.name in (".", ".."):
        return None
    return segment.parent / FOLDER / f"{segment.name}.json"


def _folder_is_ours(folder: Path) -> bool:
    try:
        found = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(found.st_mode)


def _open(segment: Path) -> tuple[BinaryIO, list[int]] | None:
    """The kept summary of ``segment``, open, and the segment's identity; None when there is none to trust here."""
    path = _path(segment)
    identity = _identity(segment)
    if path is None or identity is None or not _folder_is_ours(path.parent):
        return None
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    file = os.fdopen(descriptor, "rb")
    try:
        found = os.fstat(file.fileno())
    except OSError:
        file.close()
        return None
    if not stat.S_ISREG(found.st_mode) or found.st_size > MAX_BYTES:
        file.close()
        return None
    return file, identity


def _header(file: BinaryIO, segment: Path, identity: list[int]) -> tuple[dict[str, Any], bytes] | None:
    """The file's header, checked against its digest, this format and the segment; and the sketches' digest."""
    header_digest = file.readline(65).rstrip(b"\n")
    blobs_digest = file.readline(65).rstrip(b"\n")
    size = file.readline(21).rstrip(b"\n")
    if not size.isdigit() or int(size) > MAX_BYTES:
        return None
    text = file.read(int(size))
    if hashlib.sha256(text).hexdigest().encode() != header_digest:
        return None
    header = orjson.loads(text)
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("segment") != [segment.name, *identity]:
        return None
    return header, blobs_digest


def meta(segment: Path) -> dict[str, tuple[int, float | None]] | None:
    """Rows and first time (epoch seconds) of each model version in ``segment``, from its kept summary's header;
    None when there is none to trust."""
    opened = _open(segment)
    if opened is None:
        return None
    file, identity = opened
    try:
        with file:
            found = _header(file, segment, identity)
            if found is None:
                return None
            versions = found[0]["meta"]
        return {str(version): (int(rows), None if first is None else float(first)) for version, rows, first in versions}
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def load(segment: Path) -> dict[str, RequestSummary] | None:
    """The kept summaries of ``segment`` by model version, or None when there are none to trust."""
    opened = _open(segment)
    if opened is None:
        return None
    file, identity = opened
    try:
        with file:
            found = _header(file, segment, identity)
            if found is None:
                return None
            header, blobs_digest = found
            data = file.read(MAX_BYTES + 1)
        if hashlib.sha256(data).hexdigest().encode() != blobs_digest:
            return None
        view, blobs, at = memoryview(data), [], 0
        for length in header["blobs"]:
            blobs.append(view[at : at + int(length)])
            at += int(length)
        if at != len(data):
            return None
        kept = _joined(header, blobs)
        return {str(version): RequestSummary.from_dict(summary) for version, summary in kept["versions"]}
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
        return None


def store(segment: Path, summaries: dict[str, RequestSummary]) -> None:
    """Keep ``summaries`` (by model version) of the whole of ``segment``. A folder that cannot be written to only
    means the next window reads the segment again."""
    path = _path(segment)
    identity = _identity(segment)
    if path is None or identity is None:
        return
    blobs: list[bytes] = []
    header = _split(
        {
            "format": FORMAT,
            "segment": [segment.name, *identity],
            "meta": [[version, summary.rows, summary.first] for version, summary in summaries.items()],
            "versions": [[version, summary.to_dict()] for version, summary in summaries.items()],
        },
        blobs,
    )
    header["blobs"] = [len(blob) for blob in blobs]
    text = orjson.dumps(header)
    sketches = b"".join(blobs)
    digests = hashlib.sha256(text).hexdigest() + "\n" + hashlib.sha256(sketches).hexdigest() + "\n"
    data = digests.encode() + b"%d\n" % len(text) + text + sketches
    if len(data) > MAX_BYTES:
        return
    tmp = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        with contextlib.suppress(FileExistsError):
            path.parent.mkdir(mode=0o700)
        if not _folder_is_ours(path.parent):
            return
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


_BLOB = "blob"


_PLAIN = frozenset({"top", "moments", "value_types", "meta", "segment", "blobs"})  # keys whose values hold no bytes


def _split(value: Any, blobs: list[bytes]) -> Any:
    """``value`` with each bytes in it moved to ``blobs`` and replaced by ``{"blob": its index}``."""
    if isinstance(value, bytes):
        blobs.append(value)
        return {_BLOB: len(blobs) - 1}
    if isinstance(value, dict):
        return {key: item if key in _PLAIN else _split(item, blobs) for key, item in value.items()}
    if isinstance(value, list):
        return [_split(item, blobs) for item in value]
    return value


def _joined(value: Any, blobs: list[memoryview]) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _BLOB in value:
            return blobs[value[_BLOB]]
        return {key: item if key in _PLAIN else _joined(item, blobs) for key, item in value.items()}
    if isinstance(value, list):
        return [_joined(item, blobs) for item in value]
    return value


def prune(folder: Path, segments: set[str]) -> None:
    """Remove kept summaries whose segment is not among ``segments`` (the names in ``folder`` now), and temporary
    files a killed writer left."""
    kept = folder / FOLDER
    if not _folder_is_ours(kept):
        return
    try:
        names = os.listdir(kept)
    except OSError:
        return
    for name in names:
        stale = name.endswith(".json") and _SEGMENT.fullmatch(name.removesuffix(".json")) and name[:-5] not in segments
        left = name.startswith(".") and name.endswith(".tmp") and _older_than(kept / name, 300)
        if stale or left:
            with contextlib.suppress(OSError):
                (kept / name).unlink()


def _older_than(path: Path, seconds: float) -> bool:
    import time

    try:
        return time.time() - os.lstat(path).st_mtime > seconds
    except OSError:
        return False
