"""What a run says: its score histogram, its agreement with people, and run-vs-run comparisons.

Agreement is measured twice: over every labelled verdict, and over the most confident half of
them. A judge whose confident half agrees clearly better than the whole is one whose confidence
can be used to pick the verdicts worth a second look (the reliability indicator of "On the
Limitations of Fine-tuned Judge Models for LLM Evaluation").
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from flowjudge_tui.errors import StoreError
from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.judging.verdict import confidence_level
from flowjudge_tui.reports.statistics import (
    NAN,
    binary_figures,
    likert_figures,
    mean_interval,
    sign_test,
)
from flowjudge_tui.store import JudgedItem, RunRecord, Store

AgreementKind = Literal["binary", "likert"]
ComparisonKind = Literal["systems", "judges"]

FIGURE_LABELS = {
    "accuracy": "accuracy",
    "precision": "precision (1 = positive)",
    "recall": "recall (1 = positive)",
    "f1": "F1",
    "cohen_kappa": "Cohen's kappa",
    "pearson": "Pearson r",
    "spearman": "Spearman rho",
    "kendall_tau_b": "Kendall tau-b",
    "exact_agreement": "exact agreement",
    "off_by_one_agreement": "agreement within 1",
    "quadratic_weighted_kappa": "quadratic weighted kappa",
}


@dataclass(frozen=True)
class Agreement:
    """How far one set of scores agrees with another; ``figures`` are nan when undefined."""

    kind: AgreementKind
    n: int
    figures: dict[str, float]


def agreement(
    reference: Sequence[int], scores: Sequence[int], scale: Sequence[int]
) -> Agreement:
    """``scores`` measured against ``reference`` (human labels, or another judge)."""
    if list(scale) == [0, 1]:
        return Agreement("binary", len(scores), binary_figures(reference, scores))
    return Agreement("likert", len(scores), likert_figures(reference, scores, scale))


@dataclass(frozen=True)
class RunStats:
    run_id: int
    rubric_name: str
    scale: list[int]
    total_items: int
    scored: int
    skipped: int
    histogram: dict[int, int]
    mean_score: float
    mean_confidence: float
    confidence_levels: dict[str, int]
    """How many scored verdicts are of low, medium and high confidence."""
    labelled: int
    all_labelled: Agreement | None
    confident_half: Agreement | None
    """The same figures over the most confident half of the labelled verdicts."""
    confidence_cutoff: float | None
    """The lowest confidence inside the confident half."""
    skipped_too_long: int = 0
    """Of ``skipped``, the items too long for the run's context."""


def stats_from_items(
    run: RunRecord, rubric: Rubric, judged: Sequence[JudgedItem]
) -> RunStats:
    scale = rubric.score_values
    scored = [j for j in judged if j.verdict.score is not None]
    histogram = dict.fromkeys(scale, 0)
    for entry in scored:
        histogram[entry.verdict.score or 0] = histogram.get(entry.verdict.score or 0, 0) + 1
    scores = [float(j.verdict.score or 0) for j in scored]
    confidences = [j.verdict.confidence or 0.0 for j in scored]
    labelled = _labelled(scored, scale)
    confident = sorted(labelled, key=lambda j: -(j.verdict.confidence or 0.0))
    confident = confident[: math.ceil(len(confident) / 2)]
    return RunStats(
        run_id=run.id,
        rubric_name=rubric.name,
        scale=scale,
        total_items=run.total_items,
        scored=len(scored),
        skipped=sum(1 for j in judged if j.verdict.score is None),
        histogram=histogram,
        mean_score=sum(scores) / len(scores) if scores else NAN,
        mean_confidence=sum(confidences) / len(confidences) if confidences else NAN,
        confidence_levels=_levels(confidences),
        labelled=len(labelled),
        all_labelled=_human_agreement(labelled, scale),
        confident_half=_human_agreement(confident, scale),
        confidence_cutoff=min((j.verdict.confidence or 0.0) for j in confident)
        if confident else None,
        skipped_too_long=run.skipped_too_long,
    )


def _levels(confidences: Sequence[float]) -> dict[str, int]:
    levels = {"low": 0, "medium": 0, "high": 0}
    for confidence in confidences:
        levels[confidence_level(confidence)] += 1
    return levels


