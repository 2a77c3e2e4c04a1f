"""Command-line grammar shared by the magics and the CLI, so each flag is declared once.

``%cluster start --workers 2`` and ``mlops cluster start --workers 2`` are parsed by the same parser.
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mlops_magics.errors import InvalidInput

if TYPE_CHECKING:
    from mlops_magics.api.clusters import ClusterSpec
    from mlops_magics.cluster_actions import ClusterOrder
    from mlops_magics.jobs.actions import JobOrder
    from mlops_magics.monitor.actions import StandingOrder
    from mlops_magics.monitor.check import MonitorOrder
    from mlops_magics.serving.deploy import DeployOrder
    from mlops_magics.train.cell import TrainOrder

DEFAULT_CLUSTER = "default"


class HelpShown(Exception):
    """``--help`` was asked for and printed; nothing else to do."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting, so a magic never kills its kernel."""

    def error(self, message: str) -> NoReturn:
        usage = " ".join(self.format_usage().split()).removeprefix("usage: ")  # one line, however wide
        raise InvalidInput(f"{self.prog}: {message} (usage: {usage})")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message)
        raise HelpShown()


def _unquote(word: str) -> str:
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] and word[0] in "'\"" else word


def parse(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    """Split like a shell, but keep quotes inside a word, so ``%eda df[['x']]`` stays one expression."""
    try:
        words = [_unquote(word) for word in shlex.split(line, posix=False)]
    except ValueError as exc:
        raise InvalidInput(f"{parser.prog}: cannot read the arguments ({exc})") from None
    return parser.parse_args(words)


def add_cluster_arguments(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """``cluster [start|status|scale|stop]`` with the start spec flags; returns the sub-parsers by action."""
    actions = parser.add_subparsers(dest="action", metavar="{start,status,scale,stop}", parser_class=Parser)
    start = actions.add_parser("start", help="start a cluster (or connect to a scheduler) owned by the controller")
    start.add_argument("--name", default=DEFAULT_CLUSTER, help="cluster name (default: %(default)s)")
    start.add_argument("--workers", default=2, help="number of workers (default: %(default)s)")
    start.add_argument("--threads", default=1, help="threads per worker (default: %(default)s)")
    start.add_argument("--memory", default="auto", help="memory limit per worker, e.g. 2GiB (default: auto)")
    source = start.add_mutually_exclusive_group()
    source.add_argument("--address", help="connect to an existing scheduler, e.g. tcp://10.0.0.5:8786")
    source.add_argument("--factory", help="MODULE.CLASS of a cluster class, e.g. dask_gateway.GatewayCluster")
    source.add_argument("--from-config", action="store_true", help="use the factory in dask config labextension.factory")
    source.add_argument(
        "--gateway",
        nargs="?",
        const="",
        metavar="URL",
        help="a cluster from a Dask Gateway at URL (default: dask config gateway.address)",
    )
    start.add_argument("--kwargs", default="{}", help="JSON keyword arguments for --factory")
    start.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="--gateway: a cluster option of the gateway, e.g. worker_cores=2 (repeat for more)",
    )
    start.add_argument(
        "--auth",
        choices=["none", "simple", "jupyterhub", "kerberos"],
        help="--gateway: how to authenticate; the secret comes from the environment (DASK_GATEWAY_PASSWORD, "
        "JUPYTERHUB_API_TOKEN) (default: dask config gateway.auth)",
    )
    for verb, text in (("status", "show the cluster"), ("stop", "stop the cluster")):
        sub = actions.add_parser(verb, help=text)
        sub.add_argument("--name", default=DEFAULT_CLUSTER, help="cluster name (default: %(default)s)")
    scale = actions.add_parser("scale", help="change the number of workers")
    scale.add_argument("workers", help="the new number of workers (>= 1)")
    scale.add_argument("--name", default=DEFAULT_CLUSTER, help="cluster name (default: %(default)s)")
    return dict(actions.choices)


def cluster_spec_from_args(args: argparse.Namespace) -> ClusterSpec:
    from mlops_magics.api.clusters import ClusterSpec  # pydantic models: imported when a spec is made
    from mlops_magics.wire import whole_number

    # Counts arrive as text from a command line; the spec itself takes JSON integers only.
    workers = whole_number(args.workers, "workers", 1)
    if args.from_config:
        return ClusterSpec.from_dask_config(workers=workers if workers != 2 else None)
    threads = whole_number(args.threads, "threads per worker", 1)
    spec: dict[str, Any] = {"workers": workers, "threads_per_worker": threads, "memory_limit": args.memory}
    if (args.option or args.auth) and args.gateway is None:
        raise InvalidInput("--option and --auth go with --gateway (the options and credentials of a Dask Gateway)")
    if args.address:
        spec = {"kind": "address", "address": args.address}
    elif args.gateway is not None:
        spec = {"kind": "gateway", "workers": workers, "options": gateway_options(args.option)}
        spec |= {"address": args.gateway} if args.gateway else {}
        spec |= {"auth": args.auth} if args.auth else {}
    elif args.factory:
        try:
            kwargs = json.loads(args.kwargs)
        except ValueError as exc:
            raise InvalidInput(f"--kwargs is not valid JSON ({exc}); e.g. --kwargs '{{\"n_workers\": 2}}'") from None
        spec.update(kind="factory", factory=args.factory, factory_kwargs=kwargs)
    return ClusterSpec.from_flags(spec)


def gateway_options(pairs: list[str]) -> dict[str, Any]:
    """``--option NAME=VALUE`` words as the gateway's options: a JSON number or true/false as such, else text."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--option {pair!r} is not accepted: use NAME=VALUE, e.g. --option worker_cores=2")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        options[key.strip()] = value if isinstance(value, (bool, int, float)) else text
    return options


def cluster_order(args: argparse.Namespace) -> ClusterOrder:
    """``cluster [start|status|scale|stop]`` as an order for the cluster's actions (no action: list them)."""
    from mlops_magics.cluster_actions import ClusterOrder
    from mlops_magics.wire import whole_number

    name = getattr(args, "name", DEFAULT_CLUSTER)
    if args.action == "start":
        return ClusterOrder("start", name, spec=cluster_spec_from_args(args))
    if args.action == "scale":
        return ClusterOrder("scale", name, workers=whole_number(args.workers, "workers", 1))
    return ClusterOrder(args.action or "list", name)


def cluster_parser(prog: str) -> Parser:
    parser = Parser(prog=prog, description="Dask cluster owned by the workspace's controller.")
    add_cluster_arguments(parser)
    return parser


def full_help(parser: argparse.ArgumentParser, actions: dict[str, argparse.ArgumentParser]) -> str:
    """The help of a command and of each of its actions, as one text (for ``%magic?``)."""
    return "\n".join([parser.format_help(), *(sub.format_help() for sub in actions.values())])


def cluster_help(prog: str) -> str:
    parser = Parser(prog=prog, description="Dask cluster owned by the workspace's controller.")
    return full_help(parser, add_cluster_arguments(parser))


def add_eda_arguments(parser: argparse.ArgumentParser, data_help: str) -> None:
    parser.add_argument("data", help=data_help)
    parser.add_argument("--full", action="store_true", help="also the complete ydata-profiling report (on a sample)")
    parser.add_argument("--sample", type=int, help="profile a uniform sample of N rows")
    parser.add_argument("--compare", metavar="OTHER", help="compare with other data (per-column drift scores)")
    parser.add_argument("--target", metavar="COL", help="show each column's relation to this column")
    parser.add_argument("--log", action="store_true", help="log the profile and report to MLflow (active run or 'eda')")
    parser.add_argument("--title", help="the report's title")


def eda_parser(prog: str) -> Parser:
    parser = Parser(prog=prog, description="Profile data: statistics, plots, correlations and alerts in one pass.")
    add_eda_arguments(parser, "a pandas or Dask DataFrame (a variable or expression), or a CSV/Parquet path or glob")
    return parser


def add_prep_arguments(parser: argparse.ArgumentParser, data_help: str) -> None:
    parser.add_argument("data", help=data_help)
    parser.add_argument("--target", metavar="COL", help="the column to predict (default: the profile's target)")
    parser.add_argument("--task", choices=["classification", "regression"], help="default: read from the target")
    parser.add_argument(
        "--model",
        choices=["linear", "trees"],
        default="linear",
        help="what the code prepares for: linear (one-hot, imputed, scaled; most models) or trees (gradient-boosted "
        "trees: native categories, missing values left to the model)",
    )
    parser.add_argument("--explain", action="store_true", help="show the decisions as a table; write no code")


def prep_parser(prog: str) -> Parser:
    parser = Parser(prog=prog, description="Data preparation from a profile's findings, as a scikit-learn pipeline.")
    add_prep_arguments(parser, "a saved profile's id, a Profile, or data as %%eda takes it (profiled and kept first)")
    return parser


def train_parser(prog: str) -> Parser:
    parser = Parser(prog=prog, description="Run the cell and track the model it fits (MLflow).")
    parser.add_argument("--experiment", default=None, help="MLflow experiment (default: the notebook's name)")
    parser.add_argument("--model", dest="model_name", metavar="NAME", help="register a version, alias 'challenger'")
    parser.add_argument("--data", metavar="X,y", help="training features and target, e.g. X_train,y_train")
    parser.add_argument("--eval", metavar="X,y", help="held-out features and target, e.g. X_test,y_test")
    parser.add_argument("--params", default="", help="extra params to log: k=v,k2=v2")
    parser.add_argument("--model-var", metavar="NAME", help="the variable holding the model (else: found)")
    parser.add_argument("--metrics", help="metric names, e.g. accuracy,f1 (default: by task)")
    parser.add_argument("--from", dest="from_model", metavar="MODEL@ALIAS", help="refit this model's pipeline on --data")
    parser.add_argument("--search", choices=["grid", "random"], help="hyper-parameter search on the cluster")
    parser.add_argument("--space", help='search space: "C=0.1,1,10 penalty=l1,l2"')
    parser.add_argument("--cv", type=int, default=5, help="cross-validation folds for --search (default 5)")
    parser.add_argument("--trials", type=int, help="trials of a random search (default 10)")
    parser.add_argument(
        "--mirror", metavar="NAMES", help="also log to these trackers, e.g. wandb,comet (default: $MLOPS_MIRRORS; none: off)"
    )
    return parser


def split_names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def key_values(text: str) -> dict[str, str]:
    """``--params k=v,k2=v2`` as a dict."""
    pairs = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--params takes k=v pairs separated by commas (got {item!r})")
        pairs[key.strip()] = value.strip()
    return pairs


def train_order(args: argparse.Namespace) -> TrainOrder:
    from mlops_magics.train.cell import TrainOrder

    return TrainOrder(
        experiment=args.experiment,
        model_name=args.model_name,
        data=args.data,
        eval=args.eval,
        params=key_values(args.params),
        model_var=args.model_var,
        metrics=tuple(split_names(args.metrics)) if args.metrics else None,
        from_model=args.from_model,
        search=args.search,
        space=args.space,
        cv=args.cv,
        trials=args.trials,
        mirrors=args.mirror,
    )


def add_review_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="registered model name (its 'challenger' is reviewed against 'champion')")
    parser.add_argument("--metric", help="the metric the gates judge (default: f1, or rmse for regressors)")
    parser.add_argument("--min", type=float, dest="minimum", help="the challenger must reach at least this")
    parser.add_argument("--min-improvement", type=float, help="and beat the champion by at least this")
    parser.add_argument(
        "--deploy", metavar="NAME", help="a deployment of the model: a challenger that passes is swapped in (no gap)"
    )


