"""The magics in real IPython kernels: one cluster served to two kernels, surviving a kernel restart."""

from __future__ import annotations

import re

import pytest

SCHEDULER = re.compile(r"running at (tcp://127\.0\.0\.1:\d+)")


def test_cluster_shared_by_two_kernels_and_survives_restart(kernel_factory) -> None:
    first, second = kernel_factory(), kernel_factory()
    started = first.run("%load_ext mlops_magics\nclient = %cluster start --workers 2\nclient.submit(lambda: 21 * 2).result()")
    assert started.status == "ok", started.text
    assert "starting LocalCluster, 2 worker(s)" in started.stdout
    address = SCHEDULER.search(started.stdout).group(1)
    assert "42" in started.text

    joined = second.run("%load_ext mlops_magics\nc = %cluster\nprint(c.scheduler.address, len(c.scheduler_info()['workers']))")
    assert joined.status == "ok", joined.text
    assert f"{address} 2" in joined.stdout
    # dask computations in the second kernel run on the shared cluster (its Client is the default).
    computed = second.run(
        "import dask.array as da\nfrom distributed import default_client\n"
        "print(default_client().scheduler.address, int(da.ones(1000, chunks=100).sum().compute()))"
    )
    assert f"{address} 1000" in computed.stdout, computed.text

    first.restart()
    after = first.run("%load_ext mlops_magics\n%cluster status")
    assert after.status == "ok", after.text
    assert f"cluster 'default' running at {address}" in after.text
    html = next(r["text/html"] for r in after.results if "text/html" in r)
    assert "<a href='http://127.0.0.1:" in html

    scaled = second.run("%cluster scale 1")
    assert "scaling to 1 worker(s) ...\n" in scaled.stdout, scaled.text  # said while it waits, as start is
    assert "1 worker(s)" in scaled.stdout, scaled.text
    stopped = first.run("%cluster stop")
    assert "cluster 'default' is stopped" in stopped.stdout, stopped.text
    assert "no cluster is running" in second.run("%cluster").stdout


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%cluster start --workers 0", "UsageError: workers must be a whole number >= 1 (got 0)"),
        ("%cluster start --address not-an-address", "UsageError: scheduler address 'not-an-address' is not accepted"),
        ("%cluster start --factory nowhere.Cluster", "UsageError: unknown factory 'nowhere.Cluster'"),
        ("%cluster scale 2", "UsageError: no cluster named 'default'"),
        ("%cluster launch", "UsageError: %cluster: argument {start,status,scale,stop}: invalid choice: 'launch'"),
        ("%job create nightly --notebook a.ipynb --cluster big", "UsageError: --cluster 'big' is not accepted"),
        ("%job create nightly --notebook a.ipynb --cluster local:0", "UsageError: --cluster local:N must be a whole"),
    ],
)
def test_bad_input_is_one_line_not_a_traceback(kernel_factory, line: str, message: str) -> None:
    kernel = kernel_factory()
    run = kernel.run(f"%load_ext mlops_magics\n{line}")
    assert run.status == "error"
    assert run.stderr.strip() == message or run.stderr.startswith(message), run.text
    assert len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.text


def test_monitor_refuses_bad_input_in_one_line(kernel_factory) -> None:
    kernel = kernel_factory()
    kernel.run("%load_ext mlops_magics")
    for line, words in (
        ("%monitor dep --every 5s", "--every '5s' is not accepted: checks run every 10s to every 7d"),
        ("%monitor dep --on-drift retrain=job", "--on-drift belong(s) to a standing monitor: add --every 10m"),
        ("%monitor delete", "delete needs the monitor's name"),
        ("%monitor dep --every 10m", "no deployment named 'dep'"),
        ("%monitor dep --window 1w", "--window takes a duration (90s, 30m, 1h, 2d) or a number of rows"),
        ("%monitor dep --threshold nope=1", "--threshold: no threshold named 'nope'"),
        ("%monitor dep --min rmse=3", "--min rmse: rmse is better smaller, so its limit is a maximum: --max rmse=3"),
        ("%monitor dep --max accuracy", "--max takes KEY=VALUE (got 'accuracy')"),
        ("%monitor dep --every 10m --min accuracy=high", "--min accuracy: 'high' is not a number"),
        ("%monitor dep", "no deployment named 'dep'"),
    ):
        run = kernel.run(line)
        assert run.status == "error" and words in run.stderr, run.text
        assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.text


def test_every_magic_has_help(kernel_factory) -> None:
    kernel = kernel_factory()
    kernel.run("%load_ext mlops_magics")
    cluster_help = kernel.run("print(get_ipython().find_line_magic('cluster').__doc__)").stdout
    for flag in ("--workers", "--threads", "--memory", "--address", "--factory", "--from-config", "scale", "stop"):
        assert flag in cluster_help
    eda_help = kernel.run("print(get_ipython().find_line_magic('eda').__doc__)").stdout
    for flag in ("--full", "--sample", "--compare", "--target", "--log", "--title"):
        assert flag in eda_help
    job_help = kernel.run("print(get_ipython().find_line_magic('job').__doc__)").stdout
    for flag in ("--cron", "--on-data", "--param", "--retries", "--concurrency", "--wait", "token"):
        assert flag in job_help
    monitor_help = kernel.run("print(get_ipython().find_line_magic('monitor').__doc__)").stdout
    for flag in (
        "--window",
        "--threshold",
        "--features",
        "--min",
        "--max",
        "%%train",
        "--every",
        "--on-drift",
        "--cooldown",
        "alerts",
    ):
        assert flag in monitor_help
    assert "--help" in kernel.run("%cluster start --help").stdout
