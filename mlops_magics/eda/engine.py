"""Run the one pass over a source's partitions — on the Dask cluster when one is connected, else on local
threads — with progress, then build the profile."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import dask
from tqdm.auto import tqdm

from mlops_magics.eda.columns import plan
from mlops_magics.eda.partition import PartitionStats, partition_stats
from mlops_magics.eda.profile import Profile, build
from mlops_magics.eda.sources import PANDAS_CHUNK_ROWS, Source, open_source
from mlops_magics.errors import InvalidInput

SAMPLE_ROWS = 100_000


def _cluster_client() -> Any | None:
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _local(tasks: list[Any], compute_one: Any) -> Iterator[PartitionStats]:
    with ThreadPoolExecutor(max_workers=min(len(tasks), os.cpu_count() or 2)) as pool:
        futures = [pool.submit(compute_one, task) for task in tasks]
        for future in as_completed(futures):
            yield future.result()


def _on_cluster(client: Any, tasks: list[Any]) -> Iterator[PartitionStats]:
    from distributed import as_completed as completed

    futures = client.compute(tasks)
    for future in completed(futures):
        yield future.result()
        future.release()


def _partition_tasks(source: Source, kinds: dict[str, Any], per_partition: int, seed: int) -> list[Any]:
    stats = dask.delayed(partition_stats, pure=True)
    if source.pandas is not None:
        frame = source.pandas
        chunks = [frame.iloc[start : start + PANDAS_CHUNK_ROWS] for start in range(0, len(frame), PANDAS_CHUNK_ROWS)]
        return [(partition_stats, chunk, seed + i) for i, chunk in enumerate(chunks or [frame])]
    assert source.dask is not None
    return [stats(part, kinds, per_partition, seed + i) for i, part in enumerate(source.dask.to_delayed())]


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
    source = open_source(data, name)
    if sample is not None:
        source = _sampled(source, sample, seed)
    kinds = plan(source.dtypes)
    if target is not None and target not in kinds:
        raise InvalidInput(f"target column {target!r} is not in the data; columns are {list(kinds)}")
    started = time.perf_counter()
    partitions = source.partitions
    per_partition = max(1_000, int(1.5 * sample_rows / partitions) + 1)
    tasks = _partition_tasks(source, kinds, per_partition, seed)
    client = _cluster_client() if source.dask is not None else None
    if source.pandas is not None:
        results = _local(tasks, lambda t: t[0](t[1], kinds, per_partition, t[2]))
    elif client is not None:
        results = _on_cluster(client, tasks)
    else:
        results = _local(tasks, lambda t: t.compute(scheduler="sync"))
    parts: list[PartitionStats] = []
    bar = tqdm(total=len(tasks), desc="profiling", unit="partition", disable=not progress, leave=False)
    try:
        for result in results:
            parts.append(result)
            bar.update()
    except ValueError as exc:  # what a CSV with inconsistent columns raises from a later partition
        raise InvalidInput(f"{source.description}: {str(exc).splitlines()[0]}") from None
    finally:
        bar.close()
    engine = {
        "partitions": len(tasks),
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