def review_parser(prog: str) -> Parser:
    parser = Parser(prog=prog, description="Challenger vs champion on the same held-out data; gates; promotion.")
    add_review_arguments(parser)
    parser.add_argument("--data", metavar="X,y", required=True, help="held-out features and target, e.g. X_test,y_test")
    parser.add_argument("--manual", action="store_true", help="do not promote on passing: show an Approve button")
    return parser


def add_deploy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        nargs="*",
        help="MODEL[@alias|/version] to serve (or swap in); or: status [NAME] | stop NAME | logs NAME | rollback NAME "
        "| token NAME",
    )
    parser.add_argument("--name", help="deployment name (default: the model's name)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface (default 127.0.0.1: this machine only; any other needs --token)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--token", action="store_true", help="require Authorization: Bearer <token> (one is made)")
    parser.add_argument("--insecure", action="store_true", help="with --host beyond this machine: serve with no token, to anyone")
    parser.add_argument("--log-requests", type=float, default=1.0, metavar="RATE", help="share of requests logged (0-1)")
    parser.add_argument("--command", help="serve your own HTTP app: a shell command that listens on $PORT")
    parser.add_argument("--app", help="serve your own ASGI app: MODULE:ATTRIBUTE, run with uvicorn")
    parser.add_argument("--lines", type=int, default=40, help="lines of `logs` (default 40)")
    parser.add_argument("--all", action="store_true", help="with stop: stop every deployment of the workspace")
    parser.add_argument("--rotate", action="store_true", help="with token: issue a new token (the old one stops working)")


