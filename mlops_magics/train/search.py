"""Hyper-parameter search: every (candidate, fold) fit is one task on the Dask cluster, or on local processes.

The candidates, folds and scores are scikit-learn's (``ParameterGrid`` / ``ParameterSampler``, ``check_cv``,
``check_scoring``) and the result has the shape of its ``cv_results_``. The trials are dispatched here rather
than through joblib's Dask backend because that backend sends the work *inside* each trial (a forest's trees)
back to the cluster as well, whatever ``n_jobs`` says: with all workers busy on trials, those small tasks queue
behind each other and a 2-worker search ran 1.5x, not 1.9x, faster than a sequential one. Here each trial fits
with one thread, and only the refit of the best candidate (the one job left) uses every core.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops_magics.errors import InvalidInput, MLOpsError

KINDS = ("grid", "random")


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            continue
    return text


def parse_space(text: str) -> dict[str, list[Any]]:
    """``"C=0.1,1,10 penalty=l1,l2"`` -> ``{"C": [0.1, 1, 10], "penalty": ["l1", "l2"]}``."""
    space: dict[str, list[Any]] = {}
    for word in text.split():
        name, sep, values = word.partition("=")
        if not sep or not name or not values:
            raise InvalidInput(f'--space: {word!r} is not NAME=V1,V2,...; e.g. --space "C=0.1,1,10 penalty=l1,l2"')
        space[name] = [_value(v) for v in values.split(",") if v != ""]
    if not space:
        raise InvalidInput('--space is empty; e.g. --space "C=0.1,1,10 penalty=l1,l2"')
    return space


@dataclass
class SearchResult:
    best_estimator: Any  # refitted on all the data
    best_params: dict[str, Any]
    cv_results: dict[str, Any]  # scikit-learn's cv_results_ layout: one entry per candidate
    failures: list[str]  # one line per failed fit: the candidate and the estimator's error


@dataclass
class _Fold:
    candidate: int
    fold: int
    score: float
    fit_s: float
    score_s: float
    error: str | None = None


def run_search(
    estimator: Any,
    x: Any,
    y: Any,
    kind: str,
    space: dict[str, list[Any]],
    cv: int,
    trials: int | None,
    seed: int = 0,
    progress: bool = True,
) -> SearchResult:
    """Cross-validated search over ``space``; the best candidate refitted on all of ``x, y``."""
    from sklearn.base import clone, is_classifier
    from sklearn.metrics import check_scoring
    from sklearn.model_selection import ParameterGrid, ParameterSampler, check_cv

    if kind not in KINDS:
        raise InvalidInput(f"--search {kind!r} is not known; use grid or random")
    known = set(estimator.get_params(deep=True))
    unknown = sorted(set(space) - known)
    if unknown:
        raise InvalidInput(f"--space names {unknown} that {type(estimator).__name__} does not have; it has {sorted(known)}")
    if not isinstance(cv, int) or cv < 2:
        raise InvalidInput(f"--cv must be a whole number >= 2 (got {cv!r})")
    if kind == "grid":
        candidates = list(ParameterGrid(space))
    else:
        candidates = list(ParameterSampler(space, n_iter=trials or 10, random_state=seed))
    folds = list(check_cv(cv, y, classifier=is_classifier(estimator)).split(x, y))
    unset_jobs = [name for name in _jobs_params(estimator) if name not in space]
    base = clone(estimator).set_params(**dict.fromkeys(unset_jobs, 1))  # one thread per trial
    scorer = check_scoring(base)
    jobs = [(c, f) for c in range(len(candidates)) for f in range(len(folds))]
    try:
        results = list(_fit_folds(base, candidates, folds, jobs, x, y, scorer, progress))
    except Exception as exc:  # a fit's own error scores NaN in _fit_fold: this is the pool or the cluster failing
        cause = f" ({_last_line(exc.__cause__)})" if exc.__cause__ is not None else ""
        raise MLOpsError(f"the search could not run its fits: {_first_line(exc)}{cause}; nothing was tracked") from None
    table = _cv_results(candidates, len(folds), results)
    if not np.isfinite(table["mean_test_score"]).any():
        first = next(r.error for r in results if r.error)
        raise InvalidInput(f"every trial failed; the first: {first}")
    best_index = int(np.nanargmax(table["mean_test_score"]))
    best_params = candidates[best_index]
    best = clone(estimator).set_params(**best_params)  # the user's own n_jobs settings, untouched
    try:
        _refit(best, x, y)
    except Exception as exc:
        raise InvalidInput(f"the best candidate {best_params} could not be fitted on all the data: {_first_line(exc)}") from None
    failures = [r.error for r in sorted(results, key=lambda r: (r.candidate, r.fold)) if r.error]
    return SearchResult(best, dict(best_params), table, failures)


def _refit(model: Any, x: Any, y: Any) -> None:
    """Fit the best candidate on all the data with every core.

    The cores come from joblib's context, which steps that leave ``n_jobs`` unset follow; setting ``n_jobs=-1`` on
    them instead would warn where scikit-learn deprecated the parameter (LogisticRegression) and change the model.
    """
    import joblib

    with joblib.parallel_config(n_jobs=-1):
        model.fit(x, y)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _last_line(exc: BaseException) -> str:
    """The error at the bottom of a worker's traceback (joblib passes it on as the text of the cause)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip().strip('"')]
    return lines[-1] if lines else type(exc).__name__


