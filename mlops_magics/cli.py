"""The shell face: ``mlops ...`` runs the same operations as the magics, for terminals, jobs and cron lines."""

from __future__ import annotations

import argparse
import gc
import json
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_magics import arguments
from mlops_magics.errors import InvalidInput, MLOpsError
from mlops_magics.version import __version__
from mlops_magics.workspace import Workspace

if TYPE_CHECKING:
    from mlops_magics.controller.client import Controller

# What `mlops` exits with, for scripts and cron lines that branch on it.
EXIT_OK = 0
EXIT_NO = 1  # the answer is no: a review refused the challenger, the controller is not running
EXIT_ERROR = 2  # the command could not be done; the one line on stderr says why
EXIT_DRIFT = 3  # `mlops monitor`: the check found drift or a schema change (no drift, no data: 0)
EXIT_DECAY = 4  # `mlops monitor`: a metric on feedback labels is past its --min/--max (with drift or without)
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


def _with_progress(label: str | None, work: Callable[[], Any]) -> Any:
    """Run blocking work while a ticking line on stderr says what it waits for; work with no label runs as it is."""
    if label is None:
        return work()
    from tqdm.auto import tqdm

    done = threading.Event()
    bar = tqdm(desc=label, bar_format="{desc} {elapsed}", file=sys.stderr, leave=False, disable=not sys.stderr.isatty())

    def tick() -> None:
        while not done.wait(0.5):
            bar.refresh()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        return work()
    finally:
        done.set()
        ticker.join()
        bar.close()


def _controller(workspace: Workspace) -> Controller:
    # Made by the commands that talk to the controller only: its client imports an HTTP library.
    from mlops_magics.controller.client import Controller

    return Controller(workspace, notify=lambda line: print(line, file=sys.stderr))


def _controller_command(args: argparse.Namespace, workspace: Workspace) -> int:
    controller = _controller(workspace)
    if args.action == "start":
        info = controller.ensure()
        print(f"controller running: pid {info.pid} on 127.0.0.1:{info.port}; log {controller.workspace.controller_log}")
    elif args.action == "status":
        info = controller.running()
        if info is None:
            print(f"controller not running (workspace {controller.workspace.home})")
            return EXIT_NO
        status = controller.status()
        print(
            f"controller running: pid {status['pid']} since {status['started_at']}, "
            f"{status['clusters']} cluster(s), workspace {status['workspace']}"
        )
    else:
        pid = controller.shutdown()
        print("controller was not running" if pid is None else f"controller (pid {pid}) stopped")
    return EXIT_OK


def _cluster_command(args: argparse.Namespace, workspace: Workspace) -> int:
    from mlops_magics import cluster_actions
    from mlops_magics.cluster import summarize

    order = arguments.cluster_order(args)
    doing = cluster_actions.waits_for(order)
    controller = _controller(workspace)
    views = _with_progress(doing, lambda: cluster_actions.carry_out(controller, order))
    for view in views:
        print(summarize(view))
    if not views:
        print("no cluster in this workspace; start one with `mlops cluster start --workers N`")
    return EXIT_OK


def _eda_command(args: argparse.Namespace, workspace: Workspace) -> int:
    from mlops_magics.eda.run import run_eda, write_outputs

    result = run_eda(
        workspace,
        args.data,
        title=args.title,
        target=args.target,
        sample=args.sample,
        full=args.full,
        other=args.compare,
        log=args.log,
        progress=sys.stderr.isatty(),
    )
    profile = result.profile
    print(
        f"{profile.rows:,} rows x {profile.data['overview']['columns']} columns, {len(profile.alerts)} alert(s); "
        f"profile {result.saved.id} saved in {workspace.profiles}"
    )
    for alert in profile.alerts:
        print(f"  alert: {alert['message']}")
    if result.comparison is not None:
        for row in result.comparison.columns:
            if row["verdict"] in ("drift", "watch", "missing", "new"):
                print(f"  {row['verdict']}: {row['column']} (PSI {row.get('psi')})")
    for path in write_outputs(result, args.out, args.json):
        print(f"wrote {path}")
    if result.mlflow_run:
        print(f"logged to MLflow run {result.mlflow_run}")
    return EXIT_OK


def _review_command(args: argparse.Namespace, workspace: Workspace) -> int:
    from mlops_magics.review.data import held_out
    from mlops_magics.review.run import review
    from mlops_magics.review.swap import check_deployment, swap_in

    if args.deploy:
        if args.no_promote:
            raise InvalidInput("--deploy swaps in a promoted challenger; --no-promote promotes none")
        check_deployment(_controller(workspace), args.deploy, args.model)
    result = review(
        workspace,
        args.model,
        *held_out(args.data, args.target),
        metric=args.metric,
        minimum=args.minimum,
        min_improvement=args.min_improvement,
        promote=not args.no_promote,
    )
    for label, values in result.scores.items():
        print(f"{label}: " + ", ".join(f"{k}={v:.4f}" for k, v in values.items()))
    print(result.summary())
    if args.deploy:
        print(swap_in(_controller(workspace), result, args.deploy))
    return EXIT_OK if result.passed else EXIT_NO


def _deploy_command(args: argparse.Namespace, workspace: Workspace) -> int:
    from mlops_magics.serving import deploy

    done = deploy.carry_out(_controller(workspace), arguments.deploy_order(args))
    if done.action == "token" and done.view is not None:
        # The token alone on stdout (TOKEN=$(mlops deploy token NAME)); what is said about it on stderr.
        for line in done.lines:
            print(line, file=sys.stderr)
        print(done.view["token"])
        return EXIT_OK
    print("\n".join(done.lines))
    return EXIT_OK


