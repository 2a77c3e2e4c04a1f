"""The deployment process: holds the port, loads the model once, and forks the workers that serve it.

Why a process of its own around the workers:
- a worker killed (even by ``kill -9``) is replaced by a fork of the loaded model in milliseconds;
- a new model version is loaded and checked on its own input example *before* it takes traffic, then new
  workers start on the same listening socket and the old ones drain: the socket never closes, so no
  connection is refused during a swap (``SIGUSR1`` after writing the wanted model to the control file);
- its state (pid, workers, model, version, restarts, last error) is a JSON file the controller reads.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlops_magics.serving.connections import BODY_TIMEOUT_S, HEADER_TIMEOUT_S, MAX_CONNECTIONS

log = logging.getLogger("mlops.serving.server")
READY_TIMEOUT_S = 60


@dataclass
class Options:
    name: str
    model: str
    host: str
    port: int
    workers: int
    token_digest: Path | None  # the file of the bearer token's SHA-256, when requests need one
    log_rate: float
    requests_dir: Path
    state_file: Path
    control_file: Path
    max_body: int
    header_timeout: float = HEADER_TIMEOUT_S  # seconds a request may take to send its headers
    max_connections: int = MAX_CONNECTIONS  # per worker; one more is answered 503 and closed
    body_timeout: float = BODY_TIMEOUT_S  # seconds a request body may pause


@dataclass
class State:
    pid: int
    port: int
    host: str
    model: str  # as asked for: penguins@challenger, penguins/2, runs:/...
    model_uri: str = ""
    version: str | None = None
    pinned_uri: str = ""  # the exact model served: models:/penguins/1 while penguins@challenger meant version 1
    # What served before the last swap: as it was asked for (shown), and exactly (what a rollback returns to,
    # wherever its alias has moved since).
    previous_model: str | None = None
    previous_uri: str | None = None
    previous_version: str | None = None
    workers: list[int] = field(default_factory=list)
    restarts: int = 0
    swaps: int = 0
    status: str = "starting"
    error: str | None = None


def _write(path: Path, state: State) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state)))
    tmp.replace(path)


DRAIN_TIMEOUT_S = 15
_draining = {"on": False}


def _closing_when_draining(app: Any) -> Any:
    """While a worker drains, each response says ``Connection: close``: a keep-alive client opens its next
    connection (to a new worker) instead of racing a close on this one."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_closing(message: dict[str, Any]) -> None:
            if _draining["on"] and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await app(scope, receive, send_closing)

    return wrapped


def _drain_server_class() -> type:
    import asyncio

    import uvicorn

    class Draining(uvicorn.Server):
        """SIGTERM drains instead of dropping: stop accepting, answer what comes on open connections with
        ``Connection: close``, exit when none is left (or after ``DRAIN_TIMEOUT_S``)."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            if _draining["on"]:
                self.should_exit = True
                return
            _draining["on"] = True
            loop = asyncio.get_event_loop()
            loop.call_soon_threadsafe(lambda: loop.create_task(self._drain()))

        async def _drain(self) -> None:
            for listener in getattr(self, "servers", []):
                listener.close()  # this worker's copy of the socket; the deployment's stays open
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
            while self.server_state.connections and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            self.should_exit = True

    return Draining


def _worker(sock: socket.socket, served: Any, options: Options, ready: int, metrics: Any, slot: int) -> None:
    """A forked worker: one uvicorn server on the shared socket; says so on ``ready`` once it accepts."""
    import uvicorn

    from mlops_magics.serving.app import build_app
    from mlops_magics.serving.connections import guarded_protocol
    from mlops_magics.serving.requestlog import RequestLog
    from mlops_magics.serving.tokens import DigestFile

    draining_server = _drain_server_class()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    _die_with_parent()
    names = [column.name for column in served.columns] if served.columns else None
    request_log = RequestLog(options.requests_dir, options.log_rate, served.uri, served.version, names)
    metrics.use(slot)
    token = DigestFile(options.token_digest) if options.token_digest else None
    app = build_app(served, token, request_log, options.max_body, metrics, options.body_timeout)
    config = uvicorn.Config(
        _closing_when_draining(app),
        http=guarded_protocol(options.header_timeout, _connection_cap(options.max_connections)),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=15,
    )
    server = draining_server(config)

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.01)
        os.write(ready, b"1")
        os.close(ready)

    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])


def _connection_cap(wanted: int) -> int:
    """The connections a worker may hold: as asked, but always below its file descriptor limit (a worker out of
    descriptors cannot even accept the connection it would refuse)."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return wanted if soft == resource.RLIM_INFINITY else max(1, min(wanted, soft - 64))


