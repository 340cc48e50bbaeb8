"""How sure a figure measured on a small sample is, and whether two rubric versions differ.

A rubric tried on 20 labelled items gives an accuracy of 0.80 that could as well be 0.58 or
0.92: every figure here comes with an interval (Wilson for proportions, a seeded percentile
bootstrap for kappas), and two versions judged on the same items are compared with a paired
test (McNemar's exact test for binary scales; the sign test and the Wilcoxon signed-rank test
on each item's distance to the human label otherwise). ``comparison_sentence`` turns that into
the one sentence a user reads, saying "not distinguishable" when the data cannot tell.

The p-values follow scipy's definitions (``binomtest``, ``wilcoxon``) and the tests check them
against scipy to 1e-9.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flowjudge_tui.format import count_of, format_figure
from flowjudge_tui.reports.intervals import LEVEL, NAN, Interval
from flowjudge_tui.reports.statistics import (
    cohen_kappa,
    quadratic_weighted_kappa,
    rankdata,
    sign_test,
)

ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 2000
EXACT_WILCOXON_LIMIT = 50
"""Up to this many non-zero differences the Wilcoxon p-value is exact (all sign flips)."""


PairStatistic = Callable[[Sequence[int], Sequence[int]], float]


def bootstrap_interval(
    truth: Sequence[int],
    predicted: Sequence[int],
    statistic: PairStatistic,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> Interval:
    """A percentile bootstrap interval of ``statistic(truth, predicted)`` over paired items.

    Items are resampled with replacement, ``resamples`` times, from a generator seeded with
    ``seed``, so the same data always gives the same interval. Resamples where the statistic is
    undefined (a kappa when every resampled label is the same) are left out; with none left
    the bounds are nan.
    """
    import numpy as np

    if len(truth) != len(predicted):
        raise ValueError("truth and predicted must have the same length")
    estimate = statistic(truth, predicted)
    n = len(truth)
    if n == 0 or resamples < 1:
        return Interval(estimate, NAN, NAN, level)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(resamples, n))
    t, p = np.asarray(truth), np.asarray(predicted)
    values = np.array([statistic(t[row].tolist(), p[row].tolist()) for row in picks])
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return Interval(estimate, NAN, NAN, level)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return Interval(estimate, float(low), float(high), level)


def kappa_interval(
    truth: Sequence[int], predicted: Sequence[int], scale: Sequence[int], *,
    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0, level: float = LEVEL,
) -> Interval:
    """Cohen's kappa with its bootstrap interval."""
    return bootstrap_interval(truth, predicted, lambda t, p: cohen_kappa(t, p, scale),
                              resamples=resamples, seed=seed, level=level)


def weighted_kappa_interval(
    truth: Sequence[int], predicted: Sequence[int], scale: Sequence[int], *,
    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0, level: float = LEVEL,
) -> Interval:
    """Quadratic-weighted kappa with its bootstrap interval."""
    return bootstrap_interval(
        truth, predicted, lambda t, p: quadratic_weighted_kappa(t, p, scale),
        resamples=resamples, seed=seed, level=level)


@dataclass(frozen=True)
class PairedTest:
    """A paired test of version A against version B on the same items.

    ``a_better`` and ``b_better`` count the items where each version is closer to the human
    label (ties are left out); ``statistic`` is the test's own (the discordant count for
    McNemar, min(W+, W-) for Wilcoxon, B's wins for the sign test).
    """

    name: str
    p_value: float
    statistic: float
    a_better: int
    b_better: int

    @property
    def significant(self) -> bool:
        return not math.isnan(self.p_value) and self.p_value < ALPHA

    def to_json(self) -> dict[str, object]:
        return {"test": self.name, "p_value": None if math.isnan(self.p_value) else self.p_value,
                "statistic": self.statistic, "a_better": self.a_better,
                "b_better": self.b_better}


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> PairedTest:
    """McNemar's exact test: is A right-where-B-is-wrong as often as the reverse?

    Only the discordant items count; the p-value is the two-sided binomial test of one kind
    among them at 1/2 (1.0 when there is no discordant item: nothing says they differ).
    """
    if len(correct_a) != len(correct_b):
        raise ValueError("both versions must be judged on the same items")
    a_only = sum(1 for a, b in zip(correct_a, correct_b, strict=True) if a and not b)
    b_only = sum(1 for a, b in zip(correct_a, correct_b, strict=True) if b and not a)
    p = sign_test(a_only, b_only) if a_only + b_only else 1.0
    return PairedTest("McNemar exact", p, float(min(a_only, b_only)), a_only, b_only)


def sign_test_pairs(x: Sequence[float], y: Sequence[float]) -> PairedTest:
    """The sign test of y against x: ties dropped, B 'better' where y > x."""
    if len(x) != len(y):
        raise ValueError("x and y must have the same length")
    wins = sum(1 for a, b in zip(x, y, strict=True) if b > a)
    losses = sum(1 for a, b in zip(x, y, strict=True) if b < a)
    p = sign_test(wins, losses) if wins + losses else 1.0
    return PairedTest("sign test", p, float(wins), losses, wins)


