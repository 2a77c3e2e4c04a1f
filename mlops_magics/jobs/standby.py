"""A standby runner: a run's process started before its run, its kernel already up, so a run starts at once.

``python -m mlops_magics.jobs.runner --standby READY_FILE`` starts the standby kernel (``python3``) in a folder of
its own, imports what a run needs, writes READY_FILE and waits for one line on stdin: the folder of the run to
carry out. It then is that run's runner (same files, same exit codes): the kernel takes the run's working folder
and environment before the first cell. A run that needs another kernel, or an environment variable that is read
only when an interpreter starts (``PYTHONPATH``, ``OMP_NUM_THREADS``...), gets a fresh kernel instead.

End of stdin (the controller stopped, or no longer needs it), a SIGTERM or its kernel dying end a standby that has
no run: it stops its kernel and removes READY_FILE.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_client.manager import AsyncKernelManager

    from mlops_magics.jobs.runner import Plan

STANDBY_KERNEL = "python3"
EXIT_NO_KERNEL = 3
# Read by an interpreter (or a library it loads at start) only when it starts: a run that sets one needs a fresh kernel.
AT_START_ONLY = re.compile(r"^(PYTHON|LD_|DYLD_|MALLOC|JUPYTER|IPYTHON|OMP_|MKL_|OPENBLAS_|VECLIB_|NUMEXPR_|KMP_)")
ALIVE_POLL_S = 0.5


def settle_code(cwd: str, env: dict[str, str]) -> str:
    """What the warm kernel runs, silently, before the run's first cell (values as Python literals)."""
    return f"import os as _mlops_os\n_mlops_os.chdir({cwd!r})\n_mlops_os.environ.update({env!r})\ndel _mlops_os\n"


@dataclass
class WarmKernel:
    km: AsyncKernelManager
    client: Any  # its connected client (channels started, the kernel answered): the run's nbclient takes it
    sockets: Path
    pid: int | None
    name: str = STANDBY_KERNEL

    @classmethod
    async def start(cls) -> WarmKernel:
        from jupyter_client.manager import AsyncKernelManager

        sockets = Path(tempfile.mkdtemp(prefix="mlops-standby-"))  # IPC sockets, only this user may enter
        km = AsyncKernelManager(kernel_name=STANDBY_KERNEL, transport="ipc", connection_file=str(sockets / "kernel.json"))
        extra = ["--HistoryManager.hist_file=:memory:"] if km.ipykernel else []
        client = None
        try:
            await km.start_kernel(extra_arguments=extra, cwd=str(sockets), env=dict(os.environ))
            client = km.client()
            client.start_channels()
            await client.wait_for_ready(timeout=120)
        except BaseException:
            if client is not None:
                client.stop_channels()
            with contextlib.suppress(Exception):
                await km.shutdown_kernel(now=True)
            shutil.rmtree(sockets, ignore_errors=True)
            raise
        return cls(km, client, sockets, getattr(km.provisioner, "pid", None))

    def misfit(self, kernel: str, plan: Plan) -> str | None:
        """Why this kernel cannot take the run (None: it can)."""
        if kernel != self.name:
            return f"the run needs kernel {kernel!r}"
        late = sorted(name for name in plan.env if AT_START_ONLY.match(name))
        if late:
            return f"the run sets {late[0]}, read when an interpreter starts"
        if self.pid is None or not _alive(self.pid):
            return "it is no longer running"
        return None

    def settings_for(self, kernel: str, plan: Plan, cwd: Path) -> dict[str, Any] | None:
        """The folder and environment the kernel takes for the run, or None when it cannot take it."""
        if self.misfit(kernel, plan) is not None:
            return None
        return {"cwd": str(cwd), "env": {**plan.env, "MLOPS_JOB": plan.job, "MLOPS_RUN_ID": plan.run_id}}

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        with contextlib.suppress(Exception):
            if self.km.has_kernel:
                await self.km.shutdown_kernel(now=True)
        shutil.rmtree(self.sockets, ignore_errors=True)


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


RunStarter = Callable[[Path, WarmKernel], Awaitable[int]]


def serve(ready_file: Path, run: RunStarter, early_signals: list[int]) -> int:
    """The standby's life: the exit code of the run it carries out, 0 when it had none."""
    return asyncio.run(_serve(ready_file, run, early_signals))


async def _serve(ready_file: Path, run: RunStarter, early_signals: list[int]) -> int:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    if early_signals:
        return 0
    try:
        warm = await WarmKernel.start()
    except Exception as exc:
        print(f"mlops job standby: the kernel {STANDBY_KERNEL!r} did not start: {exc}", file=sys.stderr)
        return EXIT_NO_KERNEL
    try:
        _rehearse()

        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        ready_file.write_text(str(os.getpid()))
        folder = await _assignment(reader, stopping, warm)
    except BaseException:
        await warm.stop()
        raise
    finally:
        ready_file.unlink(missing_ok=True)
    if folder is None:
        await warm.stop()
        return 0
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(signum)  # the run installs its own: a cancel from now on is the run's
    _stderr_to(folder / "runner.err")
    return await run(folder, warm)


def _rehearse() -> None:
    """What a run imports and builds once per process (nbclient, nbformat's schemas, papermill's parameter
    translation: about a second), done now on a notebook of one parameter."""
    import nbclient  # noqa: F401
    import nbformat
    import orjson

    from mlops_magics.jobs import parameters

    cell = nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})
    notebook = nbformat.v4.new_notebook(cells=[cell])
    orjson.dumps(parameters.inject(notebook, {"x": 2}, kernel_name=STANDBY_KERNEL), option=orjson.OPT_INDENT_2)


async def _assignment(reader: asyncio.StreamReader, stopping: asyncio.Event, warm: WarmKernel) -> Path | None:
    """The run folder the controller sends, or None for end of input, a stop or a kernel that died."""

    async def kernel_dies() -> None:
        while await warm.km.is_alive():
            await asyncio.sleep(ALIVE_POLL_S)

    line = asyncio.ensure_future(reader.readline())
    others = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(kernel_dies())]
    try:
        await asyncio.wait([line, *others], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (line, *others):
            task.cancel()
    if not line.done() or line.cancelled() or stopping.is_set():
        return None
    text = line.result().decode(errors="replace").strip()
    return Path(text) if text and Path(text).is_absolute() else None


def _stderr_to(path: Path) -> None:
    """From here on the process's stderr is the run's ``runner.err`` (what it was before was the standbys' log)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 2)
        os.close(fd)
