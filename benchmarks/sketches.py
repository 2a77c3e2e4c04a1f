"""Benchmark: our mergeable column sketches beside Apache DataSketches after 1,000 merges (issue 13).

Usage::

    .venv/bin/pip install -e .                   # datasketches (KLL) is a project dependency
    .venv/bin/python benchmarks/sketches.py                     # 1,000 windows x 10,000 rows, 3 trials
    .venv/bin/python benchmarks/sketches.py --windows 100 --trials 1 --repeat 1   # a quick look
    .venv/bin/python benchmarks/sketches.py --json out.json

The monitor merges the summaries of many windows, so each sketch is built per window and the 1,000 window
sketches are merged in two orders: a *fold* (the running summary merged with the next window, as a monitor
accumulating over days would) and a *pairwise* tree (10 levels). Ours is also merged the way the EDA merges
partitions: all windows at once into 4 x 2048 points (per window, then once more: two compressions).

Quantiles. Seeded columns (``numpy.random.default_rng([seed, trial, column, window])``): normal; lognormal
(sigma 2, a heavy tail); integers 0..9 (shares 1/(i+1), many ties); and a mixture whose shifted component
N(4, 0.5) grows from 0 to 40% of the rows over the windows (the data drifts, as a monitored feature may).
Contenders: ours (``QuantileSummary.of_sorted`` of the sorted window, ``QuantileSummary.combine``) at 2048 points
(what a partition keeps) and at 256 points (what a saved profile keeps); ``kll_doubles_sketch`` and
``kll_floats_sketch`` at k=200 (default), ``kll_doubles_sketch`` at k=1400 (about our 2048 points' 32 KB);
``req_floats_sketch`` (k=12 default, high-rank accuracy). Measured against the exact sorted data:

- rank error of the quantiles 0.001, 0.002, ..., 0.999: the distance of q from the true rank interval
  [share < x, share <= x] of the value x the sketch returns (ties count as exact); max and mean.
- max |CDF error|: max over 10,000 points (the data's exact quantiles) of |estimated share <= x - true share|,
  which is what a Kolmogorov-Smirnov drift statistic computed from the sketch is off by.

Distinct counts. Columns of 10M integers drawn from 100, 10,000 and 1,000,000 random 40-bit IDs; ours
(``DistinctSketch``, K = 4096: each window's sorted distinct values, hashed) beside ``hll_sketch`` (lg_k 12 and
lg_k 16, HLL_4) and ``update_theta_sketch`` (lg_k 12, compacted; merged with ``theta_union``), each fed each
window's distinct values too. Relative error of the merged estimate against the exact count, over
``--distinct-trials`` data draws (the error of one draw is one sample of the sketch's random error).

Quantile accuracy is taken over ``--trials`` data draws (KLL and REQ are randomised too: their errors differ
from run to run). Two smaller tables: the fold's error after 2, 10, 100 and 1,000 windows, and the EDA path
(1M rows in 4 chunks of 250,000 merged once, and the saved profile's 256 points), where ours is meant to work.

Speed: wall and CPU seconds to build the 1,000 window sketches and to merge them, best of ``--repeat``, on the
first trial; the (de)serialisation of one window sketch. Size: serialised bytes (ours: ``to_dict`` as JSON, and
the raw float64/uint64 arrays it holds; DataSketches: ``serialize()``). Everything runs on one thread. Timings on
a shared machine drift (accuracy does not): ``--wait-idle S`` first waits up to S seconds for an idle machine, and
the cores other work took during the run (from /proc/stat, less this process's CPU) are printed with the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mlops_magics.eda.sketches import DistinctSketch, QuantileSummary, hash_values, sorted_unique  # noqa: E402

try:
    import datasketches as ds
except ImportError:  # pragma: no cover - the message is the point
    sys.exit("benchmarks/sketches.py needs Apache DataSketches: .venv/bin/pip install datasketches")

RANK_GRID = np.round(np.arange(1, 1000) / 1000, 3)  # 0.001 .. 0.999
CDF_GRID_RANKS = (np.arange(10_000) + 0.5) / 10_000
KLL_SIZE_OF_OURS = 1400  # kll_doubles_sketch k whose merged sketch is about the 32 KB of our 2048 points


# --- data -------------------------------------------------------------------------------------------------------
QUANTILE_COLUMNS = ("normal", "lognormal", "integers 0..9", "drifting mixture")
DISTINCT_COLUMNS = {"100 distinct": 100, "10k distinct": 10_000, "1M distinct": 1_000_000}


def quantile_windows(column: str, windows: int, rows: int, seed: int, trial: int) -> list[np.ndarray]:
    index = QUANTILE_COLUMNS.index(column)
    out = []
    for w in range(windows):
        rng = np.random.default_rng([seed, trial, index, w])
        if column == "normal":
            values = rng.normal(size=rows)
        elif column == "lognormal":
            values = rng.lognormal(0.0, 2.0, size=rows)
        elif column == "integers 0..9":
            shares = 1.0 / np.arange(1, 11)
            values = rng.choice(10, size=rows, p=shares / shares.sum()).astype(np.float64)
        else:
            shifted = rng.random(rows) < 0.4 * w / max(windows - 1, 1)
            values = np.where(shifted, rng.normal(4.0, 0.5, rows), rng.normal(0.0, 1.0, rows))
        out.append(values)
    return out


def distinct_windows(distinct: int, windows: int, rows: int, seed: int, trial: int) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, trial, 100, distinct])
    ids = rng.choice(1 << 40, size=distinct, replace=False).astype(np.int64)
    return [ids[np.random.default_rng([seed, trial, 101, distinct, w]).integers(0, distinct, rows)] for w in range(windows)]


# --- timing -----------------------------------------------------------------------------------------------------
@dataclass
class Clock:
    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def timed(clock: Clock) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.thread_time()
    yield
    clock.wall += time.perf_counter() - wall
    clock.cpu += time.thread_time() - cpu


def pairwise(items: list[Any], merge: Callable[[Any, Any], Any]) -> Any:
    level = list(items)
    while len(level) > 1:
        nxt = [merge(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


# --- quantile contenders ------------------------------------------------------------------------------------------
@dataclass
class QuantileContender:
    name: str
    build: Callable[[np.ndarray], Any]
    merge_next: Callable[[Any | None, Any], Any]  # the running summary (None at first) with one more window's
    tree: Callable[[list[Any]], Any] | None  # may change the window sketches (run last)
    quantiles: Callable[[Any, np.ndarray], np.ndarray]
    cdf: Callable[[Any, np.ndarray], np.ndarray]  # share of rows <= each point
    serialize: Callable[[Any], bytes]
    deserialize: Callable[[bytes], Any]
    raw_bytes: Callable[[Any], int] | None = None
    float32: bool = False
    merge_all: Callable[[list[Any]], Any] | None = None  # one merge of every window, in place of the fold

    def fold(self, parts: list[Any]) -> Any:
        """Merge the windows one after another; the window sketches are left as they were."""
        if self.merge_all is not None:
            return self.merge_all(parts)
        merged = None
        for part in parts:
            merged = self.merge_next(merged, part)
        return merged


def _ours_serialize(s: QuantileSummary) -> bytes:
    return json.dumps(s.to_dict()).encode()


def _ours_deserialize(b: bytes) -> QuantileSummary:
    return QuantileSummary.from_dict(json.loads(b))


def ours(points: int, merged_points: int | None = None, all_at_once: bool = False) -> QuantileContender:
    """Windows summarised at ``points`` (2048: a partition's summary; 256: a saved profile's, compressed from
    2048), merged into ``merged_points`` (the same by default)."""
    merged_points = merged_points or points

    def build(values: np.ndarray) -> QuantileSummary:
        summary = QuantileSummary.of_sorted(np.sort(values))
        return summary if points == 2048 else summary.compressed(points)

    def merge_next(merged: QuantileSummary | None, part: QuantileSummary) -> QuantileSummary:
        return part if merged is None else QuantileSummary.combine([merged, part], merged_points)

    if all_at_once:
        name = f"ours {points} pts, all at once into {merged_points} (EDA merge)"
    else:
        name = f"ours {points} pts" + (f", merged at {merged_points}" if merged_points != points else "")
    return QuantileContender(
        name=name,
        build=build,
        merge_next=merge_next,
        tree=None if all_at_once else lambda parts: pairwise(parts, lambda a, b: merge_next(a, b)),
        merge_all=(lambda parts: QuantileSummary.combine(parts, merged_points)) if all_at_once else None,
        quantiles=lambda s, qs: np.asarray(s.quantiles(qs)),
        cdf=lambda s, x: s.cdf(x),
        serialize=_ours_serialize,
        deserialize=_ours_deserialize,
        raw_bytes=lambda s: s.values.nbytes + s.weights.nbytes,
    )


def datasketch(kind: Callable[..., Any], label: str, float32: bool, **params: Any) -> QuantileContender:
    def build(values: np.ndarray) -> Any:
        sketch = kind(**params)
        sketch.update(values.astype(np.float32) if float32 else values)
        return sketch

    def merge_next(merged: Any | None, part: Any) -> Any:
        merged = kind(**params) if merged is None else merged
        merged.merge(part)
        return merged

    def merge_into_left(a: Any, b: Any) -> Any:
        a.merge(b)
        return a

    return QuantileContender(
        name=label,
        build=build,
        merge_next=merge_next,
        tree=lambda parts: pairwise(parts, merge_into_left),
        quantiles=lambda s, qs: np.asarray(s.get_quantiles(qs.tolist()), dtype=np.float64),
        cdf=lambda s, x: np.asarray(s.get_cdf(x.tolist(), True)[:-1]),
        serialize=lambda s: s.serialize(),
        deserialize=kind.deserialize,
        float32=float32,
    )


OURS_2048, OURS_8192, OURS_256 = "ours 2048 pts", "ours 2048 pts, merged at 8192", "ours 256 pts"
OURS_EDA = "ours 2048 pts, all at once into 8192 (EDA merge)"
KLL_200, KLL_SIZED = "kll_doubles k=200", f"kll_doubles k={KLL_SIZE_OF_OURS}"


def quantile_contenders() -> list[QuantileContender]:
    return [
        ours(2048),
        ours(2048, 4 * 2048),
        ours(2048, 4 * 2048, all_at_once=True),
        ours(256),
        datasketch(ds.kll_doubles_sketch, KLL_200, False, k=200),
        datasketch(ds.kll_floats_sketch, "kll_floats k=200", True, k=200),
        datasketch(ds.kll_doubles_sketch, KLL_SIZED, False, k=KLL_SIZE_OF_OURS),
        datasketch(ds.req_floats_sketch, "req_floats k=12 (hra)", True, k=12),
    ]


# --- quantile accuracy ---------------------------------------------------------------------------------------------
@dataclass
class Exact:
    ordered: np.ndarray

    def rank_errors(self, qs: np.ndarray, answers: np.ndarray) -> np.ndarray:
        n = self.ordered.size
        below = np.searchsorted(self.ordered, answers, side="left") / n
        at_or_below = np.searchsorted(self.ordered, answers, side="right") / n
        return np.maximum(np.maximum(below - qs, qs - at_or_below), 0.0)

    def cdf_points(self, float32: bool) -> np.ndarray:
        picks = (CDF_GRID_RANKS * self.ordered.size).astype(np.int64)
        points = self.ordered[picks]
        return np.unique(points.astype(np.float32).astype(np.float64) if float32 else points)

    def cdf(self, points: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.ordered, points, side="right") / self.ordered.size


def quantile_accuracy(c: QuantileContender, sketch: Any, exact: Exact) -> dict[str, float]:
    errors = exact.rank_errors(RANK_GRID, c.quantiles(sketch, RANK_GRID))
    points = exact.cdf_points(c.float32)
    cdf_error = np.abs(c.cdf(sketch, points) - exact.cdf(points))
    return {
        "max_rank_error": float(errors.max()),
        "mean_rank_error": float(errors.mean()),
        "max_cdf_error": float(cdf_error.max()),
    }


def serial_figures(c: QuantileContender | DistinctContender, windows: list[Any], merged: Any) -> dict[str, float]:
    sample = windows[:50]
    clock = Clock()
    with timed(clock):
        for s in sample:
            c.deserialize(c.serialize(s))
    out = {
        "window_bytes": float(np.mean([len(c.serialize(s)) for s in sample])),
        "merged_bytes": float(len(c.serialize(merged))),
        "serde_us": clock.wall / len(sample) * 1e6,
    }
    if c.raw_bytes is not None:
        out["window_raw_bytes"] = float(np.mean([c.raw_bytes(s) for s in sample]))
        out["merged_raw_bytes"] = float(c.raw_bytes(merged))
    return out


def run_quantiles(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    contenders = quantile_contenders()
    for column in QUANTILE_COLUMNS:
        for trial in range(args.trials):
            windows = quantile_windows(column, args.windows, args.rows, args.seed, trial)
            exact = Exact(np.sort(np.concatenate(windows)))
            for c in contenders:
                repeats = args.repeat if trial == 0 else 1
                build, fold, tree = [], [], []
                for _ in range(repeats):
                    b, f, t = Clock(), Clock(), Clock()
                    with timed(b):
                        sketches = [c.build(w) for w in windows]
                    with timed(f):
                        folded = c.fold(sketches)
                    merged_tree = None
                    if c.tree is not None:
                        with timed(t):
                            merged_tree = c.tree(sketches)
                    build.append(b)
                    fold.append(f)
                    tree.append(t)
                extra = serial_figures(c, sketches, folded) if trial == 0 else {}
                base = {"column": column, "contender": c.name, "trial": trial}
                order = "all at once" if c.tree is None else "fold"
                rows.append({**base, "order": order, **quantile_accuracy(c, folded, exact), **extra, **_best(build, fold)})
                if merged_tree is not None:
                    rows.append({**base, "order": "pairwise", **quantile_accuracy(c, merged_tree, exact), **_best(build, tree)})
            print(f"  quantiles: {column}, trial {trial} done ({_load()})", file=sys.stderr, flush=True)
    return rows


def eda_path(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Where ours is meant to be used: 1M rows as the EDA reads them (4 chunks of 250,000), merged once."""
    rows: list[dict[str, Any]] = []
    for column in QUANTILE_COLUMNS:
        windows = quantile_windows(column, 100, 10_000, args.seed, 0)
        chunks = [np.concatenate(windows[i : i + 25]) for i in range(0, 100, 25)]
        exact = Exact(np.sort(np.concatenate(chunks)))
        eda_merge = ours(2048, 4 * 2048, all_at_once=True)
        merged = eda_merge.fold([eda_merge.build(chunk) for chunk in chunks])
        saved = merged.compressed(256)
        for name, summary in (("ours 2048 -> 8192 pts (2 compressions)", merged), ("ours, saved profile: -> 256 pts (3)", saved)):
            size = len(_ours_serialize(summary))
            rows.append(
                {"column": column, "contender": name, **quantile_accuracy(eda_merge, summary, exact), "merged_bytes": size}
            )
        for c in quantile_contenders():
            if c.name.startswith("ours"):
                continue
            sketch = c.fold([c.build(chunk) for chunk in chunks])
            rows.append(
                {
                    "column": column,
                    "contender": c.name,
                    **quantile_accuracy(c, sketch, exact),
                    "merged_bytes": len(c.serialize(sketch)),
                }
            )
    return rows


