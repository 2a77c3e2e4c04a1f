"""Training: MLflow tracking of the model a cell fits, refits of registered models, hyper-parameter search."""
