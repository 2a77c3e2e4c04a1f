"""Which way each metric points: the one list of metrics that are better large, for training, review and the panel.

The panel reads it from GET /mlops/api/status (``higher_is_better``), so the runs table sorts and marks the best
value the way review judges. Kept free of imports: the server reads it without loading scikit-learn.
"""

from __future__ import annotations

# Metrics where a larger value is better; the others (errors, losses, spreads) are better small. mean_cv_score is
# the search's cross-validation score (scikit-learn scorers are greater-is-better); score is a model's own score().
HIGHER_IS_BETTER: frozenset[str] = frozenset(
    {
        "accuracy",
        "auc",
        "balanced_accuracy",
        "f1",
        "mean_cv_score",
        "precision",
        "r2",
        "recall",
        "roc_auc",
        "score",
    }
)
