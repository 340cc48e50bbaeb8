"""Intervals and paired tests against scipy (to 1e-9) and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from flowjudge_tui.reports import inference as inf
from flowjudge_tui.reports import intervals as iv
from flowjudge_tui.reports.statistics import cohen_kappa, quadratic_weighted_kappa

TOL = 1e-9


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99])
def test_normal_quantile_matches_scipy(level: float) -> None:
    assert iv.normal_quantile(level) == pytest.approx(sp.norm.ppf(0.5 + level / 2), abs=TOL)


@pytest.mark.parametrize(("k", "n"), [(0, 1), (0, 20), (1, 20), (14, 20), (20, 20), (7, 9),
                                      (512, 1000), (3, 3000)])
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_wilson_matches_scipy(k: int, n: int, level: float) -> None:
    ours = iv.wilson_interval(k, n, level)
    ref = sp.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    assert ours.estimate == pytest.approx(k / n, abs=TOL)
    assert ours.low == pytest.approx(ref.low, abs=TOL)
    assert ours.high == pytest.approx(ref.high, abs=TOL)


def test_wilson_by_hand_and_edges() -> None:
    # 8 of 10, z = 1.96: centre (0.8 + 0.19208) / 1.38416, half-width 0.24339 / 1.38416.
    interval = iv.wilson_interval(8, 10)
    assert interval.low == pytest.approx(0.4901624, abs=1e-6)
    assert interval.high == pytest.approx(0.9433178, abs=1e-6)
    assert interval.describe() == "0.80 [0.49, 0.94]"
    empty = iv.wilson_interval(0, 0)
    assert math.isnan(empty.estimate) and empty.describe() == "n/a"
    with pytest.raises(ValueError, match="between 0 and n"):
        iv.wilson_interval(5, 4)


def test_mcnemar_exact_matches_binomial_test() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.random(40) < 0.6
        b = rng.random(40) < 0.75
        test = inf.mcnemar_exact(a.tolist(), b.tolist())
        a_only, b_only = int(np.sum(a & ~b)), int(np.sum(b & ~a))
        assert (test.a_better, test.b_better) == (a_only, b_only)
        assert test.p_value == pytest.approx(
            sp.binomtest(a_only, a_only + b_only).pvalue, abs=TOL)


def test_mcnemar_by_hand() -> None:
    # B fixes 5 items and breaks none: p = 2 / 2^5.
    a = [True] * 10 + [False] * 5
    test = inf.mcnemar_exact(a, [True] * 15)
    assert test.p_value == pytest.approx(0.0625, abs=TOL)
    assert (test.a_better, test.b_better) == (0, 5)
    assert inf.mcnemar_exact([True, False], [True, False]).p_value == 1.0
    with pytest.raises(ValueError, match="same items"):
        inf.mcnemar_exact([True], [True, False])


def test_sign_test_pairs_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.integers(1, 6, 30).tolist(), rng.integers(1, 6, 30).tolist()
    test = inf.sign_test_pairs(x, y)
    wins = sum(b > a for a, b in zip(x, y, strict=True))
    losses = sum(b < a for a, b in zip(x, y, strict=True))
    assert (test.b_better, test.a_better) == (wins, losses)
    assert test.p_value == pytest.approx(sp.binomtest(wins, wins + losses).pvalue, abs=TOL)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_wilcoxon_without_ties_matches_scipy_exact(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=18)
    y = rng.normal(size=18) + 0.4
    statistic, p = inf.wilcoxon_signed_rank(x.tolist(), y.tolist())
    ref = sp.wilcoxon(x, y, method="exact")
    assert statistic == pytest.approx(ref.statistic, abs=TOL)
    assert p == pytest.approx(ref.pvalue, abs=TOL)


@pytest.mark.parametrize(("seed", "n"), [(0, 6), (1, 10), (2, 13), (3, 12)])
def test_wilcoxon_with_ties_and_zeros_matches_scipy_permutation(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 4, n), rng.integers(0, 4, n)
    statistic, p = inf.wilcoxon_signed_rank(x.tolist(), y.tolist())
    ref = sp.wilcoxon(x, y, method=sp.PermutationMethod(n_resamples=np.inf))
    assert statistic == pytest.approx(ref.statistic, abs=TOL)
    assert p == pytest.approx(ref.pvalue, abs=TOL)


def test_wilcoxon_large_sample_matches_scipy_asymptotic() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    assert int(np.sum(x != y)) > inf.EXACT_WILCOXON_LIMIT
    statistic, p = inf.wilcoxon_signed_rank(x.tolist(), y.tolist())
    ref = sp.wilcoxon(x, y, method="asymptotic")
    assert statistic == pytest.approx(ref.statistic, abs=TOL)
    assert p == pytest.approx(ref.pvalue, abs=TOL)


def test_wilcoxon_by_hand() -> None:
    # Differences 1, 2, 3 all positive: W- = 0, and only 1 of the 8 sign patterns is as extreme
    # on each side, so p = 2/8.
    assert inf.wilcoxon_signed_rank([2, 4, 6], [1, 2, 3]) == (0.0, 0.25)
    statistic, p = inf.wilcoxon_signed_rank([1, 2], [1, 2])
    assert math.isnan(statistic) and math.isnan(p)


def test_likert_paired_test_on_distance_to_people() -> None:
    truth = [1, 2, 3, 4, 5, 3, 2, 4]
    a = [3, 4, 5, 2, 3, 1, 4, 2]   # off by 2 everywhere
    b = [1, 2, 3, 4, 5, 3, 2, 4]   # exact everywhere
    wilcoxon, sign = inf.likert_paired_test(truth, a, b)
    assert (wilcoxon.a_better, wilcoxon.b_better) == (0, 8)
    assert (sign.a_better, sign.b_better) == (0, 8)
    assert sign.p_value == pytest.approx(2 / 2**8, abs=TOL)
    assert wilcoxon.p_value == pytest.approx(
        sp.wilcoxon([2] * 8, [0] * 8, method=sp.PermutationMethod(n_resamples=np.inf)).pvalue,
        abs=TOL)
    same, _ = inf.likert_paired_test(truth, b, b)
    assert same.p_value == 1.0 and not same.significant


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 2, 40).tolist()
    predicted = [t if rng.random() < 0.8 else 1 - t for t in truth]
    first = inf.kappa_interval(truth, predicted, (0, 1), seed=7)
    again = inf.kappa_interval(truth, predicted, (0, 1), seed=7)
    other = inf.kappa_interval(truth, predicted, (0, 1), seed=8)
    assert first == again
    assert first != other
    assert first.estimate == pytest.approx(cohen_kappa(truth, predicted, (0, 1)), abs=TOL)
    assert first.low < first.estimate < first.high
    # scipy's percentile bootstrap draws other resamples: the bounds agree to sampling noise.
    ref = sp.bootstrap((truth, predicted), lambda t, p: cohen_kappa(t, p, (0, 1)),
                       paired=True, vectorized=False, method="percentile",
                       n_resamples=2000, rng=1).confidence_interval
    assert first.low == pytest.approx(ref.low, abs=0.05)
    assert first.high == pytest.approx(ref.high, abs=0.05)


def test_bootstrap_narrows_with_more_items_and_handles_perfect_agreement() -> None:
    rng = np.random.default_rng(4)
    truth = rng.integers(1, 6, 400)
    predicted = np.clip(truth + rng.integers(-1, 2, 400), 1, 5)
    small = inf.weighted_kappa_interval(truth[:25].tolist(), predicted[:25].tolist(),
                                        (1, 2, 3, 4, 5), resamples=500)
    large = inf.weighted_kappa_interval(truth.tolist(), predicted.tolist(), (1, 2, 3, 4, 5),
                                        resamples=500)
    assert large.high - large.low < small.high - small.low
    assert large.estimate == pytest.approx(
        quadratic_weighted_kappa(truth.tolist(), predicted.tolist(), (1, 2, 3, 4, 5)), abs=TOL)
    perfect = inf.kappa_interval([0, 1] * 10, [0, 1] * 10, (0, 1), resamples=200)
    assert (perfect.estimate, perfect.low, perfect.high) == (1.0, 1.0, 1.0)
    undefined = inf.kappa_interval([1, 1, 1], [1, 1, 1], (0, 1), resamples=50)
    assert math.isnan(undefined.estimate) and math.isnan(undefined.low)


def test_intervals_overlap() -> None:
    a, b = iv.Interval(0.5, 0.4, 0.6), iv.Interval(0.7, 0.6, 0.8)
    assert a.overlaps(b) and b.overlaps(a)
    assert not a.overlaps(iv.Interval(0.9, 0.65, 1.0))
    assert a.overlaps(iv.Interval(0.9, math.nan, math.nan))


def test_comparison_sentence_says_not_distinguishable_when_it_is_not() -> None:
    narrow_a, narrow_b = iv.Interval(0.55, 0.5, 0.6), iv.Interval(0.9, 0.85, 0.95)
    wide_a, wide_b = iv.Interval(0.7, 0.48, 0.85), iv.Interval(0.8, 0.58, 0.92)
    high_p = inf.PairedTest("McNemar exact", 0.375, 1.0, 1, 3)
    low_p = inf.PairedTest("McNemar exact", 0.01, 0.0, 0, 9)
    assert "not distinguishable" in inf.comparison_sentence(
        "v1", "v2", "accuracy", narrow_a, narrow_b, high_p, 20)
    overlapping = inf.comparison_sentence("v1", "v2", "accuracy", wide_a, wide_b, low_p, 20)
    assert "not distinguishable" in overlapping
    assert "accuracy 0.70 [0.48, 0.85] for v1 vs 0.80 [0.58, 0.92] for v2" in overlapping
    clear = inf.comparison_sentence("v1", "v2", "accuracy", narrow_a, narrow_b, low_p, 20)
    assert clear.startswith("v2 agrees with people better than v1 on these 20 items")
    assert clear.count(".") >= 1 and clear.endswith(").")
