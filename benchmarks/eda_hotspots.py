"""Where ours spends time and memory (companion to ``eda.py``; changes nothing in ``mlops_magics``).

Usage::

    .venv/bin/python benchmarks/eda_hotspots.py --case 1m-mem      # profile(df) of the 1M x 20 frame + render
    .venv/bin/python benchmarks/eda_hotspots.py --case 1m-parquet  # profile(path) of the 1M x 20 Parquet + render
    .venv/bin/python benchmarks/eda_hotspots.py --case 10m-parquet # profile(glob) of the 10M x 20 Parquet + render
    .venv/bin/python benchmarks/eda_hotspots.py --case 10m-parquet --no-cprofile --what-if-copy-distinct
    .venv/bin/python benchmarks/eda_hotspots.py --case partition   # one 1M-row partition, step by step

Each case runs in its own fresh process (``eda.py`` must have written the data first). Instrumentation is
patched in at run time only:

- phases: ``engine.build`` is wrapped, so the pass (partitions on the thread pool), ``build`` (merge,
  correlations, alerts) and ``render`` are timed and their peak RSS (``VmHWM``, reset per phase) is read;
- time: a cProfile per task on the engine's thread pool (``engine.ThreadPoolExecutor`` is swapped for a
  subclass) plus one on the main thread, merged; seconds are summed over the two worker threads, and
  cProfile's overhead inflates code that makes many small calls;
- memory: the bytes each ``PartitionStats`` keeps alive until ``build`` (arrays counted with their ``.base``,
  since a view keeps its whole base), and for one partition the tracemalloc peak of each step (numpy and
  pandas buffers; Arrow's own pool is not seen by tracemalloc, so the Parquet read is measured by RSS).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
import tracemalloc
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eda import MiB, _rss_now, _status, _trim, in_memory, parquet_target

warnings.filterwarnings("ignore")

from mlops_magics.eda import engine, partition  # noqa: E402
from mlops_magics.eda.report import render  # noqa: E402

PROFILES = []


class ProfiledPool(ThreadPoolExecutor):
    def submit(self, fn, /, *args, **kwargs):
        def run():
            prof = cProfile.Profile()
            try:
                return prof.runcall(fn, *args, **kwargs)
            finally:
                PROFILES.append(prof)

        return super().submit(run)


def _reset_hwm():
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _array_bytes(array, seen):
    total = 0
    while isinstance(array, np.ndarray):
        if id(array) not in seen:
            seen.add(id(array))
            total += array.nbytes if array.base is None else 0
        array = array.base
    return total


def retained(part):
    """Bytes one PartitionStats keeps alive, by what holds them."""
    seen = set()
    held = {"row_hashes": _array_bytes(part.row_hashes, seen), "distinct": 0, "summary": 0, "pearson": 0}
    for stats in part.columns.values():
        if stats.distinct is not None:
            held["distinct"] += _array_bytes(stats.distinct.hashes, seen)
        held["summary"] += _array_bytes(stats.summary.values, seen) + _array_bytes(stats.summary.weights, seen)
    if part.pearson is not None:
        for name in ("n", "mean_x", "mean_y", "cxy", "cxx", "cyy"):
            held["pearson"] += _array_bytes(getattr(part.pearson, name), seen)
    # shallow: the sample's strings are shared with the frame (a deep count would count each reference)
    held["sample"] = int(part.sample.memory_usage(deep=False, index=True).sum())
    return held


def phases(data, rows, profiled):
    """profile + render with phase timings and phase peak RSS; with ``profiled``, also a merged cProfile."""
    engine.ThreadPoolExecutor = ProfiledPool if profiled else ThreadPoolExecutor
    original_build = engine.build
    main = cProfile.Profile()
    marks = {}

    def build(parts, kinds, **kwargs):
        marks["pass_end"] = time.perf_counter()
        marks["pass_peak"] = _status("VmHWM")
        marks["rss_after_pass"] = _rss_now()
        if profiled:
            main.disable()
        marks["retained"] = [retained(p) for p in parts]
        if profiled:
            main.enable()
        _reset_hwm()
        marks["build_start"] = time.perf_counter()
        return original_build(parts, kinds, **kwargs)

    engine.build = build
    _trim()
    baseline = _rss_now()
    _reset_hwm()
    started = time.perf_counter()
    if profiled:
        main.enable()
    result = engine.profile(data, progress=False)
    built = time.perf_counter()
    build_peak = _status("VmHWM")
    _reset_hwm()
    html = render(result)
    done = time.perf_counter()
    main.disable()
    render_peak = _status("VmHWM")
    engine.build = original_build
    assert result.rows == rows and result.data["correlations"]["pearson"] is not None and result.alerts
    assert len(html) > 10_000
    if not profiled:
        print(f"baseline RSS before profile(): {baseline / MiB:.0f} MiB (input frame and libraries)")
        print(f"total {done - started:.2f} s ({result.data['engine']['partitions']} partitions), no profiler")
        print("| phase | seconds | peak RSS MiB | peak above baseline MiB |")
        print("|---|---:|---:|---:|")
        for name, seconds, peak in (
            ("pass (partitions on 2 threads)", marks["pass_end"] - started, marks["pass_peak"]),
            ("build (merge, correlations, alerts)", built - marks["build_start"], build_peak),
            ("render (HTML)", done - built, render_peak),
        ):
            print(f"| {name} | {seconds:.2f} | {peak / MiB:.0f} | {(peak - baseline) / MiB:.0f} |")
        held = marks["retained"]
        totals = {k: sum(h[k] for h in held) for k in held[0]}
        print(
            f"\nkept alive by the {len(held)} PartitionStats until build: {sum(totals.values()) / MiB:.0f} MiB: "
            + ", ".join(f"{k} {v / MiB:.1f}" for k, v in totals.items())
            + f" (RSS after the pass {marks['rss_after_pass'] / MiB:.0f} MiB)"
        )
        return
    stats = pstats.Stats(main)
    for prof in PROFILES:
        stats.add(prof)
    print(f"\nunder cProfile: {done - started:.2f} s in all (pass {marks['pass_end'] - started:.2f} s)")
    for key, title in (("tottime", "self time"), ("cumulative", "cumulative time")):
        out = io.StringIO()
        stats.stream = out
        stats.sort_stats(key).print_stats(25)
        text = out.getvalue()
        print(f"\ncProfile, main thread + {len(PROFILES)} pool tasks merged, top by {title}:")
        print(text[text.index("   ncalls") :].rstrip())
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("tottime").print_callers(r"method 'astype'|method 'sort'|column_stack|_take_nd_ndarray")
    text = out.getvalue()
    print("\nwho calls the hot leaves (seconds spent in the leaf per caller):")
    print(text[text.index("Function") :].rstrip())


def one_partition(seed):
    """One 1M-row partition, as the 10M run sees it: the Parquet read (RSS) and each step (tracemalloc)."""
    import dask.dataframe as dd

    from mlops_magics.eda.columns import plan

    path = str(parquet_target("10m", seed).parent / "part-00.parquet")
    _trim()
    before = _rss_now()
    _reset_hwm()
    started = time.perf_counter()
    frame = dd.read_parquet(path).partitions[0].compute(scheduler="sync")
    read_s = time.perf_counter() - started
    read_peak = _status("VmHWM")
    after = _rss_now()
    print(
        f"read one 1M-row Parquet partition: {read_s:.2f} s; RSS {before / MiB:.0f} -> peak {read_peak / MiB:.0f}"
        f" -> {after / MiB:.0f} MiB after; the frame itself is {frame.memory_usage(deep=True).sum() / MiB:.0f} MiB"
    )
    steps = {}

    def wrap(owner, name):
        inner = getattr(owner, name)

        def wrapped(*args, **kwargs):
            start_size, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            t0 = time.perf_counter()
            out = inner(*args, **kwargs)
            seconds = time.perf_counter() - t0
            size, peak = tracemalloc.get_traced_memory()
            label = name if not args or not hasattr(args[0], "name") else f"{name}({args[0].name})"
            steps[label] = (seconds, (peak - start_size) / MiB, (size - start_size) / MiB)
            return out

        setattr(owner, name, wrapped)
        return inner

    kinds = plan(frame.dtypes)
    originals = {n: wrap(partition, n) for n in ("_numeric", "_levels", "_memory", "_as_float")}
    of = partition.PairwiseMoments.of
    partition.PairwiseMoments.of = staticmethod(lambda names, matrix: timed_of(names, matrix))

    def timed_of(names, matrix):
        start_size, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        t0 = time.perf_counter()
        out = of(names, matrix)
        size, peak = tracemalloc.get_traced_memory()
        steps["PairwiseMoments.of (15 numeric columns)"] = (
            time.perf_counter() - t0,
            (peak - start_size) / MiB,
            (size - start_size) / MiB,
        )
        return out

    tracemalloc.start()
    t0 = time.perf_counter()
    part = partition.partition_stats(frame, kinds, 15_001, 0)
    total_s = time.perf_counter() - t0
    tracemalloc.stop()
    partition.PairwiseMoments.of = of
    for name, fn in originals.items():
        setattr(partition, name, fn)
    print(f"partition_stats on it: {total_s:.2f} s under tracemalloc (which slows allocation-heavy code)")
    print("| step | seconds | tracemalloc peak MiB (above start) | still held after MiB |")
    print("|---|---:|---:|---:|")
    for label, (seconds, peak, held) in steps.items():
        print(f"| {label} | {seconds:.3f} | {peak:.1f} | {held:.1f} |")
    held = retained(part)
    print(
        "kept alive by this PartitionStats: "
        + ", ".join(f"{k} {v / MiB:.1f} MiB" for k, v in held.items())
        + f"; distinct-sketch hashes actually kept: "
        f"{sum(s.distinct.hashes.nbytes for s in part.columns.values() if s.distinct is not None) / MiB:.2f} MiB"
    )


def copy_distinct_sketches():
    """What-if (this process only): distinct sketches keep a copy of their K hashes, not a view of all hashes."""
    from mlops_magics.eda.sketches import DISTINCT_K, DistinctSketch

    original = DistinctSketch.of_hashes.__func__

    def of_hashes(cls, hashes, k=DISTINCT_K):
        sketch = original(cls, hashes, k)
        return cls(sketch.hashes.copy(), sketch.saturated)

    DistinctSketch.of_hashes = classmethod(of_hashes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("1m-mem", "1m-parquet", "10m-parquet", "partition"), required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cprofile", action="store_true", help="phases only")
    parser.add_argument(
        "--what-if-copy-distinct",
        action="store_true",
        help="patch (here only) DistinctSketch.of_hashes to keep a copy of its K hashes, to size that retention",
    )
    args = parser.parse_args()
    if args.what_if_copy_distinct:
        copy_distinct_sketches()
        print("what-if: DistinctSketch.of_hashes keeps a copy of its K hashes (patched in this process only)")
    if args.case == "partition":
        one_partition(args.seed)
        return
    data, rows = {
        "1m-mem": (lambda: in_memory("1m", args.seed), 1_000_000),
        "1m-parquet": (lambda: str(parquet_target("1m", args.seed)), 1_000_000),
        "10m-parquet": (lambda: str(parquet_target("10m", args.seed)), 10_000_000),
    }[args.case]
    data = data()
    phases(data, rows, profiled=False)
    if not args.no_cprofile:
        phases(data, rows, profiled=True)


if __name__ == "__main__":
    main()