def _jobs_params(estimator: Any) -> list[str]:
    """The ``n_jobs`` parameters (the estimator's or its steps') that the user left unset."""
    return [
        name
        for name, value in estimator.get_params(deep=True).items()
        if (name == "n_jobs" or name.endswith("__n_jobs")) and value is None
    ]


def _fit_fold(
    estimator: Any, params: dict[str, Any], x: Any, y: Any, train: Any, test: Any, scorer: Any, where: tuple[int, int]
) -> _Fold:
    """One trial on one fold (runs on a worker). A failing fit scores NaN, as in scikit-learn's searches."""
    import joblib
    from sklearn.base import clone
    from sklearn.utils import _safe_indexing

    model = clone(estimator).set_params(**params)
    began = time.perf_counter()
    try:
        with joblib.parallel_config(backend="sequential"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(_safe_indexing(x, train), _safe_indexing(y, train))
            fitted = time.perf_counter()
            score = float(scorer(model, _safe_indexing(x, test), _safe_indexing(y, test)))
    except Exception as exc:  # a candidate the estimator refuses (e.g. penalty=l1 with lbfgs)
        return _Fold(*where, math.nan, time.perf_counter() - began, 0.0, f"{params}: {_first_line(exc)}")
    return _Fold(*where, score, fitted - began, time.perf_counter() - fitted)


class _Schedule:
    """The order of the (candidate, fold) fits: every candidate's first fold first, then the other folds, the
    slowest candidates' first (their first fold says how long they take), so a search does not end on one worker
    running a slow fit alone. Safe to draw from one thread while another reports results."""

    def __init__(self, jobs: list[tuple[int, int]]) -> None:
        self.waiting = sorted(jobs, key=lambda job: job[1] > 0)
        self.seconds: dict[int, float] = {}
        self.lock = threading.Lock()

    def next(self) -> tuple[int, int] | None:
        with self.lock:
            if not self.waiting:
                return None
            known = [self.seconds[c] for c, f in self.waiting if f > 0 and c in self.seconds]
            guess = sum(known) / len(known) if known else 0.0
            job = max(self.waiting, key=lambda j: (j[1] == 0, self.seconds.get(j[0], guess), -j[0], -j[1]))
            self.waiting.remove(job)
            return job

    def done(self, result: _Fold) -> None:
        with self.lock:
            self.seconds.setdefault(result.candidate, result.fit_s)


def _fit_folds(
    base: Any, candidates: list[dict[str, Any]], folds: list[Any], jobs: list[tuple[int, int]], x: Any, y: Any, scorer: Any,
    progress: bool,
) -> Iterator[_Fold]:  # fmt: skip
    """Each (candidate, fold) fit as one task: on the connected Dask cluster (data sent once), else local processes."""
    from tqdm.auto import tqdm

    from mlops_magics.cluster import connected_client

    schedule = _Schedule(jobs)
    client = connected_client()
    fits = _on_cluster(client, base, candidates, folds, schedule, x, y, scorer) if client is not None else None
    if fits is None:
        fits = _on_local_processes(base, candidates, folds, schedule, x, y, scorer)
    bar = tqdm(total=len(jobs), desc="search", unit="fit", disable=not progress, leave=False)
    try:
        for result in fits:
            schedule.done(result)
            bar.update()
            yield result
    finally:
        bar.close()
        fits.close()  # an interrupted search cancels the fits still queued or running


def _on_cluster(
    client: Any, base: Any, candidates: list[dict[str, Any]], folds: list[Any], schedule: _Schedule, x: Any, y: Any, scorer: Any
) -> Generator[_Fold, None, None]:
    """The fits as tasks on the Dask cluster, at most two per worker thread queued at a time."""
    from distributed import wait

    threads = max(1, sum(client.nthreads().values()))
    x_data, y_data = client.scatter([x, y], broadcast=True)  # sent to every worker once, not with every trial
    running: dict[Any, tuple[int, int]] = {}
    try:
        while True:
            while len(running) < 2 * threads and (job := schedule.next()) is not None:
                c, f = job
                running[client.submit(_fit_fold, base, candidates[c], x_data, y_data, *folds[f], scorer, job, pure=False)] = job
            if not running:
                return
            for future in wait(list(running), return_when="FIRST_COMPLETED").done:
                del running[future]
                yield future.result()
    finally:
        client.cancel(list(running))


def _on_local_processes(
    base: Any, candidates: list[dict[str, Any]], folds: list[Any], schedule: _Schedule, x: Any, y: Any, scorer: Any
) -> Generator[_Fold, None, None]:
    """The fits on this machine's cores through joblib's public API (its loky process pool), one fit a task.

    joblib draws the next task from ``tasks`` as each one finishes, so the schedule still picks the order;
    closing the generator (an error or an interrupt) makes joblib cancel what is left.
    """
    from joblib import Parallel, cpu_count, delayed

    def tasks() -> Iterator[Any]:
        while (job := schedule.next()) is not None:
            c, f = job
            yield delayed(_fit_fold)(base, candidates[c], x, y, *folds[f], scorer, job)

    workers = max(1, cpu_count())
    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered", batch_size=1, pre_dispatch="2*n_jobs")
    yield from parallel(tasks())


def _cv_results(candidates: list[dict[str, Any]], n_folds: int, results: list[_Fold]) -> dict[str, Any]:
    """The results in scikit-learn's ``cv_results_`` layout (the keys a user of GridSearchCV reads)."""
    scores = np.full((len(candidates), n_folds), np.nan)
    fit_s = np.zeros_like(scores)
    score_s = np.zeros_like(scores)
    for r in results:
        scores[r.candidate, r.fold], fit_s[r.candidate, r.fold], score_s[r.candidate, r.fold] = r.score, r.fit_s, r.score_s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a candidate whose folds all failed has no mean
        mean = scores.mean(axis=1)
        std = scores.std(axis=1)
    order = np.where(np.isnan(mean), -np.inf, mean)
    rank = np.array([1 + int((order > value).sum()) for value in order], dtype=np.int32)
    table: dict[str, Any] = {
        "params": candidates,
        "mean_test_score": mean,
        "std_test_score": std,
        "rank_test_score": rank,
        "mean_fit_time": fit_s.mean(axis=1),
        "mean_score_time": score_s.mean(axis=1),
    }
    for fold in range(n_folds):
        table[f"split{fold}_test_score"] = scores[:, fold]
    return table
