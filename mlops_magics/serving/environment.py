"""The environment every deployment process starts with, set before numpy loads (imports nothing heavy)."""

from __future__ import annotations

import os

# One BLAS thread per worker: requests run in parallel across workers, and forking is safe.
DEFAULTS = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def apply() -> None:
    """The defaults, where the environment does not say otherwise."""
    for variable, value in DEFAULTS.items():
        os.environ.setdefault(variable, value)
