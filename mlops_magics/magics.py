"""The IPython face: ``%load_ext mlops_magics`` registers the magics. No logic lives here.

Each magic parses its line with the grammar in ``arguments``, calls the core (through the controller for
anything long-lived) and shows the result. Every MLOpsError becomes one line (IPython's UsageError).
"""

from __future__ import annotations

import functools
import glob
import html
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.display import HTML, display

from mlops_magics import arguments, names, tracking
from mlops_magics.errors import MLOpsError
from mlops_magics.workspace import Workspace

if TYPE_CHECKING:
    from mlops_magics.controller.client import Controller

MagicFunction = Callable[..., Any]


def _one_line_errors(function: MagicFunction) -> MagicFunction:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except arguments.HelpShown:
            return None
        except MLOpsError as exc:
            raise UsageError(exc.message) from None

    return wrapper


class ClusterView:
    """A cluster as the notebook shows it: one line as text, a small table as HTML."""

    def __init__(self, view: dict[str, Any]) -> None:
        self.view = view

    def __repr__(self) -> str:
        from mlops_magics.cluster import summarize

        return summarize(self.view)

    def _repr_html_(self) -> str:
        v = self.view
        link = v.get("dashboard_link") or ""
        rows = [
            ("Cluster", v["name"]),
            ("Status", v["status"] + (f" ({v['reason']})" if v.get("reason") else "")),
            ("Kind", v["spec"]["kind"]),
            ("Scheduler", v.get("scheduler_address") or "-"),
            ("Workers", str(v.get("workers", 0))),
            ("Threads", str(v.get("threads", 0))),
            ("Memory", f"{(v.get('memory') or 0) / 2**30:.1f} GiB"),
        ]
        body = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(str(x))}</td></tr>" for k, x in rows)
        if link and v["status"] == "running":
            escaped = html.escape(link)
            anchor = f"<a href='{escaped}' target='_blank'>{escaped}</a>"
            body += f"<tr><th style='text-align:left'>Dashboard</th><td>{anchor}</td></tr>"
        return f"<table class='mlops-cluster'>{body}</table>"


class ShownOnce:
    """A magic's report shown while the magic runs, so ``r = %review ...`` shows it too, and not a second time as
    the cell's result when the magic is not assigned (``%review ...`` alone).

    The cell's result goes through IPython's display formatter; for the objects shown here, and until the cell
    ends, a printer registered for their type stands in and shows nothing. Other objects of that type show as usual.
    """

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.shown: dict[int, Any] = {}  # id -> object (kept, so the id is not reused before the cell ends)
        self.types: set[type] = set()
        shell.events.register("post_run_cell", self.forget)

    @property
    def _printers(self) -> Any:
        return self.shell.display_formatter.ipython_display_formatter

    def show(self, value: Any) -> Any:
        display(value)
        self.shown[id(value)] = value
        if type(value) not in self.types:
            self._printers.for_type(type(value), self._again)
            self.types.add(type(value))
        return value

    def _again(self, value: Any) -> None:
        if id(value) in self.shown:
            return  # shown by the magic in this cell already
        self._printers.pop(type(value), None)  # another object of that type: shown the usual way
        try:
            display(value)
        finally:
            self._printers.for_type(type(value), self._again)

    def forget(self, *_: Any) -> None:
        for kind in self.types:
            self._printers.pop(kind, None)
        self.types.clear()
        self.shown.clear()


def _framed(page: str, height: int = 800) -> str:
    """A whole HTML page (the ydata-profiling report) in a sandboxed frame, so its styles stay inside it."""
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" style="width:100%;height:{height}px;border:0" '
        'sandbox="allow-scripts"></iframe>'
    )


