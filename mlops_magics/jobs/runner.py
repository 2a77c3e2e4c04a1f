# ruff: noqa: E402  (the imports follow the SIGTERM handler, installed first)
"""One run of a job, start to end: ``python -m mlops_magics.jobs.runner RUN_DIR``.

The controller writes ``RUN_DIR/run.json`` and starts this process in a session of its own, so a run outlives a
controller that stops or dies. The notebook runs in a fresh kernel through nbclient; the runner writes, all in
RUN_DIR and each file atomically:

- ``progress.json``: once at the start, then after each cell (``cells_done`` of ``cells_total``, the cell running);
- ``output.ipynb``: the notebook with its outputs after each cell (a crash keeps what ran), final at the end;
- ``run.log``: a start line, the cells' streams as they come, a line per cell, the error, an end line;
- ``result.json``, last: how the run ended (``state``, ``reason``, ``failed_cell``, ``finished_at``, ``duration_s``).

A standby runner (``--standby READY_FILE``, mlops_magics/jobs/standby.py) starts its kernel before any run and
is then given one run's folder on stdin: the same run, with no kernel to wait for.

The exit code says the same as ``result.json``: 0 succeeded, 1 failed, 124 timed out, 143 cancelled (SIGTERM), and
2 for a ``run.json`` that cannot be run (one line on stderr).

Cells are counted two ways. "cell N" and "N/M" in the log and in reasons count the cells that run (code cells with
code, 1-based: the execution count the output notebook shows); ``current_cell`` and ``failed_cell.index`` are
positions in the output notebook's list of cells, so a face can point at the cell itself.
"""

from __future__ import annotations

import signal

# SIGTERMs that came before the event loop took the signal over: the run starts cancelled. Noted from the first
# line the module runs, so a cancel sent while it still imports ends as "cancelled" too.
_early_signals: list[int] = []


def _note_signal(signum: int, frame: object) -> None:
    _early_signals.append(signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _note_signal)

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbformat import NotebookNode

    from mlops_magics.jobs.standby import WarmKernel

