"""Benchmark: the preparation ``%prep`` writes, against skrub's default pipeline and a naive baseline.

Usage::

    .venv/bin/pip install palmerpenguins            # the penguins data (not a dependency of the project)
    .venv/bin/python benchmarks/prep.py             # every data set, 5-fold CV x 3 (about 3 minutes on 2 cores)
    .venv/bin/python benchmarks/prep.py --quick     # 3-fold CV once, 1,200-row generated tables (under a minute)
    .venv/bin/python benchmarks/prep.py --explain   # also each data set's decisions (what %prep --explain shows)
    .venv/bin/python benchmarks/prep.py --only wine --repeats 10 --json out.json

Data, all from installed packages (no download) or generated with a fixed seed:

- scikit-learn's bundled sets made messy with ``numpy.random.default_rng([set, seed])``: the rows are shuffled; one
  informative number becomes labelled quartiles ("low" .. "very high", 8% missing), another a high-cardinality code
  (the value scaled to about 120 levels plus noise, "C87"), another dates written as text (the value as days after
  2015-01-01 plus noise, 5% missing), another numbers written as text (6% missing); three more have 5%, 10% and 20%
  of their cells missing; an integer record ID, a constant column. breast_cancer (binary), wine (3 classes),
  diabetes (regression, the unscaled set).
- palmerpenguins as it ships (missing values, string categories): species (3 classes) and body mass (regression).
- three generated tables (``default_rng([table, seed])``, 2,500 rows before duplicates): loans (binary), rentals
  (regression, the target skewed) and machines (binary, 5% failures), with skewed numbers, missing values,
  categories with and without missing values, codes of many levels with an effect per level (one of them zip codes
  written in digits), numbers and dates as text, a real datetime, booleans with missing values, infinities, numbers
  mixed with words, a mostly-zero count, a near-copy of a column, a mostly missing column, IDs, a constant and
  duplicate rows.

Each data set is profiled once, whole (``eda.profile(frame, target=..., progress=False)``, as a user profiles before
splitting), and ``profile.suggest(target, task)`` gives the code. Its row steps run first, on the frame every method
then sees (duplicate rows and rows without a target dropped, as the inserted cell does). Then, on the same folds
(5-fold, stratified for classification, repeated with shuffle seeds 0, 1, 2), three preparations in front of one
fixed estimator:

- ours: the ``prep`` ColumnTransformer the code defines (``Suggestion.pipeline()``), fitted inside each fold: the
  default code (``--model linear``) in front of the linear estimator, ``%prep --model trees`` (native categories,
  missing values and skew left to the model) in front of gradient boosting;
- skrub: ``skrub.tabular_pipeline(estimator)``, skrub's default (TableVectorizer; imputer and scaler for a linear
  model, native categories for gradient boosting);
- naive: the non-numeric columns dropped, a StandardScaler (linear estimator only), the training rows with a missing
  value dropped. It is scored on the same test rows as the others: a test row with a missing value gets the training
  fold's prior (class shares, or the mean). "naive, own rows" is what the naive user would report instead: the same
  model cross-validated over the complete rows only (another set of rows, so not compared).

Estimators: LogisticRegression(max_iter=5000) or Ridge(), and HistGradientBoosting{Classifier,Regressor}
(random_state=0), on one thread (OpenMP and BLAS limited: other work on the machine made HistGradientBoosting's
threads spin). Scores: ROC AUC for classification (one-vs-rest, macro-averaged, over three classes), R² for
regression, both in points (x100); a difference carries the standard error of the paired per-fold differences. A
preparation that raises is reported as failing, with its one-line error.

Alerts: each of the profile's alerts is answered (a column's step names it, or a row step: duplicates, rows without
a target), left (in ``plan.left`` with its reason, or a note on the target in the code: an imbalanced class, a
skewed regression target) or neither. The target is that none is neither.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ORIGIN = pd.Timestamp("2015-01-01")


@dataclass
class DataSet:
    name: str
    frame: pd.DataFrame
    target: str
    task: str  # "classification" or "regression"
    planted: list[str] = field(default_factory=list)  # what was made messy, for the report


# --- scikit-learn's bundled sets, made messy ---------------------------------------------------------------------
@dataclass(frozen=True)
class Mess:
    binned: str  # becomes labelled quartiles
    coded: str  # becomes a high-cardinality code
    dated: str  # becomes dates as text
    texted: str  # written as text
    holes: tuple[str, str, str]  # 5%, 10%, 20% of their cells missing


def _missing(rng: np.random.Generator, values: pd.Series, share: float) -> pd.Series:
    values = values.astype(object) if values.dtype.kind not in "fc" else values.copy()
    values.iloc[rng.choice(len(values), round(len(values) * share), replace=False)] = None if values.dtype == object else np.nan
    return values


def _scaled(values: pd.Series) -> np.ndarray:
    low, high = values.min(), values.max()
    return ((values - low) / (high - low)).to_numpy()


def messy(name: str, frame: pd.DataFrame, target: str, task: str, mess: Mess, seed: int, number: int) -> DataSet:
    rng = np.random.default_rng([number, seed])
    frame = frame.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)
    rows = len(frame)
    out = pd.DataFrame({"record_id": np.arange(10_001, 10_001 + rows)})  # in the (shuffled) order records came in
    for column in frame.columns:
        values = frame[column]
        if column == mess.binned:
            labels = pd.qcut(values, 4, labels=["low", "medium", "high", "very high"]).astype(str)
            out[column] = _missing(rng, labels, 0.08)
        elif column == mess.coded:
            codes = np.round(_scaled(values) * 120 + rng.normal(0, 4, rows)).astype(int)
            out[column] = [f"C{c}" for c in codes]
        elif column == mess.dated:
            days = _scaled(values) * 1_500 + rng.normal(0, 10, rows)
            dates = pd.Series((ORIGIN + pd.to_timedelta(days.round(), unit="D")).strftime("%Y-%m-%d"))
            out[column] = _missing(rng, dates, 0.05)
        elif column == mess.texted:
            out[column] = _missing(rng, pd.Series([f"{v:.6g}" for v in values]), 0.06)
        elif column in mess.holes:
            out[column] = _missing(rng, values.astype(float), (0.05, 0.10, 0.20)[mess.holes.index(column)])
        else:
            out[column] = values
    out["batch"] = "B1"
    planted = [
        f"{mess.binned} as quartile labels (8% missing)",
        f"{mess.coded} as a ~120-level code",
        f"{mess.dated} as dates in text (5% missing)",
        f"{mess.texted} as numbers in text (6% missing)",
        "5/10/20% missing: " + ", ".join(mess.holes),
        "record_id (integer ID)",
        "batch (constant)",
    ]
    return DataSet(name, out, target, task, planted)


def bundled(seed: int) -> list[DataSet]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

    cancer = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "benign"})
    wine = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    diabetes = load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "progression"})
    return [
        messy(
            "breast_cancer",
            cancer,
            "benign",
            "classification",
            Mess(
                "worst radius",
                "worst concave points",
                "mean concave points",
                "worst texture",
                ("worst area", "mean texture", "worst smoothness"),
            ),
            seed,
            1,
        ),
        messy(
            "wine",
            wine,
            "cultivar",
            "classification",
            Mess("flavanoids", "color_intensity", "proline", "alcohol", ("hue", "od280/od315_of_diluted_wines", "malic_acid")),
            seed,
            2,
        ),
        messy(
            "diabetes",
            diabetes,
            "progression",
            "regression",
            Mess("bmi", "s5", "bp", "s3", ("age", "s4", "s6")),
            seed,
            3,
        ),
    ]


def penguins() -> list[DataSet]:
    try:
        from palmerpenguins import load_penguins
    except ImportError:
        print("palmerpenguins is not installed (.venv/bin/pip install palmerpenguins): its two data sets are skipped")
        return []
    frame = load_penguins()
    kept = ["missing values in every measure, sex 3% missing", "string categories (island, sex)"]
    return [
        DataSet("penguins", frame, "species", "classification", kept),
        DataSet("penguins_mass", frame, "body_mass_g", "regression", kept),
    ]


# --- generated messy tables ------------------------------------------------------------------------------------
def _duplicated(frame: pd.DataFrame, rng: np.random.Generator, share: float) -> pd.DataFrame:
    copies = frame.iloc[rng.choice(len(frame), int(len(frame) * share), replace=False)]
    return pd.concat([frame, copies], ignore_index=True).sample(frac=1.0, random_state=0).reset_index(drop=True)


def _with_missing(rng: np.random.Generator, values: Any, share: float) -> pd.Series:
    return _missing(rng, pd.Series(values), share)


def _zipf_levels(rng: np.random.Generator, names: list[str], rows: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, len(names) + 1) ** 0.6
    return rng.choice(len(names), rows, p=weights / weights.sum())


def loans(rows: int, seed: int) -> DataSet:
    rng = np.random.default_rng([11, seed])
    income = rng.lognormal(10.6, 0.55, rows)
    age = np.clip(rng.normal(42, 12, rows), 18, 80).round()
    jobs = np.array(["salaried", "self-employed", "contract", "retired", "student"])
    job = rng.choice(len(jobs), rows, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    zips = [f"{z:05d}" for z in rng.choice(np.arange(10_000, 99_999), 300, replace=False)]
    zip_index = _zipf_levels(rng, zips, rows)
    zip_effect = rng.normal(0, 0.9, len(zips))
    amount = rng.gamma(2.0, 6_000, rows)
    days = rng.integers(0, 4 * 365, rows)
    guarantor = rng.random(rows) < 0.3
    ratio = amount / income
    logit = (
        -1.6
        - 1.1 * np.log(income / 40_000)
        + 2.0 * ratio
        + np.array([0.0, 0.5, 0.7, -0.4, 1.0])[job]
        + zip_effect[zip_index]
        + 0.6 * days / 1_460
        - 0.9 * guarantor
        + 0.0008 * (age - 42) ** 2
    )
    default = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    debt_ratio = ratio * rng.uniform(0.9, 1.1, rows)
    debt_ratio[rng.random(rows) < 0.01] = np.inf  # income recorded as 0
    frame = pd.DataFrame(
        {
            "application_id": [f"A{i:07d}" for i in rng.permutation(rows)],
            "income": _with_missing(rng, income.round(2), 0.08),
            "age": _with_missing(rng, age, 0.05),
            "employment": _with_missing(rng, jobs[job], 0.10),
            "zip_code": [zips[i] for i in zip_index],
            "amount": [f"{v:.2f}" for v in amount],
            "applied_on": list((pd.Timestamp("2019-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d")),
            "debt_ratio": debt_ratio,
            "guarantor": _with_missing(rng, guarantor, 0.04),
            "channel": "online",
            "referral_code": _with_missing(rng, [f"R{v}" for v in rng.integers(0, 40, rows)], 0.65),
            "default": default,
        }
    )
    planted = [
        "application_id (text ID)",
        "income skewed, 8% missing",
        "age 5% missing",
        "employment 10% missing",
        "zip_code 300 levels with an effect each",
        "amount as text",
        "applied_on dates as text (a trend)",
        "debt_ratio with infinities",
        "guarantor booleans 4% missing",
        "channel constant",
        "referral_code 65% missing",
        "3% duplicate rows",
    ]
    return DataSet("loans (generated)", _duplicated(frame, rng, 0.03), "default", "classification", planted)


def rentals(rows: int, seed: int) -> DataSet:
    rng = np.random.default_rng([12, seed])
    area = rng.lognormal(4.1, 0.6, rows)
    rooms = np.clip(np.round(area / 25 + rng.normal(0, 0.7, rows)), 1, 8)
    places = [f"{a}-{b}" for a in ("north", "south", "east", "west", "old town", "harbour") for b in range(25)]
    place = _zipf_levels(rng, places, rows)
    place_effect = rng.normal(0, 0.25, len(places))
    floors = rng.integers(-1, 13, rows)
    furnished = rng.random(rows) < 0.35
    labels = np.array(list("ABCDEFG"))
    label = rng.integers(0, 7, rows)
    minutes = rng.integers(0, 3 * 365 * 24 * 60, rows)
    log_rent = (
        3.2
        + 0.8 * np.log(area)
        + 0.04 * rooms
        + place_effect[place]
        + 0.01 * floors
        + 0.12 * furnished
        - 0.03 * label
        + 0.1 * minutes / minutes.max()
        + rng.normal(0, 0.12, rows)
    )
    rent = np.exp(log_rent).round()
    floor_text = np.where(floors == -1, "basement", np.where(floors == 0, "ground", floors.astype(str)))
    frame = pd.DataFrame(
        {
            "listing_id": rng.permutation(rows) + 500_000,
            "area_m2": _with_missing(rng, area.round(1), 0.10),
            "rooms": rooms.astype(int),
            "neighbourhood": [places[i] for i in place],
            "listed_at": list((pd.Timestamp("2021-01-01") + pd.to_timedelta(minutes, unit="min")).strftime("%Y-%m-%d %H:%M")),
            "floor": floor_text,
            "furnished": _with_missing(rng, np.where(furnished, "yes", "no"), 0.15),
            "energy_label": _with_missing(rng, labels[label], 0.30),
            "service_charge": [f"{v:.2f}" for v in rng.gamma(3.0, 20.0, rows)],
            "agent_note": _with_missing(rng, rng.choice(["call first", "no pets", "viewing sat"], rows), 0.70),
            "city": "Utrecht",
            "rent": rent,
        }
    )
    planted = [
        "listing_id (integer ID)",
        "area_m2 skewed, 10% missing",
        "neighbourhood 150 levels with an effect each",
        "listed_at date-times as text",
        "floor numbers mixed with words",
        "furnished yes/no 15% missing",
        "energy_label 30% missing",
        "service_charge as text",
        "agent_note 70% missing",
        "city constant",
        "2% duplicate rows",
    ]
    return DataSet("rentals (generated)", _duplicated(frame, rng, 0.02), "rent", "regression", planted)


def machines(rows: int, seed: int) -> DataSet:
    rng = np.random.default_rng([13, seed])
    models = np.array(["M100", "M200", "M250", "X1", "X2", "Z9"])
    model = rng.choice(len(models), rows, p=[0.3, 0.25, 0.15, 0.15, 0.1, 0.05])
    temperature = rng.normal(70, 8, rows)
    pressure = rng.normal(300, 25, rows)
    vibration = (rng.pareto(2.5, rows) + 0.05) * 3
    errors = rng.poisson(0.35, rows)
    hours = rng.integers(0, 2 * 365 * 24, rows)
    operators = [f"op{i:03d}" for i in range(120)]
    operator = _zipf_levels(rng, operators, rows)
    firmware = rng.choice(["3", "4", "5", "beta", "legacy"], rows, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    logit = (
        -5.0
        + 1.4 * np.log(vibration)
        + 0.06 * (temperature - 70)
        + 0.9 * (errors > 0)
        + np.array([0.0, 0.3, -0.2, 0.8, 0.5, 1.2])[model]
        + 0.01 * (pressure - 300)
        + np.where(firmware == "beta", 0.7, 0.0)
    )
    failure = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    kpa = pd.Series(pressure.round(1))
    frame = pd.DataFrame(
        {
            "serial": [f"SN-{v:06d}-{c}" for v, c in zip(rng.permutation(rows), rng.choice(list("ABC"), rows), strict=True)],
            "model": models[model],
            "temperature": temperature.round(2),
            "pressure_kpa": _missing(rng, kpa, 0.08),
            "pressure_psi": (pressure * 0.145038 + rng.normal(0, 0.05, rows)).round(2),
            "vibration": vibration.round(4),
            "error_count": errors,
            "firmware": firmware,
            "operator": [operators[i] for i in operator],
            "read_at": pd.Timestamp("2023-01-01") + pd.to_timedelta(hours, unit="h"),
            "site": "plant-7",
            "humidity": _with_missing(rng, rng.normal(45, 5, rows).round(1), 0.55),
            "failure": failure,
        }
    )
    planted = [
        "serial (text ID)",
        "pressure_kpa 8% missing, pressure_psi its near-copy",
        "vibration skewed (Pareto)",
        "error_count mostly zeros",
        "firmware numbers mixed with words",
        "operator 120 levels",
        "read_at a datetime",
        "site constant",
        "humidity 55% missing",
        "1% duplicate rows",
        "failures rare",
    ]
    return DataSet("machines (generated)", _duplicated(frame, rng, 0.01), "failure", "classification", planted)


def data_sets(quick: bool, seed: int) -> list[DataSet]:
    rows = 1_200 if quick else 2_500
    return [*bundled(seed), *penguins(), loans(rows, seed), rentals(rows, seed), machines(rows, seed)]


# --- the methods -----------------------------------------------------------------------------------------------
def estimators(task: str) -> dict[str, Callable[[], Any]]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "classification":
        return {
            "LogisticRegression": lambda: LogisticRegression(max_iter=5_000),
            "HistGradientBoosting": lambda: HistGradientBoostingClassifier(random_state=0),
        }
    return {"Ridge": lambda: Ridge(), "HistGradientBoosting": lambda: HistGradientBoostingRegressor(random_state=0)}


class Naive:
    """Numeric columns only, complete rows only; what it cannot score gets the training fold's prior."""

    def __init__(self, estimator: Any, linear: bool, task: str) -> None:
        self.estimator, self.linear, self.task = estimator, linear, task

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Naive:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.columns = list(X.select_dtypes("number").columns)
        complete = X[self.columns].notna().all(axis=1).to_numpy()
        self.model = make_pipeline(StandardScaler(), self.estimator) if self.linear else self.estimator
        self.model.fit(X.loc[complete, self.columns], y[complete])
        if self.task == "classification":
            self.classes_ = np.unique(y)
            self.prior = y.value_counts(normalize=True).reindex(self.classes_).to_numpy()
        else:
            self.prior = float(y.mean())
        self.complete_share = float(complete.mean())
        return self

    def _split(self, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        complete = X[self.columns].notna().all(axis=1).to_numpy()
        return complete, X.loc[complete, self.columns]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        complete, rows = self._split(X)
        out = np.tile(self.prior, (len(X), 1))
        if complete.any():
            known = self.model.predict_proba(rows)
            out[complete] = 0.0
            for index, value in enumerate(self.model.classes_):
                out[complete, np.searchsorted(self.classes_, value)] = known[:, index]
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        complete, rows = self._split(X)
        out = np.full(len(X), self.prior, dtype=float)
        if complete.any():
            out[complete] = self.model.predict(rows)
        return out


def score(model: Any, X: pd.DataFrame, y: pd.Series, task: str, classes: np.ndarray) -> float:
    from sklearn.metrics import r2_score, roc_auc_score

    if task == "regression":
        return float(r2_score(y, model.predict(X)))
    proba = model.predict_proba(X)
    if len(classes) == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    return float(roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes))


