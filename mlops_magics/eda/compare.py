"""Drift between two profiles, column by column — from the profiles alone, so the monitor can test logged
requests against a model's training profile the same way.

Numbers: PSI over the reference's deciles, Kolmogorov-Smirnov distance and Wasserstein distance (in units
of the reference's standard deviation) from the quantile summaries. Categories: PSI and Jensen-Shannon
distance over the level shares.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops_magics.eda.profile import Profile
from mlops_magics.eda.sketches import QuantileSummary

PSI_DRIFT = 0.2
PSI_WATCH = 0.1
_EPS = 1e-4


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.clip(expected, _EPS, None)
    a = np.clip(actual, _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric(ref: dict[str, Any], cur: dict[str, Any]) -> dict[str, Any]:
    r = QuantileSummary.from_dict(ref["summary"])
    c = QuantileSummary.from_dict(cur["summary"])
    if not r.values.size or not c.values.size:
        return {"psi": None, "ks": None, "wasserstein": None}
    edges = np.unique(r.quantiles(np.linspace(0.1, 0.9, 9)))
    ref_cdf = np.concatenate([[0.0], r.cdf(edges), [1.0]])
    cur_cdf = np.concatenate([[0.0], c.cdf(edges), [1.0]])
    grid = np.union1d(r.values, c.values)
    ks = float(np.max(np.abs(r.cdf(grid) - c.cdf(grid))))
    qs = np.linspace(0.005, 0.995, 199)
    distance = float(np.mean(np.abs(np.asarray(r.quantiles(qs)) - np.asarray(c.quantiles(qs)))))
    scale = ref.get("std") or 0.0
    return {
        "psi": round(psi(np.diff(ref_cdf), np.diff(cur_cdf)), 4),
        "ks": round(ks, 4),
        "wasserstein": round(distance / scale, 4) if scale else round(distance, 4),
    }


def _shares(column: dict[str, Any], keys: list[Any]) -> np.ndarray:
    counts = dict((str(k), n) for k, n in column.get("levels", []))
    listed = np.asarray([counts.get(str(k), 0) for k in keys], dtype=float)
    other = max(column["count"] - sum(n for _, n in column.get("levels", [])), 0)
    values = np.concatenate([listed, [other]])
    total = values.sum()
    return values / total if total else values


def _categorical(ref: dict[str, Any], cur: dict[str, Any]) -> dict[str, Any]:
    keys = list(dict.fromkeys([str(k) for k, _ in ref.get("levels", [])] + [str(k) for k, _ in cur.get("levels", [])]))
    r, c = _shares(ref, keys), _shares(cur, keys)
    if not r.sum() or not c.sum():
        return {"psi": None, "jensen_shannon": None}
    from scipy.spatial.distance import jensenshannon  # ~0.3 s: paid by a comparison only, not by every profile

    return {"psi": round(psi(r, c), 4), "jensen_shannon": round(float(jensenshannon(r, c, base=2)), 4)}


def _verdict(score: float | None) -> str:
    if score is None:
        return "n/a"
    return "drift" if score >= PSI_DRIFT else "watch" if score >= PSI_WATCH else "stable"


@dataclass
class Comparison:
    reference: Profile
    current: Profile
    columns: list[dict[str, Any]]

    @property
    def drifted(self) -> list[str]:
        return [c["column"] for c in self.columns if c["verdict"] == "drift"]

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference.title, "current": self.current.title, "columns": self.columns}

    def _repr_html_(self) -> str:
        from mlops_magics.eda.report import render_comparison

        return render_comparison(self)

    def __repr__(self) -> str:
        return (
            f"<Comparison {self.reference.title!r} vs {self.current.title!r}: "
            f"{len(self.drifted)} of {len(self.columns)} column(s) drifted>"
        )


def compare(reference: Profile, current: Profile) -> Comparison:
    rows = []
    for name, ref in reference.columns.items():
        cur = current.columns.get(name)
        row: dict[str, Any] = {"column": name, "kind": ref["kind"]}
        if cur is None:
            row.update(verdict="missing", note="not in the current data")
        elif cur["kind"] != ref["kind"]:
            row.update(verdict="drift", note=f"type changed from {ref['kind']} to {cur['kind']}")
        else:
            scores = _numeric(ref, cur) if ref["kind"] in ("numeric", "datetime") else _categorical(ref, cur)
            row.update(scores, verdict=_verdict(scores["psi"]))
        if cur is not None:
            row["missing_share"] = [round(ref["missing_share"], 4), round(cur["missing_share"], 4)]
        rows.append(row)
    for name in current.columns:
        if name not in reference.columns:
            rows.append(
                {
                    "column": name,
                    "kind": current.columns[name]["kind"],
                    "verdict": "new",
                    "note": "not in the reference",
                }
            )
    return Comparison(reference, current, rows)


def _escape(value: object) -> str:
    return html.escape(str(value))
