"""Serving: the port-8000 scoring server (MLflow's scoring protocol) and what it logs for the monitor."""