def deploy_order(args: argparse.Namespace) -> DeployOrder:
    """``deploy [MODEL | status [NAME] | stop NAME | logs NAME | rollback NAME | token NAME]`` as an order for the
    serving stage: no words (and no --command or --app) asks for the status of every deployment."""
    from mlops_magics.api.deployments import DeploymentSpec, default_name
    from mlops_magics.names import deployment_name
    from mlops_magics.serving.deploy import ACTIONS, DeployOrder

    words = list(args.target)
    if not words and not (args.command or args.app):
        words = ["status"]
    if args.rotate and words[:1] != ["token"]:
        raise InvalidInput("--rotate goes with token: token NAME --rotate issues a new token for deployment NAME")
    if words and words[0] in ACTIONS:
        action, rest = words[0], words[1:]
        if action == "status":
            return DeployOrder(action, deployment_name(rest[0]) if rest else None)
        if action == "stop" and args.all:
            return DeployOrder(action, every=True)
        if not rest:
            raise InvalidInput(f"{action} needs the deployment's name: {action} NAME")
        return DeployOrder(action, deployment_name(rest[0]), lines=args.lines, rotate=args.rotate)
    if len(words) > 1:
        raise InvalidInput(f"one model at a time (got {words}); e.g. %deploy cancer@champion --name cancer")
    model = words[0] if words else None
    spec = DeploymentSpec.from_flags(
        {
            "model": model,
            "command": args.command,
            "app": args.app,
            "host": args.host,
            "port": args.port,
            "workers": args.workers,
            "token": args.token,
            "insecure": args.insecure,
            "log_rate": args.log_requests,
        }
    )
    return DeployOrder("deploy", deployment_name(args.name or default_name(model or args.app or "app")), spec=spec)


