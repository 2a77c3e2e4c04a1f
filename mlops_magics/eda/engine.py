"""Run the one pass over a source's partitions — on the Dask cluster when one is connected, else on local
threads — with progress, then build the profile."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mlops_magics.eda.columns import plan
from mlops_magics.eda.partition import CHUNK_ROWS, PartitionStats, chunk_quota, chunked_stats, partition_stats, row_chunks
from mlops_magics.eda.profile import Profile, build
from mlops_magics.eda.sources import Source, guessed_wrong, open_source
from mlops_magics.errors import InvalidInput

SAMPLE_ROWS = 100_000

Piece = tuple[Any, int]  # a chunk of a partition's rows, and how many chunks the partition has
Partition = Callable[[], Iterator[Piece]]  # called on a pool thread: reads the partition as it is iterated
Update = tuple[int, list[PartitionStats], float]  # a chunk's place in the data, its statistics, its share
ChunkStats = Callable[[Any, int, int], PartitionStats]  # (chunk, place, chunks in its partition) -> statistics


def _slices(frame: Any) -> Iterator[Piece]:
    chunks = row_chunks(frame, CHUNK_ROWS)
    for chunk in chunks:
        yield chunk, len(chunks)


def _computed(partition: Any) -> Iterator[Piece]:
    yield from _slices(partition.compute(scheduler="sync"))


@dataclass
class _Reading:
    index: int
    chunks: Iterator[Piece]
    number: int = 0  # chunks read so far
    busy: bool = False  # a thread is reading its next chunk


def _local(partitions: list[Partition], stats: ChunkStats) -> Iterator[Update]:
    """Partitions read chunk by chunk, each chunk profiled on a local thread as soon as it is read.

    Partitions are read one after another (two at a time on machines with more than two cores), and a chunk is
    read only while fewer than about one per thread wait or are being profiled: memory holds a few chunks (a
    partition loaded whole, such as a Dask partition, stays until its last chunk is taken).
    """
    from threadpoolctl import threadpool_limits

    threads = os.cpu_count() or 2
    readers = max(1, threads // 2)
    ahead = threads + readers
    # The chunks keep every core busy already: BLAS threads of their own (Pearson co-moments) would only
    # oversubscribe the cores and spin (~0.5 s of CPU in a 1M-row profile on 2 cores).
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max_workers=threads) as pool:
        waiting = list(enumerate(partitions))
        reading: list[_Reading] = []
        reads: dict[Future[Any], _Reading] = {}
        jobs: dict[Future[Any], tuple[int, int]] = {}  # statistics of a chunk -> (its place, its partition's chunks)

        def feed() -> None:
            while waiting and len(reading) < readers:
                index, partition = waiting.pop(0)
                reading.append(_Reading(index, partition()))
            for partition in reading:
                if not partition.busy and len(reads) + len(jobs) < ahead:
                    partition.busy = True
                    reads[pool.submit(next, partition.chunks, None)] = partition

        feed()
        while reads or jobs:
            done, _ = wait(set(reads) | set(jobs), return_when=FIRST_COMPLETED)
            for future in done:
                if future in reads:
                    partition = reads.pop(future)
                    partition.busy = False
                    piece = future.result()
                    if piece is None:
                        reading.remove(partition)
                        _release_arrow_memory()
                        continue
                    place = partition.index * 1000 + partition.number
                    partition.number += 1
                    jobs[pool.submit(stats, piece[0], place, piece[1])] = (place, piece[1])
                else:
                    place, count = jobs.pop(future)
                    yield place, [future.result()], 1 / count
            feed()


@contextmanager
def _small_pages() -> Iterator[None]:
    """Memory without transparent huge pages while data is profiled.

    Each chunk allocates and frees tens of MB (NumPy's temporaries, Arrow's buffers); NumPy advises huge pages for
    large arrays and Arrow's allocator (mimalloc) for its whole arena. Where the kernel defragments memory for
    advised huge pages at fault time (transparent huge pages, defrag "madvise"), those faults cost more than the
    pages save: 0.3-1 s of system time in a 1M-row profile on 2 cores, varying with how fragmented memory is.
    Plain pages fault cheaply. The process's huge pages are turned off on Linux (``PR_SET_THP_DISABLE``, which
    overrides any advice), NumPy's advice elsewhere; both are put back afterwards (process-wide settings).
    """
    with _no_transparent_huge_pages(), _no_numpy_huge_page_advice():
        yield


_PR_SET_THP_DISABLE = 41
_PR_GET_THP_DISABLE = 42


@contextmanager
def _no_transparent_huge_pages() -> Iterator[None]:
    if not sys.platform.startswith("linux"):
        yield
        return
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        before = prctl(_PR_GET_THP_DISABLE, 0, 0, 0, 0)
        changed = before == 0 and prctl(_PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0
    except (AttributeError, OSError):  # no prctl here: NumPy's advice is still turned off
        changed = False
    try:
        yield
    finally:
        if changed:
            prctl(_PR_SET_THP_DISABLE, 0, 0, 0, 0)


@contextmanager
def _no_numpy_huge_page_advice() -> Iterator[None]:
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # another NumPy: nothing to change
        yield
        return
    advised = _set_madvise_hugepage(False)
    try:
        yield
    finally:
        _set_madvise_hugepage(advised)


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
    places = {future.key: index for index, future in enumerate(futures)}
    for future in completed(futures):
        yield places[future.key], future.result(), 1.0
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
    asked = _Asked(title, target, sample, sample_rows, seed, progress)
    with _small_pages():
        return _profile_or_retry(open_source(data, name), asked)


@dataclass(frozen=True)
class _Asked:
    """What ``profile`` was asked for, beyond the data: the same for a source read again with other types."""

    title: str | None
    target: str | None
    sample: int | None
    sample_rows: int
    seed: int
    progress: bool


def _profile_or_retry(opened: Source, asked: _Asked) -> Profile:
    try:
        return _profile(opened, asked)
    except _PassFailed as failed:
        again = guessed_wrong(opened, failed.error)  # a CSV column Dask typed from its first rows only
        if again is None:
            raise InvalidInput(f"{opened.description}: {str(failed.error).splitlines()[0]}") from None
    try:
        return _profile(again, asked)
    except _PassFailed as failed:
        raise InvalidInput(f"{opened.description}: {str(failed.error).splitlines()[0]}") from None


class _PassFailed(Exception):
    """A partition could not be read: what a CSV with inconsistent columns raises from a later partition."""

    def __init__(self, error: ValueError) -> None:
        super().__init__(str(error))
        self.error = error


def _profile(source: Source, asked: _Asked) -> Profile:
    if asked.sample is not None:
        source = _sampled(source, asked.sample, asked.seed)
    kinds = plan(source.dtypes)
    if asked.target is not None and asked.target not in kinds:
        raise InvalidInput(f"target column {asked.target!r} is not in the data; columns are {list(kinds)}")
    started = time.perf_counter()
    partitions = source.partitions
    per_partition = max(1_000, int(1.5 * asked.sample_rows / partitions) + 1)
    client = _connected_client() if source.pandas is None else None
    if client is not None:
        source = source.on_dask()  # files are read by the cluster's workers

    def chunk_stats(chunk: Any, place: int, chunks: int) -> PartitionStats:
        # Each chunk keeps its share of its partition's sample rows, as chunked_stats does on a cluster.
        return partition_stats(chunk, kinds, chunk_quota(per_partition, chunks), asked.seed + place)

    results: Iterator[Update]
    if source.pandas is not None:
        frame = source.pandas
        results = _local([lambda: _slices(frame)], chunk_stats)
        total = 1
    elif source.files is not None:
        files = source.files
        total = len(files.paths)
        results = _local([lambda i=i: files.chunks(i, CHUNK_ROWS) for i in range(total)], chunk_stats)
    else:
        delayed_parts = source.dask.to_delayed()
        total = len(delayed_parts)
        if client is not None:
            import dask

            task = dask.delayed(chunked_stats, pure=True)
            tasks = [task(p, kinds, per_partition, asked.seed + i * 1000, CHUNK_ROWS) for i, p in enumerate(delayed_parts)]
            results = _on_cluster(client, tasks)
        else:
            results = _local([lambda p=p: _computed(p) for p in delayed_parts], chunk_stats)
    placed: list[tuple[int, list[PartitionStats]]] = []
    bar = _progress(total, asked.progress)
    try:
        for place, stats, share in results:
            placed.append((place, stats))
            bar.update(share)
    except ValueError as exc:
        raise _PassFailed(exc) from None
    finally:
        bar.close()
    # Merged in the data's order, not the order threads finished in: the same data gives the same profile.
    parts = [stats for _, chunk in sorted(placed, key=lambda p: p[0]) for stats in chunk]
    engine = {
        "partitions": total,
        "chunks": len(parts),
        "where": "dask cluster" if client is not None else "local threads",
        "seconds": round(time.perf_counter() - started, 3),
        "sampled_rows": asked.sample,
    }
    return build(
        parts,
        kinds,
        title=asked.title or source.description,
        source=source.description,
        target=asked.target,
        sample_rows=asked.sample_rows,
        seed=asked.seed,
        engine=engine,
    )


def _sampled(source: Source, rows: int, seed: int) -> Source:
    if rows < 1:
        raise InvalidInput(f"--sample must be a positive number of rows (got {rows})")
    if source.pandas is not None:
        frame = source.pandas
        taken = frame.sample(n=rows, random_state=seed) if rows < len(frame) else frame
        return Source(f"{source.description} (sample of {len(taken):,} rows)", source.dtypes, pandas=taken)
    if source.files is not None:
        total = source.files.rows()
        if rows >= total:
            return source
        files = source.files.sampled(rows / total, seed)
        return Source(f"{source.description} (sample of about {rows:,} rows)", source.dtypes, csv=source.csv, files=files)
    total = len(source.dask)
    if rows >= total:
        return source
    taken = source.dask.sample(frac=rows / total, random_state=seed)
    return Source(f"{source.description} (sample of about {rows:,} rows)", source.dtypes, dask=taken)


def _connected_client() -> Any | None:
    if "distributed" not in sys.modules:  # no client can exist; and mlops_magics.cluster imports pydantic
        return None
    from mlops_magics.cluster import connected_client

    return connected_client()


def _progress(total: int, shown: bool) -> Any:
    """A progress bar over the partitions (tqdm is imported only when one is shown)."""
    if not shown:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="profiling", unit="partition", leave=False)


class _NoProgress:
    def update(self, _share: float) -> None:
        pass

    def close(self) -> None:
        pass
