"""Profiling (``%eda``): one pass of mergeable statistics over pandas, Dask, CSV or Parquet data."""

from mlops_magics.eda.compare import Comparison, compare
from mlops_magics.eda.engine import profile
from mlops_magics.eda.profile import Profile

__all__ = ["Comparison", "Profile", "compare", "profile"]