def deploy_parser(prog: str) -> Parser:
    parser = Parser(prog=prog, description="Serve a model (or your own app) on a port, managed by the controller.")
    add_deploy_arguments(parser)
    return parser


JOB_ACTIONS = ("create", "run", "status", "runs", "logs", "cancel", "pause", "resume", "delete", "token")


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", default="status", choices=JOB_ACTIONS, metavar="{" + ",".join(JOB_ACTIONS) + "}")
    parser.add_argument("name", nargs="?", help="the job's name")
    parser.add_argument("number", nargs="?", help="a run's number (status, logs, cancel; default: the last run)")
    parser.add_argument("--notebook", help="create: the notebook to run (a path, or `this` in a notebook)")
    parser.add_argument("--live", action="store_true", help="create: run the file as it is at each run (default: a snapshot)")
    parser.add_argument("--cron", help="create: a schedule, e.g. '0 6 * * 1-5' (a 6th field is seconds)")
    parser.add_argument("--tz", default="UTC", help="create: the schedule's time zone (default UTC)")
    parser.add_argument(
        "--missed", choices=["skip", "run_once"], default="skip", help="create: schedule times missed while stopped"
    )
    parser.add_argument("--on-data", help="create: a glob under the root; each new file starts a run")
    parser.add_argument("--data-param", default="data_path", help="create: the parameter given the new file's path")
    parser.add_argument("--on-event", help="create: an event that starts a run, e.g. alert:MONITOR")
    parser.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="a parameter (create: the job's; run: this run's)"
    )
    parser.add_argument("--kernel", help="create: a kernelspec name (default: the notebook's)")
    parser.add_argument("--cwd", help="create: where runs start (default: the notebook's folder)")
    parser.add_argument("--file", action="append", default=[], help="create: a file copied with the snapshot")
    parser.add_argument("--env", action="append", default=[], metavar="K=V", help="create: an environment variable")
    parser.add_argument(
        "--cluster",
        default="none",
        metavar="none|workspace|local:N|gateway:N",
        help="create: workspace: runs get the workspace's running cluster; local:N: each run starts a LocalCluster "
        "of N workers before its first cell and stops it after its last; gateway:N: the same from the Dask Gateway "
        "of dask config gateway.address",
    )
    parser.add_argument("--timeout", help="create: a run's limit in seconds")
    parser.add_argument("--retries", default="0", help="create: retries of a failed run (default 0)")
    parser.add_argument("--backoff", default="30", help="create: seconds before the first retry, doubled after (default 30)")
    parser.add_argument(
        "--concurrency", choices=["allow", "forbid", "replace"], default="forbid", help="create: when a run is active"
    )
    parser.add_argument("--keep", default="50", help="create: runs kept (default 50)")
    parser.add_argument("--notify", help="create: a webhook URL called when a run fails (JSON, Slack-compatible)")
    parser.add_argument("--notify-on", default="failure", help="create: failure, success or failure,success")
    parser.add_argument("--wait", action="store_true", help="run: wait for the run to end, showing its progress")
    parser.add_argument("--lines", type=int, default=40, help="logs: how many lines (default 40)")
    parser.add_argument("--revoke", action="store_true", help="token: revoke the trigger token instead of issuing one")


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{flag} takes KEY=VALUE (got {value!r}), e.g. {flag} region=eu-west")
        pairs[key.strip()] = text
    return pairs


