"""What request logging costs, measured so that the machine's drift cancels out.

``serve.py`` runs its servers one after the other, so a logged and an unlogged deployment meet different
moments of a shared VM (two runs of the same configuration differed by up to 20%). Here both deployments of the
same model run at once, idle in turn, and short load cells alternate between them (logged, unlogged, unlogged,
logged, ...): each pair of cells sees the same machine. Prints each pair and the median cost.

Run: ``PATH=$PWD/.venv/bin:$PATH .venv/bin/python benchmarks/serve_logging_ab.py [--rounds 8] [--seconds 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import serve  # this folder's serving benchmark: the same model, bodies and load generator


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rows", type=int, choices=(1, 100), default=1)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-logging-"))
    os.environ["MLOPS_HOME"] = str(tmp / ".mlops")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    from mlops_magics.controller import Controller
    from mlops_magics.workspace import Workspace

    workspace = Workspace(tmp / ".mlops").ensure()
    frame, _, _ = serve.train_and_register(workspace)
    body = serve.bodies(frame, tmp)[args.rows]
    controller = Controller(workspace, notify=serve.say)
    controller.status()
    servers = {}
    try:
        for name, rate in (("logged", 1.0), ("unlogged", 0.0)):
            port = serve.free_port()
            view = controller.deploy(name, {"model": "bench@challenger", "port": port, "workers": 1, "log_rate": rate})
            servers[name] = serve.Launched(f"http://127.0.0.1:{port}", view["pid"], None, lambda: True)
            serve.load(servers[name], body, args.concurrency, 2.0, "raw")  # warm-up
        costs = []
        for round_ in range(args.rounds):
            order = ("logged", "unlogged") if round_ % 2 == 0 else ("unlogged", "logged")
            rps = {}
            for name in order:
                serve.wait_idle(10)
                rps[name] = serve.load(servers[name], body, args.concurrency, args.seconds, "raw")["rps"]
            cost = 1 - rps["logged"] / rps["unlogged"]
            costs.append(cost)
            logged, unlogged = rps["logged"], rps["unlogged"]
            serve.say(f"round {round_ + 1}: logged {logged:7.1f} req/s, unlogged {unlogged:7.1f} req/s, cost {cost:+.1%}")
        median = statistics.median(costs)
        verdict = "PASS" if median <= 0.05 else "MISS"
        serve.say(
            f"request logging cost, median of {len(costs)} interleaved pairs ({args.rows}-row bodies, c={args.concurrency}): "
            f"{median:+.1%} (target <= 5%): {verdict}; pairs range {min(costs):+.1%} to {max(costs):+.1%}"
        )
    finally:
        for name in servers:
            controller.stop_deployment(name)
        controller.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
