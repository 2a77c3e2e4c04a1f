"""Send one MLflow run to its mirrors, on the background writer: each mirror's location (or error) becomes a tag
of the MLflow run and a note under the cell's result. A mirror that fails never fails the run or the cell."""

from __future__ import annotations

import importlib
import logging
import os
from typing import TYPE_CHECKING

from mlops_magics.train.background import quiet_new_loggers
from mlops_magics.train.mirrors.base import ERROR_TAG, LOCATION_TAG, Mirror, MirroredRun

if TYPE_CHECKING:
    from mlops_magics.train.run import TrainResult
    from mlops_magics.train.tracker import Tracker

log = logging.getLogger("mlops.train.mirrors")


def send(tracker: Tracker, mirrors: list[Mirror], run: MirroredRun, folder: str, result: TrainResult) -> None:
    for mirror in mirrors:
        result.steps[mirror.name] = "mirroring"
        result.refresh()
        try:
            importlib.import_module(mirror.requires)
            quiet_new_loggers()
            own = os.path.join(folder, mirror.name)
            os.makedirs(own, exist_ok=True)
            mirrored = mirror.record(run, own)
        except Exception as exc:  # the MLflow record stands; the failure is said there and under the cell
            why = f"{type(exc).__name__}: {exc}"[:5000]
            log.info("mirror %s of run %s failed: %s", mirror.name, run.run_id[:8], why)
            _tag(tracker, run.run_id, ERROR_TAG.format(name=mirror.name), why)
            result.steps[mirror.name] = "failed"
            result.notes.append(f"mirror {mirror.name} failed: {why}")
        else:
            _tag(tracker, run.run_id, LOCATION_TAG.format(name=mirror.name), mirrored.location)
            result.steps[mirror.name] = "offline" if mirrored.sync else "mirrored"
            if mirrored.sync:
                result.notes.append(f"{mirror.name}: offline (no credentials); upload with: {mirrored.sync}")
        result.refresh()


def _tag(tracker: Tracker, run_id: str, key: str, value: str) -> None:
    try:
        tracker.log_batch(run_id, {}, {}, {key: value})
    except Exception:
        log.warning("could not tag run %s with %s", run_id[:8], key, exc_info=True)
