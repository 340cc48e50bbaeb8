"""Which verdicts are marked unreliable: too little probability on the scale, or feedback
cut off by its budget."""

from __future__ import annotations

from flowjudge_tui.judging.verdict import LOW_SCORE_MASS, unreliable_reason


def test_a_sound_verdict_has_no_mark() -> None:
    assert unreliable_reason(0.97, "score") == ""
    assert unreliable_reason(LOW_SCORE_MASS, "feedback_closed") == ""
    assert unreliable_reason(None, "eos") == ""


def test_low_score_mass_and_a_cut_off_feedback_are_both_named() -> None:
    assert unreliable_reason(0.12, "score") == (
        "only 12% of the probability fell on the rubric's scores")
    assert unreliable_reason(0.9, "length") == (
        "the feedback ran out of its token budget before the score")
    assert "; " in unreliable_reason(0.1, "length")
