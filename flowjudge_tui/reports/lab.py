"""What a rubric trial says: its agreement with people, with intervals, and version-vs-version.

Binary scales report accuracy (Wilson interval) and Cohen's kappa (bootstrap); Likert scales
report exact agreement and agreement within one (Wilson) and quadratic-weighted kappa
(bootstrap). Two trials of one rubric on the same sample are paired item by item (by content):
McNemar's exact test on correctness for binary scales, the Wilcoxon signed-rank test (and the
sign test) on each item's distance to the label otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flowjudge_tui.errors import StoreError
from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.reports.inference import (
    PairedTest,
    comparison_sentence,
    distinguishable,
    kappa_interval,
    likert_paired_test,
    mcnemar_exact,
    weighted_kappa_interval,
)
from flowjudge_tui.reports.intervals import Interval, wilson_interval
from flowjudge_tui.reports.statistics import confusion
from flowjudge_tui.store import JudgedItem, Store, TrialRecord

ScaleKind = Literal["binary", "likert"]
FIGURE_NAMES = {
    "accuracy": "accuracy",
    "cohen_kappa": "Cohen's kappa",
    "exact_agreement": "exact agreement",
    "within_one": "agreement within 1",
    "quadratic_weighted_kappa": "quadratic-weighted kappa",
}
HEADLINE = {"binary": "accuracy", "likert": "exact_agreement"}
MIN_VERSION_PREFIX = 4


@dataclass(frozen=True)
class LabelledVerdict:
    """One sampled item: the person's label and what this version of the judge said."""

    item_id: int
    content_hash: str
    row: int
    key: str
    label: int
    score: int | None
    """None when the item was skipped (too long for the context)."""
    feedback: str
    output: str


@dataclass(frozen=True)
class TrialResult:
    trial: TrialRecord
    rubric: Rubric
    kind: ScaleKind
    entries: list[LabelledVerdict]
    figures: dict[str, Interval]
    confusion: list[list[int]]
    """Rows: the people's labels; columns: the judge's scores; both in scale order."""

    @property
    def version(self) -> str:
        return self.trial.rubric_hash[:12]

    @property
    def scored(self) -> list[LabelledVerdict]:
        return [e for e in self.entries if e.score is not None]

    @property
    def skipped(self) -> int:
        return sum(1 for e in self.entries if e.score is None)

    @property
    def disagreements(self) -> list[LabelledVerdict]:
        return [e for e in self.scored if e.score != e.label]


def scale_kind(rubric: Rubric) -> ScaleKind:
    return "binary" if rubric.score_values == [0, 1] else "likert"


def _entry(judged: JudgedItem, label: int) -> LabelledVerdict:
    item = judged.item
    return LabelledVerdict(
        item_id=item.id,
        content_hash=item.content_hash,
        row=item.row_number,
        key=item.source_key or f"row {item.row_number}",
        label=label,
        score=judged.verdict.score,
        feedback=judged.verdict.feedback,
        output=item.output,
    )


def figures_with_intervals(
    labels: list[int], scores: list[int], scale: list[int], seed: int = 0
) -> dict[str, Interval]:
    n = len(labels)
    exact = sum(1 for t, p in zip(labels, scores, strict=True) if t == p)
    if scale == [0, 1]:
        return {"accuracy": wilson_interval(exact, n),
                "cohen_kappa": kappa_interval(labels, scores, scale, seed=seed)}
    within = sum(1 for t, p in zip(labels, scores, strict=True) if abs(t - p) <= 1)
    return {"exact_agreement": wilson_interval(exact, n),
            "within_one": wilson_interval(within, n),
            "quadratic_weighted_kappa": weighted_kappa_interval(labels, scores, scale,
                                                                seed=seed)}


def trial_result(store: Store, trial: TrialRecord) -> TrialResult:
    """The trial's figures, computed from its stored verdicts and labels."""
    rubric = store.get_rubric(trial.rubric_hash)
    entries = [_entry(j, trial.labels[j.item.id]) for j in store.judged_items(trial.run_id)
               if j.item.id in trial.labels]
    scored = [e for e in entries if e.score is not None]
    labels = [e.label for e in scored]
    scores = [e.score or 0 for e in scored]
    scale = rubric.score_values
    return TrialResult(
        trial=trial,
        rubric=rubric,
        kind=scale_kind(rubric),
        entries=entries,
        figures=figures_with_intervals(labels, scores, scale, trial.seed),
        confusion=confusion(labels, scores, scale).astype(int).tolist(),
    )


def trial_json(result: TrialResult, disagreements: bool = True) -> dict[str, object]:
    trial = result.trial
    data: dict[str, object] = {
        "trial_id": trial.id,
        "run_id": trial.run_id,
        "rubric": trial.rubric_name,
        "version": trial.rubric_hash,
        "scale": result.rubric.score_values,
        "source": trial.source,
        "label_column": trial.label_column,
        "sample_size": trial.sample_size,
        "seed": trial.seed,
        "n": len(result.scored),
        "skipped": result.skipped,
        "created_at": trial.created_at,
        "figures": {name: interval.to_json() for name, interval in result.figures.items()},
        "confusion": {"rows": "label", "columns": "judge", "scale": result.rubric.score_values,
                      "counts": result.confusion},
    }
    if disagreements:
        data["disagreements"] = [
            {"key": e.key, "row": e.row, "label": e.label, "score": e.score,
             "feedback": e.feedback, "output": e.output}
            for e in result.disagreements
        ]
    return data


