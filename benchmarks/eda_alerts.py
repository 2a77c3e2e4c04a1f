"""Benchmark: alert precision and recall of ``%eda`` (ours) and ydata-profiling on tables with planted problems.

Usage::

    .venv/bin/python benchmarks/eda_alerts.py              # ours (in memory, from CSV) and ydata-profiling (2 configs)
    .venv/bin/python benchmarks/eda_alerts.py --skip-ydata # ours only (seconds)
    .venv/bin/python benchmarks/eda_alerts.py --json out.json

Six seeded tables (``numpy.random.default_rng([table, seed])``; ``--seed`` draws them again), 5,000 rows each
before planted duplicates. Each has clean columns of every kind that must not be flagged (a binary 0/1 target
and feature, normal numbers, an integer age, counts, low-cardinality categories with one- and multi-word
labels, yes/no strings, a boolean) and a known set of planted problems: a constant column, many missing
values, ID-like columns (text and integer), a skewed number, an imbalanced target, dates written as text (three
formats), free text, numbers stored as text, numbers formatted inconsistently, numbers mixed with words,
duplicate rows, a highly correlated pair and a column of mostly zeros. One table has no problem at all.

Every column holds what a CSV would give: strings, integers, floats, booleans. Ours profiles each table in
memory (``profile(df, target=...)``) and from a CSV file of it (read by Dask, strings as pyarrow strings);
ydata-profiling profiles the same frame twice, with ``minimal=True`` (no correlations) and with its default
configuration (``ProfileReport(df)``), and its alerts are read from ``report.description_set.alerts``.

Scoring. Each tool's alerts are mapped to one vocabulary of problems (table ``YDATA_PROBLEM`` for
ydata-profiling's alert types) and deduplicated per (problem, column); a correlation alert counts once per pair.
A planted problem is *found* when the tool raises that problem on that column (duplicates: on the table; a
correlated pair: on the pair). An alert is *true* when it names a planted problem, or one of the few equivalent
ones listed in ``ALSO_TRUE`` (an ID column is also "high cardinality"); every other alert is false.
Recall = planted problems found / planted; precision = true alerts / alerts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
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

ROWS = 5_000
Unit = tuple[str, Any]  # (problem, column) or (problem, frozenset of two columns) or (problem, None)

# --- the tables ---------------------------------------------------------------------------------------------
VOCABULARY = (
    "the delivery was late again but support answered quickly and kindly package arrived damaged product works "
    "great price too high would buy again never order here app crashes when I pay checkout easy fast shipping "
    "colour differs from photo size runs small refund took weeks"
)
WORDS = VOCABULARY.split()


@dataclass
class Table:
    name: str
    frame: pd.DataFrame
    target: str
    planted: set[Unit] = field(default_factory=set)


def _clean_columns(rng: np.random.Generator, rows: int, target: str = "target") -> dict[str, Any]:
    """Columns that are fine as they are: nothing should be said about them."""
    return {
        target: (rng.random(rows) < 0.35).astype(np.int64),  # a binary target, 35% positive
        "income": rng.normal(52_000, 9_000, rows).round(2),
        "age": np.clip(rng.normal(44, 12, rows), 18, 90).astype(np.int64),
        "segment": rng.choice(["retail", "smb", "enterprise", "public"], rows, p=[0.4, 0.3, 0.2, 0.1]),
        "region": rng.choice([f"r{i}" for i in range(12)], rows),
        "active": rng.random(rows) < 0.45,
        "has_app": (rng.random(rows) < 0.4).astype(np.int64),  # a binary 0/1 feature
        "subscribed": rng.choice(["yes", "no"], rows, p=[0.3, 0.7]),
        "city": rng.choice(["New York City", "Rio de Janeiro", "Los Angeles", "Kuala Lumpur", "Paris"], rows),
        "visits": rng.poisson(3.0, rows),
    }


def _dates(rng: np.random.Generator, rows: int, form: str) -> list[str]:
    start = pd.Timestamp("2019-01-01")
    return list((start + pd.to_timedelta(rng.integers(0, 5 * 365 * 86_400, rows), unit="s")).strftime(form))


def _sentences(rng: np.random.Generator, rows: int) -> list[str]:
    return [" ".join(rng.choice(WORDS, rng.integers(4, 18))) for _ in range(rows)]


def _duplicated(frame: pd.DataFrame, rng: np.random.Generator, share: float) -> pd.DataFrame:
    copies = frame.iloc[rng.choice(len(frame), int(len(frame) * share), replace=False)]
    return pd.concat([frame, copies], ignore_index=True).sample(frac=1.0, random_state=0).reset_index(drop=True)


def tables(rows: int = ROWS, seed: int = 0) -> list[Table]:
    made = []

    rng = np.random.default_rng([101, seed])
    frame = pd.DataFrame(_clean_columns(rng, rows))
    frame["country"] = "NL"
    referrer = pd.Series(rng.choice(["search", "friend", "ad", "partner", "event"], rows), dtype=object)
    referrer[rng.random(rows) < 0.45] = None  # asked on a form field most people skip
    frame["referrer"] = referrer
    frame = _duplicated(frame, rng, 0.04)  # whole rows entered twice
    made.append(
        Table("customers", frame, "target", {("constant", "country"), ("high_missing", "referrer"), ("duplicates", None)})
    )

    rng = np.random.default_rng([202, seed])
    frame = pd.DataFrame(_clean_columns(rng, rows))
    price = rng.gamma(4.0, 20.0, rows).round(2)
    frame["transaction_id"] = rng.permutation(np.arange(10_000_000, 10_000_000 + rows))
    frame["order_ref"] = [
        f"ORD-{i:06d}-{c}" for i, c in zip(rng.permutation(rows), rng.choice(list("ABCDEF"), rows), strict=True)
    ]
    frame["amount"] = rng.lognormal(3.0, 1.3, rows).round(2)
    frame["price"] = price
    frame["price_incl_tax"] = (price * 1.21 + rng.normal(0, 0.5, rows)).round(2)
    refund = rng.normal(40, 8, rows).round(2)
    refund[rng.random(rows) < 0.7] = 0.0
    frame["refund"] = refund
    made.append(
        Table(
            "transactions",
            frame,
            "target",
            {
                ("id_like", "transaction_id"),
                ("id_like", "order_ref"),
                ("skewed", "amount"),
                ("high_correlation", frozenset({"price", "price_incl_tax"})),
                ("zeros", "refund"),
            },
        )
    )

    rng = np.random.default_rng([303, seed])
    clean = _clean_columns(rng, rows, target="churned")
    clean["churned"] = (rng.random(rows) < 0.03).astype(np.int64)  # 3% churn: the rare class matters
    frame = pd.DataFrame(clean)
    frame["signup_date"] = _dates(rng, rows, "%Y-%m-%d")
    frame["last_order"] = _dates(rng, rows, "%b %d, %Y")  # "Mar 01, 2021"
    frame["last_feedback"] = _sentences(rng, rows)
    made.append(
        Table(
            "churn",
            frame,
            "churned",
            {
                ("imbalanced", "churned"),
                ("dates_as_text", "signup_date"),
                ("dates_as_text", "last_order"),
                ("free_text", "last_feedback"),
            },
        )
    )

    rng = np.random.default_rng([404, seed])
    frame = pd.DataFrame(_clean_columns(rng, rows))
    frame["list_price"] = [f"${v:,.2f}" for v in rng.uniform(1_000, 90_000, rows)]  # "$12,400.50": numbers as text
    revenue = rng.integers(200, 60_000, rows)
    grouped = rng.random(rows) < 0.5
    frame["revenue"] = [f"{v:,}" if g else str(v) for v, g in zip(revenue, grouped, strict=True)]  # "1,000" and "1244"
    sizes = rng.choice(["S", "M", "L", "XL", "36", "38", "40", "42"], rows)
    frame["size"] = sizes  # clothes sizes in letters and in numbers
    quantity = rng.integers(1, 40, rows).astype(str).astype(object)
    quantity[rng.random(rows) < 0.02] = "unknown"  # a placeholder typed in now and then ("n/a" a CSV reader drops)
    frame["quantity"] = quantity
    made.append(
        Table(
            "orders",
            frame,
            "target",
            {
                ("numbers_as_text", "list_price"),
                ("numbers_as_text", "revenue"),
                ("inconsistent_format", "revenue"),
                ("mixed_types", "size"),
                ("mixed_types", "quantity"),
            },
        )
    )

    rng = np.random.default_rng([505, seed])
    frame = pd.DataFrame(_clean_columns(rng, rows))
    frame["read_at"] = _dates(rng, rows, "%d/%m/%Y %H:%M")
    frame["firmware"] = "v2.1"
    humidity = rng.normal(55, 10, rows).round(1)
    humidity[rng.random(rows) < 0.3] = np.nan
    frame["humidity"] = humidity
    frame["latency_ms"] = rng.pareto(1.8, rows).round(3) * 10
    frame["note"] = [("error " + str(int(v))) if v < 5 else str(int(v)) for v in rng.integers(0, 100, rows)]
    made.append(
        Table(
            "sensors",
            frame,
            "target",
            {
                ("dates_as_text", "read_at"),
                ("constant", "firmware"),
                ("high_missing", "humidity"),
                ("skewed", "latency_ms"),
                ("mixed_types", "note"),
            },
        )
    )

    rng = np.random.default_rng([606, seed])
    frame = pd.DataFrame(_clean_columns(rng, rows))
    frame["tenure_months"] = rng.integers(1, 120, rows)
    frame["plan"] = rng.choice(["basic", "plus", "pro"], rows, p=[0.5, 0.35, 0.15])
    frame["score"] = rng.normal(0, 1, rows).round(4)
    made.append(Table("clean", frame, "target", set()))
    return made


# --- one vocabulary of problems -------------------------------------------------------------------------------
OURS_PROBLEM = {"all_missing": "high_missing", "empty": "empty"}  # every other kind of ours is its own name
YDATA_PROBLEM = {
    "CONSTANT": "constant",
    "ZEROS": "zeros",
    "HIGH_CORRELATION": "high_correlation",
    "HIGH_CARDINALITY": "high_cardinality",
    "DUPLICATES": "duplicates",
    "SKEWED": "skewed",
    "IMBALANCE": "imbalanced",
    "MISSING": "high_missing",
    "INFINITE": "infinite",
    "TYPE_DATE": "dates_as_text",
    "UNIQUE": "id_like",
    "EMPTY": "empty",
}
ALSO_TRUE = {"id_like": {"high_cardinality"}}  # a planted problem -> alerts on the same column that are true too


def score(table: Table, raised: set[Unit]) -> dict[str, Any]:
    planted_columns: dict[Any, set[str]] = {}
    for problem, column in table.planted:
        planted_columns.setdefault(column, set()).add(problem)
    true, false = [], []
    for unit in sorted(raised, key=str):
        problem, column = unit
        accepted = set(planted_columns.get(column, set()))
        for planted in list(accepted):
            accepted |= ALSO_TRUE.get(planted, set())
        (true if problem in accepted else false).append(unit)
    found = sorted((u for u in table.planted if u in raised), key=str)
    missed = sorted((u for u in table.planted if u not in raised), key=str)
    return {"table": table.name, "planted": len(table.planted), "found": found, "missed": missed, "true": true, "false": false}


def _ours_units(alerts: list[dict[str, Any]]) -> set[Unit]:
    units: set[Unit] = set()
    for alert in alerts:
        problem = OURS_PROBLEM.get(alert["kind"], alert["kind"])
        if alert.get("columns"):
            units.add((problem, frozenset(alert["columns"])))
        else:
            units.add((problem, alert["column"]))
    return units


def ours(table: Table, path: Path | None) -> set[Unit]:
    from mlops_magics.eda import profile

    result = profile(str(path) if path is not None else table.frame, target=table.target, progress=False)
    return _ours_units(result.alerts)


def ydata(table: Table, minimal: bool) -> set[Unit]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ydata_profiling import ProfileReport

        report = ProfileReport(table.frame, minimal=minimal, progress_bar=False)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            alerts = report.description_set.alerts
    units: set[Unit] = set()
    for alert in alerts:
        kind = alert.alert_type.name
        problem = YDATA_PROBLEM.get(kind, kind.lower())
        if kind == "HIGH_CORRELATION":  # one alert per column, naming the columns it correlates with
            for other in (alert.values or {}).get("fields", []):
                if other != alert.column_name:
                    units.add((problem, frozenset({alert.column_name, other})))
            continue
        units.add((problem, alert.column_name if kind not in ("DUPLICATES", "NEAR_DUPLICATES", "EMPTY") else None))
    return units


# --- the run ------------------------------------------------------------------------------------------------
def _show(unit: Unit) -> str:
    problem, column = unit
    if isinstance(column, frozenset):
        column = "+".join(sorted(column))
    return f"{problem}({column})" if column is not None else problem


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    planted = sum(r["planted"] for r in rows)
    found = sum(len(r["found"]) for r in rows)
    true = sum(len(r["true"]) for r in rows)
    alerts = true + sum(len(r["false"]) for r in rows)
    return {
        "planted": planted,
        "found": found,
        "recall": found / planted if planted else 1.0,
        "alerts": alerts,
        "true": true,
        "precision": true / alerts if alerts else 1.0,
    }


def run(tools: dict[str, Callable[[Table], set[Unit]]], made: list[Table]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for tool, raise_alerts in tools.items():
        rows, started = [], time.perf_counter()
        for table in made:
            rows.append(score(table, raise_alerts(table)))
        results[tool] = {"tables": rows, "totals": _totals(rows), "seconds": round(time.perf_counter() - started, 1)}
    return results


def report(results: dict[str, Any], made: list[Table]) -> str:
    lines = ["| tool | planted problems found (recall) | true alerts / alerts (precision) | seconds (all tables) |"]
    lines.append("|---|---:|---:|---:|")
    for tool, result in results.items():
        t = result["totals"]
        lines.append(
            f"| {tool} | {t['found']}/{t['planted']} ({t['recall']:.0%}) | {t['true']}/{t['alerts']} ({t['precision']:.0%}) "
            f"| {result['seconds']} |"
        )
    lines += ["", "Per table (found/planted; true/alerts), then what each tool missed and what it flagged falsely:", ""]
    header = "| table | rows x cols | " + " | ".join(results) + " |"
    lines += [header, "|---|---|" + "---|" * len(results)]
    for index, table in enumerate(made):
        cells = []
        for result in results.values():
            row = result["tables"][index]
            cells.append(f"{len(row['found'])}/{row['planted']}; {len(row['true'])}/{len(row['true']) + len(row['false'])}")
        lines.append(f"| {table.name} | {len(table.frame):,} x {table.frame.shape[1]} | " + " | ".join(cells) + " |")
    lines.append("")
    for tool, result in results.items():
        for row in result["tables"]:
            missed = ", ".join(_show(u) for u in row["missed"]) or "—"
            false = ", ".join(_show(u) for u in row["false"]) or "—"
            lines.append(f"- {tool} / {row['table']}: missed {missed}; false {false}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-ydata", action="store_true")
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--seed", type=int, default=0, help="another draw of the same tables")
    parser.add_argument("--json", type=Path, help="write the scored units here")
    args = parser.parse_args()
    made = tables(args.rows, args.seed)
    print("Planted problems:")
    for table in made:
        print(
            f"- {table.name} (target {table.target}): " + (", ".join(_show(u) for u in sorted(table.planted, key=str)) or "none")
        )
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for table in made:
            paths[table.name] = Path(folder) / f"{table.name}.csv"
            table.frame.to_csv(paths[table.name], index=False)
        tools: dict[str, Callable[[Table], set[Unit]]] = {
            "ours (in memory)": lambda t: ours(t, None),
            "ours (from CSV)": lambda t: ours(t, paths[t.name]),
        }
        if not args.skip_ydata:
            tools["ydata-profiling minimal=True"] = lambda t: ydata(t, True)
            tools["ydata-profiling default config"] = lambda t: ydata(t, False)
        results = run(tools, made)
    print()
    print(report(results, made))
    if args.json:
        plain = json.loads(json.dumps(results, default=lambda v: sorted(v) if isinstance(v, frozenset) else str(v)))
        args.json.write_text(json.dumps(plain, indent=1))


if __name__ == "__main__":
    main()