EXIT_CODES = {"succeeded": 0, "failed": 1, "timed_out": 124, "cancelled": 143}
EXIT_BAD_PLAN = 2
DEFAULT_KERNEL = "python3"
SOURCE_KEPT = 500  # characters of a failed cell's source in result.json
EVALUE_KEPT = 2000
SKIP_TAG = "skip-execution"  # the tag nbclient skips a cell for (its skip_cells_with_tag)
STOP_WAIT_S = 3.0  # how long a stopped run's cell gets to unwind once its kernel is killed
CLUSTER_START_WAIT_S = 120.0  # how long a stopping run waits for its cluster to finish starting, then to close
# Run in the kernel after the last cell (silently): waits for the kernel's tracking writer, when one was used.
FLUSH_TRACKING = (
    "import sys as _mlops_sys\n"
    "if 'mlops_magics.train.background' in _mlops_sys.modules:\n"
    "    _mlops_sys.modules['mlops_magics.train.background'].WRITER.flush()\n"
    "del _mlops_sys\n"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class BadPlan(Exception):
    """run.json cannot be run: missing, not JSON, or a field of the wrong type."""


@dataclass(frozen=True)
class Plan:
    """What the controller asked for, read from run.json."""

    job: str
    run_id: str
    notebook: Path
    parameters: dict[str, Any]
    kernel: str | None
    cwd: Path | None
    env: dict[str, str]
    timeout_s: float | None
    attempt: int | None
    cluster: dict[str, Any] | None = None  # a cluster spec: the run's own cluster, started and stopped by the run
    workspace_gateway: dict[str, Any] | None = None  # the spec of the workspace's cluster, when a gateway runs it

    @classmethod
    def read(cls, folder: Path) -> Plan:
        path = folder / "run.json"
        try:
            raw = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise BadPlan(f"no run.json in {folder}") from None
        except (OSError, ValueError) as exc:
            raise BadPlan(f"{path} is not readable JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise BadPlan(f"{path} holds {type(raw).__name__}, not an object")

        def value_of(key: str, kinds: type | tuple[type, ...], required: bool = False) -> Any:
            value = raw.get(key)
            if value is None and not required:
                return None
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
                wanted = " or ".join(k.__name__ for k in _tuple(kinds))
                raise BadPlan(f"{path}: {key!r} must be {wanted}, not {type(value).__name__}")
            return value

        job, run_id, notebook = value_of("job", str, True), value_of("run_id", str, True), value_of("notebook", str, True)
        if not notebook or not Path(notebook).is_absolute():
            raise BadPlan(f"{path}: 'notebook' must be an absolute path, not {notebook!r}")
        cwd = value_of("cwd", str)
        if cwd is not None and not Path(cwd).is_absolute():
            raise BadPlan(f"{path}: 'cwd' must be an absolute path, not {cwd!r}")
        env = value_of("env", dict) or {}
        bad = [k for k, v in env.items() if not isinstance(v, str) or not k or "=" in k or "\0" in k + v]
        if bad:
            raise BadPlan(f"{path}: 'env' must map names to strings ({bad[0]!r} does not)")
        timeout = value_of("timeout_s", (int, float))
        if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
            raise BadPlan(f"{path}: 'timeout_s' must be a positive number of seconds, not {timeout!r}")
        return cls(
            job=job,
            run_id=run_id,
            notebook=Path(notebook),
            parameters=value_of("parameters", dict) or {},
            kernel=value_of("kernel", str) or None,
            cwd=Path(cwd) if cwd else None,
            env=env,
            timeout_s=float(timeout) if timeout is not None else None,
            attempt=value_of("attempt", int),
            cluster=value_of("cluster", dict),
            workspace_gateway=value_of("workspace_gateway", dict),
        )


def _tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


@dataclass
class Outcome:
    state: str
    reason: str | None = None
    failed_cell: dict[str, Any] | None = None
    traceback: str | None = None  # for run.log only


class RunFolder:
    """The run's files. Each is replaced whole (a reader never sees half of one); run.log is appended to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._log: IO[str] | None = None
        self._at_line_start = True

    def write(self, name: str, data: bytes) -> None:
        tmp = self.path / f".{name}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, self.path / name)

    def write_json(self, name: str, value: Any) -> None:
        self.write(name, json.dumps(value, indent=1).encode())

    def log_text(self, text: str) -> None:
        """A cell's stream output, as it comes."""
        if text:
            log = self._open_log()
            log.write(text)
            log.flush()
            self._at_line_start = text.endswith("\n")

    def log_line(self, line: str) -> None:
        log = self._open_log()
        log.write(("" if self._at_line_start else "\n") + line + "\n")
        log.flush()
        self._at_line_start = True

    def _open_log(self) -> IO[str]:
        if self._log is None:
            self._log = open(self.path / "run.log", "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        return self._log

    def close(self) -> None:
        if self._log is not None:
            self._log.close()


class Run:
    """One execution of the plan; ``main`` returns the exit code once result.json is written."""

    def __init__(self, folder: RunFolder, plan: Plan, started: float) -> None:
        self.folder = folder
        self.plan = plan
        self.started = started
        self.started_at = _now()
        self.deadline = started + plan.timeout_s if plan.timeout_s else None
        self.stopping: str | None = None  # "timed_out" or "cancelled": the kernel is being stopped
        self.km: AsyncKernelManager | None = None
        self.client: NotebookClient | None = None
        self.nb: NotebookNode | None = None
        self.sockets: Path | None = None
        self.kernel_pid: int | None = None
        self.numbers: dict[int, int] = {}  # notebook position -> number among the cells that run
        self.cells_done = 0
        self.current: int | None = None
        self.kernel_idle = False  # the kernel answered its last cell: it can be asked to stop
        self.warm: WarmKernel | None = None  # a standby's started kernel, used when the plan fits it
        self.cluster_start: asyncio.Future[Any] | None = None  # the run's own cluster, starting or started
        self.cluster_spec: Any = None  # its spec (a ClusterSpec), for stopping it as it was made
        self.cluster_env: dict[str, str] = {}  # its scheduler's address, for the kernel

    # --- the run ------------------------------------------------------------------------------------------
    def main(self) -> int:
        self._log_start()
        try:
            outcome = asyncio.run(self._run())
        except KeyboardInterrupt:  # SIGINT before the event loop took it over
            outcome = Outcome("cancelled", "cancelled")
        except Exception as exc:  # a fault of the runner itself: the run still ends with a result
            outcome = self._runner_failed(exc)
        self._finish(outcome)
        return EXIT_CODES[outcome.state]

    async def main_in_loop(self) -> int:
        """``main`` for a standby runner, whose event loop already holds the warm kernel."""
        self._log_start()
        try:
            outcome = await self._run()
        except Exception as exc:
            outcome = self._runner_failed(exc)
        self._finish(outcome)
        return EXIT_CODES[outcome.state]

    def _log_start(self) -> None:
        plan = self.plan
        timeout = f"timeout {plan.timeout_s:g} s" if plan.timeout_s else "no timeout"
        attempt = f", attempt {plan.attempt}" if plan.attempt else ""
        self.folder.log_line(
            f"{self.started_at} run {plan.run_id} of job {plan.job}{attempt} (runner pid {os.getpid()}): "
            f"notebook {plan.notebook}, {timeout}"
        )

    @staticmethod
    def _runner_failed(exc: Exception) -> Outcome:
        """A fault of the runner itself: the run still ends with a result."""
        return Outcome("failed", f"the runner failed: {type(exc).__name__}: {exc}", traceback=traceback.format_exc())

    async def _run(self) -> Outcome:
        """The work, watched: a SIGTERM (cancel) or the deadline (timeout) kills the kernel and ends it."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def request_stop(kind: str) -> None:
            if self.stopping is None:
                self.stopping = kind
            stop.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, request_stop, "cancelled")
        if _early_signals:
            request_stop("cancelled")
        work = asyncio.ensure_future(self._work())
        stopped = asyncio.ensure_future(stop.wait())
        try:
            remaining = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
            await asyncio.wait({work, stopped}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                request_stop("timed_out")  # no-op when a SIGTERM came first
                await self._stop_kernel(graceful=False)  # killed first: the cell stops using the machine at once
                work.cancel()
                await asyncio.wait({work}, timeout=STOP_WAIT_S)
            outcome = None
            if work.done() and not work.cancelled():
                error = work.exception()
                if error is None:
                    outcome = work.result()  # it ended by itself, even when a stop came as it did
                elif not self.stopping:
                    raise error
            if outcome is None:
                outcome = self._stopped()
        finally:
            stopped.cancel()
            if self.warm is not None:  # a standby's kernel that the run ended before taking
                await self.warm.stop()
                self.warm = None
            await self._stop_kernel(graceful=self.stopping is None and self.kernel_idle)
            await self._stop_cluster()
            for signum in (signal.SIGTERM, signal.SIGINT):
                # Given back to the default (death) by the loop as it closes: ignored instead, the run is over.
                loop.remove_signal_handler(signum)
                signal.signal(signum, signal.SIG_IGN)
        return outcome

    def _stopped(self) -> Outcome:
        if self.stopping == "timed_out":
            assert self.plan.timeout_s is not None
            outcome = Outcome("timed_out", f"ran longer than {self.plan.timeout_s:g} s (timeout)")
        else:
            outcome = Outcome("cancelled", "cancelled")
        if self.current is not None:
            outcome.failed_cell = self._cell_info(self.current)
        return outcome

    async def _work(self) -> Outcome:
        if self.stopping:  # cancelled before it began: no kernel to start
            raise asyncio.CancelledError
        plan = self.plan
        try:
            raw = json.loads(plan.notebook.read_bytes())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return Outcome("failed", f"notebook {plan.notebook} not found")
        except OSError as exc:
            return Outcome("failed", f"notebook {plan.notebook} cannot be read: {exc.strerror or exc}")
        except ValueError:
            return Outcome("failed", f"notebook {plan.notebook} is not a notebook (not JSON)")
        if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
            return Outcome("failed", f"notebook {plan.notebook} is not a notebook (no cells)")
        cwd = plan.cwd or plan.notebook.parent
        if not cwd.is_dir():
            return Outcome("failed", f"working directory {cwd} not found")
        metadata = raw.get("metadata")
        spec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
        kernel = plan.kernel or (spec.get("name") if isinstance(spec, dict) else None) or DEFAULT_KERNEL

        if plan.cluster is not None:
            failed = await self._start_cluster(plan.cluster)
            if failed is not None:
                return failed
        elif plan.workspace_gateway is not None:
            failed = await self._reach_workspace_gateway(plan.workspace_gateway)
            if failed is not None:
                return failed
        warm, self.warm = self.warm, None
        settings: dict[str, Any] | None = None
        warm_client = None
        if warm is not None and (settings := warm.settings_for(str(kernel), plan, cwd)) is not None:
            self.km, self.sockets, self.kernel_pid, warm_client = warm.km, warm.sockets, warm.pid, warm.client
            settings["env"].update(self.cluster_env)
            self.folder.log_line(f"kernel {kernel} already started (pid {warm.pid}): the run takes it")
        else:
            if warm is not None:
                self.folder.log_line(f"the standby kernel does not fit this run ({warm.misfit(str(kernel), plan)})")
                await warm.stop()
            # The kernel's process starts first: it boots (~1 s) while this one imports nbclient and reads the notebook.
            failed = await self._start_kernel(str(kernel), cwd)
            if failed is not None:
                return failed
        try:
            self.nb = self._notebook(raw, str(kernel))
        except Exception as exc:
            return Outcome("failed", f"notebook {plan.notebook} cannot be run: {getattr(exc, 'message', None) or exc}")
        self.numbers = {
            index: number
            for number, index in enumerate(
                (i for i, cell in enumerate(self.nb.cells) if _runs(cell)),
                start=1,
            )
        }
        self._write_progress()
        self._write_output()
        self.client = _client(self.nb, self.km, self.folder, self._cell_timeout, str(kernel))
        try:
            if warm_client is not None:  # connected, and answered, while the standby waited
                self.client.kc, warm_client.allow_stdin = warm_client, False
            else:
                await self.client.async_start_new_kernel_client()
            kc = self.client.kc
            assert kc is not None
            reply = await self.client.async_wait_for_reply(kc.kernel_info())
        except Exception as exc:
            if self.stopping:
                raise
            return Outcome("failed", f"the kernel {kernel!r} did not start: {exc}")
        if reply is not None and "language_info" in reply["content"]:
            self.nb.metadata["language_info"] = reply["content"]["language_info"]
        if settings is not None:  # the warm kernel takes the run's folder and environment before any cell
            failed = await self._settle(kc, settings, str(kernel))
            if failed is not None:
                return failed
        self.kernel_idle = True
        return await self._cells()

    async def _settle(self, kc: Any, settings: dict[str, Any], kernel: str) -> Outcome | None:
        from mlops_magics.jobs.standby import settle_code

        assert self.client is not None
        code = settle_code(settings["cwd"], settings["env"])
        reply = await self.client.async_wait_for_reply(kc.execute(code, silent=True, store_history=False, allow_stdin=False))
        if reply is None or reply["content"].get("status") != "ok":
            error = (reply or {}).get("content", {}).get("evalue", "no reply")
            return Outcome("failed", f"the kernel {kernel!r} did not take the run's folder and environment: {error}")
        return None

    async def _cells(self) -> Outcome:
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        assert self.nb is not None and self.client is not None
        total = len(self.numbers)
        for index, number in self.numbers.items():
            cell = self.nb.cells[index]
            self.current, self.kernel_idle = index, False
            self._write_progress()
            began = time.monotonic()
            try:
                await self.client.async_execute_cell(cell, index, execution_count=number)
            except CellExecutionError as exc:
                self.kernel_idle = True
                self._write_output()
                self.folder.log_line(f"cell {number}/{total} failed in {time.monotonic() - began:.2f} s")
                return self._raised(index, number, exc)
            except (DeadKernelError, CellTimeoutError) as exc:
                self._write_output()
                if self.stopping:
                    raise asyncio.CancelledError from exc
                if isinstance(exc, CellTimeoutError):  # nbclient's own limit for the cell: what was left of the run's
                    self.stopping = "timed_out"
                    return self._stopped()
                return Outcome("failed", f"the kernel died while running cell {number}", self._cell_info(index))
            self.cells_done += 1
            self.kernel_idle = True
            self.folder.log_line(f"cell {number}/{total} done in {time.monotonic() - began:.2f} s")
            self._write_output()
        self.current = None
        return await self._tracking_written()

    async def _tracking_written(self) -> Outcome:
        """Before the kernel is stopped: what %%train and %review left to the kernel's background writer (model
        files, registration, mirrors) is written, so a run that succeeded has its whole record."""
        assert self.client is not None and self.client.kc is not None
        began = time.monotonic()
        reply = await self.client.async_wait_for_reply(
            self.client.kc.execute(FLUSH_TRACKING, silent=True, store_history=False, allow_stdin=False)
        )
        if reply is None or reply["content"].get("status") != "ok":
            error = (reply or {}).get("content", {}).get("evalue", "no reply")
            return Outcome("failed", f"the notebook's tracking was not written: {error}")
        self.folder.log_line(f"tracking written in {time.monotonic() - began:.2f} s")
        return Outcome("succeeded")

    # --- the kernel ---------------------------------------------------------------------------------------
    async def _start_kernel(self, name: str, cwd: Path) -> Outcome | None:
        from jupyter_client.kernelspec import NoSuchKernel
        from jupyter_client.manager import AsyncKernelManager

        # IPC sockets in a folder only this user can enter: no TCP port any local process could reach, and the
        # socket paths stay short (a run folder's path may be longer than a socket's name may be).
        self.sockets = Path(tempfile.mkdtemp(prefix="mlops-run-"))
        self.km = km = AsyncKernelManager(kernel_name=name, transport="ipc", connection_file=str(self.sockets / "kernel.json"))
        env = {**os.environ, **self.plan.env, "MLOPS_JOB": self.plan.job, "MLOPS_RUN_ID": self.plan.run_id, **self.cluster_env}
        extra = ["--HistoryManager.hist_file=:memory:"] if km.ipykernel else []  # nbclient's own choice for IPython
        try:
            await km.start_kernel(extra_arguments=extra, cwd=str(cwd), env=env)
        except NoSuchKernel:
            return Outcome("failed", f"kernelspec {name!r} not found")
        except Exception as exc:
            return Outcome("failed", f"the kernel {name!r} did not start: {exc}")
        self.kernel_pid = getattr(km.provisioner, "pid", None)
        self.folder.log_line(f"kernel {name} started (pid {self.kernel_pid}) in {cwd}")
        return None

    # --- the run's own cluster ----------------------------------------------------------------------------
    async def _start_cluster(self, raw: dict[str, Any]) -> Outcome | None:
        """Start the cluster the job's spec describes (a scheduler address is only passed on); its address goes
        to the kernel as ``DASK_SCHEDULER_ADDRESS`` (with a gateway cluster's TLS credentials in dask config), so
        ``distributed.Client()`` in a cell connects to it."""
        from mlops_magics import cluster as cluster_core
        from mlops_magics.api.clusters import ClusterSpec
        from mlops_magics.errors import MLOpsError

        try:
            spec = ClusterSpec.from_dict(raw)
        except MLOpsError as exc:
            return Outcome("failed", f"the job's cluster spec is not valid: {exc.message}")
        if spec.kind == "address":
            address = str(spec.address)
        else:
            began, self.cluster_spec = time.monotonic(), spec
            # Shielded: a cancel while the cluster starts still lets the start end, so that it can be stopped.
            self.cluster_start = asyncio.ensure_future(asyncio.to_thread(cluster_core.build, spec, "the job run"))
            try:
                cluster = await asyncio.shield(self.cluster_start)
            except Exception as exc:
                message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                return Outcome("failed", f"the run's cluster did not start: {message}")
            address = cluster.scheduler_address
            self.folder.log_line(f"cluster {spec.describe()} started in {time.monotonic() - began:.1f} s at {address}")
            # A gateway cluster's TLS credentials go to the kernel's environment only, never to the run's files.
            self.cluster_env = cluster_core.connection_env(cluster, spec)
            return None
        self.cluster_env = {"DASK_SCHEDULER_ADDRESS": address}
        return None

    async def _reach_workspace_gateway(self, raw: dict[str, Any]) -> Outcome | None:
        """The workspace's cluster runs in a gateway: its TLS credentials, asked of the gateway now, go to the
        kernel's environment with its address (never to the run's files)."""
        from mlops_magics import cluster as cluster_core
        from mlops_magics.errors import MLOpsError

        address = self.plan.env.get("DASK_SCHEDULER_ADDRESS", "")
        try:
            self.cluster_env = await asyncio.to_thread(cluster_core.gateway_env, raw, address, "the job run")
        except MLOpsError as exc:
            return Outcome("failed", f"the workspace's gateway cluster cannot be reached: {exc.message}")
        return None

    async def _stop_cluster(self) -> None:
        start, self.cluster_start = self.cluster_start, None
        if start is None:
            return
        try:
            cluster = await asyncio.wait_for(asyncio.shield(start), timeout=CLUSTER_START_WAIT_S)
        except Exception:  # it did not start (its reason is the run's), or not in time: nothing to stop
            return
        try:
            from mlops_magics import cluster as cluster_core

            close = asyncio.to_thread(cluster_core.close, cluster, self.cluster_spec)
            await asyncio.wait_for(close, timeout=CLUSTER_START_WAIT_S)
            self.folder.log_line("cluster stopped")
        except Exception as exc:
            self.folder.log_line(f"the run's cluster did not stop cleanly: {type(exc).__name__}: {exc}")

    async def _stop_kernel(self, graceful: bool) -> None:
        """Stop the kernel: asked (it runs its exit handlers) when it is idle and the run ended by itself; killed
        otherwise. Safe to call again, and on a kernel that died."""
        km, self.km = self.km, None
        if km is not None:
            try:
                if km.has_kernel and graceful:
                    # shutdown_kernel(), less its interrupt of an idle kernel and with a finer wait for the exit
                    # than its 0.1 s polls (~0.1 s off every run's end)
                    await km.request_shutdown()
                    await km.finish_shutdown(pollinterval=0.01)
                    await km.cleanup_resources()
                elif km.has_kernel:
                    await km.shutdown_kernel(now=True)
            except Exception:
                if self.kernel_pid:
                    with contextlib.suppress(OSError):
                        os.killpg(self.kernel_pid, signal.SIGKILL)  # the kernel leads its own session
        kc = self.client.kc if self.client is not None else None
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()
        if self.sockets is not None:
            shutil.rmtree(self.sockets, ignore_errors=True)

    def _cell_timeout(self, cell: NotebookNode) -> int | None:
        """A cell may run for what is left of the run's time (whole seconds: nbclient's unit, at least one)."""
        if self.deadline is None:
            return None
        return max(1, math.ceil(self.deadline - time.monotonic()))

    # --- the notebook -------------------------------------------------------------------------------------
    def _notebook(self, raw: dict[str, Any], kernel: str) -> NotebookNode:
        import nbformat
        from nbformat.reader import get_version

        major, minor = get_version(raw)
        if major not in nbformat.versions:
            raise ValueError(f"nbformat {major} is not supported")
        nb = nbformat.convert(nbformat.versions[major].to_notebook_json(raw, minor=minor), 4)
        if self.plan.parameters:
            from mlops_magics.jobs.parameters import inject

            nb = inject(nb, self.plan.parameters, kernel_name=kernel)
        return nb

    def _raised(self, index: int, number: int, exc: Exception) -> Outcome:
        ename, evalue = str(getattr(exc, "ename", type(exc).__name__)), str(getattr(exc, "evalue", ""))
        tb = None
        assert self.nb is not None
        for output in self.nb.cells[index].get("outputs", []):
            if output.get("output_type") == "error":
                tb = _ANSI.sub("", "\n".join(output.get("traceback", [])))
        first = evalue.strip().splitlines()[0][:300] if evalue.strip() else ""
        reason = f"cell {number} raised {ename}" + (f": {first}" if first else "")
        return Outcome("failed", reason, self._cell_info(index, ename, evalue), tb or str(exc))

    def _cell_info(self, index: int, ename: str | None = None, evalue: str | None = None) -> dict[str, Any]:
        assert self.nb is not None
        return {
            "index": index,
            "source": str(self.nb.cells[index].source)[:SOURCE_KEPT],
            "ename": ename,
            "evalue": evalue[:EVALUE_KEPT] if evalue is not None else None,
        }

    # --- the files ----------------------------------------------------------------------------------------
    def _write_progress(self) -> None:
        self.folder.write_json(
            "progress.json",
            {
                "cells_done": self.cells_done,
                "cells_total": len(self.numbers),
                "current_cell": self.current,
                "started_at": self.started_at,
                "updated_at": _now(),
                "pid": os.getpid(),
                "kernel_pid": self.kernel_pid,
            },
        )

    def _write_output(self) -> None:
        import orjson

        try:
            data = orjson.dumps(self.nb, option=orjson.OPT_INDENT_2)
        except TypeError:  # a value orjson refuses (an integer past 64 bits): the slower encoder takes it
            data = json.dumps(self.nb, indent=1, ensure_ascii=False).encode()
        self.folder.write("output.ipynb", data)

    def _finish(self, outcome: Outcome) -> None:
        duration = round(time.monotonic() - self.started, 3)  # one value: the log line and result.json say the same
        finished_at = _now()
        if self.nb is not None:
            self.nb.metadata["mlops"] = {
                "job": self.plan.job,
                "run_id": self.plan.run_id,
                "parameters": self.plan.parameters,
                "state": outcome.state,
                "reason": outcome.reason,
                "started_at": self.started_at,
                "finished_at": finished_at,
            }
            self._write_output()
        self.current = None
        self._write_progress()
        if outcome.traceback:
            self.folder.log_line(outcome.traceback.rstrip())
        end = f"{finished_at} run {outcome.state} in {duration:.2f} s"
        self.folder.log_line(end + (f": {outcome.reason}" if outcome.reason else ""))
        self.folder.write_json(
            "result.json",
            {
                "state": outcome.state,
                "reason": outcome.reason,
                "failed_cell": outcome.failed_cell,
                "finished_at": finished_at,
                "duration_s": duration,
            },
        )
        self.folder.close()


def _runs(cell: NotebookNode) -> bool:
    """Whether nbclient executes the cell (it skips empty code cells and those tagged skip-execution)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.cell_type == "code" and bool(cell.source.strip()) and SKIP_TAG not in tags


def _client(nb: NotebookNode, km: Any, folder: RunFolder, timeout: Any, kernel: str) -> NotebookClient:
    from nbclient import NotebookClient

    class JobClient(NotebookClient):
        def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
            if msg["msg_type"] == "stream":
                folder.log_text(msg["content"].get("text", ""))
            return super().output(outs, msg, display_id, cell_index)

    return JobClient(nb, km=km, timeout_func=timeout, kernel_name=kernel)


def _lean_imports() -> None:
    """nbformat imports jsonschema, whose format checkers import rfc3987_syntax (it builds a grammar: ~1.1 s) and
    isoduration (arrow); a run's notebook is never checked against an IRI or a duration format. Marked missing,
    they are skipped as jsonschema skips any absent checker."""
    for name in ("rfc3987_syntax", "isoduration"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def _bare_result(folder: Path, state: str, reason: str) -> None:
    """result.json for a run that cannot begin (a bad run.json), when its folder is there to hold it."""
    if folder.is_dir():
        result = {"state": state, "reason": reason, "failed_cell": None, "finished_at": _now(), "duration_s": 0.0}
        with contextlib.suppress(OSError):
            RunFolder(folder).write_json("result.json", result)


async def _standby_run(folder: Path, warm: WarmKernel) -> int:
    """The run a standby was given: the usual run, in the standby's event loop, offered its warm kernel."""
    started = time.monotonic()
    try:
        plan = Plan.read(folder)
    except BadPlan as exc:
        print(f"mlops job runner: {exc}", file=sys.stderr)
        _bare_result(folder, "failed", f"bad run.json: {exc}")
        await warm.stop()
        return EXIT_BAD_PLAN
    run = Run(RunFolder(folder), plan, started)
    run.warm = warm
    return await run.main_in_loop()


def main(argv: list[str] | None = None) -> None:
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _note_signal)
    parser = argparse.ArgumentParser(prog="python -m mlops_magics.jobs.runner", description="Run one job run.")
    parser.add_argument("run_dir", nargs="?", help="the run's folder, holding run.json")
    parser.add_argument(
        "--standby",
        metavar="READY_FILE",
        help="start a kernel, write READY_FILE, then run the one run whose folder comes on stdin (EOF: stop)",
    )
    args = parser.parse_args(argv)
    if args.standby:
        _lean_imports()
        from mlops_magics.jobs.standby import serve

        code = serve(Path(args.standby).absolute(), _standby_run, _early_signals)
        gc.freeze()
        sys.exit(code)
    if not args.run_dir:
        parser.error("a run folder (or --standby READY_FILE) is needed")
    folder = Path(args.run_dir).absolute()
    try:
        plan = Plan.read(folder)
    except BadPlan as exc:
        print(f"mlops job runner: {exc}", file=sys.stderr)
        _bare_result(folder, "failed", f"bad run.json: {exc}")
        sys.exit(EXIT_BAD_PLAN)
    _lean_imports()
    code = Run(RunFolder(folder), plan, started).main()
    # The process ends here: no last collection over every object nbclient and zmq made.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    main()