def _die_with_parent() -> None:
    """If the deployment process is killed (even by kill -9), its workers go too and free the port."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the controller's restart cleans up the process group instead
        pass


class _Slots:
    """Which metrics slot each worker counts into: a replacement takes its predecessor's (its counters go on
    from there); new workers at a swap take free ones while the old ones drain."""

    def __init__(self, workers: int) -> None:
        from mlops_magics.serving.metrics import SharedMetrics

        self.metrics = SharedMetrics(4 * workers)
        self.of: dict[int, int] = {}

    def free(self) -> int:
        taken = set(self.of.values())
        return next((slot for slot in range(self.metrics.slots) if slot not in taken), 0)


def _freeze_heap(swap: bool = False) -> None:
    """Everything loaded so far (modules, the model) leaves the garbage collector's view before the workers
    fork: a full collection in a worker then walks only what requests allocate, not a million long-lived
    objects (a 100-200 ms pause, seen as p99 spikes), and the forked workers keep sharing those pages."""
    import gc

    if swap:
        gc.unfreeze()  # the old model's objects can be collected now (the parent serves no request meanwhile)
    gc.collect()
    gc.freeze()


def _fork(sock: socket.socket, served: Any, options: Options, slots: _Slots, slot: int | None = None) -> int:
    slot = slots.free() if slot is None else slot
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        os.close(read)
        code = 0
        try:
            _worker(sock, served, options, write, slots.metrics, slot)
        except BaseException:
            log.exception("worker failed")
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    ready, _, _ = select.select([read], [], [], READY_TIMEOUT_S)
    answered = bool(ready) and os.read(read, 1) == b"1"
    os.close(read)
    if not answered:
        os.kill(pid, signal.SIGKILL)
        raise RuntimeError(f"a worker did not start within {READY_TIMEOUT_S} s")
    slots.of[pid] = slot
    return pid


def run(options: Options) -> int:
    from mlops_magics import tracking
    from mlops_magics.serving.model import check_answers, load
    from mlops_magics.serving.requestlog import SpoolConverter
    from mlops_magics.workspace import Workspace

    tracking.mlflow_for(Workspace.current())  # models:/ names resolve in the workspace's registry
    wanted = {"stop": False, "swap": False}
    signal.signal(signal.SIGTERM, lambda *_: wanted.__setitem__("stop", True))
    signal.signal(signal.SIGINT, lambda *_: wanted.__setitem__("stop", True))
    signal.signal(signal.SIGUSR1, lambda *_: wanted.__setitem__("swap", True))
    state = State(pid=os.getpid(), port=options.port, host=options.host, model=options.model)
    try:
        served, example = load(options.model, options.name)
        check_answers(served, example)
    except Exception as exc:
        state.status, state.error = "failed", getattr(exc, "message", str(exc))
        _write(options.state_file, state)
        return 3
    # IPPROTO_TCP explicitly: asyncio turns TCP_NODELAY on only for sockets that say so. Without it, Nagle and
    # the client's delayed ACK hold each response body back ~40 ms.
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((options.host, options.port))
    except OSError as exc:
        state.status, state.error = "failed", f"cannot listen on {options.host}:{options.port}: {exc.strerror}"
        _write(options.state_file, state)
        return 4
    sock.listen(2048)
    sock.set_inheritable(True)
    state.model_uri, state.version, state.pinned_uri = served.uri, served.version, served.pinned or served.uri
    converter = SpoolConverter(options.requests_dir)
    converter.convert()  # what a killed predecessor's workers spooled
    slots = _Slots(options.workers)
    _freeze_heap()
    state.workers = [_fork(sock, served, options, slots) for _ in range(options.workers)]
    state.status = "healthy"
    _write(options.state_file, state)
    draining: list[int] = []
    while not wanted["stop"]:
        changed = False
        while True:  # reap exited workers; replace the current ones at once
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            slot = slots.of.pop(pid, None)
            if pid in state.workers and not wanted["stop"]:
                state.workers[state.workers.index(pid)] = _fork(sock, served, options, slots, slot)
                state.restarts += 1
                changed = True
            elif pid in draining:
                draining.remove(pid)
        if wanted["swap"]:
            wanted["swap"] = False
            served, drained = _swap(options, state, served, sock, slots)
            draining.extend(drained)
            changed = True
        if changed:
            _write(options.state_file, state)
        converter.due()
        time.sleep(0.02)
    for pid in state.workers + draining:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + DRAIN_TIMEOUT_S + 2  # they drain for at most DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.05)
        except ChildProcessError:
            break
    for pid in state.workers + draining:  # one that would not drain: its last second of log is lost, not all
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    converter.convert()  # the workers flushed their spool files as they exited (well within the controller's grace)
    state.status, state.workers = "stopped", []
    _write(options.state_file, state)
    sock.close()
    return 0


def _swap(options: Options, state: State, served: Any, sock: socket.socket, slots: _Slots) -> tuple[Any, list[int]]:
    """Load and check the wanted model; start its workers on the socket; drain the old ones."""
    from mlops_magics.serving.model import check_answers, load

    try:
        target = json.loads(options.control_file.read_text())["model"]
        fresh, example = load(target, options.name)
        check_answers(fresh, example)
        _freeze_heap(swap=True)
        workers = [_fork(sock, fresh, options, slots) for _ in range(options.workers)]
    except Exception as exc:
        state.error = f"swap failed, still serving {state.model}: {getattr(exc, 'message', exc)}"
        return served, []
    old = state.workers
    state.previous_model, state.previous_uri, state.previous_version = state.model, state.pinned_uri, state.version
    state.model, state.model_uri, state.version = target, fresh.uri, fresh.version
    state.pinned_uri, state.workers = fresh.pinned or fresh.uri, workers
    state.swaps += 1
    state.error = None
    for pid in old:  # uvicorn drains: in-flight requests finish; the shared socket stays open
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    return fresh, old


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mlops_magics.serving")
    parser.add_argument("--name", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-rate", type=float, default=1.0)
    parser.add_argument("--requests-dir", type=Path, required=True)
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--control-file", type=Path, required=True)
    parser.add_argument("--max-body", type=int, default=10 * 2**20)
    parser.add_argument("--header-timeout", type=float, default=HEADER_TIMEOUT_S, help="seconds to send the request headers")
    parser.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS, help="connections one worker holds at most")
    parser.add_argument("--body-timeout", type=float, default=BODY_TIMEOUT_S, help="seconds a request body may pause")
    # The digest, not the token: a path on argv reveals nothing, and a rotation rewrites the file in place.
    parser.add_argument("--token-digest", type=Path, help="file holding the SHA-256 of the bearer token requests need")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = Options(
        name=args.name,
        model=args.model,
        host=args.host,
        port=args.port,
        workers=args.workers,
        token_digest=args.token_digest,
        log_rate=args.log_rate,
        requests_dir=args.requests_dir,
        state_file=args.state_file,
        control_file=args.control_file,
        max_body=args.max_body,
        header_timeout=args.header_timeout,
        max_connections=args.max_connections,
        body_timeout=args.body_timeout,
    )
    sys.exit(run(options))
