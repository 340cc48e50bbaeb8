"""A model is known by its whole content; a broken model never makes a verdict."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowjudge_tui.cli.main import main
from flowjudge_tui.engine.llama import LlamaEngine
from flowjudge_tui.errors import InvalidLogitsError
from flowjudge_tui.judging.backend import SamplingSettings
from flowjudge_tui.judging.judge import judge_item
from flowjudge_tui.judging.rubric import Item
from flowjudge_tui.models.verified import record_verified
from flowjudge_tui.progress import Progress
from flowjudge_tui.runs.execute import execute_run
from flowjudge_tui.runs.work import model_fingerprint, quick_fingerprint
from flowjudge_tui.runs.workflow import create_run
from flowjudge_tui.store import RunSettings, Store, open_store
from tests.gguf_models import write_phi3_gguf
from tests.run_helpers import add_dataset, rubric

RUBRIC = "relevance-query-binary"
SHORT = SamplingSettings(max_feedback_tokens=8)


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store() as opened:
        yield opened


@pytest.fixture(scope="module")
def nan_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phi3_gguf(tmp_path_factory.mktemp("nan") / "nan-phi3.gguf", weights="nan")


def flip_middle_byte(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 1]))


def test_a_model_whose_middle_changed_is_not_reused(store: Store, tiny_model_path: Path,
                                                    tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    shutil.copyfile(tiny_model_path, model)
    rub = rubric(RUBRIC)
    dataset_id = add_dataset(store, rub, ["A.", "B."])
    first = create_run(store, dataset_id, rub, model)
    engine = LlamaEngine(model)
    try:
        assert execute_run(store, first.id, engine).judged == 2
    finally:
        engine.close()
    size, quick = model.stat().st_size, quick_fingerprint(model)
    flip_middle_byte(model)
    assert model.stat().st_size == size and quick_fingerprint(model) == quick
    second = create_run(store, dataset_id, rub, model)
    assert second.model_fingerprint != first.model_fingerprint
    engine = LlamaEngine(model)
    try:
        summary = execute_run(store, second.id, engine)
    finally:
        engine.close()
    assert (summary.judged, summary.reused) == (2, 0)


def test_the_full_hash_is_computed_once_with_progress(tiny_model_path: Path,
                                                       tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    shutil.copyfile(tiny_model_path, model)
    events: list[Progress] = []
    first = model_fingerprint(model, events.append)
    assert events and events[-1].finished and events[-1].done == model.stat().st_size
    events.clear()
    assert model_fingerprint(model, events.append) == first and events == []
    os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns + 1))
    assert model_fingerprint(model, events.append) == first and events


def test_a_pulled_model_is_known_by_the_hubs_sha256(tiny_model_path: Path,
                                                     tmp_path: Path) -> None:
    model = tmp_path / "pulled.gguf"
    shutil.copyfile(tiny_model_path, model)
    record_verified(model, "ab" * 32)
    events: list[Progress] = []
    assert model_fingerprint(model, events.append) == (f"sha256:{'ab' * 32}", "sha256")
    assert events == []


def test_runs_made_with_the_old_quick_fingerprint_still_resume(store: Store,
                                                               tiny_model_path: Path) -> None:
    rub = rubric(RUBRIC)
    dataset_id = add_dataset(store, rub, ["A.", "B."])
    run = store.create_run(
        dataset_id=dataset_id, rubric=rub, model_name=tiny_model_path.name,
        model_path=str(tiny_model_path), model_fingerprint=quick_fingerprint(tiny_model_path),
        fingerprint_kind="quick-v1", settings=RunSettings(), total_items=2,
    )
    engine = LlamaEngine(tiny_model_path)
    try:
        assert execute_run(store, run.id, engine).judged == 2
    finally:
        engine.close()


def test_nan_logits_never_become_a_verdict(nan_model_path: Path) -> None:
    engine = LlamaEngine(nan_model_path)
    try:
        with pytest.raises(InvalidLogitsError, match="NaN or infinite logits"):
            judge_item(engine, rubric(RUBRIC), Item(inputs={"query": "q"}, output="o"), SHORT)
    finally:
        engine.close()


def test_a_run_on_a_broken_model_marks_items_failed_and_flags_it(
    store: Store, nan_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rub = rubric(RUBRIC)
    dataset_id = add_dataset(store, rub, ["A.", "B."])
    run = create_run(store, dataset_id, rub, nan_model_path, RunSettings(sampling=SHORT))
    engine = LlamaEngine(nan_model_path)
    try:
        summary = execute_run(store, run.id, engine)
    finally:
        engine.close()
    assert (summary.judged, summary.skipped) == (0, 2)
    verdicts = store.verdicts(run.id)
    assert all(v.score is None and "NaN or infinite" in (v.skip_reason or "") for v in verdicts)
    assert [name for name, _, _ in store.model_flags()] == [nan_model_path.name]
    main(["doctor", "--ram-mib", "16000"])
    assert f"note: flagged model {nan_model_path.name}" in capsys.readouterr().out


def test_judge_on_a_broken_model_is_one_sentence(nan_model_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["judge", "--model", str(nan_model_path), "--rubric", RUBRIC, "--input",
                 "query=q", "--output", "o", "--max-tokens", "8"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("flowjudge: nan-phi3.gguf computed invalid")
