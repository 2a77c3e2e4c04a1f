"""Run the one pass over a source's partitions — on the Dask cluster when one is connected, else on local
threads — with progress, then build the profile."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import dask
from tqdm.auto import tqdm

from mlops_magics.cluster import connected_client
from mlops_magics.eda.columns import plan
from mlops_magics.eda.partition import CHUNK_ROWS, PartitionStats, chunked_stats, partition_stats
from mlops_magics.eda.profile import Profile, build
from mlops_magics.eda.sources import Source, guessed_wrong, open_source
from mlops_magics.errors import InvalidInput

SAMPLE_ROWS = 100_000


Update = tuple[list[PartitionStats], float]  # statistics of some chunks, and the share of a partition they finish


def _chunks(frame: Any) -> list[Any]:
    return [frame.iloc[s : s + CHUNK_ROWS] for s in range(0, len(frame), CHUNK_ROWS)] or [frame]


def _local(partitions: list[Any], load: Callable[[Any], Any], stats: Callable[[Any, int], PartitionStats]) -> Iterator[Update]:
    """Partitions loaded and profiled chunk by chunk on local threads.

    Each partition's chunks keep every thread busy, so partitions are read one after another (two on machines
    with more than two cores): memory holds about one partition, not one per thread.
    """
    threads = os.cpu_count() or 2
    in_memory = max(1, threads // 2)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        waiting = list(enumerate(partitions))
        loading: set[Future[Any]] = set()
        chunk_jobs: dict[Future[Any], tuple[int, int]] = {}  # future -> (partition, chunks in it)
        open_partitions: dict[int, int] = {}

        def feed() -> None:
            while waiting and len(open_partitions) + len(loading) < in_memory:
                index, partition = waiting.pop(0)
                future = pool.submit(load, partition)
                future.index = index  # type: ignore[attr-defined]
                loading.add(future)

        feed()
        while loading or chunk_jobs:
            done, _ = wait(loading | set(chunk_jobs), return_when=FIRST_COMPLETED)
            for future in done:
                if future in loading:
                    loading.discard(future)
                    index = future.index  # type: ignore[attr-defined]
                    pieces = _chunks(future.result())
                    open_partitions[index] = len(pieces)
                    for number, piece in enumerate(pieces):
                        chunk_jobs[pool.submit(stats, piece, index * 1000 + number)] = (index, len(pieces))
                else:
                    index, count = chunk_jobs.pop(future)
                    open_partitions[index] -= 1
                    if open_partitions[index] == 0:
                        del open_partitions[index]
                        _release_arrow_memory()
                    yield [future.result()], 1 / count
            feed()


def _release_arrow_memory() -> None:
    """Hand the memory Arrow cached for a read partition back to the system before the next one is read."""
    try:
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass


def _on_cluster(client: Any, tasks: list[Any]) -> Iterator[Update]:
    from distributed import as_completed as completed

    futures = client.compute(tasks)
    for future in completed(futures):
        yield future.result(), 1.0
        future.release()


def profile(
    data: Any,
    *,
    name: str | None = None,
    title: str | None = None,
    target: str | None = None,
    sample: int | None = None,
    sample_rows: int = SAMPLE_ROWS,
    seed: int = 0,
    progress: bool = True,
) -> Profile:
    """Profile ``data`` (see ``sources.ACCEPTED``); ``sample`` profiles a uniform sample of that many rows."""
    opened = open_source(data, name)
    try:
        return _profile(opened, title, target, sample, sample_rows, seed, progress)
    except _PassFailed as failed:
        again = guessed_wrong(opened, failed.error)  # a CSV column Dask typed from its first rows only
        if again is None:
            raise InvalidInput(f"{opened.description}: {str(failed.error).splitlines()[0]}") from None
    try:
        return _profile(again, title, target, sample, sample_rows, seed, progress)
    except _PassFailed as failed:
        raise InvalidInput(f"{opened.description}: {str(failed.error).splitlines()[0]}") from None


class _PassFailed(Exception):
    """A partition could not be read: what a CSV with inconsistent columns raises from a later partition."""

    def __init__(self, error: ValueError) -> None:
        super().__init__(str(error))
        self.error = error


def _profile(
    source: Source,
    title: str | None,
    target: str | None,
    sample: int | None,
    sample_rows: int,
    seed: int,
    progress: bool,
) -> Profile:
    if sample is not None:
        source = _sampled(source, sample, seed)
    kinds = plan(source.dtypes)
    if target is not None and target not in kinds:
        raise InvalidInput(f"target column {target!r} is not in the data; columns are {list(kinds)}")
    started = time.perf_counter()
    partitions = source.partitions
    per_partition = max(1_000, int(1.5 * sample_rows / partitions) + 1)
    client = connected_client() if source.dask is not None else None

    def chunk_stats(chunk: Any, number: int) -> PartitionStats:
        return partition_stats(chunk, kinds, per_chunk, seed + number)

    if source.pandas is not None:
        per_chunk = max(1_000, int(1.5 * sample_rows * CHUNK_ROWS / max(len(source.pandas), 1)) + 1)
        results = _local([source.pandas], lambda frame: frame, chunk_stats)
        total = 1
    else:
        assert source.dask is not None
        per_chunk = per_partition
        delayed_parts = source.dask.to_delayed()
        total = len(delayed_parts)
        if client is not None:
            task = dask.delayed(chunked_stats, pure=True)
            results = _on_cluster(client, [task(p, kinds, per_partition, seed + i) for i, p in enumerate(delayed_parts)])
        else:
            results = _local(delayed_parts, lambda part: part.compute(scheduler="sync"), chunk_stats)
    parts: list[PartitionStats] = []
    bar = tqdm(total=total, desc="profiling", unit="partition", disable=not progress, leave=False)
    try:
        for stats, share in results:
            parts.extend(stats)
            bar.update(share)
    except ValueError as exc:
        raise _PassFailed(exc) from None
    finally:
        bar.close()
    engine = {
        "partitions": total,
        "chunks": len(parts),
        "where": "dask cluster" if client is not None else "local threads",
        "seconds": round(time.perf_counter() - started, 3),
        "sampled_rows": sample,
    }
    return build(
        parts,
        kinds,
        title=title or source.description,
        source=source.description,
        target=target,
        sample_rows=sample_rows,
        seed=seed,
        engine=engine,
    )


def _sampled(source: Source, rows: int, seed: int) -> Source:
    if rows < 1:
        raise InvalidInput(f"--sample must be a positive number of rows (got {rows})")
    if source.pandas is not None:
        frame = source.pandas
        taken = frame.sample(n=rows, random_state=seed) if rows < len(frame) else frame
        return Source(f"{source.description} (sample of {len(taken):,} rows)", source.dtypes, pandas=taken)
    assert source.dask is not None
    total = len(source.dask)
    if rows >= total:
        return source
    taken = source.dask.sample(frac=rows / total, random_state=seed)
    return Source(f"{source.description} (sample of about {rows:,} rows)", source.dtypes, dask=taken)
