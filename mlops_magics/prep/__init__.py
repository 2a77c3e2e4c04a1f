"""Data preparation from a profile (%prep): its findings become a scikit-learn pipeline a person reads and edits."""