def _labelled(entries: Sequence[JudgedItem], scale: Sequence[int]) -> list[JudgedItem]:
    """The entries with a human label on the rubric's scale (``JudgedItem.label_on``)."""
    return [j for j in entries if j.label_on(scale) is not None]


def _human_agreement(entries: Sequence[JudgedItem], scale: list[int]) -> Agreement | None:
    entries = _labelled(entries, scale)
    if not entries:
        return None
    return agreement(
        [j.human_score or 0 for j in entries], [j.verdict.score or 0 for j in entries], scale
    )


def run_stats(store: Store, run_id: int) -> RunStats:
    run = store.get_run(run_id)
    return stats_from_items(run, store.get_rubric(run.rubric_hash), store.judged_items(run_id))


@dataclass(frozen=True)
class SystemSummary:
    run_id: int
    n: int
    mean: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class ItemDifference:
    """One paired item; ``key`` names it (the id column's value, else the row number)."""

    key: str
    item_a: int
    item_b: int
    score_a: int
    score_b: int
    expected_a: float
    expected_b: float

    @property
    def difference(self) -> float:
        return self.expected_b - self.expected_a


@dataclass(frozen=True)
class Comparison:
    """Two runs over the same items.

    ``systems``: the same rubric judged two systems' outputs for the same inputs; read the
    means, wins/ties/losses (B against A) and the sign test. ``judges``: the same outputs judged
    twice (another model, quantization or setting); read ``agreement`` (B against A).
    """

    kind: ComparisonKind
    a: SystemSummary
    b: SystemSummary
    paired: int
    unpaired_a: int
    unpaired_b: int
    paired_by: str
    wins: int
    ties: int
    losses: int
    sign_test_p: float
    agreement: Agreement | None
    differences: list[ItemDifference]
    human_a: Agreement | None = None
    """A's agreement with people over the paired items with a human label (None: none)."""
    human_b: Agreement | None = None
    """B's, over the same pairs: each side against its own item's label."""


@dataclass(frozen=True)
class ItemPair:
    """One item both runs scored: its name and both sides (item, verdict, labels)."""

    key: str
    a: JudgedItem
    b: JudgedItem

    @property
    def disagree(self) -> bool:
        return self.a.verdict.score != self.b.verdict.score

    @property
    def difference(self) -> int:
        """How far apart the two scores are, |A - B| (both sides of a pair are scored)."""
        return abs((self.a.verdict.score or 0) - (self.b.verdict.score or 0))


