"""Where a training run keeps what the later stages read, named once and cheap to import (the monitor reads these
without importing the training stage's scikit-learn and MLflow)."""

CHALLENGER = "challenger"
PROFILE_ARTIFACT = "profile/profile.json"
# The model's predictions on its training data, profiled: the reference of the monitor's prediction drift.
PREDICTIONS_ARTIFACT = "profile/predictions.json"
# A run inside a job's run says which (the controller puts both in the run's environment).
JOB_TAGS = (("MLOPS_JOB", "mlops.job"), ("MLOPS_RUN", "mlops.job_run"))
