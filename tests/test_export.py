"""Exports: flow-judge's JSONL result layout and metadata, CSV, and a safe HTML report."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowjudge_tui.datasets import import_dataset
from flowjudge_tui.reports.export import export_run, metadata_path
from flowjudge_tui.store import RunRecord, Store, open_store
from tests.run_helpers import add_dataset, add_run, judge_all, rubric

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
LIBRARY_METADATA_KEYS = {"library_version", "timestamp", "model_id", "model_type",
                         "generation_params", "kwargs"}


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store() as opened:
        yield opened


@pytest.fixture
def run(store: Store) -> RunRecord:
    rub = rubric("faithfulness-context-binary")
    dataset_id = add_dataset(store, rub, ["Paris.", HOSTILE, "Too long to judge."],
                             labels=[1, 0, None], keys=["k1", "k2", "k3"])
    record = add_run(store, dataset_id, rub)
    judge_all(store, record, [1, 1, None], [0, 1], [0.9, 0.6, 0.0])
    items = store.items(dataset_id)
    store.set_comment(items[1].id, rub.content_hash, f"judge missed it {HOSTILE}")
    return store.get_run(record.id)


def official_eval_input() -> Any:
    """flow-judge's own ``EvalInput`` model, loaded from its file (the package init is heavy)."""
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        root = Path(str(distribution("flow-judge").locate_file("flow_judge")))
    except PackageNotFoundError:
        pytest.skip("the official flow-judge library is not installed")
    spec = importlib.util.spec_from_file_location("fj_eval_types", root / "eval_data_types.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EvalInput


def test_jsonl_follows_the_flow_judge_result_layout(
    store: Store, run: RunRecord, tmp_path: Path
) -> None:
    out = tmp_path / "results.jsonl"
    assert export_run(store, run.id, "jsonl", out) == [out, metadata_path(out)]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 3
    first = records[0]
    assert first["sample"] == {
        "inputs": [{"query": "query 0"}, {"context": "context 0"}],
        "output": {"response": "Paris."},
    }
    assert (first["score"], first["feedback"]) == (1, "Feedback for 1.")
    assert first["distribution"] == {"0": pytest.approx(0.1), "1": pytest.approx(0.9)}
    assert first["confidence"] == 0.9 and first["human_label"] == 1
    assert first["rubric_hash"] == rubric("faithfulness-context-binary").content_hash
    assert records[2]["score"] is None and records[2]["status"] == "skipped"
    assert records[1]["human_comment"].startswith("judge missed it")
    eval_input = official_eval_input()
    for record in records:
        assert eval_input(**record["sample"]).model_dump() == record["sample"]


def test_jsonl_metadata_has_the_library_keys(store: Store, run: RunRecord, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    export_run(store, run.id, "jsonl", out)
    metadata = json.loads(metadata_path(out).read_text(encoding="utf-8"))
    assert metadata.keys() >= LIBRARY_METADATA_KEYS
    assert metadata["model_id"] == "model.gguf"
    assert metadata["generation_params"]["temperature"] == 0.1
    assert metadata["kwargs"]["n_ctx"] == 4096
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}", metadata["timestamp"])
    assert metadata["run_id"] == run.id and metadata["skipped"] == 1


def test_exported_jsonl_imports_back_as_the_same_items(
    store: Store, run: RunRecord, tmp_path: Path
) -> None:
    out = tmp_path / "results.jsonl"
    export_run(store, run.id, "jsonl", out)
    again = import_dataset(store, out, rubric("faithfulness-context-binary"),
                           label="human_label")
    before = store.items(run.dataset_id)
    after = store.items(again.dataset.id)
    assert [i.content_hash for i in after] == [i.content_hash for i in before]
    assert [i.human_label for i in after] == [1, 0, None]


def test_csv_has_one_row_per_verdict(store: Store, run: RunRecord, tmp_path: Path) -> None:
    out = tmp_path / "out" / "results.csv"
    export_run(store, run.id, "csv", out)
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    assert rows[1]["response"] == HOSTILE
    assert (rows[0]["score"], rows[0]["human_label"], rows[0]["source_key"]) == ("1", "1", "k1")
    assert float(rows[0]["p_1"]) == pytest.approx(0.9)
    assert (rows[2]["status"], rows[2]["score"], rows[2]["skip_reason"]) == ("skipped", "",
                                                                            "too long")


def test_html_is_self_contained_and_escapes_user_text(
    store: Store, run: RunRecord, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    export_run(store, run.id, "html", out)
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "<img" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;" in page
    assert not re.search(r"""<[^>]*\b(src|href)\s*=|<link|@import|url\(""", page)
    assert "<svg" in page and "Agreement with human labels" in page
    assert "Cohen&#x27;s kappa" in page or "Cohen's kappa" in page
    assert page.count('<section class="verdict') == 3
    assert "most confident half" in page


def test_html_without_labels_says_so(store: Store, tmp_path: Path) -> None:
    rub = rubric("relevance-query-3")
    record = add_run(store, add_dataset(store, rub, ["a", "b"]), rub)
    judge_all(store, record, [3, 1], [1, 2, 3])
    out = tmp_path / "report.html"
    export_run(store, record.id, "html", out)
    assert "No human labels" in out.read_text(encoding="utf-8")


def test_html_shows_the_item_first_folds_long_feedback_and_marks_unreliable_verdicts(
    store: Store, tmp_path: Path
) -> None:
    import html
    from dataclasses import replace

    from tests.run_helpers import scored

    rub = rubric("relevance-query-binary")
    record = add_run(store, add_dataset(store, rub, ["THE OUTPUT", "short"]), rub)
    first, second = store.items(record.dataset_id)
    long = replace(scored(1, [0, 1], key="a"), feedback="word " * 300, stop_reason="length",
                   score_mass=0.2)
    store.add_verdict(record.id, first.id, long)
    store.add_verdict(record.id, second.id, scored(0, [0, 1], key="b"))
    out = tmp_path / "report.html"
    export_run(store, record.id, "html", out)
    page = out.read_text(encoding="utf-8")
    section = page[page.index('<section class="verdict'):]
    assert section.index("THE OUTPUT") < section.index("word word")
    assert "<summary>feedback (1,500 characters)</summary>" in section
    assert page.count("⚠ Unreliable") == 1
    assert ("only 20% of the probability fell on the rubric's scores; the feedback ran out "
            "of its token budget before the score") in html.unescape(page)