@dataclass(frozen=True)
class ChangedItem:
    key: str
    row: int
    label: int
    score_a: int
    score_b: int
    feedback_a: str
    feedback_b: str


@dataclass(frozen=True)
class TrialComparison:
    a: TrialResult
    b: TrialResult
    paired: int
    figure: str
    interval_a: Interval
    interval_b: Interval
    test: PairedTest
    sign_test: PairedTest | None
    changed: list[ChangedItem]

    @property
    def distinguishable(self) -> bool:
        return distinguishable(self.interval_a, self.interval_b, self.test)

    @property
    def sentence(self) -> str:
        return comparison_sentence(self.a.version, self.b.version, FIGURE_NAMES[self.figure],
                                   self.interval_a, self.interval_b, self.test, self.paired)


def compare_results(a: TrialResult, b: TrialResult) -> TrialComparison:
    """Pair two trials' scored items by content and test B against A."""
    if a.rubric.score_values != b.rubric.score_values:
        raise StoreError(
            f"Versions {a.version} and {b.version} use different scales; compare versions of "
            "one scale."
        )
    b_by_content = {e.content_hash: e for e in b.scored}
    pairs = [(x, b_by_content[x.content_hash]) for x in a.scored
             if x.content_hash in b_by_content]
    if not pairs:
        raise StoreError(
            f"Versions {a.version} and {b.version} share no judged item; try both on the same "
            "--data, --sample and --seed."
        )
    labels = [x.label for x, _ in pairs]
    scores_a = [x.score or 0 for x, _ in pairs]
    scores_b = [y.score or 0 for _, y in pairs]
    kind = a.kind
    figure = HEADLINE[kind]
    sign: PairedTest | None = None
    if kind == "binary":
        test = mcnemar_exact([s == t for s, t in zip(scores_a, labels, strict=True)],
                             [s == t for s, t in zip(scores_b, labels, strict=True)])
    else:
        test, sign = likert_paired_test(labels, scores_a, scores_b)
    n = len(pairs)
    changed = [
        ChangedItem(x.key, x.row, x.label, x.score or 0, y.score or 0, x.feedback, y.feedback)
        for x, y in pairs if x.score != y.score
    ]
    return TrialComparison(
        a=a, b=b, paired=n, figure=figure,
        interval_a=wilson_interval(sum(s == t for s, t in zip(scores_a, labels, strict=True)),
                                   n),
        interval_b=wilson_interval(sum(s == t for s, t in zip(scores_b, labels, strict=True)),
                                   n),
        test=test, sign_test=sign, changed=changed,
    )


def comparison_json(comparison: TrialComparison) -> dict[str, object]:
    return {
        "a": comparison.a.trial.rubric_hash,
        "b": comparison.b.trial.rubric_hash,
        "paired": comparison.paired,
        "figure": comparison.figure,
        "a_figure": comparison.interval_a.to_json(),
        "b_figure": comparison.interval_b.to_json(),
        "test": comparison.test.to_json(),
        "sign_test": None if comparison.sign_test is None else comparison.sign_test.to_json(),
        "distinguishable": comparison.distinguishable,
        "sentence": comparison.sentence,
        "changed": [
            {"key": c.key, "row": c.row, "label": c.label, "score_a": c.score_a,
             "score_b": c.score_b, "feedback_a": c.feedback_a, "feedback_b": c.feedback_b}
            for c in comparison.changed
        ],
    }


def latest_per_version(trials: list[TrialRecord]) -> list[TrialRecord]:
    """The newest trial of each version, in the order the versions were first tried."""
    newest: dict[str, TrialRecord] = {}
    order: list[str] = []
    for trial in trials:
        if trial.rubric_hash not in newest:
            order.append(trial.rubric_hash)
        newest[trial.rubric_hash] = trial
    return [newest[h] for h in order]


def find_version(trials: list[TrialRecord], prefix: str, name: str) -> list[TrialRecord]:
    """The trials of the one version whose hash starts with ``prefix``."""
    prefix = prefix.strip().lower()
    if len(prefix) < MIN_VERSION_PREFIX:
        raise StoreError(
            f"'{prefix}' is too short to name a version; give at least {MIN_VERSION_PREFIX} "
            f"characters of its hash (see 'flowjudge rubrics history {name}')."
        )
    versions = {t.rubric_hash for t in trials if t.rubric_hash.startswith(prefix)}
    if not versions:
        raise StoreError(
            f"No tried version of '{name}' starts with '{prefix}'; see 'flowjudge rubrics "
            f"history {name}'."
        )
    if len(versions) > 1:
        raise StoreError(f"'{prefix}' names {len(versions)} versions of '{name}'; give more of "
                         "the hash.")
    return [t for t in trials if t.rubric_hash in versions]


def pair_trials(
    trials_a: list[TrialRecord], trials_b: list[TrialRecord]
) -> tuple[TrialRecord, TrialRecord]:
    """The newest trials of the two versions on the same sample with the same model."""
    for b in reversed(trials_b):
        for a in reversed(trials_a):
            if a.sample_key == b.sample_key and a.model_fingerprint == b.model_fingerprint:
                return a, b
    version_a, version_b = trials_a[0].rubric_hash[:12], trials_b[0].rubric_hash[:12]
    raise StoreError(
        f"Versions {version_a} and {version_b} were never tried on the same sample with the "
        "same model; try both with the same --data, --sample, --seed and --model."
    )
