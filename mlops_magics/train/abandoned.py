"""Runs a stopped kernel could not finish: marked FAILED, with the reason, once that kernel is gone.

``python -m mlops_magics.train.abandoned --pid PID --wait S --run URI RUN_ID [--run URI RUN_ID ...]`` is started
by a stopping kernel that still has tracking to write (``background``). It waits until that process has ended
(at most ``--wait`` seconds), then each listed run that is still RUNNING, and its RUNNING trial runs, becomes
FAILED with an ``mlops.error`` tag that says why. A run the kernel finished is left as it is.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import psutil

from mlops_magics.train.tracker import ERROR_TAG


def reason(pid: int) -> str:
    return (
        f"the kernel (pid {pid}) stopped before this run's tracking finished: its model, training profile or "
        "registration may be missing; run the training cell again"
    )


def _ended(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for_end(pid: int, wait: float, poll: float = 0.2) -> None:
    deadline = time.monotonic() + wait
    while not _ended(pid) and time.monotonic() < deadline:
        time.sleep(poll)


def mark(uri: str, run_id: str, why: str) -> bool:
    """FAILED with ``why`` if the run (or one of its trials) is still RUNNING; True when the run itself was."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    run = client.get_run(run_id)
    trials = client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}' and attributes.status = 'RUNNING'"
    )
    for trial in trials:
        client.set_terminated(trial.info.run_id, status="FAILED")
    if run.info.status != "RUNNING":
        return False
    client.set_tag(run_id, ERROR_TAG, why)
    client.set_terminated(run_id, status="FAILED")
    return True


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mlops_magics.train.abandoned", description=__doc__)
    parser.add_argument("--pid", type=int, required=True, help="the process whose end is waited for")
    parser.add_argument("--wait", type=float, default=150.0, help="seconds to wait for it at most")
    parser.add_argument("--run", nargs=2, action="append", default=[], metavar=("URI", "RUN_ID"), help="a run to check")
    args = parser.parse_args(argv)
    wait_for_end(args.pid, args.wait)
    for uri, run_id in args.run:
        try:
            mark(uri, run_id, reason(args.pid))
        except Exception as exc:  # one run that cannot be read does not keep the others RUNNING
            print(f"mlops: could not mark run {run_id}: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
