"""The Data section's prep test's profile, saved in the UI tests' workspace (MLOPS_HOME) as %eda saves one.

A small messy frame of customers profiled with its target: a customer ID (ID-like), a numeric column and a
category with missing values, a skewed amount, a town of a few hundred levels (high cardinality) and the
churned label. Prints the profile's id, title and columns as one JSON line.

    python prep_setup.py TITLE
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_magics.eda.run import run_eda
from mlops_magics.workspace import Workspace

ROWS = 600


def customers(rows: int = ROWS, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(100_000, 100_000 + rows),
            "age": rng.integers(18, 90, rows).astype("float64"),
            "plan": rng.choice(["basic", "plus", "pro"], rows, p=[0.6, 0.3, 0.1]),
            "monthly_spend": rng.lognormal(3.0, 1.2, rows).round(2),
            "town": [f"town-{i:03d}" for i in rng.integers(0, 250, rows)],
            "churned": rng.choice(["yes", "no"], rows, p=[0.3, 0.7]),
        }
    )
    frame.loc[rng.random(rows) < 0.2, "age"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "plan"] = None
    return frame


def main(title: str) -> dict[str, Any]:
    workspace = Workspace(Path(os.environ["MLOPS_HOME"])).ensure()
    frame = customers()
    result = run_eda(workspace, frame, name="customers", title=title, target="churned", progress=False)
    return {"id": result.saved.id, "title": title, "columns": list(frame.columns)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