def _job_cluster(text: str) -> str | dict[str, Any]:
    """``--cluster``: none, workspace, local:N or gateway:N (a cluster spec of the run's own)."""
    from mlops_magics.wire import whole_number

    if text in ("none", "workspace"):
        return text
    kind, _, workers = text.partition(":")
    if kind in ("local", "gateway") and workers:
        return {"kind": kind, "workers": whole_number(workers, f"--cluster {kind}:N", 1)}
    raise InvalidInput(f"--cluster {text!r} is not accepted: use none, workspace, local:N or gateway:N (N workers for each run)")


def job_order(args: argparse.Namespace, root: Path, this_notebook: str | None = None) -> JobOrder:
    """``job [create|run|status|runs|logs|cancel|pause|resume|delete|token] [NAME] [RUN]`` as an order for the
    jobs stage. Paths are named relative to ``root`` (the workspace's root); ``this`` is ``this_notebook``."""
    from mlops_magics.api.jobs import JobSpec
    from mlops_magics.jobs.actions import JobOrder
    from mlops_magics.names import job_name, run_number
    from mlops_magics.wire import whole_number

    action = args.action
    if action != "status" and not args.name:
        raise InvalidInput(f"{action} needs the job's name: job {action} NAME")
    name = job_name(args.name) if args.name else None
    number = int(run_number(args.number)) if args.number else None
    params = _pairs(args.param, "--param")
    if action == "create":
        if not args.notebook:
            raise InvalidInput("create needs --notebook PATH (or --notebook this, in a notebook)")
        notebook = args.notebook
        if notebook == "this":
            if not this_notebook:
                raise InvalidInput("--notebook this works in a notebook opened in JupyterLab; give the notebook's path")
            notebook = this_notebook
        flags = {"notebook": "--notebook ", "cron": "--cron ", "tz": "--tz ", "on_data": "--on-data ", "timeout_s": "--timeout "}
        flags |= {"retries": "--retries ", "retry_backoff_s": "--backoff ", "keep_runs": "--keep ", "notify": "--notify "}
        flags |= {"env": "--env ", "kernel": "--kernel ", "cwd": "--cwd ", "files": "--file ", "on_event": "--on-event "}
        spec: dict[str, Any] = {
            "notebook": _under(root, notebook),
            "snapshot": not args.live,
            "parameters_text": params,
            "kernel": args.kernel,
            "cwd": _under(root, args.cwd) if args.cwd else None,
            "files": [_under(root, f) for f in args.file],
            "env": _pairs(args.env, "--env"),
            "cluster": _job_cluster(args.cluster),
            "cron": args.cron,
            "tz": args.tz,
            "missed": args.missed,
            "on_data": _under(root, args.on_data) if args.on_data else None,
            "data_parameter": args.data_param,
            "on_event": args.on_event,
            "timeout_s": whole_number(args.timeout, "--timeout", 1) if args.timeout else None,
            "retries": whole_number(args.retries, "--retries", 0),
            "retry_backoff_s": float(whole_number(args.backoff, "--backoff", 0)),
            "concurrency": args.concurrency,
            "keep_runs": whole_number(args.keep, "--keep", 1),
            "notify": {"url": args.notify, "on": [w.strip() for w in args.notify_on.split(",") if w.strip()]}
            if args.notify
            else None,
        }
        return JobOrder("create", name, spec=JobSpec.checked(spec, lambda field: flags.get(field, f"{field} ")))
    return JobOrder(action, name, number=number, parameters_text=params, wait=args.wait, lines=args.lines, revoke=args.revoke)


