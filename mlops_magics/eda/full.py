"""The complete ydata-profiling report, for those who want it — on a sample when the data is large.

ydata-profiling is what the product names; its maintained continuation ``fg-data-profiling`` (imported as
``data_profiling``, same ``ProfileReport``) is used instead when it is installed.
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from mlops_magics.eda.sources import open_source

FULL_REPORT_MAX_ROWS = 100_000


def _report_class() -> Any:
    try:
        from data_profiling import ProfileReport  # the maintained continuation
    except ImportError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from ydata_profiling import ProfileReport
    return ProfileReport


def _frame(data: Any, max_rows: int, seed: int) -> tuple[pd.DataFrame, int]:
    source = open_source(data)
    if source.pandas is not None:
        frame = source.pandas
        total = len(frame)
    elif source.files is not None:
        total = source.files.rows()
        fraction = min(1.0, max_rows / total) if total else 1.0
        frame = (source.files.sampled(fraction, seed) if fraction < 1 else source.files).read()
    else:
        total = len(source.dask)
        fraction = min(1.0, max_rows / total) if total else 1.0
        frame = source.dask.sample(frac=fraction, random_state=seed).compute() if fraction < 1 else source.dask.compute()
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    return frame, total


def full_report(data: Any, title: str, *, max_rows: int = FULL_REPORT_MAX_ROWS, seed: int = 0, progress: bool = True) -> str:
    """The full report's HTML; its title says when it covers a sample."""
    frame, total = _frame(data, max_rows, seed)
    if len(frame) < total:
        title = f"{title} (uniform sample of {len(frame):,} of {total:,} rows)"
    report = _report_class()(frame, title=title, progress_bar=progress, explorative=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return report.to_html()
