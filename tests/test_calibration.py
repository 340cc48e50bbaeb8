"""Reliability bins, expected calibration error and the coverage table, worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from flowjudge_tui.reports import calibration as cal
from tests.run_helpers import add_dataset, add_run, judge_all, rubric

TOL = 1e-9

# Ten verdicts: certainty and whether the judge agreed with the person.
CONFIDENCES = [0.55, 0.58, 0.62, 0.65, 0.72, 0.78, 0.85, 0.91, 0.96, 1.0]
AGREES = [False, True, False, True, True, False, True, True, True, True]


def test_reliability_table_by_hand() -> None:
    table = cal.reliability_table(CONFIDENCES, AGREES, bins=5)
    assert [(b.low, b.high, b.count) for b in table] == [
        (0.0, 0.2, 0), (0.2, 0.4, 0), (0.4, 0.6, 2), (0.6, 0.8, 4), (0.8, 1.0, 4)]
    assert table[2].mean_confidence == pytest.approx(0.565, abs=TOL)
    assert table[2].agreement.estimate == pytest.approx(0.5, abs=TOL)
    assert table[3].mean_confidence == pytest.approx(0.6925, abs=TOL)
    assert table[3].agreement.estimate == pytest.approx(0.5, abs=TOL)
    assert table[4].mean_confidence == pytest.approx(0.93, abs=TOL)
    assert table[4].agreement.estimate == 1.0
    assert math.isnan(table[0].mean_confidence) and math.isnan(table[0].agreement.estimate)
    # ECE = 0.2 * |0.5 - 0.565| + 0.4 * |0.5 - 0.6925| + 0.4 * |1 - 0.93|
    assert cal.expected_calibration_error(table) == pytest.approx(
        0.2 * 0.065 + 0.4 * 0.1925 + 0.4 * 0.07, abs=TOL)


def test_bin_edges_are_half_open_and_one_lands_in_the_last_bin() -> None:
    table = cal.reliability_table([0.0, 0.3, 0.7, 1.0], [True] * 4, bins=10)
    assert [b.count for b in table] == [1, 0, 0, 1, 0, 0, 0, 1, 0, 1]


def test_agreement_intervals_are_wilson_and_match_scipy() -> None:
    table = cal.reliability_table(CONFIDENCES, AGREES, bins=2)
    top = table[1]
    assert top.count == 10 and top.agreement.estimate == pytest.approx(7 / 10, abs=TOL)
    ref = sp.binomtest(7, 10).proportion_ci(method="wilson")
    assert (top.agreement.low, top.agreement.high) == pytest.approx((ref.low, ref.high),
                                                                    abs=TOL)


def test_a_calibrated_judge_has_a_small_ece_and_an_overconfident_one_a_large_one() -> None:
    rng = np.random.default_rng(0)
    certainty = rng.uniform(0.5, 1.0, 20_000)
    calibrated = rng.random(20_000) < certainty
    overconfident = rng.random(20_000) < certainty - 0.3
    assert cal.calibration(certainty.tolist(), calibrated.tolist()).ece < 0.02
    assert cal.calibration(certainty.tolist(), overconfident.tolist()).ece == pytest.approx(
        0.3, abs=0.02)


def test_coverage_table_by_hand() -> None:
    rows = cal.coverage_table(CONFIDENCES, AGREES, thresholds=(0.0, 0.7, 0.9, 1.01))
    assert [(r.threshold, r.accepted, r.total) for r in rows] == [
        (0.0, 10, 10), (0.7, 6, 10), (0.9, 3, 10), (1.01, 0, 10)]
    assert rows[0].agreement.estimate == pytest.approx(0.7, abs=TOL)
    assert rows[1].share.estimate == pytest.approx(0.6, abs=TOL)
    assert rows[1].agreement.estimate == pytest.approx(5 / 6, abs=TOL)
    assert rows[2].agreement.estimate == 1.0
    ref = sp.binomtest(3, 3).proportion_ci(method="wilson")
    assert rows[2].agreement.low == pytest.approx(ref.low, abs=TOL)
    assert math.isnan(rows[3].agreement.estimate)


def test_lowest_threshold_reaching_a_target() -> None:
    row = cal.lowest_threshold(CONFIDENCES, AGREES, 0.8)
    assert row is not None
    # At 0.65 seven are accepted, six agree (0.857); at 0.62 eight with six (0.75).
    assert row.threshold == 0.65 and row.accepted == 7
    assert cal.lowest_threshold(CONFIDENCES, AGREES, 0.7) is not None
    assert cal.lowest_threshold(CONFIDENCES, AGREES, 0.7).threshold == 0.55  # type: ignore[union-attr]
    strict = cal.lowest_threshold(CONFIDENCES, AGREES, 0.8, by_lower_bound=True)
    assert strict is None  # four agreeing verdicts at most cannot push Wilson's bound to 0.8
    assert cal.lowest_threshold([0.9], [False], 0.5) is None
    with pytest.raises(ValueError, match="target agreement"):
        cal.lowest_threshold(CONFIDENCES, AGREES, 0.0)


def test_calibration_summary_json_has_no_nan() -> None:
    summary = cal.calibration(CONFIDENCES, AGREES, bins=4, target=0.9)
    data = summary.to_json()
    assert data["n"] == 10
    assert len(data["reliability"]) == 4  # type: ignore[arg-type]
    assert data["suggested_threshold"] is not None
    assert data["suggested_threshold"]["threshold"] == 0.85  # type: ignore[index]
    assert "nan" not in repr(data)
    empty = cal.calibration([], []).to_json()
    assert empty["ece"] is None and empty["n"] == 0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="certainty and an agreement"):
        cal.reliability_table([0.5], [True, False])
    with pytest.raises(ValueError, match="between 0 and 1"):
        cal.reliability_table([1.5], [True])
    with pytest.raises(ValueError, match="at least one bin"):
        cal.reliability_table([0.5], [True], bins=0)


def test_run_calibration_uses_the_probability_of_the_given_score() -> None:
    from flowjudge_tui.store import open_store

    rub = rubric("faithfulness-context-binary")
    with open_store() as store:
        dataset = add_dataset(store, rub, [f"o{n}" for n in range(6)],
                              labels=[1, 1, 0, 0, 1, None])
        run = add_run(store, dataset, rub)
        judge_all(store, run, [1, 1, 1, 0, None, 1], rub.score_values,
                  confidences=[0.95, 0.9, 0.6, 0.7, 0.5, 0.99])
        judged = store.judged_items(run.id)
        summary = cal.run_calibration(judged, rub.score_values, target=0.9)
        assert summary is not None and summary.n == 4  # skipped and unlabelled left out
        assert cal.score_probability(judged[0].verdict) == pytest.approx(0.95, abs=TOL)
        assert [b.count for b in summary.bins if b.count] == [1, 1, 2]
        assert summary.suggested is not None and summary.suggested.threshold == pytest.approx(0.7)
        assert cal.needs_review(judged[2].verdict, 0.8)
        assert not cal.needs_review(judged[0].verdict, 0.8)
        assert not cal.needs_review(judged[4].verdict, 0.8)  # skipped: nothing to review
        assert not cal.needs_review(judged[2].verdict, None)
        assert cal.run_calibration(judged[5:], rub.score_values) is None
        store.set_review_threshold(run.id, 0.8)
        assert store.review_threshold(run.id) == 0.8


def test_reliability_svg_is_well_formed_with_one_bar_per_filled_bin() -> None:
    from xml.dom.minidom import parseString

    from flowjudge_tui.reports.calibration_plot import reliability_svg

    svg = reliability_svg(cal.reliability_table(CONFIDENCES, AGREES, bins=5))
    document = parseString(svg)
    bars = [r for r in document.getElementsByTagName("rect") if r.getAttribute("fill") != "none"]
    assert len(bars) == 3
    heights = [float(r.getAttribute("height")) for r in bars]
    assert heights[0] == pytest.approx(heights[1]) and heights[2] == pytest.approx(2 * heights[0])


def test_stats_json_holds_calibration_and_flags_the_suggested_threshold(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    from pathlib import Path

    from flowjudge_tui.cli.main import main
    from flowjudge_tui.store import open_store

    rub = rubric("faithfulness-context-binary")
    with open_store() as store:
        dataset = add_dataset(store, rub, [f"o{n}" for n in range(6)],
                              labels=[1, 1, 0, 0, 1, 0])
        run = add_run(store, dataset, rub)
        judge_all(store, run, [1, 1, 1, 0, 0, 0], rub.score_values,
                  confidences=[0.95, 0.9, 0.6, 0.7, 0.55, 0.85])
    assert main(["stats", str(run.id), "--json", "--target", "0.9", "--flag"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["calibration_n"] == 6
    assert [b["count"] for b in data["reliability"]] == [0] * 5 + [1, 1, 1, 1, 2]
    assert data["ece"] == pytest.approx(cal.calibration(
        [0.95, 0.9, 0.6, 0.7, 0.55, 0.85], [True, True, False, True, False, True]).ece, abs=TOL)
    assert [r["threshold"] for r in data["coverage"]] == list(cal.DEFAULT_THRESHOLDS)
    assert data["suggested_threshold"]["threshold"] == pytest.approx(0.7)
    assert data["review_below"] == pytest.approx(0.7)
    assert main(["stats", str(run.id), "--flag"]) == 2
    assert "--target" in capsys.readouterr().err
    assert main(["stats", str(run.id), "--flag-below", "0"]) == 0
    assert "Expected calibration error" not in capsys.readouterr().out
    with open_store() as store:
        assert store.review_threshold(run.id) is None
    out = Path(str(tmp_path)) / "report.html"
    assert main(["export", str(run.id), "--format", "html", "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="reliability"' in html
    assert "Expected calibration error" in html
