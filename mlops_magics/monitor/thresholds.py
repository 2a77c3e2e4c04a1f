"""When a feature has drifted: effect sizes over thresholds, a p-value beside them.

On 100,000 rows a test's p-value falls below 0.05 for differences too small to matter (and on a few hundred rows an
effect size can be sampling noise), so a feature drifts when an effect size is over its threshold AND the test says
the difference is not noise (p-value below ``p_value``). A p-value alone never flags a feature.

Defaults, and why:

- ``wasserstein = 0.1`` — Wasserstein-1 distance divided by the reference's standard deviation: for a shift of the
  whole distribution it is the shift in standard deviations, so 0.1 flags a mean shift of a tenth of the spread (or
  a spread grown by about a fifth). Evidently's default for numeric columns of more than 1,000 rows. Its sampling
  noise for a normal column is near 1.3 / sqrt(rows) of the smaller side: 0.04 for a 1,000-row window (0.07 at
  the 95th percentile), well below it; 0.09 at 200 rows, where the p-value below keeps noise from being flagged.
- ``psi = 0.2`` — the population stability index over 20 bins at the reference's quantiles: the usual reading is
  below 0.1 stable, 0.1-0.25 moving, above 0.25 shifted; 0.2 flags a clear move. PSI sees rows moving between
  bins however far they move, so it flags shape changes (a new mode, a tail emptied) that move rows only a little
  way. It does not flag small shifts: a 0.3-std mean shift of a normal column gives PSI 0.09 at 10 bins as at
  1,000 — that shift is flagged by the Wasserstein distance (0.3). 20 bins resolve 5% of the rows each, and keep
  PSI's sampling noise, about (bins - 1) x (1/n + 1/m), under 0.02 for windows of 1,000 rows or more.
- ``jensen_shannon = 0.1`` — Jensen-Shannon distance (base 2, 0 to 1) of the category shares, also used for integer
  columns of few values (their exact counts). Evidently's default for categories. On the same scale as the
  others: a 0.3-std shift of a normal column binned gives 0.13; category shares 50/30/20 moving to 35/30/35 give
  0.16; a binary share moving from 50% to 60% gives 0.085 (not flagged on its own).
- ``tests`` — the effect sizes that may flag a feature (``--tests wasserstein,jensen_shannon``); all three by default.
  Numbers of many values are measured by ``wasserstein`` and ``psi``, categories and numbers of few values by
  ``jensen_shannon`` and ``psi``; a feature none of the chosen ones measures is "not comparable", said so.
- ``p_value = 0.01`` — the Kolmogorov-Smirnov test (numbers) or chi-square test (categories, counts) must reject
  "same distribution" at this level for an effect size to count. On large windows any effect over its threshold
  has a p-value far below it, so it changes nothing there; on small windows it keeps noise from being flagged, at
  most once in a hundred checks of a feature that did not move (1%, not 5%: a monitor checks many features in many
  windows).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

from mlops_magics.errors import InvalidInput

TESTS = ("wasserstein", "psi", "jensen_shannon")
NAMES = ("wasserstein", "psi", "jensen_shannon", "p_value")  # what --threshold NAME=VALUE may set


def tests_from(names: Iterable[str] | str | None) -> tuple[str, ...]:
    """``wasserstein,psi`` (or a list) -> the tests, checked; None or empty: all of them."""
    if names is None:
        return TESTS
    words = [w.strip().lower().replace("-", "_") for w in (names.split(",") if isinstance(names, str) else names)]
    words = [w for w in words if w]
    unknown = [w for w in words if w not in TESTS]
    if unknown:
        raise InvalidInput(f"no drift test named {unknown[0][:40]!r}; known: {', '.join(TESTS)}")
    return tuple(dict.fromkeys(words)) or TESTS


@dataclass(frozen=True)
class Thresholds:
    wasserstein: float = 0.1
    psi: float = 0.2
    jensen_shannon: float = 0.1
    p_value: float = 0.01
    tests: tuple[str, ...] = TESTS

    def __post_init__(self) -> None:
        object.__setattr__(self, "tests", tests_from(self.tests))
        for field in fields(self):
            if field.name == "tests":
                continue
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise InvalidInput(f"threshold {field.name} must be a positive number (got {value!r})")
        if self.p_value >= 1 or self.jensen_shannon >= 1:
            name = "p_value" if self.p_value >= 1 else "jensen_shannon"
            raise InvalidInput(f"threshold {name} must be below 1 (got {getattr(self, name)!r})")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tests": list(self.tests)}


def thresholds_of(values: dict[str, float], tests: Iterable[str] | str | None = None, flag: str = "--threshold") -> Thresholds:
    """Thresholds by name (each a known one) and the tests to use, checked: one line naming what is wrong."""
    unknown = [name for name in values if name not in NAMES]
    if unknown:
        raise InvalidInput(f"{flag}: no threshold named {unknown[0][:40]!r}; known: {', '.join(NAMES)}")
    return Thresholds(**values, tests=tests_from(tests))
