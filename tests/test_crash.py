"""``kill -9`` of a worker, of the deployment process and of the controller while clients send requests.

What must hold (the bound is said in docs/security.md): a request answered more than ``FLUSH_SECONDS`` (1 s) before
a kill of the process that answered it is in the request log; nothing is logged twice; ``state.db`` passes
``PRAGMA integrity_check``; a spool file or record that cannot be read is set aside and holds back no other.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd

from mlops_magics.controller import Controller
from mlops_magics.controller.info import read_info
from mlops_magics.serving.requestlog import FLUSH_SECONDS, SPOOL, RequestLog
from mlops_magics.workspace import Workspace
from tests.deployment_process import register_penguins
from tests.test_serving import free_port
from tests.test_serving_inputs import BASE

SLACK_S = 1.0  # scheduling on a loaded test machine: the flush thread may run this much late
BOUND_S = FLUSH_SECONDS + SLACK_S


class Traffic:
    """Clients posting one-row requests in a loop; each answered request's id and the time its answer came."""

    def __init__(self, url: str, clients: int = 3) -> None:
        self.url = url
        self.answered: list[tuple[str, float]] = []
        self.failed = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _loop(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                request_id = uuid.uuid4().hex
                try:
                    answer = client.post(
                        f"{self.url}/invocations", json={"dataframe_records": [BASE]}, headers={"X-Request-Id": request_id}
                    )
                except httpx.HTTPError:  # the process that held the connection was killed
                    self.failed += 1
                    time.sleep(0.05)
                    continue
                if answer.status_code == 200:
                    self.answered.append((request_id, time.time()))
                else:
                    self.failed += 1

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)


def _wait(what: str, ready: Callable[[], object], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.1)


def _bad_spool_files(folder: Path) -> list[str]:
    """A file that is no spool at all, and one whose middle record is garbage between two good ones."""
    spool = folder / SPOOL
    spool.mkdir(parents=True, exist_ok=True)
    (spool / "99999-00000001.spool").write_bytes(b"\x00garbage, not a spool file" * 10)
    writer = RequestLog(folder, 1.0)
    frame = pd.DataFrame([BASE])
    writer.record("kept-before", frame, ["Gentoo"], 1.0, 200)
    writer._append(b"R\x05\x00\x00\x00broke")  # a request frame too short to hold a record
    writer.record("kept-after", frame, ["Gentoo"], 1.0, 200)
    writer.close()
    return ["kept-before", "kept-after"]


def test_kill_9_of_worker_deployment_and_controller_loses_at_most_the_last_second(workspace: Workspace) -> None:
    register_penguins(workspace)
    controller = Controller(workspace, notify=lambda line: None)
    view = controller.deploy("penguins", {"model": "penguins/1", "port": free_port(), "workers": 2})
    folder = workspace.requests / "penguins"
    traffic = Traffic(view["url"])
    kills: list[float] = []  # when a process that answers requests was killed
    try:
        time.sleep(2)
        worker = controller.deployment("penguins")["workers"][0]
        kills.append(time.time())
        os.kill(worker, signal.SIGKILL)
        _wait("the worker's replacement", lambda: worker not in controller.deployment("penguins")["workers"])
        time.sleep(2)
        expected_kept = _bad_spool_files(folder)
        deployment = controller.deployment("penguins")["pid"]
        kills.append(time.time())
        os.kill(deployment, signal.SIGKILL)  # its workers go with it (PR_SET_PDEATHSIG)
        _wait(
            "the deployment's restart by the controller",
            lambda: (now := controller.deployment("penguins"))["pid"] != deployment and now["status"] == "healthy",
        )
        time.sleep(2)
        info = read_info(workspace.controller_info)
        assert info is not None
        os.kill(info.pid, signal.SIGKILL)  # deployments run on; requests are answered meanwhile
        answered_before = len(traffic.answered)
        time.sleep(2)
        assert len(traffic.answered) > answered_before, "no request was answered while the controller was down"
        adopted = Controller(workspace, notify=lambda line: None).deployment("penguins")  # a new controller adopts it
        assert adopted["status"] == "healthy" and adopted["pid"] != deployment
        time.sleep(1)
    finally:
        traffic.stop()
    Controller(workspace, notify=lambda line: None).stop_deployment("penguins")  # drains; the last spool converted

    segments = sorted(folder.glob("requests-*.parquet"))
    logged = pd.concat([pd.read_parquet(p, columns=["request_id", "row"]) for p in segments], ignore_index=True)
    assert not logged.duplicated().any(), "a request was logged twice"
    ids = set(logged.request_id)
    lost = [(request_id, at) for request_id, at in traffic.answered if request_id not in ids]
    beyond = [(request_id, at) for request_id, at in lost if not any(kill - BOUND_S <= at <= kill + SLACK_S for kill in kills)]
    print(f"\ncrash: {len(traffic.answered)} answered, {traffic.failed} failed, {len(lost)} lost (kills at {kills})")
    assert len(traffic.answered) > 200
    assert beyond == [], f"{len(beyond)} requests lost beyond {BOUND_S} s before a kill, e.g. {beyond[:3]}"
    assert set(expected_kept) <= ids, "good records in a file with a bad one were not logged"
    assert sorted(p.name for p in (folder / SPOOL).glob("*.bad")) == sorted(["99999-00000001.bad", f"{os.getpid()}-00000001.bad"])
    with sqlite3.connect(workspace.state_db) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