def _under(root: Path, path: str) -> str:
    """A path as typed (relative to the current folder) named relative to the root when it lies under it; as it
    is otherwise (the controller then refuses it, saying why)."""
    import os

    absolute = Path(os.path.abspath(os.path.expanduser(path)))
    try:
        return absolute.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(absolute)


def job_parser(prog: str) -> Parser:
    parser = Parser(prog=prog, description="Notebooks as jobs run by the controller: on a schedule, on demand, on new data.")
    add_job_arguments(parser)
    return parser


def add_monitor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "deployment",
        help="the deployment whose logged requests are checked (now, or every --every); or an action on the standing "
        "monitors: status [NAME], alerts [NAME], checks NAME, check NAME, timeline NAME, pause NAME, resume NAME, delete NAME",
    )
    parser.add_argument("monitor", nargs="?", help="the monitor an action names")
    parser.add_argument(
        "--window", default="1h", help="a duration (90s, 30m, 1h, 2d) or the last N rows (10000) (default: %(default)s)"
    )
    parser.add_argument(
        "--threshold",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME=VALUE",
        help="effect-size thresholds: wasserstein (0.1), psi (0.2), jensen_shannon (0.1), p_value (0.01)",
    )
    parser.add_argument(
        "--tests",
        help="the effect sizes that may flag a feature, comma-separated: wasserstein, psi, jensen_shannon (default: all)",
    )
    parser.add_argument("--features", help="only these features, comma-separated (default: the model's inputs)")
    parser.add_argument(
        "--min",
        nargs="+",
        action="extend",
        default=[],
        metavar="METRIC=VALUE",
        help="decay when a metric better large falls below it, on feedback labels: accuracy, f1, precision, recall, "
        "balanced_accuracy, r2 (e.g. --min accuracy=0.85)",
    )
    parser.add_argument(
        "--max",
        nargs="+",
        action="extend",
        default=[],
        metavar="METRIC=VALUE",
        help="decay when a metric better small rises above it, on feedback labels: rmse, mae (e.g. --max rmse=3)",
    )
    parser.add_argument("--every", help="a standing monitor: the controller checks this often (10s to 7d, e.g. 10m)")
    parser.add_argument("--name", help="--every: the monitor's name (default: the deployment's)")
    parser.add_argument(
        "--on-drift", metavar="retrain=JOB", help="--every: a drift alert starts JOB (created with --on-event alert:NAME)"
    )
    parser.add_argument("--on-decay", metavar="retrain=JOB", help="--every: a decay alert starts JOB")
    parser.add_argument(
        "--max-error-rate", metavar="SHARE", help="--every: an alert when more of the window's rows failed (5xx), e.g. 0.05"
    )
    parser.add_argument("--cooldown", default="1h", help="--every: one alert per kind within this time (default: %(default)s)")
    parser.add_argument("--notify", metavar="URL", help="--every: a webhook posted each alert (JSON, Slack-compatible)")
    parser.add_argument(
        "--rollback-margin",
        metavar="SHARE",
        help="--every: after a swap, roll back when the new version's error rate or metric on feedback is worse than "
        "the previous version's by more than this (default 0.05)",
    )
    parser.add_argument("--no-rollback", action="store_true", help="--every: watch a swap, never roll it back")


_STANDING_ONLY = (
    ("--name", "name"),
    ("--on-drift", "on_drift"),
    ("--on-decay", "on_decay"),
    ("--notify", "notify"),
    ("--max-error-rate", "max_error_rate"),
    ("--rollback-margin", "rollback_margin"),
)


def _numbers(values: list[str], flag: str) -> dict[str, float]:
    numbers = {}
    for key, text in _pairs(values, flag).items():
        try:
            numbers[key] = float(text)
        except ValueError:
            raise InvalidInput(f"{flag} {key}: {text!r} is not a number") from None
    return numbers


