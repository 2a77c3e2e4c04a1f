"""How a column is profiled, decided once from the frame's dtypes so every partition agrees."""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pandas.api import types

# "mixed": a streamed column whose chunks came with different kinds (``stream``); never planned from a dtype.
Kind = Literal["numeric", "boolean", "datetime", "categorical", "mixed"]


def kind_of(dtype: object) -> Kind:
    if types.is_bool_dtype(dtype):
        return "boolean"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if types.is_timedelta64_dtype(dtype) or types.is_numeric_dtype(dtype):
        return "numeric"
    return "categorical"


def plan(dtypes: pd.Series) -> dict[str, Kind]:
    return {str(name): kind_of(dtype) for name, dtype in dtypes.items()}
