"""The new training set of a retrain, in one call: a deployment's logged requests joined with their feedback labels
since a time, and the reference of the training data of the version it serves (the champion's).

    from mlops_magics import training_set
    new = training_set("cancer", since="7d")       # new.X, new.y: the labelled rows; new.reference: the champion's
    X_train, y_train = new.combined(X_old, y_old)   # the old training data with the new rows after it

A retrain job started by a monitor's alert gets the window in its parameters (``window``, ``checked_at``), so
``training_set(deployment, since=window)`` reads the rows the alert was about. Only answered requests (status
below 400) with a label count; a row labelled twice keeps its latest label. Unreadable log segments are skipped
and named in ``skipped``, as a check does.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlops_magics.errors import InvalidInput
from mlops_magics.monitor.feedback import read_feedback
from mlops_magics.monitor.window import Skipped, Window, read_rows
from mlops_magics.workspace import Workspace

if TYPE_CHECKING:
    from mlops_magics.controller.client import Controller


@dataclass
class TrainingSet:
    deployment: str
    X: pd.DataFrame  # the model's inputs of the labelled rows, in the order they were served
    y: pd.Series  # their labels
    reference: dict[str, Any]  # the served version: model, version, run_id, model_uri, the data's sha256
    since: str  # ISO time: rows served from then on
    requests: int = 0  # rows logged since then, labelled or not
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.X)

    def held_out(self, share: float = 0.3) -> tuple[TrainingSet, pd.DataFrame, pd.Series]:
        """The latest ``share`` of the rows held out (to review the retrained model on the newest traffic), and a
        training set of the rest."""
        if not 0 < share < 1:
            raise InvalidInput(f"held_out takes a share between 0 and 1, e.g. 0.3 (got {share!r})")
        keep = len(self.X) - max(1, round(len(self.X) * share)) if len(self.X) else 0
        rest = TrainingSet(self.deployment, self.X.iloc[:keep], self.y.iloc[:keep], self.reference, self.since, self.requests)
        return rest, self.X.iloc[keep:].reset_index(drop=True), self.y.iloc[keep:].reset_index(drop=True)

    def combined(self, x: pd.DataFrame, y: pd.Series | Any) -> tuple[pd.DataFrame, pd.Series]:
        """``x``/``y`` (the old training data) with the new rows after them; the new rows take ``x``'s columns
        and dtypes (a column the requests lacked is missing for them)."""
        new_x = self.X.reindex(columns=x.columns)
        for column in x.columns:
            with contextlib.suppress(TypeError, ValueError):  # else kept as logged: the pipeline's handling decides
                new_x[column] = new_x[column].astype(x[column].dtype)
        old_y = pd.Series(y).reset_index(drop=True)
        new_y = self.y.reset_index(drop=True)
        with contextlib.suppress(TypeError, ValueError):
            new_y = new_y.astype(old_y.dtype)
        frame = pd.concat([x.reset_index(drop=True), new_x], ignore_index=True)
        labels = pd.concat([old_y, new_y], ignore_index=True).rename(old_y.name)
        return frame, labels

    def __repr__(self) -> str:
        where = f"{self.reference.get('model')} v{self.reference.get('version')}" if self.reference else "its model"
        return (
            f"training set of {self.deployment!r}: {self.rows:,} labelled rows of {self.requests:,} served since "
            f"{self.since} ({len(self.X.columns)} features); the reference: {where}"
        )


def _start(since: str | float | datetime | None, now: float) -> float:
    if since is None:
        return 0.0
    if isinstance(since, datetime):
        return since.timestamp()
    if isinstance(since, (int, float)):
        return float(since)
    text = str(since).strip()
    try:
        window = Window.parse(text)
    except InvalidInput:
        window = None
    if window is not None and window.seconds is not None:
        return now - window.seconds
    try:
        return pd.Timestamp(text).timestamp() if pd.Timestamp(text).tzinfo else pd.Timestamp(text, tz="UTC").timestamp()
    except (ValueError, TypeError):
        raise InvalidInput(
            f"since={text[:40]!r}: give a duration (7d, 12h), an ISO time (2026-12-01T10:00) or epoch seconds"
        ) from None


def served_reference(workspace: Workspace, deployment: str, controller: Controller) -> dict[str, Any]:
    """What ``deployment`` serves, as a retrain's reference: model, version, run id, URI, the training data's
    fingerprint (``%%train`` logs its SHA-256) and where its training profile is."""
    from mlops_magics import tracking
    from mlops_magics.monitor.check import _served
    from mlops_magics.train.artifacts import PROFILE_ARTIFACT

    served = _served(workspace, controller.deployment(deployment))
    reference: dict[str, Any] = {
        "model": served.model,
        "version": served.version,
        "run_id": served.run_id,
        "model_uri": served.model_uri,
        "profile": f"runs:/{served.run_id}/{PROFILE_ARTIFACT}",
    }
    try:
        tags = tracking.mlflow_for(workspace).MlflowClient().get_run(served.run_id).data.tags
    except Exception:
        return reference
    reference["data_sha256"] = tags.get("mlops.data.train.sha256")
    return reference


def training_set(
    workspace: Workspace, controller: Controller, deployment: str, since: str | float | datetime | None = None
) -> TrainingSet:
    """The labelled rows ``deployment`` served since ``since`` (a duration back from now, an ISO time, epoch
    seconds; None: all of its log), and the reference of the version it serves (asked of ``controller``)."""
    now = time.time()
    start = _start(since, now)
    reference = served_reference(workspace, deployment, controller)
    elapsed = max(1.0, now - start)
    feedback = read_feedback(workspace.requests / deployment, start)
    # Only the labelled rows are kept as the log is read: memory holds the training set, not the whole log.
    labelled = feedback.labels[feedback.labels["label"].notna()]
    data = read_rows(workspace.requests / deployment, Window(f"{int(elapsed)}s", seconds=elapsed), now=now, labels=labelled)
    traffic = data.traffic.reset_index(drop=True)
    rows = data.inputs.reset_index(drop=True).assign(_request_id=traffic["request_id"].astype(str))
    rows = rows.assign(_row=traffic["row"].astype("int64"), _status=traffic["status"].astype(int))
    rows = rows[rows["_status"] < 400]
    labels = feedback.labels[feedback.labels["label"].notna()][["request_id", "row", "label"]]
    labels = labels.rename(columns={"request_id": "_request_id", "row": "_row"})
    joined = rows.merge(labels, on=["_request_id", "_row"], how="inner")
    x = joined.drop(columns=["_request_id", "_row", "_status", "label"]).reset_index(drop=True)
    y = joined["label"].reset_index(drop=True).rename("label")
    since_iso = datetime.fromtimestamp(start).astimezone().isoformat(timespec="seconds")
    return TrainingSet(deployment, x, y, reference, since_iso, data.rows, [*data.skipped, *feedback.skipped])