def _inputs_key(entry: JudgedItem) -> str:
    canonical = json.dumps(list(entry.item.inputs.items()), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _pairing(
    a: Sequence[JudgedItem], b: Sequence[JudgedItem]
) -> tuple[str, Callable[[JudgedItem], str]]:
    def unique(key: Callable[[JudgedItem], str | None], side: Sequence[JudgedItem]) -> bool:
        keys = [key(e) for e in side]
        return None not in keys and len(set(keys)) == len(keys)

    if a and b and a[0].item.dataset_id == b[0].item.dataset_id:
        return "item", lambda e: str(e.item.id)
    candidates: list[tuple[str, Callable[[JudgedItem], str | None]]] = [
        ("id column", lambda e: e.item.source_key),
        ("inputs", _inputs_key),
    ]
    for name, key in candidates:
        if unique(key, a) and unique(key, b):
            return name, lambda e, k=key: str(k(e))
    return "row number", lambda e: str(e.item.row_number)


def comparison_problem(store: Store, run_a: int, run_b: int) -> str | None:
    """Why the two runs cannot be compared (one sentence), or None when they can: the very
    rules ``compare_runs`` applies, so a run offered for comparison always compares."""
    try:
        _paired(store, run_a, run_b)
    except StoreError as error:
        return str(error)
    return None


def comparable_runs(
    store: Store, run_id: int, candidates: Sequence[RunRecord]
) -> tuple[list[RunRecord], list[RunRecord]]:
    """The candidates that compare with ``run_id``, and those that do not (other items, or a
    rubric of another scale or content)."""
    fits: list[RunRecord] = []
    misfits: list[RunRecord] = []
    for run in candidates:
        if run.id != run_id:
            (misfits if comparison_problem(store, run_id, run.id) else fits).append(run)
    return fits, misfits


def _paired(
    store: Store, run_a: int, run_b: int
) -> tuple[tuple[Rubric, Rubric], list[list[JudgedItem]], str,
           list[tuple[JudgedItem, JudgedItem]], ComparisonKind]:
    """Both runs' scored items paired, or a ``StoreError`` saying why they cannot be."""
    if run_a == run_b:
        raise StoreError(
            f"Run {run_a} would be compared with itself; give two different runs."
        )
    runs = store.get_run(run_a), store.get_run(run_b)
    rubrics = store.get_rubric(runs[0].rubric_hash), store.get_rubric(runs[1].rubric_hash)
    sides = [
        [j for j in store.judged_items(r.id) if j.verdict.score is not None] for r in runs
    ]
    paired_by, key = _pairing(sides[0], sides[1])
    b_by_key = {key(e): e for e in sides[1]}
    pairs = [(e, b_by_key[key(e)]) for e in sides[0] if key(e) in b_by_key]
    if not pairs:
        raise StoreError(
            f"Runs {run_a} and {run_b} have no scored item in common; compare runs over the "
            "same dataset or the same inputs."
        )
    same_outputs = all(x.item.content_hash == y.item.content_hash for x, y in pairs)
    kind: ComparisonKind = "judges" if same_outputs else "systems"
    if rubrics[0].score_values != rubrics[1].score_values or (
        kind == "systems" and rubrics[0].content_hash != rubrics[1].content_hash
    ):
        raise _different_rubrics(run_a, run_b, rubrics)
    return rubrics, sides, paired_by, pairs, kind


def _different_rubrics(run_a: int, run_b: int, rubrics: tuple[Rubric, Rubric]) -> StoreError:
    return StoreError(
        f"Runs {run_a} and {run_b} use different rubrics ('{rubrics[0].name}' and "
        f"'{rubrics[1].name}'); compare runs judged with the same rubric."
    )


def compare_runs(store: Store, run_a: int, run_b: int, top: int = 10) -> Comparison:
    """Pair the two runs' scored items and compare them (see ``Comparison``)."""
    return compare_runs_with_items(store, run_a, run_b, top)[0]


def compare_runs_with_items(
    store: Store, run_a: int, run_b: int, top: int = 10
) -> tuple[Comparison, list[ItemPair]]:
    """``compare_runs``, and every paired item in A's file order (for a side-by-side list)."""
    rubrics, sides, paired_by, pairs, kind = _paired(store, run_a, run_b)
    scores_a = [x.verdict.score or 0 for x, _ in pairs]
    scores_b = [y.verdict.score or 0 for _, y in pairs]
    wins = sum(1 for x, y in zip(scores_a, scores_b, strict=True) if y > x)
    losses = sum(1 for x, y in zip(scores_a, scores_b, strict=True) if y < x)
    differences = [_difference(x, y, paired_by) for x, y in pairs]
    differences.sort(key=lambda d: (-abs(d.score_b - d.score_a), -abs(d.difference)))
    scale = rubrics[0].score_values
    items = [ItemPair(x.item.source_key or f"row {x.item.row_number}", x, y) for x, y in pairs]
    comparison = Comparison(
        kind=kind,
        a=_summary(run_a, scores_a),
        b=_summary(run_b, scores_b),
        paired=len(pairs),
        unpaired_a=len(sides[0]) - len(pairs),
        unpaired_b=len(sides[1]) - len(pairs),
        paired_by=paired_by,
        wins=wins,
        ties=len(pairs) - wins - losses,
        losses=losses,
        sign_test_p=sign_test(wins, losses),
        agreement=agreement(scores_a, scores_b, rubrics[0].score_values),
        differences=[d for d in differences[:top] if d.score_a != d.score_b or d.difference],
        human_a=_human_agreement([x for x, _ in pairs], scale),
        human_b=_human_agreement([y for _, y in pairs], scale),
    )
    return comparison, items


def _summary(run_id: int, scores: Sequence[int]) -> SystemSummary:
    mean, low, high = mean_interval(scores)
    return SystemSummary(run_id, len(scores), mean, low, high)


def _difference(a: JudgedItem, b: JudgedItem, paired_by: str) -> ItemDifference:
    return ItemDifference(
        key=(a.item.source_key or "") if paired_by == "id column" else f"row {a.item.row_number}",
        item_a=a.item.id,
        item_b=b.item.id,
        score_a=a.verdict.score or 0,
        score_b=b.verdict.score or 0,
        expected_a=a.verdict.expected_score or 0.0,
        expected_b=b.verdict.expected_score or 0.0,
    )
