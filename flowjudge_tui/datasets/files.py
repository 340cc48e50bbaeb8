"""Reading dataset files row by row: CSV/TSV and JSON Lines (three layouts).

Every row comes out as a ``RawRow`` (its line number and its values by column name) or a
``RowProblem`` (its line number and why it cannot be used). A broken row never stops the file:
the reader picks up again at the next line.

JSON Lines layouts, detected row by row:

* flat: ``{"query": "...", "context": "...", "response": "..."}``
* the official flow-judge input: ``{"inputs": [{"query": "..."}], "output": {"response": "..."}}``
* flow-judge results (and our export): ``{"sample": {"inputs": [...], "output": {...}}, ...}``
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from flowjudge_tui.errors import DatasetError
from flowjudge_tui.files import regular_file_problem

FileFormat = Literal["csv", "tsv", "jsonl"]
Value = Any
"""A cell: text from CSV; any JSON value from JSON Lines (checked when a field is read)."""
JSONL_SCAN_ROWS = 1000
# Only a \uD800-\uDFFF escape can put a lone surrogate (not text) into decoded JSON.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class RowProblem:
    """A row that was skipped: where it is and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class RawRow:
    line: int
    values: dict[str, Value]


Row = RawRow | RowProblem
Rows = Generator[Row, None, None]
BytesCallback = Callable[[int], None]


def detect_format(path: Path) -> FileFormat:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".tsv":
        return "tsv"
    if suffix == ".csv":
        return "csv"
    with _open(path) as handle:
        head = handle.read(4096).lstrip()
    return "jsonl" if head.startswith(b"{") else "csv"


def _open(path: Path) -> BinaryIO:
    problem = regular_file_problem(path)
    if problem == "no such file":
        raise DatasetError(f"{path}: no such file; check the path.")
    if problem is not None:
        raise DatasetError(f"{path} {problem}; give a .csv, .tsv or .jsonl file.")
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file; check the path.") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc}); check the file.") from None


class _Lines:
    """Decoded lines of a binary file with their numbers; lines can be pushed back."""

    def __init__(self, handle: BinaryIO, on_bytes: BytesCallback | None) -> None:
        self._handle = handle
        self._on_bytes = on_bytes
        self._pending: deque[tuple[int, str]] = deque()
        self.number = 0
        self.taken: list[tuple[int, str]] = []
        self.bad_encoding: int | None = None

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._pending:
            self.number, text = self._pending.popleft()
        else:
            raw = self._handle.readline()
            if not raw:
                raise StopIteration
            if self._on_bytes is not None:
                self._on_bytes(len(raw))
            self.number += 1
            if self.number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "replace")
                if self.bad_encoding is None:
                    self.bad_encoding = self.number
        self.taken.append((self.number, text))
        return text

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        self._pending.extendleft(reversed(lines))


