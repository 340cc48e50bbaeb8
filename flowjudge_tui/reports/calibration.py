"""When to trust a verdict: does the judge's stated certainty predict its agreement with people?

Fine-tuned judges behave like task-specific classifiers, so their certainty is worth exactly
what it has been shown to predict ("On the Limitations of Fine-tuned Judge Models for LLM
Evaluation"). Given, for each labelled verdict, a certainty in [0, 1] and whether the verdict
agreed with the person, this module gives:

- a reliability table: verdicts grouped into equal-width certainty bins, with each bin's
  count, mean certainty and agreement (with a Wilson interval);
- the expected calibration error: the count-weighted mean gap between a bin's certainty and
  its agreement (0 for a judge whose 0.8 means agreeing 80% of the time);
- a coverage table: accept the verdicts at or above a threshold t and send the rest to a
  person; what share is accepted and how well the accepted ones agree;
- the lowest t whose accepted verdicts reach a target agreement.

Which certainty to use is the caller's choice; the reports use the probability the judge gave
its own score, the one quantity that calibration can compare with a frequency.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from flowjudge_tui.reports.intervals import NAN, Interval, wilson_interval
from flowjudge_tui.store import JudgedItem, VerdictRecord

DEFAULT_BINS = 10
DEFAULT_THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class ReliabilityBin:
    """Verdicts with ``low <= certainty < high`` (the last bin includes 1.0)."""

    low: float
    high: float
    count: int
    mean_confidence: float
    agreement: Interval

    def to_json(self) -> dict[str, object]:
        return {"low": self.low, "high": self.high, "count": self.count,
                "mean_confidence": None if math.isnan(self.mean_confidence)
                else self.mean_confidence,
                "agreement": self.agreement.to_json()}


@dataclass(frozen=True)
class CoverageRow:
    """Accepting the verdicts with certainty >= ``threshold``."""

    threshold: float
    accepted: int
    total: int
    share: Interval
    agreement: Interval

    def to_json(self) -> dict[str, object]:
        return {"threshold": self.threshold, "accepted": self.accepted, "total": self.total,
                "share": self.share.to_json(), "agreement": self.agreement.to_json()}


def _checked(confidences: Sequence[float], agrees: Sequence[bool]) -> None:
    if len(confidences) != len(agrees):
        raise ValueError("each verdict needs both a certainty and an agreement")
    if any(not 0.0 <= c <= 1.0 for c in confidences):
        raise ValueError("certainties must lie between 0 and 1")


def reliability_table(
    confidences: Sequence[float], agrees: Sequence[bool], bins: int = DEFAULT_BINS
) -> list[ReliabilityBin]:
    """Every one of ``bins`` equal-width bins over [0, 1], empty ones included."""
    _checked(confidences, agrees)
    if bins < 1:
        raise ValueError("a reliability table needs at least one bin")
    edges = [k / bins for k in range(bins + 1)]
    members: list[list[int]] = [[] for _ in range(bins)]
    for index, value in enumerate(confidences):
        members[min(bisect_right(edges, value) - 1, bins - 1)].append(index)
    table = []
    for k, inside in enumerate(members):
        agreeing = sum(1 for i in inside if agrees[i])
        mean = sum(confidences[i] for i in inside) / len(inside) if inside else NAN
        table.append(ReliabilityBin(edges[k], edges[k + 1], len(inside), mean,
                                    wilson_interval(agreeing, len(inside))))
    return table


def expected_calibration_error(table: Sequence[ReliabilityBin]) -> float:
    """Sum over bins of (bin count / all) * |agreement - mean certainty|; nan when empty."""
    total = sum(b.count for b in table)
    if total == 0:
        return NAN
    return sum(b.count / total * abs(b.agreement.estimate - b.mean_confidence)
               for b in table if b.count)


def coverage_row(
    confidences: Sequence[float], agrees: Sequence[bool], threshold: float
) -> CoverageRow:
    _checked(confidences, agrees)
    accepted = [i for i, c in enumerate(confidences) if c >= threshold]
    agreeing = sum(1 for i in accepted if agrees[i])
    return CoverageRow(threshold, len(accepted), len(confidences),
                       wilson_interval(len(accepted), len(confidences)),
                       wilson_interval(agreeing, len(accepted)))


def coverage_table(
    confidences: Sequence[float], agrees: Sequence[bool],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> list[CoverageRow]:
    return [coverage_row(confidences, agrees, t) for t in thresholds]


def lowest_threshold(
    confidences: Sequence[float], agrees: Sequence[bool], target: float,
    *, by_lower_bound: bool = False,
) -> CoverageRow | None:
    """The lowest t (one of the observed certainties) whose accepted verdicts reach ``target``.

    Agreement is the point estimate, or with ``by_lower_bound`` the Wilson lower bound (a
    stricter reading for small samples). None when no threshold reaches the target.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError("the target agreement must be above 0 and at most 1")
    for threshold in sorted(set(confidences)):
        row = coverage_row(confidences, agrees, threshold)
        reached = row.agreement.low if by_lower_bound else row.agreement.estimate
        if not math.isnan(reached) and reached >= target:
            return row
    return None


@dataclass(frozen=True)
class Calibration:
    """Everything above for one set of labelled verdicts."""

    n: int
    bins: list[ReliabilityBin]
    ece: float
    coverage: list[CoverageRow]
    target: float | None
    suggested: CoverageRow | None

    def to_json(self) -> dict[str, object]:
        return {
            "n": self.n,
            "reliability": [b.to_json() for b in self.bins],
            "ece": None if math.isnan(self.ece) else self.ece,
            "coverage": [r.to_json() for r in self.coverage],
            "target": self.target,
            "suggested_threshold": None if self.suggested is None else self.suggested.to_json(),
        }


def calibration(
    confidences: Sequence[float], agrees: Sequence[bool], *,
    bins: int = DEFAULT_BINS, thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    target: float | None = None,
) -> Calibration:
    table = reliability_table(confidences, agrees, bins)
    return Calibration(
        n=len(confidences),
        bins=table,
        ece=expected_calibration_error(table),
        coverage=coverage_table(confidences, agrees, thresholds),
        target=target,
        suggested=None if target is None else lowest_threshold(confidences, agrees, target),
    )


BASIS = "the probability the judge gave its own score"


def score_probability(verdict: VerdictRecord) -> float | None:
    """The judge's probability of the score it gave (None for a skipped verdict)."""
    if verdict.score is None:
        return None
    return min(1.0, max(0.0, verdict.distribution.get(verdict.score, 0.0)))


def run_calibration(
    judged: Sequence[JudgedItem], scale: Sequence[int], *, target: float | None = None,
    bins: int = DEFAULT_BINS,
) -> Calibration | None:
    """Calibration of a run's labelled verdicts against the people's labels (None: no labels).
    Only labels on ``scale`` (the run's rubric version's) count, as in stats and compare."""
    labelled = [(j, j.label_on(scale)) for j in judged if j.verdict.score is not None]
    pairs = [(score_probability(j.verdict), j.verdict.score == label)
             for j, label in labelled if label is not None]
    certain = [(p, agrees) for p, agrees in pairs if p is not None]
    if not certain:
        return None
    return calibration([p for p, _ in certain], [a for _, a in certain], bins=bins,
                       target=target)


def needs_review(verdict: VerdictRecord, below: float | None) -> bool:
    """A scored verdict whose probability is under the run's review threshold."""
    probability = score_probability(verdict)
    return below is not None and probability is not None and probability < below
