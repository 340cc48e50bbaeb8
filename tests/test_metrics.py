"""Statistics against scipy (to 1e-9), hand-computed kappas, run stats and comparisons."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
from scipy import stats as sp

from flowjudge_tui.errors import StoreError
from flowjudge_tui.format import format_figure
from flowjudge_tui.reports import statistics as st
from flowjudge_tui.reports.agreement import (
    agreement,
    comparable_runs,
    compare_runs,
    comparison_problem,
    run_stats,
)
from flowjudge_tui.reports.calibration import run_calibration
from flowjudge_tui.store import Store, open_store
from tests.run_helpers import add_dataset, add_run, judge_all, rubric

TOL = 1e-9


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store() as opened:
        yield opened


def likert_pairs(seed: int, n: int) -> tuple[list[int], list[int]]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, n)
    predicted = np.clip(truth + rng.integers(-2, 3, n), 1, 5)
    return truth.tolist(), predicted.tolist()


@pytest.mark.parametrize(("seed", "n"), [(0, 7), (1, 60), (2, 500), (3, 3000)])
def test_correlations_match_scipy(seed: int, n: int) -> None:
    x, y = likert_pairs(seed, n)
    assert st.pearson(x, y) == pytest.approx(sp.pearsonr(x, y).statistic, abs=TOL)
    assert st.spearman(x, y) == pytest.approx(sp.spearmanr(x, y).statistic, abs=TOL)
    assert st.kendall_tau_b(x, y) == pytest.approx(sp.kendalltau(x, y).statistic, abs=TOL)


def test_kendall_and_ranks_on_continuous_data_with_ties() -> None:
    rng = np.random.default_rng(7)
    x = np.round(rng.normal(size=400), 1)
    y = np.round(x + rng.normal(size=400), 1)
    assert st.kendall_tau_b(x.tolist(), y.tolist()) == pytest.approx(
        sp.kendalltau(x, y).statistic, abs=TOL)
    assert st.rankdata(x.tolist()) == pytest.approx(sp.rankdata(x), abs=TOL)


def test_undefined_figures_are_nan_and_shown_as_na() -> None:
    assert math.isnan(st.pearson([3, 3, 3], [1, 2, 3]))
    assert math.isnan(st.spearman([1, 2, 3], [2, 2, 2]))
    assert math.isnan(st.kendall_tau_b([1, 1], [1, 2]))
    assert math.isnan(st.pearson([1], [1]))
    assert math.isnan(st.cohen_kappa([1, 1], [1, 1], [0, 1]))
    assert math.isnan(st.quadratic_weighted_kappa([], [], [1, 2, 3]))
    figures = st.binary_figures([0, 0, 0], [0, 0, 0])
    assert figures["accuracy"] == 1.0
    assert all(math.isnan(figures[k]) for k in ("precision", "recall", "f1", "cohen_kappa"))
    assert format_figure(float("nan")) == "n/a"
    assert format_figure(None) == "n/a"
    assert format_figure(0.12345) == "0.123"


def hand_kappa(truth: list[int], predicted: list[int], labels: list[int]) -> float:
    n = len(truth)
    observed = sum(t == p for t, p in zip(truth, predicted, strict=True)) / n
    expected = sum((truth.count(c) / n) * (predicted.count(c) / n) for c in labels)
    return (observed - expected) / (1 - expected)


def pairwise_qwk(truth: list[int], predicted: list[int], labels: list[int]) -> float:
    """QWK by its pairwise form: 1 - mean squared gap / mean squared gap over all pairings."""
    k = len(labels)
    observed = sum((t - p) ** 2 for t, p in zip(truth, predicted, strict=True)) / len(truth)
    chance = sum((t - p) ** 2 for t in truth for p in predicted) / len(truth) ** 2
    return 1 - (observed / (k - 1) ** 2) / (chance / (k - 1) ** 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kappas_match_hand_formulas(seed: int) -> None:
    truth, predicted = likert_pairs(seed, 300)
    scale = [1, 2, 3, 4, 5]
    assert st.cohen_kappa(truth, predicted, scale) == pytest.approx(
        hand_kappa(truth, predicted, scale), abs=TOL)
    assert st.quadratic_weighted_kappa(truth, predicted, scale) == pytest.approx(
        pairwise_qwk(truth, predicted, scale), abs=TOL)


def test_binary_figures_match_hand_counts() -> None:
    truth = [1, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    predicted = [1, 1, 0, 1, 1, 0, 0, 1, 1, 1]
    tp, fp, fn = 5, 2, 1
    figures = st.binary_figures(truth, predicted)
    assert figures["accuracy"] == pytest.approx(7 / 10, abs=TOL)
    assert figures["precision"] == pytest.approx(tp / (tp + fp), abs=TOL)
    assert figures["recall"] == pytest.approx(tp / (tp + fn), abs=TOL)
    assert figures["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=TOL)
    assert figures["cohen_kappa"] == pytest.approx(hand_kappa(truth, predicted, [0, 1]), abs=TOL)


def test_likert_agreement_figures() -> None:
    truth, predicted = [1, 2, 3, 4, 5, 5], [1, 3, 3, 2, 5, 4]
    result = agreement(truth, predicted, [1, 2, 3, 4, 5])
    assert result.kind == "likert" and result.n == 6
    assert result.figures["exact_agreement"] == pytest.approx(3 / 6)
    assert result.figures["off_by_one_agreement"] == pytest.approx(5 / 6)
    assert agreement([0, 1], [0, 1], [0, 1]).kind == "binary"


@pytest.mark.parametrize("df", [1, 2, 3, 9, 30, 199, 5000])
def test_t_quantiles_and_mean_intervals_match_scipy(df: int) -> None:
    for q in (0.975, 0.95, 0.6, 0.025):
        assert st.t_ppf(q, df) == pytest.approx(sp.t.ppf(q, df), abs=TOL)
    values = np.random.default_rng(df).normal(3.0, 1.0, df + 1)
    mean, low, high = st.mean_interval(values.tolist())
    expected = sp.t.interval(0.95, df, loc=values.mean(), scale=sp.sem(values))
    assert (mean, low, high) == pytest.approx((values.mean(), *expected), abs=TOL)


@pytest.mark.parametrize(("wins", "losses"), [(0, 1), (3, 10), (50, 50), (7, 3), (0, 25),
                                               (412, 455), (1500, 1600)])
def test_sign_test_matches_scipy_binomtest(wins: int, losses: int) -> None:
    assert st.sign_test(wins, losses) == pytest.approx(
        sp.binomtest(wins, wins + losses).pvalue, abs=TOL)
    assert math.isnan(st.sign_test(0, 0))


def test_run_stats_measure_all_labels_and_the_confident_half(store: Store) -> None:
    rub = rubric("faithfulness-context-binary")
    labels = [1, 1, 0, 0, 1, 0, None, 1]
    dataset_id = add_dataset(store, rub, [f"o{n}" for n in range(8)], labels=labels)
    run = add_run(store, dataset_id, rub)
    scores = [1, 1, 0, 1, 0, 1, 1, None]
    confidences = [0.9, 0.8, 0.95, 0.1, 0.2, 0.3, 0.99, 0.5]
    judge_all(store, run, scores, [0, 1], confidences)
    stats = run_stats(store, run.id)
    assert stats.histogram == {0: 2, 1: 5}
    assert (stats.scored, stats.skipped, stats.labelled) == (7, 1, 6)
    assert stats.mean_score == pytest.approx(5 / 7)
    assert stats.all_labelled is not None and stats.confident_half is not None
    assert stats.all_labelled.figures["accuracy"] == pytest.approx(3 / 6)
    # The three most confident labelled verdicts (0.95, 0.9, 0.8) are all right.
    assert stats.confident_half.n == 3
    assert stats.confident_half.figures["accuracy"] == 1.0
    assert stats.confidence_cutoff == pytest.approx(0.8)


def test_run_stats_without_labels(store: Store) -> None:
    rub = rubric("correctness-reference-5")
    run = add_run(store, add_dataset(store, rub, ["a", "b", "c"]), rub)
    judge_all(store, run, [5, 5, 2], [1, 2, 3, 4, 5])
    stats = run_stats(store, run.id)
    assert stats.histogram == {1: 0, 2: 1, 3: 0, 4: 0, 5: 2}
    assert stats.all_labelled is None and stats.confident_half is None


def test_a_label_off_the_scale_of_the_rubric_version_is_left_out_not_a_crash(
    store: Store,
) -> None:
    """A reviewer's label follows the item under the rubric's name, so a 4 given under a 1-5
    version reaches a pass/fail version of the same name: it is no label there (stats and
    compare used to fail with a KeyError, and calibration counted it as a disagreement)."""
    five = rubric("relevance-query-5")
    binary = five.model_copy(update={"scores": {0: "Irrelevant.", 1: "Relevant."}})
    dataset_id = add_dataset(store, five, ["a", "b", "c"], labels=[5, 1, None])
    first = add_run(store, dataset_id, five)
    judge_all(store, first, [4, 2, 3], [1, 2, 3, 4, 5])
    store.set_human_score(store.items(dataset_id)[2].id, five.content_hash, 4)
    runs = [add_run(store, dataset_id, binary, name) for name in ("q4.gguf", "q8.gguf")]
    for run, scores in zip(runs, ([1, 1, 0], [1, 0, 0]), strict=True):
        judge_all(store, run, scores, [0, 1])
    stats = run_stats(store, runs[0].id)
    assert stats.labelled == 1 and stats.all_labelled is not None
    assert stats.all_labelled.figures["accuracy"] == 1.0  # only item b's label 1 is on 0-1
    result = compare_runs(store, runs[0].id, runs[1].id)
    assert result.human_a is not None and result.human_a.n == 1
    # Calibration follows the same rule: the 5 and the 4 are no disagreement on 0-1.
    calibrated = run_calibration(store.judged_items(runs[0].id), binary.score_values)
    assert calibrated is not None and calibrated.n == 1
    assert calibrated.coverage[0].agreement.estimate == 1.0
    assert result.human_b is not None and result.human_b.figures["accuracy"] == 0.0


def test_comparing_two_systems_pairs_items_by_their_inputs(store: Store) -> None:
    rub = rubric("correctness-reference-5")
    scale = [1, 2, 3, 4, 5]
    run_a = add_run(store, add_dataset(store, rub, [f"A{n}" for n in range(12)], name="a"), rub)
    # System B answered the same inputs, and one more.
    b_id = add_dataset(store, rub, [f"B{n}" for n in range(13)], name="b")
    run_b = add_run(store, b_id, rub)
    scores_a = [3, 3, 3, 3, 3, 3, 2, 2, 2, 4, 4, 4]
    scores_b = [4, 5, 4, 4, 3, 3, 2, 5, 1, 4, 4, 4, 1]
    judge_all(store, run_a, scores_a, scale)
    judge_all(store, run_b, scores_b, scale)
    result = compare_runs(store, run_a.id, run_b.id)
    assert result.kind == "systems" and result.paired_by == "inputs"
    assert (result.paired, result.unpaired_a, result.unpaired_b) == (12, 0, 1)
    assert (result.wins, result.ties, result.losses) == (5, 6, 1)
    assert result.sign_test_p == pytest.approx(sp.binomtest(5, 6).pvalue, abs=TOL)
    assert result.a.mean == pytest.approx(np.mean(scores_a))
    low, high = sp.t.interval(0.95, 11, loc=np.mean(scores_b[:12]), scale=sp.sem(scores_b[:12]))
    assert (result.b.ci_low, result.b.ci_high) == pytest.approx((low, high), abs=TOL)
    assert result.differences[0].key == "row 9"
    assert (result.differences[0].score_a, result.differences[0].score_b) == (2, 5)


def test_comparing_two_judges_of_the_same_outputs_measures_their_agreement(
    store: Store,
) -> None:
    rub = rubric("faithfulness-context-binary")
    dataset_id = add_dataset(store, rub, [f"o{n}" for n in range(6)])
    run_a, run_b = add_run(store, dataset_id, rub, "q4.gguf"), add_run(store, dataset_id, rub,
                                                                          "q8.gguf")
    judge_all(store, run_a, [1, 1, 0, 0, 1, 0], [0, 1])
    judge_all(store, run_b, [1, 0, 0, 0, 1, 1], [0, 1])
    result = compare_runs(store, run_a.id, run_b.id)
    assert result.kind == "judges" and result.paired_by == "item"
    assert result.agreement is not None
    assert result.agreement.figures["accuracy"] == pytest.approx(4 / 6)
    assert result.agreement.figures["cohen_kappa"] == pytest.approx(
        hand_kappa([1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 1, 1], [0, 1]))


def test_comparisons_that_make_no_sense_are_refused(store: Store) -> None:
    five, three = rubric("correctness-reference-5"), rubric("correctness-reference-3")
    run_a = add_run(store, add_dataset(store, five, ["x", "y"], name="a"), five)
    run_b = add_run(store, add_dataset(store, three, ["p", "q"], name="b"), three)
    with pytest.raises(StoreError, match="no scored item in common"):
        compare_runs(store, run_a.id, run_b.id)
    judge_all(store, run_a, [5, 4], [1, 2, 3, 4, 5])
    judge_all(store, run_b, [3, 2], [1, 2, 3])
    with pytest.raises(StoreError, match="different rubrics"):
        compare_runs(store, run_a.id, run_b.id)


def test_only_runs_that_compare_are_offered_and_a_run_is_not_compared_with_itself(
    store: Store,
) -> None:
    """The app's run picker offers what ``comparable_runs`` keeps: the very rules of
    ``compare_runs`` (it offered runs of other rubrics and datasets, and Compare then failed)."""
    five, three = rubric("correctness-reference-5"), rubric("correctness-reference-3")
    dataset_id = add_dataset(store, five, ["x", "y"], name="a", keys=["k1", "k2"])
    first, same = add_run(store, dataset_id, five), add_run(store, dataset_id, five, "q8.gguf")
    other_scale = add_run(store, dataset_id, three)
    other_items = add_run(store, add_dataset(store, five, ["p", "q"], name="b",
                                             keys=["z1", "z2"]), five)
    unjudged = add_run(store, dataset_id, five, "q2.gguf")
    judge_all(store, first, [5, 4], [1, 2, 3, 4, 5])
    judge_all(store, same, [4, 4], [1, 2, 3, 4, 5])
    judge_all(store, other_scale, [3, 2], [1, 2, 3])
    judge_all(store, other_items, [5, 1], [1, 2, 3, 4, 5])
    candidates = [store.get_run(r.id) for r in (first, same, other_scale, other_items, unjudged)]
    fits, misfits = comparable_runs(store, first.id, candidates)
    assert [r.id for r in fits] == [same.id]
    assert [r.id for r in misfits] == [other_scale.id, other_items.id, unjudged.id]
    assert comparison_problem(store, first.id, same.id) is None
    assert "different rubrics" in (comparison_problem(store, first.id, other_scale.id) or "")
    with pytest.raises(StoreError, match=f"Run {first.id} would be compared with itself"):
        compare_runs(store, first.id, first.id)
