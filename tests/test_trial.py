"""The rubric lab: stratified samples, trials judged by the scripted model, history, compare."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from flowjudge_tui.cli.main import main
from flowjudge_tui.errors import DatasetError, StoreError
from flowjudge_tui.judging.backend import JudgeEngine
from flowjudge_tui.judging.rubric import Rubric, parse_rubric
from flowjudge_tui.reports.lab import (
    compare_results,
    find_version,
    pair_trials,
    trial_result,
)
from flowjudge_tui.runs.trial import (
    TrialOutcome,
    open_source,
    sample_key,
    stratified_sample,
    try_rubric,
)
from flowjudge_tui.store import ItemRecord, RunSettings, Store, open_store
from tests.run_helpers import add_dataset, add_run, judge_all, rubric, write_csv


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store() as opened:
        yield opened


def labelled_csv(path: Path, labels: list[int]) -> Path:
    rows = [(f"Question {n}?", f"Context {n}.", f"Answer {n}.", label)
            for n, label in enumerate(labels)]
    return write_csv(path, ["query", "context", "response", "human_label"], rows)


def fake_items(labels: list[int]) -> list[ItemRecord]:
    return [ItemRecord(n, 1, n + 2, None, {}, f"o{n}", label, f"h{n}")
            for n, label in enumerate(labels)]


def edited(base: Rubric, criteria: str) -> Rubric:
    data = parse_rubric(base.to_toml(), "test")
    return data.model_copy(update={"criteria": criteria})


def test_stratified_sample_keeps_label_shares_and_is_seeded() -> None:
    items = fake_items([1] * 20 + [0] * 10)
    sample = stratified_sample(items, 20, seed=0)
    assert Counter(i.human_label for i in sample) == {1: 13, 0: 7}
    assert [i.row_number for i in sample] == sorted(i.row_number for i in sample)
    assert stratified_sample(items, 20, seed=0) == sample
    assert stratified_sample(items, 20, seed=1) != sample
    rare = stratified_sample(fake_items([1] * 98 + [0] * 2), 10, seed=0)
    assert Counter(i.human_label for i in rare) == {1: 9, 0: 1}
    assert len(stratified_sample(items, 100, seed=0)) == 30
    with pytest.raises(DatasetError, match="at least 1"):
        stratified_sample(items, 0, seed=0)


def test_sample_key_depends_on_source_size_and_seed_only() -> None:
    assert sample_key("d", 20, 0) == sample_key("d", 20, 0)
    assert len({sample_key("d", 20, 0), sample_key("e", 20, 0), sample_key("d", 21, 0),
                sample_key("d", 20, 1)}) == 4


def test_a_file_without_labels_is_refused_and_not_kept(store: Store, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "plain.csv", ["query", "context", "response", "human_label"],
                     [("q", "c", "r", "")])
    with pytest.raises(DatasetError, match="no labelled rows"):
        open_source(store, str(data), rubric("faithfulness-context-binary"), label="human_label")
    assert store.list_datasets() == []
    with pytest.raises(DatasetError, match="--label COLUMN"):
        open_source(store, str(data), rubric("faithfulness-context-binary"))
    off_scale = write_csv(tmp_path / "off.csv", ["query", "context", "response", "human_label"],
                          [("q", "c", "r", 1), ("q", "c", "r2", 7)])
    source = open_source(store, str(off_scale), rubric("faithfulness-context-binary"),
                         label="human_label")
    assert source.problems == [] and [i.row_number for i in source.items] == [2]
    assert source.off_scale_sentence() == (
        "1 row had a label off the 0-1 scale (line 3: '7'); it is left out of the sample as "
        "unlabelled.")
    all_off = write_csv(tmp_path / "all-off.csv", ["query", "context", "response", "human_label"],
                        [("q", "c", "r", 3), ("q", "c", "r2", "x")])
    with pytest.raises(DatasetError, match=r"2 had a label off the rubric's 0-1 scale, e\.g\. "
                       r"'3' on line 2"):
        open_source(store, str(all_off), rubric("faithfulness-context-binary"),
                    label="human_label")
    with pytest.raises(DatasetError, match="neither a file nor a dataset"):
        open_source(store, "nowhere", rubric("faithfulness-context-binary"))


def test_trying_judges_once_then_costs_nothing_and_an_edit_is_a_new_version(
    store: Store, tmp_path: Path, tiny_engine: object, tiny_model_path: Path
) -> None:
    base = rubric("faithfulness-context-binary")
    data = str(labelled_csv(tmp_path / "labelled.csv", [1, 0] * 4))
    engine = cast(JudgeEngine, tiny_engine)

    def attempt(rub: Rubric, size: int = 4) -> TrialOutcome:
        source = open_source(store, data, rub, label="human_label")
        return try_rubric(store, rub, source, lambda: engine, sample_size=size)

    first = attempt(base)
    assert (first.judged, first.reused, first.cached) == (4, 0, False)
    result = trial_result(store, first.trial)
    # The scripted model says 1 for every item: right on the two 1s, wrong on the two 0s.
    assert result.figures["accuracy"].estimate == 0.5
    assert result.figures["cohen_kappa"].estimate == 0.0
    assert result.confusion == [[0, 2], [0, 2]]
    assert [(d.label, d.score) for d in result.disagreements] == [(0, 1)] * 2
    assert all(d.feedback == "The response is supported." for d in result.disagreements)

    again = attempt(base)
    assert again.cached and again.trial == first.trial
    assert len(store.trials(base.name)) == 1

    def no_model() -> JudgeEngine:
        raise AssertionError("a finished trial must be found without loading the model")

    source = open_source(store, data, base, label="human_label")
    unloaded = try_rubric(store, base, source, no_model, sample_size=4,
                          planned=(tiny_model_path, engine.load))
    assert unloaded.cached and unloaded.trial == first.trial

    bigger = attempt(base, size=6)
    assert bigger.judged + bigger.reused == 6
    assert bigger.reused >= 2

    draft = edited(base, base.criteria + " Be strict.")
    assert draft.content_hash != base.content_hash
    second = attempt(draft)
    assert (second.judged, second.reused) == (4, 0)
    trials = store.trials(base.name)
    assert [t.rubric_hash for t in trials] == [base.content_hash] * 2 + [draft.content_hash]
    assert trials[0].sample_key == trials[2].sample_key
    # Only the sample datasets are kept, never the file imported to draw them.
    assert all(d.format == "trial" for d in store.list_datasets())


def test_compare_lists_changed_items_and_says_when_versions_are_not_distinguishable(
    store: Store,
) -> None:
    base = rubric("faithfulness-context-binary")
    draft = edited(base, base.criteria + " Be strict.")
    labels = [1, 1, 1, 1, 0, 0, 0, 0]
    a = _stored_trial(store, base, labels, [1, 1, 1, 1, 1, 1, 1, 0])
    b = _stored_trial(store, draft, labels, [1, 1, 1, 1, 0, 0, 1, 0])
    trials = store.trials(base.name)
    first, second = pair_trials(find_version(trials, base.content_hash[:8], base.name),
                                find_version(trials, draft.content_hash[:8], base.name))
    assert (first.id, second.id) == (a, b)
    comparison = compare_results(trial_result(store, first), trial_result(store, second))
    assert [(c.label, c.score_a, c.score_b) for c in comparison.changed] == [(0, 1, 0)] * 2
    assert (comparison.test.a_better, comparison.test.b_better) == (0, 2)
    assert comparison.test.p_value == 0.5
    assert not comparison.distinguishable
    assert "not distinguishable on these 8 items" in comparison.sentence
    with pytest.raises(StoreError, match="too short"):
        find_version(trials, "ab", base.name)
    with pytest.raises(StoreError, match="No tried version"):
        find_version(trials, "ffffffff", base.name)


def _stored_trial(store: Store, rub: Rubric, labels: list[int], scores: list[int]) -> int:
    """A trial whose verdicts are written straight into the store (no model needed)."""
    dataset = add_dataset(store, rub, [f"output {n}" for n in range(len(labels))], labels,
                          name="lab")
    run = add_run(store, dataset, rub)
    judge_all(store, run, scores, rub.score_values)
    items = store.items(dataset)
    trial = store.add_trial(
        rubric_name=rub.name, rubric_hash=rub.content_hash, run_id=run.id, source="lab.csv",
        source_digest="d", label_column="label", sample_key="k", sample_size=len(labels),
        seed=0, model_fingerprint=run.model_fingerprint, settings=RunSettings(),
        labels={i.id: lab for i, lab in zip(items, labels, strict=True)},
    )
    return trial.id


def test_cli_try_history_and_compare(
    tmp_path: Path, tiny_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = labelled_csv(tmp_path / "labelled.csv", [1, 0] * 4)
    draft_file = tmp_path / "draft.toml"
    base = rubric("faithfulness-context-binary")
    draft_file.write_text(edited(base, base.criteria + " Be strict.").to_toml(),
                          encoding="utf-8")
    for name in ("faithfulness-context-binary", str(draft_file)):
        code = main(["rubrics", "try", name, "--data", str(data), "--label", "human_label",
                     "--sample", "4", "--model", str(tiny_model_path), "--json"])
        assert code == 0
        tried = json.loads(capsys.readouterr().out)
        assert tried["n"] == 4 and tried["figures"]["accuracy"]["estimate"] == 0.5
        assert tried["confusion"]["counts"] == [[0, 2], [0, 2]]
        assert len(tried["disagreements"]) == 2
    assert main(["rubrics", "try", base.name, "--data", str(data), "--label", "human_label",
                 "--sample", "4", "--model", str(tiny_model_path), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["cached"] and again["judged_now"] == 0 and again["trial_id"] == 1
    assert main(["rubrics", "history", base.name, "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    versions = [h["version"] for h in history]
    assert len(set(versions)) == 2 and all(h["n"] == 4 for h in history)
    assert main(["rubrics", "compare", base.name, versions[0][:10], versions[1][:10]]) == 0
    shown = capsys.readouterr().out
    assert "not distinguishable on these 4 items" in shown
    assert "0 of 4 items changed score" in shown
    assert main(["rubrics", "compare", base.name, "zzzz", versions[1][:10]]) == 2
    assert "No tried version" in capsys.readouterr().err


def test_likert_versions_are_compared_on_distance_to_the_label(store: Store) -> None:
    from scipy import stats as sp

    base = rubric("faithfulness-context-5")
    draft = edited(base, base.criteria + " Be strict.")
    labels = [1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 3, 3]
    scores_a = [3, 4, 5, 2, 3, 3, 2, 5, 4, 3, 1, 5]   # two off everywhere
    scores_b = [1, 2, 3, 4, 5, 4, 4, 3, 2, 2, 3, 3]   # exact but for two items
    _stored_trial(store, base, labels, scores_a)
    _stored_trial(store, draft, labels, scores_b)
    trials = store.trials(base.name)
    comparison = compare_results(trial_result(store, trials[0]), trial_result(store, trials[1]))
    assert comparison.figure == "exact_agreement"
    assert (comparison.interval_a.estimate, comparison.interval_b.estimate) == (0.0, 10 / 12)
    errors_a = [abs(s - t) for s, t in zip(scores_a, labels, strict=True)]
    errors_b = [abs(s - t) for s, t in zip(scores_b, labels, strict=True)]
    reference = sp.wilcoxon(errors_a, errors_b, method=sp.PermutationMethod(n_resamples=np.inf))
    assert comparison.test.name == "Wilcoxon signed-rank"
    assert comparison.test.p_value == pytest.approx(reference.pvalue, abs=1e-9)
    assert comparison.sign_test is not None and comparison.sign_test.b_better == 12
    assert comparison.distinguishable
    assert comparison.sentence.startswith(
        f"{draft.content_hash[:12]} agrees with people better than {base.content_hash[:12]}")
    assert len(comparison.changed) == 12
    result = trial_result(store, trials[1])
    assert set(result.figures) == {"exact_agreement", "within_one", "quadratic_weighted_kappa"}
    assert result.figures["within_one"].estimate == 1.0


def test_a_stored_dataset_is_sampled_by_id_or_name_and_kept(store: Store) -> None:
    rub = rubric("faithfulness-context-binary")
    dataset = add_dataset(store, rub, [f"o{n}" for n in range(5)], [1, 0, None, 1, 0],
                          name="labelled")
    by_id = open_source(store, str(dataset), rub)
    by_name = open_source(store, "labelled", rub)
    assert [i.row_number for i in by_id.items] == [2, 3, 5, 6]
    assert by_id.digest == by_name.digest and not by_id.imported
    unlabelled = add_dataset(store, rub, ["x"], name="plain")
    with pytest.raises(DatasetError, match="no labelled rows"):
        open_source(store, str(unlabelled), rub)
    assert len(store.list_datasets()) == 2
