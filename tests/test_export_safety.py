"""Exports never destroy the store or a device, follow symlinks, and stay inert elsewhere."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowjudge_tui.errors import StoreError
from flowjudge_tui.reports.export import export_run, spreadsheet_safe
from flowjudge_tui.store import NewVerdict, RunRecord, Store, open_store
from tests.run_helpers import add_dataset, add_run, judge_all, rubric

FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store() as opened:
        yield opened


@pytest.fixture
def run(store: Store) -> RunRecord:
    rub = rubric("faithfulness-context-binary")
    dataset_id = add_dataset(store, rub, [*FORMULAS, "plain"])
    record = add_run(store, dataset_id, rub)
    judge_all(store, record, [1] * len(FORMULAS) + [0], [0, 1])
    return store.get_run(record.id)


def runs_in(store: Store) -> int:
    return int(sqlite3.connect(store.path).execute("SELECT COUNT(*) FROM runs").fetchone()[0])


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "html"])
def test_export_refuses_to_overwrite_the_database(store: Store, run: RunRecord, fmt: str) -> None:
    for target in [store.path, Path(f"{store.path}-wal")]:
        with pytest.raises(StoreError, match="flowjudge's own database"):
            export_run(store, run.id, fmt, target)  # type: ignore[arg-type]
    assert runs_in(store) == 1


def test_export_refuses_a_symlink_to_the_database(store: Store, run: RunRecord,
                                                  tmp_path: Path) -> None:
    link = tmp_path / "innocent.csv"
    link.symlink_to(store.path)
    with pytest.raises(StoreError, match="own database"):
        export_run(store, run.id, "csv", link)
    assert runs_in(store) == 1


@pytest.mark.parametrize("path, words", [("", "names no file"), (".", "names no file"),
                                         ("/dev/null", "not a regular file")])
def test_export_refuses_empty_paths_and_devices(store: Store, run: RunRecord, path: str,
                                                words: str) -> None:
    with pytest.raises(StoreError, match=words):
        export_run(store, run.id, "csv", Path(path))


def test_export_refuses_a_directory(store: Store, run: RunRecord, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        export_run(store, run.id, "jsonl", tmp_path)


def test_a_folder_given_is_offered_the_runs_file_in_the_format_asked_for(
    store: Store, run: RunRecord, tmp_path: Path
) -> None:
    """A CSV export to a folder suggested results.jsonl inside it."""
    with pytest.raises(StoreError) as refused:
        export_run(store, run.id, "csv", tmp_path)
    assert str(refused.value).endswith(f"e.g. {tmp_path / f'run-{run.id}.csv'}.")
    named = store.rename_run(run.id, "Baseline: v2 / final")
    with pytest.raises(StoreError) as refused:
        export_run(store, named.id, "html", tmp_path)
    assert str(refused.value).endswith(
        f"e.g. {tmp_path / f'run-{run.id}-baseline-v2-final.html'}.")
    assert "results.jsonl" not in str(refused.value)


def test_export_replaces_a_symlinks_target_not_the_link(store: Store, run: RunRecord,
                                                        tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert export_run(store, run.id, "csv", link) == [real]
    assert link.is_symlink()
    assert real.read_text().startswith("item_id,")


def test_export_of_a_symlink_loop_is_one_sentence(store: Store, run: RunRecord,
                                                  tmp_path: Path) -> None:
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    with pytest.raises(StoreError, match="Cannot follow the output path"):
        export_run(store, run.id, "csv", loop)


def test_csv_cells_cannot_run_as_spreadsheet_formulas(store: Store, run: RunRecord,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    export_run(store, run.id, "csv", out)
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    outputs = [row["response"] for row in rows]
    assert outputs == [f"'{text}" for text in FORMULAS] + ["plain"]
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value
    assert spreadsheet_safe("-0.5 degrees") == "'-0.5 degrees"
    assert spreadsheet_safe("safe = text") == "safe = text"


def test_nan_never_enters_the_store(store: Store) -> None:
    rub = rubric("faithfulness-context-binary")
    record = add_run(store, add_dataset(store, rub, ["a"]), rub)
    item = store.items(record.dataset_id)[0]
    with pytest.raises(StoreError, match="NaN or infinite"):
        store.add_verdict(record.id, item.id, NewVerdict(
            status="judged", work_key="nan", score=0, distribution={0: float("nan"), 1: 1.0},
            expected_score=float("nan"), confidence=1.0, score_mass=1.0))
    assert store.verdicts(record.id) == []


def test_nan_is_never_written_as_bare_nan_in_json(store: Store, tmp_path: Path) -> None:
    """Verdicts stored by older versions may hold NaN; exports still write valid files."""
    rub = rubric("faithfulness-context-binary")
    record = add_run(store, add_dataset(store, rub, ["a"]), rub)
    item = store.items(record.dataset_id)[0]
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "INSERT INTO verdicts (run_id, item_id, status, score, distribution, expected_score,"
            " confidence, score_mass, work_key, created_at) VALUES (?, ?, 'judged', 0,"
            " '{\"0\": NaN, \"1\": Infinity}', ?, 1.0, ?, 'nan', 'then')",
            (record.id, item.id, float("nan"), float("nan")))
    out = tmp_path / "nan.jsonl"
    export_run(store, record.id, "jsonl", out)
    text = out.read_text()
    assert "NaN" not in text and "Infinity" not in text
    line = json.loads(text)
    assert line["expected_score"] is None and line["distribution"] == {"0": None, "1": None}
    csv_out = tmp_path / "nan.csv"
    export_run(store, record.id, "csv", csv_out)
    assert "nan" not in csv_out.read_text().lower()
    html_out = tmp_path / "nan.html"
    export_run(store, record.id, "html", html_out)
    assert "NaN" not in html_out.read_text()
