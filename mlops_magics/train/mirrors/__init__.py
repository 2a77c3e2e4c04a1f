"""Mirrors: other trackers (W&B, Comet, a team's own) that receive a copy of each ``%%train`` run. MLflow stays the
system of record; a mirror is written on the background writer, and its failure never fails the cell."""