@magics_class
class MLOpsMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.workspace = Workspace.current()
        self._clients: dict[str, tuple[str, Any]] = {}
        self._reports = ShownOnce(shell)
        self._cluster_parser = arguments.cluster_parser("%cluster")
        self._eda_parser = arguments.eda_parser("%eda")
        self._prep_parser = arguments.prep_parser("%prep")
        self._train_parser = arguments.train_parser("%%train")
        self._review_parser = arguments.review_parser("%review")
        self._deploy_parser = arguments.deploy_parser("%deploy")
        self._job_parser = arguments.job_parser("%job")
        self._monitor_parser = arguments.monitor_parser("%monitor")

    @functools.cached_property
    def controller(self) -> Controller:
        # Made when a magic first needs it: %load_ext stays cheap (the client imports an HTTP library).
        from mlops_magics.controller.client import Controller

        return Controller(self.workspace, notify=print)

    # --- %cluster ------------------------------------------------------------------------------------
    def _connect(self, view: dict[str, Any]) -> Any:
        """A distributed.Client of this kernel on the cluster, made the default for dask computations."""
        from mlops_magics.cluster import connect, disconnect

        name, address = view["name"], view["scheduler_address"]
        known = self._clients.get(name)
        if known is not None and known[0] == address and known[1].status == "running":
            return known[1]
        if known is not None:
            disconnect(known[1])
        client = connect(view, "this kernel")
        self._clients[name] = (address, client)
        return client

    def _disconnect(self, name: str) -> None:
        from mlops_magics.cluster import disconnect

        known = self._clients.pop(name, None)
        if known is not None:
            disconnect(known[1])

    @line_magic
    @_one_line_errors
    def cluster(self, line: str) -> Any:
        from mlops_magics import cluster_actions
        from mlops_magics.cluster import summarize

        order = arguments.cluster_order(arguments.parse(self._cluster_parser, line))
        if order.action == "stop":
            self._disconnect(order.name)  # this kernel's client first: it would only see its scheduler vanish
        doing = cluster_actions.waits_for(order)
        if doing:
            print(f"{doing} ...", flush=True)
        views = cluster_actions.carry_out(self.controller, order)
        if order.action == "list":  # no action: connect this kernel to the cluster that runs
            views = [v for v in views if v["status"] == "running"]
            if not views:
                print("no cluster is running in this workspace; start one with %cluster start [--workers N]")
                return None
        if order.action == "status":
            display(ClusterView(views[0]))
            return None
        print(summarize(views[0]))
        return self._connect(views[0]) if order.action in ("list", "start") else None

    # --- %eda ----------------------------------------------------------------------------------------
    def _data(self, text: str) -> tuple[Any, str]:
        """A variable or expression of this kernel, else a path; named for the report's title."""
        namespace = self.shell.user_ns
        if text in namespace:
            return namespace[text], text
        try:
            value = eval(text, namespace)  # the user's own expression in the user's own kernel
        except (NameError, SyntaxError, AttributeError):
            if glob.glob(os.path.expanduser(text)):
                return text, text
            from mlops_magics.eda.sources import ACCEPTED

            raise MLOpsError(f"{text!r} is neither a variable of this kernel nor an existing file; give {ACCEPTED}") from None
        return value, text

    @line_magic
    @_one_line_errors
    def eda(self, line: str) -> Any:
        from mlops_magics.eda.run import run_eda

        args = arguments.parse(self._eda_parser, line)
        data, name = self._data(args.data)
        other, other_name = self._data(args.compare) if args.compare else (None, None)
        result = run_eda(
            self.workspace,
            data,
            name=name,
            title=args.title,
            target=args.target,
            sample=args.sample,
            full=args.full,
            other=other,
            other_name=other_name,
            log=args.log,
        )
        logged = f"; logged to MLflow run {result.mlflow_run}" if result.mlflow_run else ""
        print(f"profile {result.saved.id} saved in the workspace (MLOps panel: Data){logged}")
        if result.full_html is not None:
            display(HTML(_framed(result.full_html)))
        if result.comparison is not None:
            display(result.comparison)
        return self._reports.show(result.profile)

    # --- %prep -------------------------------------------------------------------------------------
    @line_magic
    @_one_line_errors
    def prep(self, line: str) -> Any:
        from mlops_magics.eda.suggest import suggest_for

        args = arguments.parse(self._prep_parser, line)
        data, name = (args.data, None) if names.PROFILE_ID.fullmatch(args.data) else self._data(args.data)
        variable = name if name is not None and name.isidentifier() else None
        prepared = suggest_for(self.workspace, data, name=variable or name, target=args.target, task=args.task, model=args.model)
        suggestion = prepared.suggestion
        if prepared.profiled:
            print(f"profile {prepared.profile_id} saved in the workspace (MLOps panel: Data)")
        if not args.explain:
            self.shell.set_next_input(suggestion.code, replace=False)
            plan = suggestion.plan
            print(f"prep: {len(plan.kept)} columns kept, {len(plan.dropped)} dropped; the code is in a new cell below")
        return self._reports.show(suggestion)

    # --- %%train ------------------------------------------------------------------------------------
    @line_cell_magic
    @_one_line_errors
    def train(self, line: str, cell: str | None = None) -> Any:
        from mlops_magics.train import capture
        from mlops_magics.train.cell import train

        order = arguments.train_order(arguments.parse(self._train_parser, line))
        order.check()  # before the cell runs: a typo costs no training
        namespace = self.shell.user_ns
        before = capture.snapshot(namespace)
        if cell is not None and cell.strip():
            outcome = self.shell.run_cell(cell, store_history=False)
            if not outcome.success:
                print("mlops: the cell failed; nothing was tracked")
                return None
        train(self.workspace, namespace, before, order, source=cell or line, display=display)
        return None

    # --- %review -------------------------------------------------------------------------------------

    @line_magic
    @_one_line_errors
    def review(self, line: str) -> Any:
        from mlops_magics.review.run import approve, review
        from mlops_magics.review.swap import check_deployment, swap_in
        from mlops_magics.train import capture

        args = arguments.parse(self._review_parser, line)
        data = capture.pair(self.shell.user_ns, args.data, "--data")
        assert data is not None
        workspace = self.workspace
        if args.deploy:
            check_deployment(self.controller, args.deploy, args.model)
        result = review(
            workspace,
            args.model,
            *data,
            metric=args.metric,
            minimum=args.minimum,
            min_improvement=args.min_improvement,
            promote=not args.manual,
        )
        self._reports.show(result)
        if args.deploy and not args.manual:
            print(swap_in(self.controller, result, args.deploy))
        if args.manual and result.passed:
            import ipywidgets

            button = ipywidgets.Button(description=f"Approve v{result.challenger} as champion", button_style="success")
            done = ipywidgets.Output()

            def on_click(_button: Any) -> None:
                approve(workspace, result, who=os.environ.get("USER", "someone"))
                button.disabled = True
                with done:
                    print(f"{result.model} v{result.challenger} is now champion")
                    if args.deploy:
                        print(swap_in(self.controller, result, args.deploy))

            button.on_click(on_click)
            display(ipywidgets.VBox([button, done]))
        return result

    # --- %deploy -------------------------------------------------------------------------------------
    @line_magic
    @_one_line_errors
    def deploy(self, line: str) -> Any:
        from mlops_magics.serving import deploy
        from mlops_magics.serving.tokens import Token
        from mlops_magics.train.background import WRITER

        order = arguments.deploy_order(arguments.parse(self._deploy_parser, line))
        # A model registered a moment ago must be written before it is served; the controller and its serving
        # template start meanwhile. A first deployment says first what it waits for.
        done = deploy.carry_out(self.controller, order, wait_for=WRITER.flush)
        lines, view = done.lines, done.view
        if done.action == "deploy" and view is not None and view.get("has_token"):
            hint = deploy.token_hint(view["name"])
            python = f"in Python: token = %deploy token {view['name']}  (it is kept out of the cell's output)"
            lines.insert(lines.index(hint) + 1 if hint in lines else len(lines), python)
        if lines:
            print("\n".join(lines))
        if done.action == "token" and view is not None:
            # Never printed: a cell's output is saved in the notebook. A masked str: its repr hides it.
            return Token(view["token"])
        return None

    # --- %job ----------------------------------------------------------------------------------------
    @line_magic
    @_one_line_errors
    def job(self, line: str) -> Any:
        from mlops_magics.jobs import actions
        from mlops_magics.serving.tokens import Token

        # JupyterLab names the notebook a kernel runs for in its environment: `--notebook this`.
        args = arguments.parse(self._job_parser, line)
        order = arguments.job_order(args, self.workspace.root, os.environ.get("JPY_SESSION_NAME"))
        done = actions.carry_out(self.controller, order, notify=lambda text: print(text, flush=True))
        if done.action == "token" and done.view is not None and "token" in done.view:
            print("\n".join(done.lines))
            return Token(done.view["token"])  # never printed: a cell's output is saved in the notebook
        print("\n".join(done.lines))
        return None

    # --- %monitor ------------------------------------------------------------------------------------
    @line_magic
    @_one_line_errors
    def monitor(self, line: str) -> Any:
        from mlops_magics.monitor import actions
        from mlops_magics.monitor.check import carry_out

        order = arguments.monitor_order(arguments.parse(self._monitor_parser, line))
        if isinstance(order, actions.StandingOrder):
            print("\n".join(actions.carry_out(self.controller, order).lines))
            return None
        return carry_out(self.workspace, order, self.controller)


