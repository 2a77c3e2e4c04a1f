"""What tracking costs, and what the cluster buys, side by side in one script.

1. The same LogisticRegression fit on 100k x 20: plain, under ``%%train`` (our tracking: params, metrics,
   model with signature and input example, cell, fingerprints, requirements, training profile), and under
   ``mlflow.sklearn.autolog()``. Prints the seconds each adds to the cell and the ratio (target <= 1/10).
2. A grid search (RandomForest, 8 candidates x 3 folds) sequentially in scikit-learn and on a 2-worker Dask
   LocalCluster through ``%%train --search``'s backend. Prints the speedup (target >= 1.7x).

Run: ``.venv/bin/python benchmarks/train.py`` (add ``--skip-search`` for part 1 only).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def make_data(rows: int, seed: int = 0):
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=rows, n_features=20, n_informative=10, random_state=seed)
    import pandas as pd

    return pd.DataFrame(x, columns=[f"f{i}" for i in range(20)]), pd.Series(y, name="label")


def best(times: list[float]) -> float:
    return min(times)


def tracking_costs(repeat: int) -> dict[str, float]:
    from IPython.core.interactiveshell import InteractiveShell
    from sklearn.linear_model import LogisticRegression

    x, y = make_data(100_000)
    os.environ["MLOPS_HOME"] = tempfile.mkdtemp(prefix="bench-train-ours-")
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "mlops_magics")
    shell.user_ns.update(X=x, y=y, LogisticRegression=LogisticRegression)
    from mlops_magics.train.background import WRITER

    plain, ours, flush = [], [], []
    cell = "model = LogisticRegression(max_iter=200).fit(X, y)"
    shell.run_cell_magic("train", "--data X,y --model bench", cell)  # warm-up: imports, store creation
    WRITER.flush()
    for _ in range(repeat):
        start = time.perf_counter()
        LogisticRegression(max_iter=200).fit(x, y)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        shell.run_cell_magic("train", "--data X,y --model bench", cell)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        WRITER.flush()
        flush.append(time.perf_counter() - start)

    import mlflow
    import mlflow.sklearn

    store = tempfile.mkdtemp(prefix="bench-train-autolog-")
    mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
    mlflow.set_experiment("autolog")
    mlflow.sklearn.autolog(log_input_examples=True, log_model_signatures=True, silent=True)
    with mlflow.start_run():
        LogisticRegression(max_iter=200).fit(x, y)  # warm-up
    autolog = []
    for _ in range(repeat):
        start = time.perf_counter()
        with mlflow.start_run():
            LogisticRegression(max_iter=200).fit(x, y)
        autolog.append(time.perf_counter() - start)
    mlflow.sklearn.autolog(disable=True)
    base = best(plain)
    result = {
        "plain_fit_s": base,
        "ours_cell_s": best(ours),
        "ours_added_s": best(ours) - base,
        "ours_background_s": statistics.median(flush),
        "autolog_cell_s": best(autolog),
        "autolog_added_s": best(autolog) - base,
    }
    result["ratio_added"] = result["ours_added_s"] / result["autolog_added_s"]
    return result


def search_speedup() -> dict[str, float]:
    from distributed import Client, LocalCluster
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV

    from mlops_magics.train.search import run_search

    x, y = make_data(20_000, seed=1)
    space = {"n_estimators": [40, 60], "max_depth": [6, 10], "max_features": ["sqrt", 0.5]}
    start = time.perf_counter()
    GridSearchCV(RandomForestClassifier(random_state=0), space, cv=3, n_jobs=1).fit(x, y)
    sequential = time.perf_counter() - start
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster):
        start = time.perf_counter()
        run_search(RandomForestClassifier(random_state=0), x, y, "grid", space, 3, None, progress=False)
        distributed = time.perf_counter() - start
    return {"sequential_s": sequential, "cluster_s": distributed, "speedup": sequential / distributed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    costs = tracking_costs(args.repeat)
    print("\n1. tracking cost of one LogisticRegression fit on 100k x 20 (best of", args.repeat, "runs)")
    for key, value in costs.items():
        print(f"   {key:<20} {value:8.3f}")
    verdict = "PASS" if costs["ratio_added"] <= 0.1 else "MISS"
    print(f"   ours adds {costs['ratio_added']:.3f} of what autolog adds (target <= 0.1): {verdict}")
    if not args.skip_search:
        search = search_speedup()
        print("\n2. grid search, RandomForest, 8 candidates x 3 folds on 20k x 20")
        for key, value in search.items():
            print(f"   {key:<20} {value:8.3f}")
        verdict = "PASS" if search["speedup"] >= 1.7 else "MISS"
        print(f"   speedup on a 2-worker LocalCluster {search['speedup']:.2f}x (target >= 1.7x): {verdict}")


if __name__ == "__main__":
    np.random.seed(0)
    main()
