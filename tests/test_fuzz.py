"""Property-based fuzzing of what reads user files: dataset files, rubrics, GGUF headers.

Whatever the bytes, each reader either works or raises one of the project's own errors
(``FlowJudgeError`` subclasses, each a sentence); never another exception. Example counts are
bounded so the whole module runs in seconds in CI; the seed is derandomized so a failure
reproduces. ``FLOWJUDGE_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py`` fuzzes deeper.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowjudge_tui.datasets import import_dataset
from flowjudge_tui.datasets.files import detect_format, read_rows
from flowjudge_tui.errors import FlowJudgeError
from flowjudge_tui.judging.rubric import parse_rubric
from flowjudge_tui.models.gguf_file import read_gguf
from flowjudge_tui.store import open_store
from tests.model_files import write_small_gguf
from tests.run_helpers import rubric

EXAMPLES = int(os.environ.get("FLOWJUDGE_FUZZ_EXAMPLES", "120"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 120,
                suppress_health_check=[HealthCheck.too_slow])
SUFFIXES = [".jsonl", ".csv", ".tsv", ".json", ".txt", ""]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
FIELDS = ["query", "context", "response", "inputs", "output", "sample", "label", "id"]


@contextmanager
def file_with(data: bytes, suffix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(data)
        yield path


def read_everything(path: Path) -> None:
    try:
        fmt = detect_format(path)
        _, rows = read_rows(path, fmt)
        for _ in rows:
            pass
    except FlowJudgeError:
        pass


@FUZZ
@given(data=st.binary(max_size=2000), suffix=st.sampled_from(SUFFIXES))
def test_any_bytes_as_a_dataset_read_or_one_sentence(data: bytes, suffix: str) -> None:
    with file_with(data, suffix) as path:
        read_everything(path)


@FUZZ
@given(rows=st.lists(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6),
                                     JSON_VALUES, max_size=6), max_size=6),
       junk=st.lists(st.text(max_size=40), max_size=3))
def test_json_lines_of_any_shape_read_or_one_sentence(rows: list[dict[str, object]],
                                                      junk: list[str]) -> None:
    lines = [json.dumps(row) for row in rows] + junk
    with file_with("\n".join(lines).encode("utf-8", "surrogatepass"), ".jsonl") as path:
        read_everything(path)


@FUZZ
@given(cells=st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=5), max_size=6),
       delimiter=st.sampled_from([",", ";", "\t"]))
def test_delimited_text_of_any_shape_reads_or_one_sentence(cells: list[list[str]],
                                                           delimiter: str) -> None:
    text = "\n".join(delimiter.join(row) for row in cells)
    with file_with(text.encode("utf-8", "surrogatepass"), ".csv") as path:
        read_everything(path)


@settings(max_examples=max(10, EXAMPLES // 3), deadline=None, derandomize=EXAMPLES <= 120,
          suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.fixed_dictionaries(
    {"query": JSON_VALUES, "context": JSON_VALUES, "response": JSON_VALUES},
    optional={"label": JSON_VALUES, "id": JSON_VALUES}), min_size=1, max_size=5))
def test_importing_any_rows_stores_them_or_says_why(rows: list[dict[str, object]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.jsonl"
        path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
        with open_store(Path(folder) / "store.sqlite3") as store:
            try:
                result = import_dataset(store, path, rubric("faithfulness-context-binary"),
                                        label="label" if any("label" in r for r in rows)
                                        else None)
            except FlowJudgeError:
                assert store.list_datasets() == []
                return
            assert result.imported + len(result.problems) == len(rows)
            assert len(store.items(result.dataset.id)) == result.imported


RUBRIC_VALUES = st.one_of(
    st.text(max_size=30), st.integers(), st.floats(allow_nan=False), st.booleans(),
    st.lists(st.text(max_size=10), max_size=4),
    st.dictionaries(st.text(max_size=4), st.text(max_size=10), max_size=4),
    st.dictionaries(st.integers(min_value=-3, max_value=12).map(str), st.text(max_size=10),
                    max_size=6),
)


@FUZZ
@given(text=st.text(max_size=400))
def test_any_text_as_a_rubric_parses_or_one_sentence(text: str) -> None:
    with suppress(FlowJudgeError):
        parse_rubric(text, "fuzz")


@FUZZ
@given(fields=st.dictionaries(
    st.sampled_from(["name", "title", "description", "criteria", "inputs", "output", "scores",
                     "extra"]), RUBRIC_VALUES, max_size=8))
def test_any_rubric_table_parses_or_one_sentence(fields: dict[str, object]) -> None:
    try:
        text = tomli_w.dumps(fields)
    except (TypeError, ValueError):
        return
    with suppress(FlowJudgeError):
        parse_rubric(text, "fuzz")


_SMALL_GGUF: list[bytes] = []


def small_gguf() -> bytes:
    if not _SMALL_GGUF:
        with tempfile.TemporaryDirectory() as folder:
            path = write_small_gguf(Path(folder) / "small.gguf")
            _SMALL_GGUF.append(path.read_bytes())
    return _SMALL_GGUF[0]


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(min_value=0, max_value=4095),
                                st.integers(min_value=0, max_value=255)), max_size=8),
       cut=st.one_of(st.none(), st.integers(min_value=0, max_value=8192)))
def test_a_damaged_gguf_header_reads_or_one_sentence(edits: list[tuple[int, int]],
                                                     cut: int | None) -> None:
    data = bytearray(small_gguf())
    for offset, value in edits:
        if offset < len(data):
            data[offset] = value
    if cut is not None:
        del data[cut:]
    with file_with(bytes(data), ".gguf") as path, suppress(FlowJudgeError):
        read_gguf(path)


@FUZZ
@given(data=st.binary(max_size=512))
def test_any_bytes_after_the_gguf_magic_read_or_one_sentence(data: bytes) -> None:
    with file_with(b"GGUF" + data, ".gguf") as path, suppress(FlowJudgeError):
        read_gguf(path)
