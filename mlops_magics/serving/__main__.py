"""``python -m mlops_magics.serving``: one deployment's process (the controller starts it)."""

import os

# One BLAS thread per worker: requests run in parallel across workers, and forking is safe.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

from mlops_magics.serving.server import main  # noqa: E402

main()