def folds(data: DataSet, y: pd.Series, count: int, repeats: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` folds, shuffled with seeds 0 .. ``repeats`` - 1: every method gets the same ones."""
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = StratifiedKFold if data.task == "classification" else KFold
    return [
        split for seed in range(repeats) for split in splitter(count, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    ]


def cross_validate(make: Callable[[], Any], X: pd.DataFrame, y: pd.Series, task: str, split: list) -> dict[str, Any]:
    """The mean score over the folds and the seconds fitting took, or the error that stopped it (one line)."""
    classes = np.unique(y) if task == "classification" else np.array([])
    scores, seconds = [], 0.0
    for index, (train, test) in enumerate(split):
        model = make()
        # StringEncoder (in both ours and skrub's pipeline) takes no random_state by default: its SVD draws from
        # numpy's global generator, seeded here so that a run repeats.
        np.random.seed(index)
        started = time.perf_counter()
        try:
            model.fit(X.iloc[train], y.iloc[train])
            seconds += time.perf_counter() - started
            scores.append(score(model, X.iloc[test], y.iloc[test], task, classes))
        except Exception as error:  # a preparation that cannot take the data: reported, not fatal
            return {"score": None, "seconds": seconds, "error": f"{type(error).__name__}: {str(error).splitlines()[0]}"}
    return {"score": float(np.mean(scores)), "scores": scores, "seconds": seconds, "error": None}


def methods(suggestion: Any, make_estimator: Callable[[], Any], linear: bool, task: str) -> dict[str, Callable[[], Any]]:
    import skrub
    from sklearn.pipeline import make_pipeline

    return {
        "ours": lambda: make_pipeline(suggestion.pipeline(), make_estimator()),
        "skrub": lambda: skrub.tabular_pipeline(make_estimator()),
        "naive": lambda: Naive(make_estimator(), linear, task),
    }


# --- alerts ----------------------------------------------------------------------------------------------------
def alert_account(alerts: list[dict[str, Any]], plan: Any) -> dict[str, Any]:
    """Each alert: answered (a column's step or a row step), left (``plan.left`` with its reason, or a note on the
    target: the code says what to do with the model) or neither."""
    answered = {(d.column, kind) for d in plan.decisions for kind in d.answers}
    left_columns = {(item.column, item.kind): item.reason for item in plan.left if item.column is not None}
    left_frame = {item.message: item.reason for item in plan.left if item.column is None}
    counts = {"answered": 0, "left": 0, "neither": 0}
    neither = []
    for alert in alerts:
        column, kind = alert.get("column"), alert["kind"]
        if kind == "high_correlation":
            how = "left" if left_frame.get(alert["message"]) else "neither"
        elif kind == "duplicates":
            how = "answered" if plan.duplicates else "neither"
        elif column == plan.target and kind == "high_missing":
            how = "answered" if plan.target_missing else "neither"  # the rows without a target are dropped
        elif column == plan.target:  # a note on the target, in the code's comments: what to do with the model
            word = {"imbalanced": "imbalanced", "skewed": "skew"}.get(kind)
            how = "left" if word and any(word in note for note in plan.target_notes) else "neither"
        elif (column, kind) in answered:
            how = "answered"
        elif left_columns.get((column, kind)):
            how = "left"
        else:
            how = "neither"
        counts[how] += 1
        if how == "neither":
            neither.append(alert["message"])
    return {**counts, "total": len(alerts), "unaccounted": neither, "kinds": sorted({a["kind"] for a in alerts})}


# --- the run ---------------------------------------------------------------------------------------------------
def run_one(data: DataSet, fold_count: int, repeats: int, explain: bool) -> list[dict[str, Any]]:
    from mlops_magics.eda import profile

    started = time.perf_counter()
    profiled = profile(data.frame, target=data.target, progress=False)
    suggestion = profiled.suggest(data.target, data.task)
    prep_seconds = time.perf_counter() - started
    for_trees = profiled.suggest(data.target, data.task, model="trees")  # %prep --model trees
    plan = suggestion.plan
    if explain:
        print(f"\n## {data.name}\n{suggestion!r}\n")
    frame = data.frame
    if plan.duplicates:  # the cell's row steps, before any split
        frame = frame.drop_duplicates()
    if plan.target_missing:
        frame = frame.dropna(subset=[data.target])
    frame = frame.reset_index(drop=True)
    X, y = frame.drop(columns=data.target), frame[data.target]
    split = folds(data, y, fold_count, repeats)
    account = alert_account(profiled.alerts, plan)
    numeric = X.select_dtypes("number")
    complete = numeric.notna().all(axis=1).to_numpy()
    rows = []
    for estimator_name, make_estimator in estimators(data.task).items():
        linear = estimator_name != "HistGradientBoosting"
        made = methods(suggestion if linear else for_trees, make_estimator, linear, data.task)
        row: dict[str, Any] = {"data": data.name, "task": data.task, "estimator": estimator_name, "rows": len(frame)}
        for method, make in made.items():
            row[method] = cross_validate(make, X, y, data.task, split)
        if complete.sum() >= 2 * fold_count:  # what the naive user reports: CV over the complete rows alone
            kept_X, kept_y = X[complete].reset_index(drop=True), y[complete].reset_index(drop=True)
            row["naive_own"] = cross_validate(made["naive"], kept_X, kept_y, data.task, folds(data, kept_y, fold_count, repeats))
        row["naive_rows_share"] = float(complete.mean())
        row["alerts"] = account
        row["prep_seconds"] = prep_seconds
        rows.append(row)
    return rows


def _points(result: dict[str, Any] | None) -> str:
    if result is None:
        return "—"
    return "fails" if result["score"] is None else f"{100 * result['score']:.1f}"


def _gap(row: dict[str, Any], other: str) -> float | None:
    """Ours minus the other, in points; None when either failed."""
    ours, theirs = row["ours"]["score"], row[other]["score"]
    return None if ours is None or theirs is None else 100 * (ours - theirs)


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}"


def _error(row: dict[str, Any], other: str) -> str:
    """The standard error of ours minus the other over the folds (paired: the same folds), in points."""
    if row["ours"]["score"] is None or row[other]["score"] is None:
        return ""
    differences = 100 * (np.array(row["ours"]["scores"]) - np.array(row[other]["scores"]))
    return f" ±{differences.std(ddof=1) / np.sqrt(len(differences)):.1f}" if len(differences) > 1 else ""


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| data set | metric | estimator | ours | skrub | naive | ours−skrub | ours−naive | alerts answered/left/total "
        "| naive, own rows (rows kept) |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        alerts = row["alerts"]
        metric = "R²" if row["task"] == "regression" else "ROC AUC"
        lines.append(
            f"| {row['data']} | {metric} | {row['estimator']} | {_points(row['ours'])} | {_points(row['skrub'])} "
            f"| {_points(row['naive'])} | {_signed(_gap(row, 'skrub'))}{_error(row, 'skrub')} "
            f"| {_signed(_gap(row, 'naive'))}{_error(row, 'naive')} "
            f"| {alerts['answered']}/{alerts['left']}/{alerts['total']} "
            f"| {_points(row.get('naive_own'))} ({row['naive_rows_share']:.0%}) |"
        )
    errors = [(row, method) for row in rows for method in ("ours", "skrub", "naive") if row[method]["error"]]
    if errors:
        lines.append("")
    for row, method in errors:
        lines.append(f"- {method} fails on {row['data']} / {row['estimator']}: {row[method]['error']}")
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> str:
    ours_failed = [r for r in rows if r["ours"]["score"] is None]
    # Where the other fails and ours does not, the target is met.
    below = [r for r in rows if (gap := _gap(r, "skrub")) is not None and gap < -1.0]
    not_above = [r for r in rows if (gap := _gap(r, "naive")) is not None and gap <= 0.0]
    seen: dict[str, dict[str, Any]] = {r["data"]: r["alerts"] for r in rows}
    total = sum(a["total"] for a in seen.values())
    accounted = sum(a["answered"] + a["left"] for a in seen.values())

    def named(found: list[dict[str, Any]], other: str) -> str:
        return ", ".join(f"{r['data']} / {r['estimator']} ({_signed(_gap(r, other))})" for r in found)

    def line(target: str, missed: list[dict[str, Any]], other: str) -> str:
        measured = f"{len(rows) - len(missed) - len(ours_failed)}/{len(rows)} rows"
        if missed:
            measured += f"; missed on {named(missed, other)}"
        return f"| {target} | {measured} | {'PASS' if not missed and not ours_failed else 'MISS'} |"

    lines = [
        "| target | measured | result |",
        "|---|---|---|",
        line("never below skrub by more than 1 point (a skrub failure counts as a pass)", below, "skrub"),
        line("above naive", not_above, "naive"),
        f"| every alert answered or left | {accounted}/{total} alerts | {'PASS' if accounted == total else 'MISS'} |",
    ]
    for name, account in seen.items():
        if account["unaccounted"]:
            lines.append(f"- {name}: neither answered nor left: " + "; ".join(account["unaccounted"]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 folds once, 1,200-row generated tables")
    parser.add_argument("--folds", type=int, help="folds (default 5, 3 with --quick)")
    parser.add_argument("--repeats", type=int, help="the k-fold CV repeated with seeds 0..n-1 (default 3, 1 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="another draw of the messy and generated data")
    parser.add_argument("--only", help="run the data sets whose name contains this")
    parser.add_argument("--explain", action="store_true", help="print each data set's decisions")
    parser.add_argument("--json", type=Path, help="write every row here")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import sklearn.ensemble  # noqa: F401  (loads OpenMP, so that the limit below reaches it)
    from threadpoolctl import threadpool_limits

    # One thread for OpenMP and BLAS: on a 2-core machine with other work, HistGradientBoosting's threads spin and
    # a 0.4 s fit took 13 s.
    threadpool_limits(1)
    fold_count = args.folds or (3 if args.quick else 5)
    repeats = args.repeats or (1 if args.quick else 3)
    started = time.perf_counter()
    made = [d for d in data_sets(args.quick, args.seed) if not args.only or args.only in d.name]
    print(f"{len(made)} data sets, {fold_count}-fold CV x {repeats} (stratified for classification), data seed {args.seed}")
    for data in made:
        print(f"- {data.name}: {len(data.frame):,} rows x {data.frame.shape[1] - 1} features, target {data.target} ({data.task})")
        print(f"  {'; '.join(data.planted)}")
    rows: list[dict[str, Any]] = []
    for data in made:
        begun = time.perf_counter()
        rows.extend(run_one(data, fold_count, repeats, args.explain))
        print(f"  {data.name}: {time.perf_counter() - begun:.1f} s", file=sys.stderr)
    print()
    print(report(rows))
    print()
    print(targets(rows))
    print()
    for data in made:
        account = next(r["alerts"] for r in rows if r["data"] == data.name)
        print(f"- {data.name}: alert kinds {', '.join(account['kinds'])}")
    fits = {m: sum(r[m]["seconds"] for r in rows) for m in ("ours", "skrub", "naive")}
    print("\nfit seconds (all folds): " + ", ".join(f"{m} {s:.1f}" for m, s in fits.items()))
    print(f"profile + suggest seconds (all sets): {sum({r['data']: r['prep_seconds'] for r in rows}.values()):.1f}")
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