def growth(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Max rank error of the fold after 2, 10, 100, 1,000 windows (first trial's data)."""
    rows: list[dict[str, Any]] = []
    names = (OURS_2048, OURS_8192, OURS_256, KLL_200, KLL_SIZED)
    checkpoints = [n for n in (2, 10, 100, 1000, 10_000) if n <= args.windows]
    for column in ("normal", "drifting mixture"):
        windows = quantile_windows(column, args.windows, args.rows, args.seed, 0)
        exacts = {n: Exact(np.sort(np.concatenate(windows[:n]))) for n in checkpoints}
        for c in quantile_contenders():
            if c.name not in names:
                continue
            merged = None
            for n, window in enumerate(windows, start=1):
                merged = c.merge_next(merged, c.build(window))
                if n in exacts:
                    rows.append({"column": column, "contender": c.name, "windows": n, **quantile_accuracy(c, merged, exacts[n])})
    return rows


def _best(build: list[Clock], merge: list[Clock]) -> dict[str, float]:
    return {
        "build_s": min(b.wall for b in build),
        "build_cpu_s": min(b.cpu for b in build),
        "merge_s": min(m.wall for m in merge),
        "merge_cpu_s": min(m.cpu for m in merge),
    }


# --- distinct contenders ----------------------------------------------------------------------------------------
@dataclass
class DistinctContender:
    name: str
    build: Callable[[np.ndarray], Any]  # from a window's sorted distinct values
    fold: Callable[[list[Any]], Any]
    tree: Callable[[list[Any]], Any]
    estimate: Callable[[Any], float]
    serialize: Callable[[Any], bytes]
    deserialize: Callable[[bytes], Any]
    raw_bytes: Callable[[Any], int] | None = None


def ours_distinct() -> DistinctContender:
    def fold(parts: list[DistinctSketch]) -> DistinctSketch:
        merged = parts[0]
        for part in parts[1:]:
            merged = DistinctSketch.combine([merged, part])
        return merged

    def serialize(s: DistinctSketch) -> bytes:
        return json.dumps({"hashes": s.hashes.tolist(), "saturated": s.saturated}).encode()

    def deserialize(b: bytes) -> DistinctSketch:
        data = json.loads(b)
        return DistinctSketch(np.asarray(data["hashes"], dtype=np.uint64), data["saturated"])

    return DistinctContender(
        name="ours DistinctSketch K=4096",
        build=lambda distinct: DistinctSketch.of_hashes(hash_values(distinct)),
        fold=fold,
        tree=lambda parts: pairwise(parts, lambda a, b: DistinctSketch.combine([a, b])),
        estimate=lambda s: float(s.estimate),
        serialize=serialize,
        deserialize=deserialize,
        raw_bytes=lambda s: s.hashes.nbytes,
    )


def hll(lg_k: int) -> DistinctContender:
    def build(distinct: np.ndarray) -> Any:
        sketch = ds.hll_sketch(lg_k, ds.HLL_4)
        for _ in map(sketch.update, distinct.tolist()):
            pass
        return sketch

    def union(parts: Sequence[Any]) -> Any:
        u = ds.hll_union(lg_k)
        for part in parts:
            u.update(part)
        return u.get_result(ds.HLL_4)

    return DistinctContender(
        name=f"hll_sketch lg_k={lg_k} HLL_4",
        build=build,
        fold=union,
        tree=lambda parts: pairwise(parts, lambda a, b: union((a, b))),
        estimate=lambda s: s.get_estimate(),
        serialize=lambda s: s.serialize_compact(),
        deserialize=ds.hll_sketch.deserialize,
    )


def theta(lg_k: int) -> DistinctContender:
    def build(distinct: np.ndarray) -> Any:
        sketch = ds.update_theta_sketch(lg_k)
        for _ in map(sketch.update, distinct.tolist()):
            pass
        return sketch.compact()

    def union(parts: Sequence[Any]) -> Any:
        u = ds.theta_union(lg_k)
        for part in parts:
            u.update(part)
        return u.get_result()

    return DistinctContender(
        name=f"theta lg_k={lg_k} (compact, theta_union)",
        build=build,
        fold=union,
        tree=lambda parts: pairwise(parts, lambda a, b: union((a, b))),
        estimate=lambda s: s.get_estimate(),
        serialize=lambda s: s.serialize(),
        deserialize=ds.compact_theta_sketch.deserialize,
    )


def run_distinct(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    contenders = [ours_distinct(), hll(12), hll(16), theta(12)]
    for column, distinct in DISTINCT_COLUMNS.items():
        for trial in range(args.distinct_trials):
            windows = distinct_windows(distinct, args.windows, args.rows, args.seed, trial)
            exact = int(sorted_unique(np.concatenate(windows)).size)
            for c in contenders:
                repeats = args.repeat if trial == 0 else 1
                build, fold, tree = [], [], []
                for _ in range(repeats):
                    b, f, t = Clock(), Clock(), Clock()
                    with timed(b):
                        sketches = [c.build(sorted_unique(w)) for w in windows]
                    with timed(f):
                        folded = c.fold(sketches)
                    with timed(t):
                        merged_tree = c.tree(sketches)
                    build.append(b)
                    fold.append(f)
                    tree.append(t)
                extra = serial_figures(c, sketches, folded) if trial == 0 else {}
                base = {"column": column, "contender": c.name, "trial": trial, "exact": exact}
                for order, merged, clocks in (("fold", folded, fold), ("pairwise", merged_tree, tree)):
                    error = c.estimate(merged) / exact - 1.0
                    sizes = extra if order == "fold" else {}
                    rows.append({**base, "order": order, "relative_error": error, **sizes, **_best(build, clocks)})
        print(f"  distinct: {column} done ({_load()})", file=sys.stderr, flush=True)
    return rows


# --- report -----------------------------------------------------------------------------------------------------
def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all processes, all cores), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_idle(max_wait: float, threshold: float = 0.1, quiet_for: int = 3) -> float:
    """Wait (at most ``max_wait`` s) until other work has taken < ``threshold`` cores for ``quiet_for`` s."""
    started, quiet = time.perf_counter(), 0
    while quiet < quiet_for and time.perf_counter() - started < max_wait:
        busy = machine_busy_seconds()
        time.sleep(1.0)
        quiet = quiet + 1 if machine_busy_seconds() - busy < threshold else 0
    return time.perf_counter() - started


def _kb(x: float | None) -> str:
    return "" if x is None or x != x else f"{x / 1024:.1f}"


def _group(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[tuple, list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    return groups


def quantile_table(rows: list[dict[str, Any]], trials: int) -> str:
    lines = [
        f"Quantiles after merging the window sketches (max over {trials} trial(s) for max errors, mean for the mean;",
        "times: first trial, best of --repeat, all windows; sizes: first trial)",
        "",
        "| column | sketch | merge order | max rank error | mean rank error | max CDF error | build s (CPU) | merge s (CPU) "
        "| window KB | merged KB | serde µs/window |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (column, name, order), group in _group(rows, ("column", "contender", "order")).items():
        first = group[0]
        window_kb = _kb(first.get("window_bytes"))
        merged_kb = _kb(first.get("merged_bytes"))
        if first.get("window_raw_bytes"):
            window_kb += f" ({_kb(first['window_raw_bytes'])} raw)"
            merged_kb += f" ({_kb(first['merged_raw_bytes'])} raw)"
        serde = f"{first['serde_us']:.0f}" if "serde_us" in first else ""
        lines.append(
            f"| {column} | {name} | {order} | {max(r['max_rank_error'] for r in group):.4f} "
            f"| {np.mean([r['mean_rank_error'] for r in group]):.5f} | {max(r['max_cdf_error'] for r in group):.4f} "
            f"| {first['build_s']:.2f} ({first['build_cpu_s']:.2f}) | {first['merge_s']:.3f} ({first['merge_cpu_s']:.3f}) "
            f"| {window_kb} | {merged_kb} | {serde} |"
        )
    return "\n".join(lines)


def worst_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "Worst over the four columns and the trials",
        "",
        "| sketch | merge order | max rank error | max CDF error | build s | merge s | merged KB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (name, order), group in _group(rows, ("contender", "order")).items():
        first = [r for r in group if r["trial"] == 0]
        lines.append(
            f"| {name} | {order} | {max(r['max_rank_error'] for r in group):.4f} | {max(r['max_cdf_error'] for r in group):.4f} "
            f"| {np.mean([r['build_s'] for r in first]):.2f} | {np.mean([r['merge_s'] for r in first]):.3f} "
            f"| {_kb(first[0].get('merged_bytes'))} |"
        )
    lines.append("")
    lines.append("(build s and merge s: mean over the four columns)")
    return "\n".join(lines)


def eda_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "The EDA path: 1M rows in 4 chunks of 250,000, one sketch per chunk, merged once (first trial's data)",
        "",
        "| column | sketch | max rank error | mean rank error | max CDF error | merged KB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['column']} | {r['contender']} | {r['max_rank_error']:.4f} | {r['mean_rank_error']:.5f} "
            f"| {r['max_cdf_error']:.4f} | {_kb(r['merged_bytes'])} |"
        )
    return "\n".join(lines)


def growth_table(rows: list[dict[str, Any]]) -> str:
    checkpoints = sorted({r["windows"] for r in rows})
    lines = [
        "Max rank error of the fold as windows are merged in (first trial's data)",
        "",
        "| column | sketch | " + " | ".join(f"after {n:,}" for n in checkpoints) + " |",
        "|---|---|" + "---:|" * len(checkpoints),
    ]
    for (column, name), group in _group(rows, ("column", "contender")).items():
        lines.append(f"| {column} | {name} | " + " | ".join(f"{r['max_rank_error']:.4f}" for r in group) + " |")
    return "\n".join(lines)


def distinct_table(rows: list[dict[str, Any]], trials: int) -> str:
    lines = [
        f"Distinct counts after merging the window sketches ({trials} trial(s); times and sizes: first trial)",
        "",
        "| column | sketch | merge order | mean abs rel error | max abs rel error | build s (CPU) | merge s (CPU) "
        "| window KB | merged KB | serde µs/window |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (column, name, order), group in _group(rows, ("column", "contender", "order")).items():
        first = group[0]
        errors = np.abs([r["relative_error"] for r in group])
        window_kb, merged_kb = _kb(first.get("window_bytes")), _kb(first.get("merged_bytes"))
        if first.get("window_raw_bytes"):
            window_kb += f" ({_kb(first['window_raw_bytes'])} raw)"
            merged_kb += f" ({_kb(first['merged_raw_bytes'])} raw)"
        serde = f"{first['serde_us']:.0f}" if "serde_us" in first else ""
        lines.append(
            f"| {column} | {name} | {order} | {errors.mean():.2%} | {errors.max():.2%} "
            f"| {first['build_s']:.2f} ({first['build_cpu_s']:.2f}) | {first['merge_s']:.3f} ({first['merge_cpu_s']:.3f}) "
            f"| {window_kb} | {merged_kb} | {serde} |"
        )
    return "\n".join(lines)


OURS_DISTINCT, HLL_12, HLL_16, THETA_12 = (
    "ours DistinctSketch K=4096",
    "hll_sketch lg_k=12 HLL_4",
    "hll_sketch lg_k=16 HLL_4",
    "theta lg_k=12 (compact, theta_union)",
)


def verdicts(
    windows: int, quantile_rows: list[dict[str, Any]], eda_rows: list[dict[str, Any]], distinct_rows: list[dict[str, Any]]
) -> str:
    def worst(rows: list[dict[str, Any]], name: str, key: str = "max_rank_error") -> float:
        return max(r[key] for r in rows if r["contender"] == name)

    def first_fold(rows: list[dict[str, Any]], name: str, key: str) -> float:
        """Mean over the columns, first trial, fold row (where the times and sizes are)."""
        return float(np.mean([r[key] for r in rows if r["contender"] == name and r["trial"] == 0 and r["order"] != "pairwise"]))

    def winner(ours_figure: float, theirs: float) -> str:
        return "ours" if ours_figure <= theirs else "DataSketches"

    q = {name: worst(quantile_rows, name) for name in (OURS_2048, OURS_8192, OURS_256, KLL_200, KLL_SIZED, OURS_EDA)}
    e = {r["contender"]: worst(eda_rows, r["contender"]) for r in eda_rows}
    build = {n: first_fold(quantile_rows, n, "build_s") for n in q}
    serde = {n: first_fold(quantile_rows, n, "serde_us") for n in q}
    # What a monitor's question costs: every stored window read back, then merged.
    query = {n: serde[n] * windows / 1e6 + first_fold(quantile_rows, n, "merge_s") for n in q}
    size = {n: first_fold(quantile_rows, n, "merged_bytes") / 1024 for n in q}
    raw = {n: first_fold(quantile_rows, n, "merged_raw_bytes") / 1024 for n in (OURS_2048, OURS_256)}
    estimated = [r for r in distinct_rows if r["column"] != "100 distinct"]
    names = (OURS_DISTINCT, HLL_12, HLL_16, THETA_12)
    d_err = {n: float(np.mean([abs(r["relative_error"]) for r in estimated if r["contender"] == n])) for n in names}
    d_build = {n: first_fold(estimated, n, "build_s") for n in names}
    d_query = {n: first_fold(estimated, n, "serde_us") * windows / 1e6 + first_fold(estimated, n, "merge_s") for n in names}
    d_size = {n: first_fold(estimated, n, "merged_bytes") / 1024 for n in names}
    d_raw = first_fold(estimated, OURS_DISTINCT, "merged_raw_bytes") / 1024
    eda_ours = e["ours 2048 -> 8192 pts (2 compressions)"]
    eda_saved = e["ours, saved profile: -> 256 pts (3)"]
    return "\n".join(
        [
            f"- Accuracy after {windows:,} merges, quantiles: {winner(q[OURS_2048], q[KLL_SIZED])} at about 32 KB "
            f"(worst rank error, any column, either order: ours 2048 pts {q[OURS_2048]:.4f}, kll k={KLL_SIZE_OF_OURS} "
            f"{q[KLL_SIZED]:.4f}); {winner(q[OURS_256], q[KLL_200])} at about 4 KB (ours 256 pts {q[OURS_256]:.4f}, "
            f"kll k=200 {q[KLL_200]:.4f}); ours merged at 8192 pts {q[OURS_8192]:.4f}; ours merged all at once (2 compressions, "
            f"holding every window) {q[OURS_EDA]:.4f}.",
            f"- Accuracy after one merge (the EDA path), quantiles: {winner(eda_saved, worst(eda_rows, KLL_200))} — ours 2 "
            f"compressions {eda_ours:.4f}, saved 256 pts {eda_saved:.4f}; kll k=200 {worst(eda_rows, KLL_200):.4f}, "
            f"kll k={KLL_SIZE_OF_OURS} {worst(eda_rows, KLL_SIZED):.4f}.",
            f"- Accuracy, distinct counts (10k and 1M columns, mean |relative error|; every union is order-independent): "
            f"ours {d_err[OURS_DISTINCT]:.2%}, theta lg_k=12 {d_err[THETA_12]:.2%}, hll lg_k=12 {d_err[HLL_12]:.2%}, "
            f"hll lg_k=16 (ours' 32 KB) {d_err[HLL_16]:.2%}.",
            f"- Speed, quantiles (mean over columns): building the {windows:,} window sketches "
            f"{winner(build[OURS_2048], build[KLL_200])} — ours 2048 pts {build[OURS_2048]:.2f} s, kll k=200 "
            f"{build[KLL_200]:.2f} s, kll k={KLL_SIZE_OF_OURS} {build[KLL_SIZED]:.2f} s; reading them back (serialised form) "
            f"and merging them {winner(query[OURS_2048], query[KLL_SIZED])} — ours {query[OURS_2048]:.2f} s, kll k=200 "
            f"{query[KLL_200]:.2f} s, kll k={KLL_SIZE_OF_OURS} {query[KLL_SIZED]:.2f} s.",
            f"- Speed, distinct (10k and 1M columns): building {winner(d_build[OURS_DISTINCT], d_build[HLL_12])} — ours "
            f"{d_build[OURS_DISTINCT]:.2f} s, hll lg_k=12 {d_build[HLL_12]:.2f} s, theta lg_k=12 {d_build[THETA_12]:.2f} s "
            f"(DataSketches' Python API takes one value per call); reading back and merging "
            f"{winner(d_query[OURS_DISTINCT], d_query[HLL_12])} — ours {d_query[OURS_DISTINCT]:.2f} s, hll lg_k=12 "
            f"{d_query[HLL_12]:.2f} s, theta lg_k=12 {d_query[THETA_12]:.2f} s.",
            f"- Size, merged and serialised: {winner(size[OURS_2048], size[KLL_SIZED])} — quantiles ours 2048 pts "
            f"{size[OURS_2048]:.1f} KB JSON ({raw[OURS_2048]:.1f} KB as float64 arrays) vs kll k={KLL_SIZE_OF_OURS} "
            f"{size[KLL_SIZED]:.1f} KB; ours 256 pts {size[OURS_256]:.1f} KB JSON ({raw[OURS_256]:.1f} KB) vs kll k=200 "
            f"{size[KLL_200]:.1f} KB; distinct ours {d_size[OURS_DISTINCT]:.1f} KB JSON ({d_raw:.1f} KB of hashes) vs "
            f"hll lg_k=12 {d_size[HLL_12]:.1f} KB, theta lg_k=12 {d_size[THETA_12]:.1f} KB.",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=10_000, help="rows per window")
    parser.add_argument("--trials", type=int, default=3, help="data draws for the quantile accuracy")
    parser.add_argument("--distinct-trials", type=int, default=10, help="data draws for the distinct-count accuracy")
    parser.add_argument("--repeat", type=int, default=3, help="timed builds and merges (best kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write every row here")
    parser.add_argument("--wait-idle", type=float, default=0.0, help="first wait up to this many seconds for an idle machine")
    args = parser.parse_args(argv)

    print(f"datasketches {metadata.version('datasketches')}, numpy {np.__version__}; {_load()}", file=sys.stderr)
    waited = wait_idle(args.wait_idle) if args.wait_idle else 0.0
    started = _load()
    wall, busy, own = time.perf_counter(), machine_busy_seconds(), own_cpu_seconds()
    eda_rows = eda_path(args)
    growth_rows = growth(args)
    quantile_rows = run_quantiles(args)
    distinct_rows = run_distinct(args)
    finished = _load()
    wall = time.perf_counter() - wall
    others = (machine_busy_seconds() - busy - (own_cpu_seconds() - own)) / wall

    print(
        f"{args.windows} windows x {args.rows:,} rows; waited {waited:.0f} s for an idle machine; before: {started}; "
        f"after: {finished}; other work took {others:.2f} cores on average over the {wall:.0f} s run\n"
    )
    print(quantile_table(quantile_rows, args.trials), end="\n\n")
    print(worst_table(quantile_rows), end="\n\n")
    print(growth_table(growth_rows), end="\n\n")
    print(eda_table(eda_rows), end="\n\n")
    print(distinct_table(distinct_rows, args.distinct_trials), end="\n\n")
    print(verdicts(args.windows, quantile_rows, eda_rows, distinct_rows))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"quantiles": quantile_rows, "growth": growth_rows, "eda_path": eda_rows, "distinct": distinct_rows}, indent=1
            )
        )


if __name__ == "__main__":
    main()
