"""The statistics behind ``flowjudge stats`` and ``compare``, in plain Python and numpy.

Each figure follows the usual definition (scipy.stats / scikit-learn) and the tests check them
against scipy to 1e-9. A figure that is undefined for the data (constant scores, no positive
predictions, fewer than two pairs) is ``nan``; ``flowjudge_tui.format.format_figure`` shows it
as 'n/a'.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

NAN = float("nan")
Numbers = Sequence[float] | Sequence[int]


def _pair(x: Numbers, y: Numbers) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("x and y must be 1-d sequences of the same length")
    return a, b


def pearson(x: Numbers, y: Numbers) -> float:
    a, b = _pair(x, y)
    if len(a) < 2:
        return NAN
    da, db = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float(np.dot(da, da)) * float(np.dot(db, db)))
    if denominator == 0.0:
        return NAN
    return max(-1.0, min(1.0, float(np.dot(da, db)) / denominator))


def rankdata(values: Numbers) -> np.ndarray:
    """Ranks from 1, ties given the average of the ranks they span (scipy's 'average')."""
    a = np.asarray(values, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    sorted_values = a[order]
    starts = np.concatenate(([True], sorted_values[1:] != sorted_values[:-1]))
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    counts = np.diff(np.append(first, len(a)))
    average = first + (counts + 1) / 2.0
    ranks = np.empty(len(a), dtype=np.float64)
    ranks[order] = average[group]
    return ranks


def spearman(x: Numbers, y: Numbers) -> float:
    a, b = _pair(x, y)
    if len(a) < 2:
        return NAN
    return pearson(rankdata(a.tolist()).tolist(), rankdata(b.tolist()).tolist())


def _tied_pairs(sorted_values: np.ndarray) -> int:
    if len(sorted_values) == 0:
        return 0
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    counts = np.diff(np.append(starts, len(sorted_values)))
    return int(np.sum(counts * (counts - 1) // 2))


def kendall_tau_b(x: Numbers, y: Numbers) -> float:
    """Kendall's tau-b (scipy's default), by Knight's O(n log n) method."""
    a, b = _pair(x, y)
    n = len(a)
    if n < 2:
        return NAN
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    n0 = n * (n - 1) // 2
    x_ties = _tied_pairs(a)
    y_ties = _tied_pairs(np.sort(b))
    joint_starts = np.concatenate(([True], (a[1:] != a[:-1]) | (b[1:] != b[:-1])))
    joint_counts = np.diff(np.append(np.flatnonzero(joint_starts), n))
    joint_ties = int(np.sum(joint_counts * (joint_counts - 1) // 2))
    swaps = _count_inversions(b)
    denominator = math.sqrt(float(n0 - x_ties) * float(n0 - y_ties))
    if denominator == 0.0:
        return NAN
    concordant_minus_discordant = n0 - x_ties - y_ties + joint_ties - 2 * swaps
    return max(-1.0, min(1.0, concordant_minus_discordant / denominator))


def _count_inversions(values: np.ndarray) -> int:
    """Pairs i < j with values[i] > values[j] (a Fenwick tree over dense ranks)."""
    ranks = (np.unique(values, return_inverse=True)[1] + 1).tolist()
    size = max(ranks) if ranks else 0
    tree = [0] * (size + 1)
    inversions = 0
    for seen, rank in enumerate(ranks):
        not_greater = 0
        index = rank
        while index > 0:
            not_greater += tree[index]
            index -= index & -index
        inversions += seen - not_greater
        index = rank
        while index <= size:
            tree[index] += 1
            index += index & -index
    return inversions


def confusion(truth: Sequence[int], predicted: Sequence[int], scale: Sequence[int]) -> np.ndarray:
    """Counts: rows are ``truth`` categories, columns ``predicted``, both in ``scale`` order."""
    index = {value: i for i, value in enumerate(scale)}
    matrix = np.zeros((len(scale), len(scale)), dtype=np.float64)
    for t, p in zip(truth, predicted, strict=True):
        matrix[index[t], index[p]] += 1
    return matrix


def cohen_kappa(truth: Sequence[int], predicted: Sequence[int], scale: Sequence[int]) -> float:
    matrix = confusion(truth, predicted, scale)
    n = float(matrix.sum())
    if n == 0:
        return NAN
    observed = float(np.trace(matrix)) / n
    expected = float(np.dot(matrix.sum(axis=1), matrix.sum(axis=0))) / (n * n)
    if expected == 1.0:
        return NAN
    return (observed - expected) / (1.0 - expected)


def quadratic_weighted_kappa(
    truth: Sequence[int], predicted: Sequence[int], scale: Sequence[int]
) -> float:
    """Cohen's kappa with weights (i - j)^2 over the scale's categories."""
    matrix = confusion(truth, predicted, scale)
    n = float(matrix.sum())
    k = len(scale)
    if n == 0 or k < 2:
        return NAN
    i, j = np.indices((k, k))
    weights = (i - j) ** 2 / (k - 1) ** 2
    expected = np.outer(matrix.sum(axis=1), matrix.sum(axis=0)) / n
    denominator = float(np.sum(weights * expected))
    if denominator == 0.0:
        return NAN
    return 1.0 - float(np.sum(weights * matrix)) / denominator


def binary_figures(truth: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    """Accuracy, precision, recall and F1 with 1 as the positive class, and Cohen's kappa."""
    pairs = list(zip(truth, predicted, strict=True))
    n = len(pairs)
    tp = sum(1 for t, p in pairs if t == 1 and p == 1)
    fp = sum(1 for t, p in pairs if t != 1 and p == 1)
    fn = sum(1 for t, p in pairs if t == 1 and p != 1)
    precision = tp / (tp + fp) if tp + fp else NAN
    recall = tp / (tp + fn) if tp + fn else NAN
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else NAN
    return {
        "accuracy": sum(1 for t, p in pairs if t == p) / n if n else NAN,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "cohen_kappa": cohen_kappa(truth, predicted, (0, 1)),
    }


def likert_figures(
    truth: Sequence[int], predicted: Sequence[int], scale: Sequence[int]
) -> dict[str, float]:
    n = len(truth)
    gaps = [abs(t - p) for t, p in zip(truth, predicted, strict=True)]
    return {
        "pearson": pearson(truth, predicted),
        "spearman": spearman(truth, predicted),
        "kendall_tau_b": kendall_tau_b(truth, predicted),
        "exact_agreement": sum(1 for g in gaps if g == 0) / n if n else NAN,
        "off_by_one_agreement": sum(1 for g in gaps if g <= 1) / n if n else NAN,
        "quadratic_weighted_kappa": quadratic_weighted_kappa(truth, predicted, scale),
    }


def _log_beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-16
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 10_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return result


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _log_beta_cf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _log_beta_cf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * regularized_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_ppf(q: float, df: float) -> float:
    """The Student t quantile, by bisection on ``t_cdf``."""
    if not 0.0 < q < 1.0:
        raise ValueError("q must be between 0 and 1")
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_ppf(1.0 - q, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < q:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if middle in (low, high):
            break
        if t_cdf(middle, df) < q:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def mean_interval(values: Numbers, level: float = 0.95) -> tuple[float, float, float]:
    """The mean and its two-sided t interval; the bounds are nan below two values."""
    a = np.asarray(values, dtype=np.float64)
    if len(a) == 0:
        return NAN, NAN, NAN
    mean = float(a.mean())
    if len(a) < 2:
        return mean, NAN, NAN
    half = t_ppf(0.5 + level / 2.0, len(a) - 1) * float(a.std(ddof=1)) / math.sqrt(len(a))
    return mean, mean - half, mean + half


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial p-value of ``wins`` successes in ``wins + losses`` at p = 1/2.

    The same value as ``scipy.stats.binomtest(wins, wins + losses).pvalue``; ties are left out
    before calling, as the sign test does.
    """
    n = wins + losses
    if n == 0:
        return NAN
    smaller = min(wins, losses)
    term, tail = 1, 1
    for i in range(smaller):
        term = term * (n - i) // (i + 1)
        tail += term
    return float(min(1.0, 2 * tail / 2**n))
