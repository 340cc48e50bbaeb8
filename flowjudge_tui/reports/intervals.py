"""Intervals for figures measured on small samples, in plain Python (no numpy: the app's
start-up path reads them).

Wilson's score interval for proportions follows scipy's ``proportion_ci(method='wilson')``;
the tests check it to 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from flowjudge_tui.format import format_figure

LEVEL = 0.95
NAN = float("nan")


@dataclass(frozen=True)
class Interval:
    """A figure and its two-sided interval at ``level``; nan where undefined."""

    estimate: float
    low: float
    high: float
    level: float = LEVEL

    def overlaps(self, other: Interval) -> bool:
        """Whether the two intervals share a point; an undefined one overlaps everything."""
        bounds = (self.low, self.high, other.low, other.high)
        if any(math.isnan(b) for b in bounds):
            return True
        return self.low <= other.high and other.low <= self.high

    def describe(self, digits: int = 2) -> str:
        """``0.80 [0.58, 0.92]``."""
        if math.isnan(self.low) or math.isnan(self.high):
            return format_figure(self.estimate, digits)
        return (f"{format_figure(self.estimate, digits)} [{format_figure(self.low, digits)}, "
                f"{format_figure(self.high, digits)}]")

    def to_json(self) -> dict[str, float | None]:
        def clean(value: float) -> float | None:
            return None if math.isnan(value) else value

        return {"estimate": clean(self.estimate), "low": clean(self.low),
                "high": clean(self.high), "level": self.level}


def normal_quantile(level: float) -> float:
    """The two-sided critical value z for ``level`` (1.959963984540054 at 0.95)."""
    if not 0.0 < level < 1.0:
        raise ValueError("the level of an interval must be between 0 and 1")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def wilson_interval(successes: int, n: int, level: float = LEVEL) -> Interval:
    """The Wilson score interval of a proportion (scipy's ``proportion_ci(method='wilson')``).

    Unlike the textbook p ± z·se it stays inside [0, 1] and is sensible at 0/n and n/n, which
    is where small rubric samples often land.
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    if n == 0:
        return Interval(NAN, NAN, NAN, level)
    z = normal_quantile(level)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), level)
