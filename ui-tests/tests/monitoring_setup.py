"""The Monitoring browser test's state, made in the UI tests' workspace (MLOPS_HOME) through its real controller.

A model of four features (two floats, a small integer count, a category) is trained through the training path, so
its training profile is logged, and served on a real port; a standing monitor watches it. Three windows of traffic
with their feedback labels are each checked: one drawn as in training (no drift), one with `income` shifted and
the regions' shares changed (drift), the same shift with a third of the labels wrong (decay). A second version of
the model is registered for the test to swap to. Prints what it made as one JSON line.

    python monitoring_setup.py DEPLOYMENT PORT
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from mlops_magics.controller import Controller
from mlops_magics.errors import NotFound
from mlops_magics.train.background import WRITER
from mlops_magics.train.run import TrainRequest, track
from mlops_magics.train.tracker import MLflowTracker
from mlops_magics.workspace import Workspace

REGIONS = ["north", "south", "east", "west"]
WINDOW = 300
TIMEOUT_S = 60


def draw(rows: int, seed: int, income_shift: float = 0.0, north: float = 0.25) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rest = (1 - north) / 3
    return pd.DataFrame(
        {
            "age": rng.normal(0.0, 1.0, rows),
            "income": rng.normal(income_shift, 1.0, rows),
            "visits": rng.poisson(2.0, rows).astype("int64"),
            "region": rng.choice(REGIONS, rows, p=[north, rest, rest, rest]),
        }
    )


def truth(frame: pd.DataFrame) -> np.ndarray:
    return ((frame.age + frame.income + 0.8 * (frame.region == "north")) > 0.3).astype(int).to_numpy()


def train(workspace: Workspace, name: str) -> str:
    x = draw(3000, seed=0)
    y = pd.Series(truth(x), name="label")
    encode = ColumnTransformer([("region", OneHotEncoder(handle_unknown="ignore"), ["region"])], remainder="passthrough")
    model = Pipeline([("encode", encode), ("classify", LogisticRegression(max_iter=1000))]).fit(x, y)
    test = draw(600, seed=99)
    request = TrainRequest(
        experiment="monitoring-ui", data=(x, y), eval=(test, pd.Series(truth(test), name="label")), model_name=name
    )
    result = track(MLflowTracker(workspace), model, request)
    WRITER.flush()
    if result.error or not result.version:
        raise SystemExit(f"training failed: {result.error}")
    return result.version


def logged(folder: Path, kind: str) -> int:
    return sum(len(pd.read_parquet(p, columns=["row"])) for p in folder.glob(f"{kind}-*.parquet"))


def until(what: Any, timeout: float = TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.3)
    raise SystemExit(f"not within {timeout} s: {what.__doc__ or what}")


def send(url: str, folder: Path, frame: pd.DataFrame, labels: np.ndarray, batch: int = 25) -> None:
    """Requests of ``frame`` with each row's label as feedback, then until the request log holds them all."""
    requests, feedback = logged(folder, "requests"), logged(folder, "feedback")
    for start in range(0, len(frame), batch):
        rows = frame.iloc[start : start + batch]
        answer = httpx.post(f"{url}/invocations", json={"dataframe_split": rows.to_dict("split")}, timeout=30)
        answer.raise_for_status()
        request_id = answer.headers["x-request-id"]
        items = [{"request_id": request_id, "row": i, "label": int(labels[start + i])} for i in range(len(rows))]
        httpx.post(f"{url}/feedback", json=items, timeout=30).raise_for_status()
    until(lambda: logged(folder, "requests") >= requests + len(frame) and logged(folder, "feedback") >= feedback + len(frame))


def wrong(labels: np.ndarray, share: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = labels.copy()
    chosen = rng.choice(len(out), int(share * len(out)), replace=False)
    out[chosen] = 1 - out[chosen]
    return out


def main(name: str, port: int) -> dict[str, Any]:
    workspace = Workspace(Path(os.environ["MLOPS_HOME"]))
    controller = Controller(workspace, notify=lambda line: None)
    with contextlib.suppress(NotFound):
        controller.delete_monitor(name)  # a run before this one
    version = train(workspace, name)
    newer = train(workspace, name)
    view = controller.deploy(name, {"model": f"{name}/{version}", "port": port})
    folder = workspace.requests / name

    calm = draw(WINDOW, seed=1)
    send(view["url"], folder, calm, truth(calm))
    spec = {"deployment": name, "every": "1h", "window": str(WINDOW), "minimums": {"accuracy": 0.8}}
    controller.put_monitor(name, spec)
    until(lambda: controller.monitor(name)["checks"] >= 1)  # the first check is due at once

    shifted = draw(WINDOW, seed=2, income_shift=1.0, north=0.55)
    send(view["url"], folder, shifted, truth(shifted))
    drift = controller.check_monitor(name)
    worse = draw(WINDOW, seed=3, income_shift=1.0, north=0.55)
    send(view["url"], folder, worse, wrong(truth(worse), 0.35, seed=4))
    decay = controller.check_monitor(name)

    checks = controller.monitor_checks(name)
    return {
        "monitor": name,
        "deployment": name,
        "version": version,
        "newer": newer,
        "verdicts": [c["verdict"] for c in reversed(checks)],
        "drifted": drift["details"]["drifted"],
        "last_verdict": decay["verdict"],
        "alerts": [a["kind"] for a in controller.alerts() if a["monitor"] == name],
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
