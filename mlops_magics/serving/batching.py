"""Concurrent requests answered by one ``predict`` call: what makes serving fast.

The worker takes every request waiting when it becomes free (no added wait at low load), predicts them as
one frame in a thread, and hands each request its own rows back. When a batch fails, its requests are
predicted one by one, so one bad request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

MAX_BATCH_ROWS = 4096


class MicroBatcher:
    def __init__(
        self,
        predict: Callable[[pd.DataFrame], Any],
        max_rows: int = MAX_BATCH_ROWS,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._predict = predict
        self._on_batch = on_batch
        self._max_rows = max_rows
        self._queue: asyncio.Queue[tuple[pd.DataFrame, asyncio.Future[Any]]] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0
        self.batched_rows = 0

    async def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((frame, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            rows = len(batch[0][0])
            while rows < self._max_rows and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                rows += len(item[0])
            await self._answer(loop, batch)

    async def _answer(self, loop: asyncio.AbstractEventLoop, batch: list[tuple[pd.DataFrame, asyncio.Future[Any]]]) -> None:
        frames = [frame for frame, _ in batch]
        if not all(frame.columns.equals(frames[0].columns) for frame in frames[1:]):
            # Requests that left out different optional columns: stacked, one would get the other's column
            # filled with missing values and an answer it would not get alone. Each set of columns apart.
            groups: dict[tuple[str, ...], list[tuple[pd.DataFrame, asyncio.Future[Any]]]] = {}
            for item in batch:
                groups.setdefault(tuple(map(str, item[0].columns)), []).append(item)
            for group in groups.values():
                await self._answer(loop, group)
            return
        try:
            whole = frames[0] if len(frames) == 1 else stack(frames)
            predictions = np.asarray(await loop.run_in_executor(self._executor, self._predict, whole))
        except Exception as exc:
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            for frame, future in batch:  # find the request that fails; the others still get answers
                await self._answer(loop, [(frame, future)])
            return
        self.batches += 1
        self.batched_rows += len(predictions)
        if self._on_batch is not None:
            self._on_batch(len(predictions))
        start = 0
        for frame, future in batch:
            if not future.cancelled():
                future.set_result(predictions[start : start + len(frame)])
            start += len(frame)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self._executor.shutdown(wait=False)


def stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames with the same columns, one under the other. All-float frames (the common case) are stacked as one
    array: ``pd.concat`` of many one-row frames costs more than predicting them."""
    columns = frames[0].columns
    arrays = [frame.to_numpy() for frame in frames]
    if all(a.dtype == np.float64 for a in arrays) and all(frame.columns.equals(columns) for frame in frames):
        return pd.DataFrame(np.concatenate(arrays), columns=columns, copy=False)
    return pd.concat(frames, ignore_index=True)
