"""A deployment's Prometheus metrics, counted across all its workers.

The deployment process maps one block of shared memory before it forks its workers; each worker adds to its
own row (a slot), and ``/metrics`` on any worker sums every row. So a scrape sees the whole deployment, whichever
worker answers it, and counters stay monotonic when a worker is replaced (the replacement keeps its slot).
"""

from __future__ import annotations

import bisect
import mmap
from collections.abc import Iterator
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

STATUSES = ("200", "400", "401", "408", "413", "415", "422", "500", "other")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 512, 4096)

# One row per slot: status counts | rows | latency bucket counts (+Inf last) | latency sum | batch buckets | batch sum
_STATUS = 0
_ROWS = _STATUS + len(STATUSES)
_LATENCY = _ROWS + 1
_LATENCY_SUM = _LATENCY + len(LATENCY_BUCKETS) + 1
_BATCH = _LATENCY_SUM + 1
_BATCH_SUM = _BATCH + len(BATCH_BUCKETS) + 1
_WIDTH = _BATCH_SUM + 1


class SharedMetrics:
    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._memory = mmap.mmap(-1, slots * _WIDTH * 8)  # anonymous and shared: forked workers see one block
        self._table = np.frombuffer(self._memory, dtype=np.float64).reshape(slots, _WIDTH)
        self._row = self._table[0]

    def use(self, slot: int) -> None:
        """In a worker: count into this slot from now on."""
        self._row = self._table[slot % self.slots]

    def request(self, status: int, seconds: float, rows: int = 0) -> None:
        row = self._row
        name = str(status)
        row[_STATUS + (STATUSES.index(name) if name in STATUSES else len(STATUSES) - 1)] += 1
        row[_ROWS] += rows
        row[_LATENCY + bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        row[_LATENCY_SUM] += seconds

    def batch(self, rows: int) -> None:
        row = self._row
        row[_BATCH + bisect.bisect_left(BATCH_BUCKETS, rows)] += 1
        row[_BATCH_SUM] += rows

    def render(self) -> bytes:
        registry = CollectorRegistry()
        registry.register(_Collector(self._table.sum(axis=0)))
        return generate_latest(registry)


def _histogram(name: str, documentation: str, bounds: tuple[float, ...], counts: np.ndarray, total: float) -> Metric:
    cumulative = np.cumsum(counts)
    buckets = [(str(float(b)), float(c)) for b, c in zip(bounds, cumulative[:-1], strict=True)]
    buckets.append(("+Inf", float(cumulative[-1])))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=float(total))


class _Collector:
    def __init__(self, totals: np.ndarray) -> None:
        self.totals = totals

    def collect(self) -> Iterator[Any]:
        t = self.totals
        requests = CounterMetricFamily("mlops_requests", "Scoring requests by status", labels=["status"])
        for index, status in enumerate(STATUSES):
            requests.add_metric([status], float(t[_STATUS + index]))
        yield requests
        yield CounterMetricFamily("mlops_predicted_rows", "Rows predicted", value=float(t[_ROWS]))
        latency = t[_LATENCY : _LATENCY + len(LATENCY_BUCKETS) + 1]
        yield _histogram("mlops_request_seconds", "Latency of /invocations", LATENCY_BUCKETS, latency, t[_LATENCY_SUM])
        batches = t[_BATCH : _BATCH + len(BATCH_BUCKETS) + 1]
        yield _histogram("mlops_batch_rows", "Rows per predict call", tuple(map(float, BATCH_BUCKETS)), batches, t[_BATCH_SUM])