MLOpsMagics.cluster.__doc__ = (
    "Own a Dask cluster for this workspace (it outlives the kernel and serves every kernel and job).\n\n"
    "    %cluster                      connect this kernel to the running cluster\n"
    "    %cluster start --workers 2    start a LocalCluster (or --address / --gateway / --factory / --from-config)\n"
    "    %cluster status | scale N | stop\n\n" + arguments.cluster_help("%cluster")
)
MLOpsMagics.eda.__doc__ = (
    "Profile data in one pass: overview, per-column statistics and histograms, correlations, alerts.\n\n"
    "    %eda df                         a pandas or Dask DataFrame (any expression of this kernel)\n"
    "    %eda data/*.parquet             CSV or Parquet files, read with Dask (on the %cluster when connected)\n"
    "    %eda df --target label          each column's relation to the target\n"
    "    %eda train --compare test       side by side, with a drift score per column\n"
    "    %eda df --full                  also the complete ydata-profiling report (on a sample when large)\n"
    "    p = %eda df --log               keep the Profile; log JSON + HTML to MLflow\n\n"
    + arguments.eda_parser("%eda").format_help()
)
MLOpsMagics.prep.__doc__ = (
    "Data preparation from a profile: a new cell below with a scikit-learn ColumnTransformer, each step named and\n"
    "commented with the finding it answers (missing values, skew, IDs, levels, dates and numbers as text...).\n\n"
    "    %prep df --target survived      profile df (kept, as %eda keeps it), then write the code\n"
    "    %prep 20261202-101500-a1b2c3    from a saved profile alone (the data is not read again)\n"
    "    %prep df --target y --explain   the decisions as a table, no code\n"
    "    p.suggest(target='y')           the same from a Profile: .code, .pipeline(), .table()\n\n"
    + arguments.prep_parser("%prep").format_help()
)
MLOpsMagics.train.__doc__ = (
    "Run the cell and track the model it fits in MLflow: params, train/eval metrics, the model with signature\n"
    "and input example, cell source, notebook, data fingerprints, pip requirements and the training data's\n"
    "profile (the drift baseline). Heavy writes happen in the background; %review and %deploy wait for them.\n\n"
    "    %%train --data X_train,y_train --eval X_test,y_test --model cancer\n"
    "    model = LogisticRegression(max_iter=500).fit(X_train, y_train)\n\n"
    '    %%train --search grid --space "C=0.1,1,10" --data X_train,y_train   (trials on the %cluster)\n'
    "    %%train --from cancer@champion --data X_new,y_new --model cancer        (retrain)\n"
    "    %train --model-var model --data X,y                                     (track a fitted model)\n\n"
    + arguments.train_parser("%%train").format_help()
)
MLOpsMagics.review.__doc__ = (
    "Review the registered model's challenger against its champion on the same held-out data: metrics side\n"
    "by side, plots, training-data drift, gates. Passing moves alias 'champion' (the old one becomes\n"
    "'previous'); failing lists each failed gate. The first version that passes becomes champion.\n\n"
    "    %review cancer --data X_test,y_test --metric f1 --min 0.9 --min-improvement 0.01\n\n"
    + arguments.review_parser("%review").format_help()
)
MLOpsMagics.deploy.__doc__ = (
    "Serve a model on a port (MLflow's scoring protocol, plus /metrics, /docs, /feedback), managed by the\n"
    "workspace's controller: health-checked, restarted when it crashes, surviving kernel and JupyterLab restarts.\n\n"
    "    %deploy cancer@champion --name cancer          on 127.0.0.1:8000\n"
    "    %deploy cancer/4 --name cancer                 swap in version 4 with no failed request\n"
    "    %deploy rollback cancer | stop cancer | logs cancer | status\n"
    "    %deploy --command 'python app.py' --name mine  your own HTTP app on $PORT\n\n"
    + arguments.deploy_parser("%deploy").format_help()
)
MLOpsMagics.job.__doc__ = (
    "Run a notebook as a job, executed by the workspace's controller (it runs with JupyterLab closed):\n"
    "on a schedule, on demand, from outside with a token, or when a new file arrives.\n\n"
    "    %job create retrain --notebook retrain.ipynb --cron '0 6 * * *' --tz Europe/Paris --param alpha=0.5\n"
    "    %job run retrain --param region=eu-west --wait     now, with this run's parameters\n"
    "    %job create ingest --notebook this --on-data 'data/*.parquet'\n"
    "    %job status | runs retrain | logs retrain [RUN] | cancel retrain [RUN] | pause | resume | delete\n"
    "    token = %job token retrain                          a trigger token for outside callers (shown once)\n\n"
    + arguments.job_parser("%job").format_help()
)
MLOpsMagics.monitor.__doc__ = (
    "Check a deployment's logged requests for drift against the training profile of the model version it serves\n"
    "(logged by %%train --data): per feature, the statistic, its threshold and a verdict; the drift of its\n"
    "predictions; its performance on feedback labels beside the model's logged metrics (decay past --min/--max);\n"
    "the traffic's rows, error shares and latency. With --every, a standing monitor run by the controller: checks\n"
    "on a schedule, alerts (drift, schema change, no traffic) to the event log, a webhook and the jobs waiting for\n"
    "alert:NAME.\n\n"
    "    %monitor cancer                                  the last hour\n"
    "    %monitor cancer --window 10000                   the last 10,000 logged rows\n"
    "    %monitor cancer --threshold wasserstein=0.2 --features age,income\n"
    "    %monitor cancer --min accuracy=0.85 f1=0.8       decay when a metric on feedback labels falls below\n"
    "    %monitor prices --max rmse=3                     ... or, better small, rises above\n"
    "    check = %monitor cancer; check.to_dict()\n"
    "    %monitor cancer --every 10m --on-drift retrain=retrain-cancer --cooldown 6h --notify https://hooks.example\n"
    "    %monitor status | alerts | checks cancer | check cancer | pause cancer | resume cancer | delete cancer\n\n"
    + arguments.monitor_parser("%monitor").format_help()
)


def register(ipython: Any) -> None:
    magics = MLOpsMagics(ipython)
    tracking.point_process_at(magics.workspace)
    ipython.register_magics(magics)


def unregister(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.pop("MLOpsMagics", None)
    if magics is not None:
        magics._reports.forget()
        ipython.events.unregister("post_run_cell", magics._reports.forget)
        for kind in ("line", "cell"):
            for name in list(ipython.magics_manager.magics[kind]):
                if getattr(ipython.magics_manager.magics[kind][name], "__self__", None) is magics:
                    del ipython.magics_manager.magics[kind][name]
