"""Importing CSV and JSONL: column mapping, every bad-row reason, progress, 100k rows."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowjudge_tui.datasets import guess_mapping, import_dataset, parse_map_args, preview_dataset
from flowjudge_tui.datasets.mapping import resolve_mapping
from flowjudge_tui.errors import DatasetError
from flowjudge_tui.progress import Progress
from flowjudge_tui.store import Store, open_store
from tests.run_helpers import rubric, write_csv, write_jsonl

# The real HaluEval sample in shared/ beside the checkout (or FLOWJUDGE_SAMPLE_DATA).
SAMPLE = Path(os.environ.get(
    "FLOWJUDGE_SAMPLE_DATA",
    Path(__file__).resolve().parents[2] / "shared" / "data" / "halueval_qa_sample.jsonl",
))
FAITHFUL = "faithfulness-context-binary"


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store() as opened:
        yield opened


def reasons(result_problems: list[object]) -> dict[int, str]:
    return {p.line: p.reason for p in result_problems}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("columns", "rubric_name", "expected"),
    [
        (["Question", "Context", "Answer"], FAITHFUL,
         {"query": "Question", "context": "Context", "response": "Answer"}),
        (["user input", "Passage", "model_output"], FAITHFUL,
         {"query": "user input", "context": "Passage", "response": "model_output"}),
        (["question", "ground_truth", "completion"], "correctness-reference-5",
         {"query": "question", "reference_answer": "ground_truth", "response": "completion"}),
        (["Reference Answer", "QUERY", "output"], "correctness-reference-5",
         {"query": "QUERY", "reference_answer": "Reference Answer", "response": "output"}),
        (["answer", "response", "query"], "relevance-query-binary",
         {"query": "query", "response": "response"}),
        (["article", "summary"], "summary-coverage-5", {"document": "article",
                                                        "summary": "summary"}),
    ],
)
def test_obvious_columns_are_guessed(
    columns: list[str], rubric_name: str, expected: dict[str, str]
) -> None:
    assert guess_mapping(columns, rubric(rubric_name)) == expected


def test_map_arguments_win_over_guesses_and_are_checked() -> None:
    rub = rubric(FAITHFUL)
    columns = ["q", "doc", "query", "reply"]
    mapping = resolve_mapping(columns, rub, parse_map_args(["q=query", "doc=context"]))
    assert mapping.fields == {"query": "q", "context": "doc", "response": "reply"}
    with pytest.raises(DatasetError, match="not COLUMN=field"):
        parse_map_args(["query"])
    with pytest.raises(DatasetError, match="no column 'nope'"):
        resolve_mapping(columns, rub, {"nope": "query"})
    with pytest.raises(DatasetError, match="has no field 'question'"):
        resolve_mapping(columns, rub, {"q": "question"})
    with pytest.raises(DatasetError, match=r"matches the field 'context'.*--map COLUMN=context"):
        resolve_mapping(["query", "reply"], rub)
    with pytest.raises(DatasetError, match=r"no column 'gold'.*--label"):
        resolve_mapping(columns, rub, {"doc": "context"}, label="gold")


needs_sample = pytest.mark.skipif(
    not SAMPLE.is_file(), reason="the HaluEval sample (shared/data) is not beside this checkout"
)


@needs_sample
def test_the_sample_dataset_imports_with_its_labels(store: Store) -> None:
    result = import_dataset(store, SAMPLE, rubric(FAITHFUL), label="human_label")
    assert result.imported == 200 and result.problems == []
    items = store.items(result.dataset.id)
    assert sorted({i.human_label for i in items}) == [0, 1]
    assert items[0].output == "96.3 Rock Radio"
    assert items[0].row_number == 1
    assert result.dataset.mapping == {"query": "query", "context": "context",
                                      "response": "response"}


@needs_sample
def test_preview_shows_first_rows_columns_and_guesses() -> None:
    preview = preview_dataset(SAMPLE, rubric(FAITHFUL), rows=3)
    assert preview.format == "jsonl"
    assert preview.columns == ["context", "query", "response", "human_label"]
    assert len(preview.rows) == 3 and preview.rows[0]["response"] == "96.3 Rock Radio"
    assert preview.mapping == {"query": "query", "context": "context", "response": "response"}
    assert preview.missing_fields == []
    assert preview.label_guess == "human_label"


def test_every_bad_csv_row_is_reported_with_its_line_and_the_rest_imported(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "id,question,context,answer,label\n"          # 1
        "a,Q1,C1,A1,1\n"                              # 2 good
        "b,Q2,C2,A2\n"                                # 3 too few fields
        "c,Q3,C3,A3,1,extra\n"                        # 4 too many fields
        'd,"Q4"x,C4,A4,0\n'                           # 5 text after a closing quote
        "e,Q5,,A5,0\n"                                # 6 empty context
        "f,Q6,C6,A6,7\n"                              # 7 label off the scale: no label
        "g,Q7,C7,A7,yes\n"                            # 8 label not a number: no label
        'h,"Q8\nspans two lines",C8,A8,1.0\n'         # 9-10 good, multi-line
        "\n"                                          # 11 blank: ignored
        "i,Q9,C9,A9,\n"                               # 12 good, no label
        'j,Q10,"C10 never closed,A10,1\n'             # 13 unterminated quote
        "k,Q11,C11,A11,0\n",                          # 14 good
        encoding="utf-8",
    )
    result = import_dataset(store, path, rubric(FAITHFUL), label="label", id_column="id")
    problems = reasons(result.problems)
    assert set(problems) == {3, 4, 5, 6, 13}
    assert "has 4 fields but the header has 5" in problems[3]
    assert "has 6 fields" in problems[4]
    assert "broken quoting" in problems[5]
    assert "column 'context' (field 'context') is empty" in problems[6]
    assert "broken quoting" in problems[13]
    items = store.items(result.dataset.id)
    assert [i.source_key for i in items] == ["a", "f", "g", "h", "i", "k"]
    assert [i.row_number for i in items] == [2, 7, 8, 9, 12, 14]
    assert items[3].inputs["query"] == "Q8\nspans two lines"
    assert [i.human_label for i in items] == [1, None, None, 1, None, 0]
    off_scale = result.labels_off_scale
    assert off_scale is not None
    assert (off_scale.count, off_scale.examples) == (2, ((7, "7"), (8, "yes")))
    assert off_scale.sentence() == ("2 rows had a label off the 0-1 scale (lines 7, 8: '7', "
                                    "'yes'); they are judged without a label.")


def test_every_bad_jsonl_row_is_reported(store: Store, tmp_path: Path) -> None:
    good = {"query": "Q", "context": "C", "response": "R", "human_label": 1}
    lines = [
        json.dumps(good),                                          # 1 good
        '{"query": "Q", "context": "C", "response": "R"',          # 2 invalid JSON
        json.dumps(["not", "an", "object"]),                       # 3 a list
        json.dumps({"query": "Q", "response": "R"}),               # 4 missing context
        json.dumps({**good, "context": ["a", "b"]}),               # 5 a list, not text
        json.dumps({**good, "human_label": 3}),                    # 6 off the scale: no label
        "",                                                        # 7 blank
        json.dumps({**good, "response": 42, "human_label": True}),  # 8 good (numbers are text)
        json.dumps({**good, "context": None}),                     # 9 null
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = import_dataset(store, path, rubric(FAITHFUL), label="human_label")
    problems = reasons(result.problems)
    assert set(problems) == {2, 3, 4, 5, 9}
    assert problems[2].startswith("invalid JSON")
    assert "expected a JSON object, found a list" in problems[3]
    assert "column 'context' (field 'context') is missing" in problems[4]
    assert "holds a list, not text" in problems[5]
    assert "is missing" in problems[9]
    items = store.items(result.dataset.id)
    assert [(i.row_number, i.output, i.human_label) for i in items] == [
        (1, "R", 1), (6, "R", None), (8, "42", 1)]
    assert result.labels_off_scale is not None
    assert result.labels_off_scale.sentence() == (
        "1 row had a label off the 0-1 scale (line 6: '3'); it is judged without a label.")


def test_text_that_is_not_utf8_is_a_bad_row(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("query,response\nQ1,R1\nQ2,caf\xe9\nQ3,R3\n".encode("latin-1"))
    result = import_dataset(store, path, rubric("relevance-query-binary"))
    assert reasons(result.problems) == {3: "not UTF-8 text; save the file as UTF-8"}
    assert result.imported == 2


def test_official_flow_judge_layout_and_our_export_layout(store: Store, tmp_path: Path) -> None:
    official = {"inputs": [{"query": "Q?"}, {"context": "Ctx."}], "output": {"response": "A."}}
    exported = {"sample": official, "feedback": "Fine.", "score": 1, "human_label": 0}
    path = write_jsonl(tmp_path / "official.jsonl", [official, exported])
    result = import_dataset(store, path, rubric(FAITHFUL))
    items = store.items(result.dataset.id)
    assert [i.inputs for i in items] == [{"query": "Q?", "context": "Ctx."}] * 2
    assert [i.output for i in items] == ["A.", "A."]
    broken = write_jsonl(tmp_path / "broken.jsonl", [official, {"inputs": ["x"], "output": "y"}])
    result = import_dataset(store, broken, rubric(FAITHFUL))
    assert "'inputs' must be a list" in reasons(result.problems)[2]


def test_tsv_semicolons_and_a_bom_are_understood(store: Store, tmp_path: Path) -> None:
    rub = rubric("relevance-query-binary")
    tsv = tmp_path / "data.tsv"
    tsv.write_text("Question\tAnswer\nQ, with comma\tA1\n", encoding="utf-8")
    semi = tmp_path / "data.csv"
    semi.write_bytes("\ufeffquestion;answer\nQ2;A2\n".encode())
    for path, query in ((tsv, "Q, with comma"), (semi, "Q2")):
        items = store.items(import_dataset(store, path, rub).dataset.id)
        assert items[0].inputs == {"query": query}


def test_files_that_cannot_be_used_at_all_raise_one_clear_error(
    store: Store, tmp_path: Path
) -> None:
    rub = rubric("relevance-query-binary")
    with pytest.raises(DatasetError, match="no such file"):
        import_dataset(store, tmp_path / "missing.csv", rub)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DatasetError, match="is empty"):
        import_dataset(store, empty, rub)
    twice = write_csv(tmp_path / "twice.csv", ["query", "query"], [["a", "b"]])
    with pytest.raises(DatasetError, match="names column 'query' twice"):
        import_dataset(store, twice, rub)
    # A header without rows, and a JSONL file with nothing (or blank lines) in it, are empty
    # (they said "no JSON object found in the first 1000 lines", or "no row could be imported").
    header_only = write_csv(tmp_path / "header_only.csv", ["query", "response"], [])
    with pytest.raises(DatasetError, match="has its header line but no rows; add one row"):
        preview_dataset(header_only, rub)
    for text in ("", "\n\n"):
        blank = tmp_path / "blank.jsonl"
        blank.write_text(text, encoding="utf-8")
        with pytest.raises(DatasetError, match=r"blank.jsonl: the file is empty; each line"):
            import_dataset(store, blank, rub)
    all_bad = write_csv(tmp_path / "all_bad.csv", ["query", "response"], [["Q", ""], ["", "R"]])
    with pytest.raises(DatasetError, match=r"no row could be imported.*line 2"):
        import_dataset(store, all_bad, rub)
    assert store.list_datasets() == []


def test_large_imports_report_progress(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "big.csv", ["query", "response"],
                     [[f"Q{n}", f"R{n}"] for n in range(5000)])
    events: list[Progress] = []
    result = import_dataset(store, path, rubric("relevance-query-binary"),
                            on_progress=events.append)
    assert result.imported == 5000
    assert len(events) >= 3 and events[-1].finished
    assert events[-1].done == events[-1].total == path.stat().st_size
    assert [e.done for e in events] == sorted(e.done for e in events)
    assert events[0].detail == "2,000 rows"


def test_limit_stops_the_import(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", ["query", "response"], [["Q", f"R{n}"] for n in range(9)])
    assert import_dataset(store, path, rubric("relevance-query-binary"), limit=4).imported == 4


def test_one_hundred_thousand_rows(store: Store, tmp_path: Path) -> None:
    """Correctness only; the speed is measured by bench/import_speed.py."""
    rows = 100_000
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("question,context,answer,human_label\n")
        for n in range(rows):
            handle.write(f'"Question {n}?","Context, {n}","Answer {n}",{n % 2}\n')
    result = import_dataset(store, path, rubric(FAITHFUL), label="human_label")
    assert result.imported == rows and result.problems == []
    last = store.items(result.dataset.id, limit=1, offset=rows - 1)[0]
    assert (last.row_number, last.inputs, last.output, last.human_label) == (
        rows + 1, {"query": f"Question {rows - 1}?", "context": f"Context, {rows - 1}"},
        f"Answer {rows - 1}", 1,
    )
    assert store.get_dataset(result.dataset.id).item_count == rows
