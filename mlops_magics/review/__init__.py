"""Review: a challenger against the champion on the same held-out data, gates, promotion by registry aliases."""
