"""Runs with the real (tiny, scripted) model: commits, reuse, stop, resume, skipped items."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from flowjudge_tui.datasets import import_dataset
from flowjudge_tui.errors import DatasetError, ModelError
from flowjudge_tui.judging.backend import JudgeEngine, LoadSettings, SamplingSettings
from flowjudge_tui.progress import Progress
from flowjudge_tui.runs.execute import VerdictEvent, execute_run
from flowjudge_tui.runs.work import model_fingerprint, work_key
from flowjudge_tui.runs.workflow import create_run, keep_verdict, resume_run
from flowjudge_tui.store import RunSettings, Store, open_store
from tests.gguf_models import scripted_probabilities
from tests.run_helpers import add_dataset, rubric, write_csv

RUBRIC = "relevance-query-binary"


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store() as opened:
        yield opened


@pytest.fixture
def engine(tiny_engine: object) -> JudgeEngine:
    return cast(JudgeEngine, tiny_engine)


def new_run(store: Store, model: Path, outputs: list[str], **settings: object) -> int:
    rub = rubric(RUBRIC)
    dataset_id = add_dataset(store, rub, outputs)
    return create_run(store, dataset_id, rub, model, RunSettings(**settings)).id  # type: ignore[arg-type]


def test_a_kept_spot_check_is_a_finished_run_that_later_runs_reuse(
    store: Store, engine: JudgeEngine, tiny_model_path: Path, tmp_path: Path
) -> None:
    from flowjudge_tui.judging.judge import judge_item
    from flowjudge_tui.judging.rubric import Item

    rub = rubric(RUBRIC)
    item = Item(inputs={"query": "Q1"}, output="A.")
    verdict = judge_item(engine, rub, item)
    kept = keep_verdict(store, rub, item, verdict, tiny_model_path,
                        RunSettings(load=engine.load))
    assert (kept.status, kept.done, kept.total_items) == ("done", 1, 1)
    [stored] = store.verdicts(kept.id)
    assert (stored.score, stored.feedback) == (verdict.score, verdict.feedback)
    data = write_csv(tmp_path / "d.csv", ["query", "response"], [["Q1", "A."], ["Q2", "B."]])
    dataset_id = import_dataset(store, data, rub).dataset.id
    later = create_run(store, dataset_id, rub, tiny_model_path, RunSettings(load=engine.load))
    summary = execute_run(store, later.id, engine)
    assert (summary.judged, summary.reused) == (1, 1)


def test_a_run_judges_every_item_committing_each_verdict(
    store: Store, engine: JudgeEngine, tiny_model_path: Path
) -> None:
    run_id = new_run(store, tiny_model_path, [f"Answer {n}." for n in range(4)])
    progress: list[Progress] = []
    committed: list[int] = []
    other = sqlite3.connect(store.path)

    def on_verdict(event: VerdictEvent) -> None:
        row = other.execute("SELECT score FROM verdicts WHERE id = ?", (event.verdict.id,))
        committed.append(row.fetchone()[0])

    summary = execute_run(store, run_id, engine, on_progress=progress.append,
                          on_verdict=on_verdict)
    assert (summary.judged, summary.reused, summary.skipped, summary.stopped) == (4, 0, 0, False)
    assert committed == [1, 1, 1, 1]
    assert summary.run.state == "done" and summary.run.done == 4
    expected = scripted_probabilities([0, 1])
    for verdict in store.verdicts(run_id):
        assert verdict.distribution == pytest.approx(expected, abs=1e-4)
        assert verdict.feedback == "The response is supported."
    assert [p.done for p in progress] == [0, 1, 2, 3, 4, 4]
    assert progress[-1].finished and progress[-1].unit == "verdicts"
    assert "tok/s" in progress[-1].detail


def test_identical_work_is_copied_not_judged_again(
    store: Store, engine: JudgeEngine, tiny_model_path: Path, tmp_path: Path
) -> None:
    rub = rubric(RUBRIC)
    data = write_csv(tmp_path / "d.csv", ["query", "response"],
                     [["Q1", "A."], ["Q2", "B."], ["Q1", "A."]])
    dataset_id = import_dataset(store, data, rub).dataset.id
    first = create_run(store, dataset_id, rub, tiny_model_path)
    summary = execute_run(store, first.id, engine)
    # The third item is the first one again: copied within the same run.
    assert (summary.judged, summary.reused) == (2, 1)
    second = create_run(store, dataset_id, rub, tiny_model_path)
    progress: list[Progress] = []
    summary = execute_run(store, second.id, engine, on_progress=progress.append)
    assert (summary.judged, summary.reused) == (0, 3)
    # Reused verdicts move the bar but cost no judging: no rate, no ETA (a resume that
    # mostly reused said "4873.1 verdicts/min").
    assert progress[-1].done == 3
    assert all(p.rate is None and p.eta_seconds is None for p in progress)
    originals = {v.item_id: v for v in store.verdicts(first.id)}
    for copy in store.verdicts(second.id):
        source = originals[copy.item_id]
        assert copy.reused_from == (source.reused_from or source.id)
        assert (copy.score, copy.distribution, copy.feedback) == (
            source.score, source.distribution, source.feedback)
    other_seed = create_run(store, dataset_id, rub, tiny_model_path,
                            RunSettings(sampling=SamplingSettings(seed=7), limit=1))
    assert execute_run(store, other_seed.id, engine).judged == 1


def test_stopping_between_items_then_resuming_judges_only_the_rest(
    store: Store, engine: JudgeEngine, tiny_model_path: Path
) -> None:
    run_id = new_run(store, tiny_model_path, [f"Answer {n}." for n in range(5)])
    stop = threading.Event()

    def stop_after_two(event: VerdictEvent) -> None:
        if event.done == 2:
            stop.set()

    summary = execute_run(store, run_id, engine, on_verdict=stop_after_two, stop=stop)
    assert summary.stopped and summary.run.state == "cancelled" and summary.run.done == 2
    assert summary.run.resumable
    before = {v.id: v for v in store.verdicts(run_id)}
    resumed = resume_run(store, run_id, opener=lambda path, plans: engine)
    assert (resumed.judged, resumed.stopped, resumed.run.state) == (3, False, "done")
    after = store.verdicts(run_id)
    assert len(after) == 5 and len({v.item_id for v in after}) == 5
    assert all(before[v.id] == v for v in after if v.id in before)
    again = resume_run(store, run_id)
    assert (again.judged, again.run.state) == (0, "done")


def test_a_judgment_stopped_midway_is_discarded(
    store: Store, engine: JudgeEngine, tiny_model_path: Path
) -> None:
    run_id = new_run(store, tiny_model_path, ["A.", "B."])
    stop = threading.Event()
    streamed: list[str] = []

    def on_feedback(item: object, text: str) -> None:
        streamed.append(text)
        stop.set()

    summary = execute_run(store, run_id, engine, on_feedback=on_feedback, stop=stop.is_set)
    assert streamed and summary.stopped
    assert store.verdicts(run_id) == []
    assert store.get_run(run_id).state == "cancelled"


def test_an_item_too_long_for_the_context_is_skipped_with_the_reason(
    store: Store, engine: JudgeEngine, tiny_model_path: Path
) -> None:
    run_id = new_run(store, tiny_model_path, ["Short.", "word " * 5000, "Short too."])
    summary = execute_run(store, run_id, engine)
    assert (summary.judged, summary.skipped, summary.run.state) == (2, 1, "done")
    skipped = [v for v in store.verdicts(run_id) if v.status == "skipped"]
    assert skipped[0].score is None
    assert "too long to judge" in (skipped[0].skip_reason or "")


def test_an_unexpected_error_marks_the_run_failed_and_keeps_its_verdicts(
    store: Store, engine: JudgeEngine, tiny_model_path: Path
) -> None:
    run_id = new_run(store, tiny_model_path, ["A.", "B.", "C."])

    def explode(event: VerdictEvent) -> None:
        raise RuntimeError("the app crashed")

    with pytest.raises(RuntimeError):
        execute_run(store, run_id, engine, on_verdict=explode)
    run = store.get_run(run_id)
    assert run.state == "failed" and "the app crashed" in (run.error or "")
    assert run.done == 1 and run.resumable
    assert resume_run(store, run_id, opener=lambda path, plans: engine).run.done == 3


def test_a_run_refuses_an_engine_for_another_model(
    store: Store, tiny_model_path: Path, random_model_path: Path
) -> None:
    from flowjudge_tui.engine.llama import LlamaEngine

    run_id = new_run(store, tiny_model_path, ["A."])
    other = LlamaEngine(random_model_path)
    try:
        with pytest.raises(ModelError, match=r"load .*tiny-scripted-phi3\.gguf to continue"):
            execute_run(store, run_id, other)
    finally:
        other.close()
    assert store.get_run(run_id).state == "queued"


def test_a_run_needs_a_dataset_mapped_to_its_rubric_fields(
    store: Store, tiny_model_path: Path
) -> None:
    dataset_id = add_dataset(store, rubric(RUBRIC), ["A."])
    with pytest.raises(DatasetError, match="import the file again"):
        create_run(store, dataset_id, rubric("correctness-reference-5"), tiny_model_path)
    with pytest.raises(DatasetError, match="--limit"):
        create_run(store, dataset_id, rubric(RUBRIC), tiny_model_path, RunSettings(limit=0))


def test_fingerprints_and_work_keys(tiny_model_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(tiny_model_path, copy)
    fingerprint, kind = model_fingerprint(tiny_model_path)
    assert kind == "sha256" and model_fingerprint(copy)[0] == fingerprint
    with copy.open("r+b") as handle:
        handle.seek(-1, 2)
        last = handle.read(1)
        handle.seek(-1, 2)
        handle.write(bytes([last[0] ^ 1]))
    assert model_fingerprint(copy)[0] != fingerprint
    with pytest.raises(ModelError, match="Cannot read"):
        model_fingerprint(tmp_path / "missing.gguf")
    cpu = LoadSettings()
    base = work_key(fingerprint, "r", "i", SamplingSettings(), cpu)
    assert base == work_key(fingerprint, "r", "i", SamplingSettings(), cpu)
    assert base == work_key(fingerprint, "r", "i", SamplingSettings(),
                            LoadSettings(n_gpu_layers=33, flash_attn=True))
    variants = [
        work_key("other", "r", "i", SamplingSettings(), cpu),
        work_key(fingerprint, "r2", "i", SamplingSettings(), cpu),
        work_key(fingerprint, "r", "i2", SamplingSettings(), cpu),
        work_key(fingerprint, "r", "i", SamplingSettings(seed=1), cpu),
        work_key(fingerprint, "r", "i", SamplingSettings(temperature=0.0), cpu),
        work_key(fingerprint, "r", "i", SamplingSettings(), LoadSettings(n_ctx=8192)),
        work_key(fingerprint, "r", "i", SamplingSettings(),
                 LoadSettings(type_k="q8_0", type_v="q8_0")),
    ]
    assert base not in variants and len(set(variants)) == len(variants)


def test_the_same_file_imported_again_reuses_its_dataset(store: Store, tmp_path: Path) -> None:
    rub = rubric(RUBRIC)
    path = write_csv(tmp_path / "items.csv", ["query", "response"],
                     [("Capital of France?", "Paris."), ("Who wrote Hamlet?", "Marlowe.")])
    first = import_dataset(store, path, rub)
    again = import_dataset(store, path, rub)
    assert not first.reused and again.reused and again.dataset.id == first.dataset.id
    assert again.imported == 2
    limited = import_dataset(store, path, rub, limit=1)  # another import: another dataset
    assert not limited.reused and limited.dataset.id != first.dataset.id
    write_csv(path, ["query", "response"], [("Capital of France?", "Lyon.")])
    changed = import_dataset(store, path, rub)
    assert not changed.reused and changed.dataset.item_count == 1


def test_a_run_whose_model_fails_to_load_leaves_no_import_behind(
    store: Store, tmp_path: Path
) -> None:
    from flowjudge_tui.runs.workflow import DatasetSource, start_run

    path = write_csv(tmp_path / "items.csv", ["query", "response"], [("Q?", "A.")])

    def no_model() -> JudgeEngine:
        raise ModelError("The model file is gone.")

    with pytest.raises(ModelError):
        start_run(store, DatasetSource(path), rubric(RUBRIC), no_model)
    assert store.list_datasets() == []
