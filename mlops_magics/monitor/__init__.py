"""Monitoring (``%monitor``): drift of logged requests against a model's training profile, from the two profiles'
mergeable summaries (the reference data is never read again)."""

from mlops_magics.monitor.drift import FeatureDrift, Histogram, Statistics, feature_drift
from mlops_magics.monitor.report import DriftReport, drift_report
from mlops_magics.monitor.thresholds import Thresholds

__all__ = ["DriftReport", "FeatureDrift", "Histogram", "Statistics", "Thresholds", "drift_report", "feature_drift"]
