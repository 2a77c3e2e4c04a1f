"""Send one MLflow run to its mirrors: each mirror's location (or error) becomes a tag of the MLflow run and a
note for the person. A mirror that fails never fails the run or the cell."""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import replace
from typing import TYPE_CHECKING

from mlops_magics.train.background import quiet_new_loggers
from mlops_magics.train.mirrors.base import ERROR_TAG, LOCATION_TAG, Mirror, MirroredRun

if TYPE_CHECKING:
    from mlops_magics.train.run import TrainResult
    from mlops_magics.train.tracker import Tracker

log = logging.getLogger("mlops.train.mirrors")


def send(tracker: Tracker, mirrors: list[Mirror], run: MirroredRun, folder: str, result: TrainResult) -> None:
    """On the background writer, after the run's heavy work (the same thread, in order): the training profile's
    summary is known by then. The cell's live result shows each mirror's state and notes as they land."""
    if result.training_profile:
        run = replace(run, profile=result.training_profile)
    for mirror in mirrors:
        result.steps[mirror.name] = "mirroring"
        result.refresh()
        result.steps[mirror.name], note = send_one(tracker, mirror, run, folder)
        if note:
            result.notes.append(note)
        result.refresh()


def send_one(tracker: Tracker, mirror: Mirror, run: MirroredRun, folder: str) -> tuple[str, str | None]:
    """Write ``run`` to one mirror; return its state (mirrored, offline, failed) and the note to show, if any."""
    try:
        importlib.import_module(mirror.requires)
        quiet_new_loggers()
        own = os.path.join(folder, mirror.name)
        os.makedirs(own, exist_ok=True)
        mirrored = mirror.record(run, own)
    except Exception as exc:  # the MLflow record stands; the failure is said there and to the person
        why = f"{type(exc).__name__}: {exc}"[:5000]
        log.info("mirror %s of run %s failed: %s", mirror.name, run.run_id[:8], why)
        _tag(tracker, run.run_id, ERROR_TAG.format(name=mirror.name), why)
        return "failed", f"mirror {mirror.name} failed: {why}"
    _tag(tracker, run.run_id, LOCATION_TAG.format(name=mirror.name), mirrored.location)
    if mirrored.sync:
        return "offline", f"{mirror.name}: offline (no credentials); upload with: {mirrored.sync}"
    return "mirrored", None


def _tag(tracker: Tracker, run_id: str, key: str, value: str) -> None:
    try:
        tracker.log_batch(run_id, {}, {}, {key: value})
    except Exception:
        log.warning("could not tag run %s with %s", run_id[:8], key, exc_info=True)