def wilcoxon_signed_rank(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank test of x - y: (min(W+, W-), p-value).

    Zero differences are dropped (Wilcoxon's method), ties get average ranks. Up to
    ``EXACT_WILCOXON_LIMIT`` non-zero differences the p-value is exact, counted over all 2^m
    sign flips of the ranks actually observed (scipy's exact test without ties, its
    permutation test with them); above that it is the normal approximation with the tie
    correction and no continuity correction (scipy's 'asymptotic').
    """
    if len(x) != len(y):
        raise ValueError("x and y must have the same length")
    differences = [a - b for a, b in zip(x, y, strict=True) if a != b]
    m = len(differences)
    if m == 0:
        return NAN, NAN
    ranks = rankdata([abs(d) for d in differences]).tolist()
    w_plus = sum(r for r, d in zip(ranks, differences, strict=True) if d > 0)
    w_minus = sum(r for r, d in zip(ranks, differences, strict=True) if d < 0)
    statistic = min(w_plus, w_minus)
    if m <= EXACT_WILCOXON_LIMIT:
        return statistic, _exact_signed_rank_p(ranks, w_plus)
    mean = m * (m + 1) / 4.0
    ties = _tie_sizes(ranks)
    variance = (m * (m + 1) * (2 * m + 1) - sum(t**3 - t for t in ties) / 2.0) / 24.0
    if variance <= 0.0:
        return statistic, NAN
    z = (w_plus - mean) / math.sqrt(variance)
    return statistic, min(1.0, math.erfc(abs(z) / math.sqrt(2.0)))


def _tie_sizes(ranks: Sequence[float]) -> list[int]:
    counts: dict[float, int] = {}
    for r in ranks:
        counts[r] = counts.get(r, 0) + 1
    return list(counts.values())


def _exact_signed_rank_p(ranks: Sequence[float], w_plus: float) -> float:
    """P(W+ <= w) and P(W+ >= w) under random signs, by counting subsets of doubled ranks.

    Average ranks are multiples of 1/2, so doubled they are integers and the count is exact.
    """
    doubled = [round(2 * r) for r in ranks]
    total = sum(doubled)
    counts = [0] * (total + 1)
    counts[0] = 1
    reach = 0
    for value in doubled:
        reach += value
        for s in range(reach, value - 1, -1):
            counts[s] += counts[s - value]
    observed = round(2 * w_plus)
    all_flips = 2 ** len(doubled)
    at_most = sum(counts[: observed + 1])
    at_least = sum(counts[observed:])
    return float(min(1.0, 2 * min(at_most, at_least) / all_flips))


def likert_paired_test(
    truth: Sequence[int], scores_a: Sequence[int], scores_b: Sequence[int]
) -> tuple[PairedTest, PairedTest]:
    """Wilcoxon and sign tests on each item's distance to the human label, A against B."""
    if not len(truth) == len(scores_a) == len(scores_b):
        raise ValueError("both versions must be judged on the same labelled items")
    error_a = [abs(a - t) for a, t in zip(scores_a, truth, strict=True)]
    error_b = [abs(b - t) for b, t in zip(scores_b, truth, strict=True)]
    statistic, p = wilcoxon_signed_rank(error_a, error_b)
    a_better = sum(1 for ea, eb in zip(error_a, error_b, strict=True) if ea < eb)
    b_better = sum(1 for ea, eb in zip(error_a, error_b, strict=True) if eb < ea)
    wilcoxon = PairedTest("Wilcoxon signed-rank", 1.0 if math.isnan(p) else p,
                          0.0 if math.isnan(statistic) else statistic, a_better, b_better)
    # Lower error is better, so B "wins" where error_b < error_a: test the negated errors.
    sign = sign_test_pairs([-e for e in error_a], [-e for e in error_b])
    return wilcoxon, sign


def distinguishable(interval_a: Interval, interval_b: Interval, test: PairedTest) -> bool:
    """Only when the paired test rejects (p < 0.05) and the two intervals do not overlap."""
    return test.significant and not interval_a.overlaps(interval_b)


def comparison_sentence(
    name_a: str, name_b: str, figure: str,
    interval_a: Interval, interval_b: Interval, test: PairedTest, n: int,
) -> str:
    """One sentence comparing two versions on the same ``n`` items."""
    figures = (f"{figure} {interval_a.describe()} for {name_a} vs {interval_b.describe()} for "
               f"{name_b}, {test.name} p = {format_figure(test.p_value)}")
    if not distinguishable(interval_a, interval_b, test):
        return f"{name_a} and {name_b} are not distinguishable on {_these(n)} ({figures})."
    better, worse = (name_b, name_a) if interval_b.estimate > interval_a.estimate else (
        name_a, name_b)
    return f"{better} agrees with people better than {worse} on {_these(n)} ({figures})."


def _these(n: int) -> str:
    """'this 1 item', 'these 12 items'."""
    return f"{'this' if n == 1 else 'these'} {count_of(n, 'item')}"