def _csv_delimiter(header: str, fmt: FileFormat) -> str:
    if fmt == "tsv":
        return "\t"
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def read_csv(
    path: Path, fmt: FileFormat = "csv", on_bytes: BytesCallback | None = None
) -> tuple[list[str], Rows]:
    """The header's column names and an iterator over the rows after it."""
    with _open(path) as handle:
        lines = _Lines(handle, None)
        header_line = next(lines, "")
        has_rows = any(text.strip() for text in lines)  # stops at the first row
    if not header_line.strip():
        raise DatasetError(f"{path}: the file is empty; the first line must name the columns.")
    delimiter = _csv_delimiter(header_line, fmt)
    try:
        columns = next(csv.reader([header_line], delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise DatasetError(f"{path}: the header line cannot be read ({exc}); fix line 1.") from None
    columns = [c.strip() for c in columns]
    _check_columns(path, columns)
    if not has_rows:
        raise DatasetError(f"{path}: the file has its header line but no rows; add one row per "
                           "item below the header.")
    return columns, _csv_rows(path, columns, delimiter, on_bytes)


def _check_columns(path: Path, columns: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(columns, start=1):
        if not name:
            raise DatasetError(f"{path}: column {index} of the header has no name; name it.")
        if name in seen:
            raise DatasetError(f"{path}: the header names column '{name}' twice; rename one.")
        seen.add(name)


def _csv_rows(
    path: Path, columns: list[str], delimiter: str, on_bytes: BytesCallback | None
) -> Rows:
    with _open(path) as handle:
        lines = _Lines(handle, on_bytes)
        next(lines, "")
        while True:
            reader = csv.reader(lines, delimiter=delimiter, strict=True)
            try:
                yield from _csv_records(reader, lines, columns)
                return
            except csv.Error as exc:
                start, *rest = lines.taken
                lines.taken = []
                yield RowProblem(start[0], f"broken quoting ({exc}); the row is skipped")
                lines.push_back(rest)


def _csv_records(reader: Any, lines: _Lines, columns: list[str]) -> Iterator[Row]:
    lines.taken = []
    for fields in reader:
        start = lines.taken[0][0]
        bad_encoding = lines.bad_encoding
        lines.taken = []
        if bad_encoding is not None and bad_encoding >= start:
            lines.bad_encoding = None
            yield RowProblem(start, "not UTF-8 text; save the file as UTF-8")
            continue
        if not fields or (len(fields) == 1 and not fields[0].strip() and len(columns) > 1):
            continue
        if len(fields) != len(columns):
            yield RowProblem(
                start,
                f"has {len(fields)} fields but the header has {len(columns)} columns "
                "(an unquoted delimiter in a value?)",
            )
            continue
        yield RawRow(start, dict(zip(columns, fields, strict=True)))


def read_jsonl(path: Path, on_bytes: BytesCallback | None = None) -> tuple[list[str], Rows]:
    """The columns seen in the first rows, and an iterator over all rows."""
    columns: dict[str, None] = {}
    lines = 0
    with _open(path) as handle:
        for row in _jsonl_rows(_Lines(handle, None), JSONL_SCAN_ROWS):
            lines += 1
            if isinstance(row, RawRow):
                columns.update(dict.fromkeys(row.values))
    if not lines:
        raise DatasetError(
            f"{path}: the file is empty; each line must be one JSON object such as "
            '{"query": "...", "response": "..."}.'
        )
    if not columns:
        raise DatasetError(
            f"{path}: no JSON object found in the first {JSONL_SCAN_ROWS} lines; each line must "
            'be one object such as {"query": "...", "response": "..."}.'
        )
    return list(columns), _jsonl_file_rows(path, on_bytes)


def _jsonl_file_rows(path: Path, on_bytes: BytesCallback | None) -> Rows:
    with _open(path) as handle:
        yield from _jsonl_rows(_Lines(handle, on_bytes), None)


def _jsonl_rows(lines: _Lines, limit: int | None) -> Iterator[Row]:
    decode = json.loads
    seen = 0
    for text in lines:
        if limit is not None and seen >= limit:
            return
        if not text.strip():
            continue
        seen += 1
        number = lines.number
        if lines.bad_encoding == number:
            lines.bad_encoding = None
            yield RowProblem(number, "not UTF-8 text; save the file as UTF-8")
            continue
        try:
            data = decode(text)
        except json.JSONDecodeError as exc:
            yield RowProblem(number, f"invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            yield RowProblem(number, "nests JSON too deeply to be a row; flatten it")
            continue
        if _SURROGATE_ESCAPE.search(text) and not _is_unicode(data):
            yield RowProblem(number, "holds a lone surrogate escape (such as \\ud800), which is "
                                     "not text; fix the encoding of that line")
            continue
        yield _flatten(number, data)


def _is_unicode(value: Any) -> bool:
    """Whether every string in ``value`` (keys included) can be written as UTF-8."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _flatten(line: int, data: Any) -> Row:
    if not isinstance(data, dict):
        return RowProblem(line, f"expected a JSON object, found {json_kind(data)}")
    if isinstance(data.get("sample"), dict):
        rest = {k: v for k, v in data.items() if k != "sample"}
        inner = _flatten(line, data["sample"])
        if isinstance(inner, RowProblem):
            return inner
        return RawRow(line, {**_scalars(rest), **inner.values})
    inputs, output = data.get("inputs"), data.get("output")
    values: dict[str, Any] = {k: v for k, v in data.items() if k not in ("inputs", "output")}
    if isinstance(inputs, list):
        for entry in inputs:
            if not isinstance(entry, dict):
                return RowProblem(line, "'inputs' must be a list of {\"name\": \"text\"} objects")
            values.update(entry)
    elif isinstance(inputs, dict):
        values.update(inputs)
    elif inputs is not None:
        values["inputs"] = inputs
    if isinstance(output, dict):
        values.update(output)
    elif output is not None:
        values["output"] = output
    return RawRow(line, values)


def _scalars(data: dict[str, Any]) -> dict[str, Value]:
    return {k: v for k, v in data.items() if not isinstance(v, dict | list)}


def json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def read_rows(
    path: Path, fmt: FileFormat, on_bytes: BytesCallback | None = None
) -> tuple[list[str], Rows]:
    if fmt == "jsonl":
        return read_jsonl(path, on_bytes)
    return read_csv(path, fmt, on_bytes)