def _share(text: str | None, flag: str) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(f"{flag} takes a share between 0 and 1, e.g. 0.05 (got {text!r})") from None


def _on_alert(text: str | None, flag: str) -> dict[str, str] | None:
    if text is None:
        return None
    action, sep, job = text.partition("=")
    if action.strip() != "retrain" or not sep or not job.strip():
        raise InvalidInput(f"{flag} takes retrain=JOB (got {text!r}), e.g. {flag} retrain=retrain-loans")
    return {"retrain": job.strip()}


def monitor_order(args: argparse.Namespace) -> MonitorOrder | StandingOrder:
    """``monitor DEPLOYMENT`` (one check now), ``monitor DEPLOYMENT --every 10m ...`` (a standing monitor), or an
    action on the standing monitors (``monitor status``, ``monitor delete NAME``, ...)."""
    from mlops_magics.monitor.actions import ACTIONS, NEEDS_NAME, StandingOrder
    from mlops_magics.monitor.check import MonitorOrder
    from mlops_magics.names import deployment_name, monitor_name

    word = args.deployment
    if word in ACTIONS:
        if word in NEEDS_NAME and not args.monitor:
            raise InvalidInput(f"{word} needs the monitor's name: monitor {word} NAME")
        return StandingOrder(word, monitor_name(args.monitor) if args.monitor else None)
    if args.monitor:
        raise InvalidInput(
            f"monitor {word} {args.monitor}: one deployment, or an action ({', '.join(ACTIONS)}) and a monitor's name"
        )
    if args.every is None:
        given = [flag for flag, key in _STANDING_ONLY if getattr(args, key) is not None]
        given += ["--no-rollback"] if args.no_rollback else []
        if given:
            raise InvalidInput(f"{', '.join(given)} belong(s) to a standing monitor: add --every 10m")
        return MonitorOrder(
            deployment=word,
            window=args.window,
            thresholds=_pairs(args.threshold, "--threshold"),
            features=split_names(args.features) if args.features else None,
            tests=args.tests,
            minimums=_pairs(args.min, "--min"),
            maximums=_pairs(args.max, "--max"),
        )
    from mlops_magics.api.monitors import MonitorSpec
    from mlops_magics.monitor.thresholds import tests_from

    deployment = deployment_name(word)
    name = monitor_name(args.name or deployment)
    thresholds: dict[str, float] = {}
    for key, text in _pairs(args.threshold, "--threshold").items():
        try:
            thresholds[key.replace("-", "_")] = float(text)
        except ValueError:
            raise InvalidInput(f"--threshold {key}: {text!r} is not a number") from None
    spec = {
        "deployment": deployment,
        "every": args.every,
        "window": args.window,
        "thresholds": thresholds,
        "tests": list(tests_from(args.tests)) if args.tests else None,
        "features": split_names(args.features) if args.features else None,
        "on_drift": _on_alert(args.on_drift, "--on-drift"),
        "on_decay": _on_alert(args.on_decay, "--on-decay"),
        "max_error_rate": _share(args.max_error_rate, "--max-error-rate"),
        "minimums": _numbers(args.min, "--min"),
        "maximums": _numbers(args.max, "--max"),
        "cooldown": args.cooldown,
        "notify": args.notify,
        "rollback_margin": None if args.no_rollback else (_share(args.rollback_margin, "--rollback-margin") or 0.05),
    }
    if args.no_rollback and args.rollback_margin is not None:
        raise InvalidInput("--no-rollback and --rollback-margin: one or the other")
    flags = {"every": "--every ", "window": "--window ", "cooldown": "--cooldown ", "notify": "--notify "}
    flags |= {"thresholds": "--threshold ", "features": "--features ", "on_drift": "--on-drift ", "on_decay": "--on-decay "}
    flags |= {"max_error_rate": "--max-error-rate ", "minimums": "--min ", "maximums": "--max "}
    flags |= {"rollback_margin": "--rollback-margin ", "tests": "--tests "}
    return StandingOrder("create", name, MonitorSpec.checked(spec, lambda field: flags.get(field.split(".")[0], f"{field} ")))


def monitor_parser(prog: str) -> Parser:
    parser = Parser(
        prog=prog,
        description="Check a deployment's logged requests for drift against its training profile, its predictions for "
        "drift, and its performance on feedback labels (decay).",
    )
    add_monitor_arguments(parser)
    return parser