def _job_command(args: argparse.Namespace, workspace: Workspace) -> int:
    from mlops_magics.jobs import actions

    order = arguments.job_order(args, workspace.root)
    done = actions.carry_out(_controller(workspace), order, notify=lambda text: print(text, file=sys.stderr, flush=True))
    if done.action == "token" and done.view is not None and "token" in done.view:
        # The token alone on stdout (TOKEN=$(mlops job token NAME)); what is said about it on stderr.
        print("\n".join(done.lines), file=sys.stderr)
        print(done.view["token"])
        return EXIT_OK
    print("\n".join(done.lines))
    if done.action == "run" and order.wait and done.view is not None and done.view["state"] != "succeeded":
        return EXIT_NO
    return EXIT_OK


def _monitor_command(args: argparse.Namespace, workspace: Workspace) -> int:
    from mlops_magics.monitor import actions
    from mlops_magics.monitor.check import check_body

    order = arguments.monitor_order(args)
    if isinstance(order, actions.StandingOrder):
        done = actions.carry_out(_controller(workspace), order)
        print(json.dumps(done.view, indent=2, default=str) if args.json and done.view is not None else "\n".join(done.lines))
        return EXIT_OK
    # Run by the controller, which has MLflow imported and its store open: a shell's check costs its answer only.
    answer = _controller(workspace).check_deployment(order.deployment, check_body(order))
    print(json.dumps(answer["check"], indent=2, default=str) if args.json else answer["text"])
    verdict = answer["check"]["verdict"]
    if verdict == "decay":
        return EXIT_DECAY
    return EXIT_DRIFT if verdict in ("drift", "schema change") else EXIT_OK


def _prep_command(args: argparse.Namespace, workspace: Workspace) -> int:
    from mlops_magics.eda.suggest import suggest_for

    prepared = suggest_for(
        workspace, args.data, target=args.target, task=args.task, model=args.model, progress=sys.stderr.isatty()
    )
    if prepared.profiled:
        print(f"profile {prepared.profile_id} saved in {workspace.profiles}", file=sys.stderr)
    suggestion = prepared.suggestion
    if args.explain:
        print(repr(suggestion))
    elif args.out is not None:
        args.out.write_text(suggestion.code)
        print(f"wrote {args.out}")
    else:
        print(suggestion.code, end="")
    return EXIT_OK


def _workspace_command(_args: argparse.Namespace, workspace: Workspace) -> int:
    print(json.dumps(workspace.describe(), indent=2))
    return EXIT_OK


def build_parser() -> arguments.Parser:
    parser = arguments.Parser(prog="mlops", description="mlops-magics: the MLOps lifecycle from a shell.")
    parser.add_argument("--version", action="version", version=f"mlops-magics {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=arguments.Parser)
    controller = commands.add_parser("controller", help="the workspace's long-lived controller process")
    controller.add_argument("action", choices=["start", "status", "stop"])
    controller.set_defaults(run=_controller_command)
    cluster = commands.add_parser("cluster", help="the workspace's Dask cluster")
    arguments.add_cluster_arguments(cluster)
    cluster.set_defaults(run=_cluster_command)
    eda = commands.add_parser("eda", help="profile CSV or Parquet data")
    arguments.add_eda_arguments(eda, "the path or glob of CSV or Parquet files")
    eda.add_argument("--out", type=Path, help="also write the HTML report here")
    eda.add_argument("--json", type=Path, help="also write the profile (JSON) here")
    eda.set_defaults(run=_eda_command)
    prep = commands.add_parser("prep", help="data preparation code from a profile's findings (scikit-learn)")
    arguments.add_prep_arguments(prep, "a saved profile's id, or the path or glob of CSV or Parquet files")
    prep.add_argument("--out", type=Path, help="write the code to this file instead of printing it")
    prep.set_defaults(run=_prep_command)
    review = commands.add_parser("review", help="gate a model's challenger against its champion (exit 1: refused)")
    arguments.add_review_arguments(review)
    review.add_argument("--data", required=True, help="held-out data: a CSV/Parquet path or glob")
    review.add_argument("--target", required=True, help="the target column in --data")
    review.add_argument("--no-promote", action="store_true", help="judge only; move no alias")
    review.set_defaults(run=_review_command)
    deploy = commands.add_parser("deploy", help="serve a model on a port (or: status, stop, logs, rollback)")
    arguments.add_deploy_arguments(deploy)
    deploy.set_defaults(run=_deploy_command)
    job = commands.add_parser(
        "job", help="notebooks as jobs: create, run, status, runs, logs, cancel, pause, resume, delete, token"
    )
    arguments.add_job_arguments(job)
    job.set_defaults(run=_job_command)
    monitor = commands.add_parser(
        "monitor",
        help="check a deployment's logged requests for drift and its feedback for decay (exit 3: drift or schema "
        "change, 4: decay)",
    )
    arguments.add_monitor_arguments(monitor)
    monitor.add_argument("--json", action="store_true", help="print the whole check as JSON")
    monitor.set_defaults(run=_monitor_command)
    workspace = commands.add_parser("workspace", help="where this workspace keeps its state")
    workspace.set_defaults(run=_workspace_command)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        code = args.run(args, Workspace.current())
    except arguments.HelpShown:
        code = EXIT_OK
    except MLOpsError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        code = EXIT_ERROR
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    # The process ends here: what it holds goes back to the system without a last collection walking every object
    # of pandas and the rest (~0.2 s after `mlops eda` on a busy machine, little on an idle one). Exit handlers
    # still run; the commands close what they write.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    main()
