"""Drift of every feature of a window against the reference profile, and the verdict over all of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mlops_magics.eda.profile import Profile
from mlops_magics.monitor.drift import FeatureDrift, feature_drift
from mlops_magics.monitor.thresholds import Thresholds

Overall = Literal["drift", "schema change", "no drift", "no data"]


@dataclass(frozen=True)
class DriftReport:
    verdict: Overall  # "no data" for an empty window; else "drift" when a feature drifted, then "schema change"
    reason: str
    features: list[FeatureDrift]
    reference_rows: int
    current_rows: int
    thresholds: Thresholds

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.features if f.verdict == "drift"]

    @property
    def schema_changes(self) -> list[str]:
        return [f.feature for f in self.features if f.verdict == "schema change"]

    @property
    def not_comparable(self) -> list[str]:
        return [f.feature for f in self.features if f.verdict == "not comparable"]

    def feature(self, name: str) -> FeatureDrift:
        return next(f for f in self.features if f.feature == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "drifted": self.drifted,
            "schema_changes": self.schema_changes,
            "not_comparable": self.not_comparable,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "thresholds": self.thresholds.to_dict(),
            "features": [f.to_dict() for f in self.features],
        }


def drift_report(
    reference: Profile,
    current: Profile | None,
    features: Sequence[str] | None = None,
    thresholds: Thresholds | None = None,
) -> DriftReport:
    """Each feature of ``reference`` (or only ``features``) against ``current`` (None: a window nobody profiled,
    having no rows). Columns of ``current`` that the reference lacks are schema changes, unless ``features`` names
    which are checked."""
    thresholds = thresholds or Thresholds()
    names = list(features) if features is not None else list(reference.columns)
    current_rows = current.rows if current is not None else 0
    if current is None or current_rows == 0:
        empty = [
            FeatureDrift(name, reference.columns[name]["kind"] if name in reference.columns else "unknown", "no data", "no rows")
            for name in names
        ]
        return DriftReport("no data", "no rows in the current window", empty, reference.rows, 0, thresholds)
    if features is None:
        names += [name for name in current.columns if name not in reference.columns]
    results = [feature_drift(name, reference.columns.get(name), current.columns.get(name), thresholds) for name in names]
    drifted = [f.feature for f in results if f.verdict == "drift"]
    changed = [f.feature for f in results if f.verdict == "schema change"]
    verdict: Overall
    if drifted:
        verdict, reason = "drift", f"{len(drifted)} of {len(results)} feature(s) drifted: {', '.join(drifted)}"
    elif changed:
        verdict, reason = "schema change", f"schema changed: {', '.join(changed)}"
    else:
        verdict, reason = "no drift", f"none of {len(results)} feature(s) drifted"
    if drifted and changed:
        reason += f"; schema changed: {', '.join(changed)}"
    return DriftReport(verdict, reason, results, reference.rows, current_rows, thresholds)
