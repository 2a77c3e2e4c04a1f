"""``python -m mlops_magics.serving.template --home DIR``: a warm, pre-imported parent for model deployments.

Why: a fresh deployment process spends ~2.5 s importing numpy, pandas, scikit-learn, mlflow, skops, starlette
and uvicorn before it loads its model. This process imports them once, then forks each deployment process the
controller asks for (like multiprocessing's forkserver, or gunicorn's ``--preload``): the child starts with
every module already in memory and only loads its model.

The protocol, one JSON object a line, with the controller only (its pipe; nothing else is read):

- on stdout, once the imports are done: ``{"ready": true, "pid": N, "seconds": S, "missing": [...]}``;
- on stdin, one per deployment process: ``{"argv": [python, "-m", "mlops_magics.serving", ...],
  "env": {...}, "log": "/path/server.log", "cwd": "..."}``; the answer on stdout: ``{"pid": N}`` or
  ``{"error": "..."}``.

The child is what ``subprocess.Popen(argv, env=env, cwd=cwd, start_new_session=True)`` with stdout and stderr
appended to ``log`` would have started: a session of its own (so it outlives the controller and this process),
default signal dispositions, stdin from /dev/null, exactly ``env`` as its environment. This process creates no
tracking store, client, engine or thread of its own before it forks. It exits when its stdin closes (the
controller stopped or died); the deployments it started keep running. ``--home`` only names the workspace,
so that ``ps`` (and the tests' cleanup) can tell whose template this is.
"""

from __future__ import annotations

import os

from mlops_magics.serving import environment

environment.apply()  # as in ``python -m mlops_magics.serving``, and before numpy loads

import atexit  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from typing import Any, BinaryIO, NoReturn  # noqa: E402

# What a model deployment imports, heaviest first. Each is optional: one that is missing is imported (or not)
# by the deployment itself, as it would be in a fresh process.
PRELOAD = (
    "numpy",
    "pandas",
    "sklearn",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.pipeline",
    "mlflow.pyfunc",
    "mlflow.sklearn",
    "mlflow.tracking",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "sqlalchemy",
    "alembic",
    "skops.io",
    "starlette",
    "uvicorn",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.loops.uvloop",
    "prometheus_client",
    "orjson",
    "pyarrow",
    "pyarrow.parquet",
    "mlops_magics.tracking",
    "mlops_magics.serving.server",
    "mlops_magics.serving.app",
    "mlops_magics.serving.model",
    "mlops_magics.serving.inputs",
    "mlops_magics.serving.requestlog",
    "mlops_magics.serving.batching",
)
SERVING_MODULE = "mlops_magics.serving"
_STARTED_IN = os.getcwd()  # ``-m`` put it first on sys.path; a child moved elsewhere gets its own folder there


def preload(modules: tuple[str, ...] = PRELOAD) -> list[str]:
    """Import what deployments use; the names that could not be imported (none stops the template)."""
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:  # an optional dependency, or a broken one: the deployment will say so itself
            missing.append(module)
    try:
        # MLflow checks a model's requirements against the installed packages when it loads one, from a map of
        # every installed distribution's files that it builds once per process: ~1.2 s of each deployment's start.
        # Built here, every fork inherits it (a package installed later is still checked: by its own name).
        from mlflow.utils import requirements_utils

        requirements_utils._init_packages_to_modules_map()
    except Exception:  # a private MLflow function: if it moved, each deployment builds its own map, as before
        missing.append("mlflow.utils.requirements_utils._init_packages_to_modules_map")
    return missing


def _check(request: dict[str, Any]) -> tuple[list[str], dict[str, str], str, str]:
    """The request's parts, checked: this process starts the serving module and nothing else."""
    argv, env, log, cwd = request.get("argv"), request.get("env"), request.get("log"), request.get("cwd")
    if not (isinstance(argv, list) and len(argv) >= 3 and all(isinstance(a, str) for a in argv)):
        raise ValueError("argv must be a list of strings")
    if argv[1:3] != ["-m", SERVING_MODULE]:
        raise ValueError(f"the template starts only `python -m {SERVING_MODULE}`")
    if not (isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
        raise ValueError("env must map strings to strings")
    if not (isinstance(log, str) and isinstance(cwd, str)):
        raise ValueError("log and cwd must be paths")
    return argv, env, log, cwd


def _become_deployment(argv: list[str], env: dict[str, str], log: str, cwd: str, keep_out: tuple[int, ...]) -> NoReturn:
    """In the forked child: turn into the process Popen would have started, then run the deployment."""
    code = 1
    try:
        os.setsid()  # its own session and process group: outlives us; the controller's killpg reaches its workers
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGUSR1):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in any fresh interpreter
        for fd in keep_out:  # the controller's pipe is ours alone; its EOF must not wait for a deployment
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.chdir(cwd)
        if sys.path and sys.path[0] == _STARTED_IN:
            sys.path[0] = os.getcwd()
        os.environ.clear()
        os.environ.update(env)
        environment.apply()  # what serving's __main__ sets in a fresh process
        sys.argv = [os.path.join(os.path.dirname(__file__), "__main__.py"), *argv[3:]]
        if "numpy" in sys.modules:  # numpy's global generator does not reseed itself after a fork
            sys.modules["numpy"].random.seed()
        from mlops_magics.serving.server import main

        try:
            main()
            code = 0
        except SystemExit as exc:  # what the interpreter would make of it
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            atexit._run_exitfuncs()  # what a normal interpreter exit runs (handlers flush, etc.)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # exiting either way
                stream.flush()
        os._exit(code)


def _spawn(request: dict[str, Any], keep_out: tuple[int, ...]) -> int:
    argv, env, log, cwd = _check(request)
    for stream in (sys.stdout, sys.stderr):  # nothing buffered here may be written twice by the child
        stream.flush()
    with warnings.catch_warnings():
        # Python 3.12+ warns on fork in a process with threads: pyarrow's jemalloc keeps a background thread,
        # which jemalloc itself makes fork-safe (the deployment process forks its workers with it too).
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        _become_deployment(argv, env, log, cwd, keep_out)
    return pid


def serve(inbox: BinaryIO, outbox: int) -> int:
    """Answer the controller's requests until its pipe closes."""
    for line in inbox:
        if not line.strip():
            continue
        try:
            reply: dict[str, Any] = {"pid": _spawn(json.loads(line), (inbox.fileno(), outbox))}
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(outbox, (json.dumps(reply) + "\n").encode())
    return 0


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mlops_magics.serving.template")
    parser.add_argument("--home", help="the workspace this template serves (a label for ps; nothing is read there)")
    parser.parse_args()
    # The protocol moves off fds 0 and 1: whatever a library prints goes to stderr, never into the answers.
    inbox = os.fdopen(os.dup(0), "rb")
    outbox = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    # Deployments we fork are reaped by the kernel: no zombies, no waiting. A Ctrl-C meant for the controller's
    # terminal is not for us: we stop when the controller's pipe closes.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    began = time.perf_counter()
    missing = preload()
    gc.collect()
    gc.freeze()  # the forked deployments' collector never walks (or copies) the preloaded modules
    ready = {"ready": True, "pid": os.getpid(), "seconds": round(time.perf_counter() - began, 3), "missing": missing}
    try:
        os.write(outbox, (json.dumps(ready) + "\n").encode())
        code = serve(inbox, outbox)
    except BrokenPipeError:  # the controller went away
        code = 0
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)  # at once: tearing down all those modules takes time and serves no one


if __name__ == "__main__":
    main()
