"""Importing datasets: map a file's columns to a rubric's fields, check every row, store them.

Columns map to fields by ``--map COLUMN=field`` or by a guess (the same name ignoring case,
spaces and punctuation, then common synonyms such as question -> query). Rows that cannot be
used are reported with their line number and skipped; the rest is imported in one transaction.
A label off the rubric's scale does not make a row unusable: the row is imported without a
label, and such rows are counted (``OffScaleLabels``) for the one line every front end shows.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowjudge_tui.datasets.files import (
    FileFormat,
    RawRow,
    RowProblem,
    Value,
    detect_format,
    json_kind,
    read_rows,
)
from flowjudge_tui.datasets.mapping import (
    ID_NAMES,
    LABEL_NAMES,
    ColumnMapping,
    guess_column,
    guess_mapping,
    resolve_mapping,
)
from flowjudge_tui.errors import DatasetError
from flowjudge_tui.format import count_of, terminal_safe
from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.progress import Progress, ProgressCallback
from flowjudge_tui.store import DatasetRecord, NewItem, Store

PROGRESS_EVERY_ROWS = 2000
PREVIEW_ROWS = 20
OFF_SCALE_EXAMPLES = 3
OFF_SCALE_VALUE_CHARS = 20
# In the source hash of imports with a label column: such imports made before off-scale
# labels were kept as unlabelled rows dropped those rows, so they are not reused.
OFF_SCALE_POLICY = "off-scale labels: unlabelled rows"


@dataclass(frozen=True)
class DatasetPreview:
    """The first rows of a file and the mapping a user would start from."""

    path: Path
    format: FileFormat
    columns: list[str]
    rows: list[dict[str, str]]
    mapping: dict[str, str]
    """Rubric field -> column, for the fields that could be matched."""
    missing_fields: list[str]
    label_guess: str | None
    id_guess: str | None
    problems: list[RowProblem] = field(default_factory=list)


@dataclass(frozen=True)
class OffScaleLabels:
    """Rows whose label is not a score on the rubric's scale: imported without a label."""

    scale: str
    """The rubric's scale, e.g. '1-5'."""
    count: int
    examples: tuple[tuple[int, str], ...]
    """The first few as (line, the label as written)."""

    def to_json(self) -> dict[str, Any]:
        return {"scale": self.scale, "count": self.count,
                "examples": [{"line": line, "value": value} for line, value in self.examples]}

    def sentence(self, outcome: str = "judged without a label") -> str:
        """One line: '3 rows had a label off the 1-5 scale (lines 4, 9, 12: '7', 'x', '0');
        they are judged without a label.'"""
        more = ", ..." if self.count > len(self.examples) else ""
        lines = ", ".join(str(line) for line, _ in self.examples) + more
        values = ", ".join(f"'{value}'" for _, value in self.examples) + more
        if self.count == 1:
            return (f"1 row had a label off the {self.scale} scale (line {lines}: {values}); "
                    f"it is {outcome}.")
        return (f"{self.count:,} rows had a label off the {self.scale} scale (lines {lines}: "
                f"{values}); they are {outcome}.")


@dataclass(frozen=True)
class ImportResult:
    dataset: DatasetRecord
    imported: int
    problems: list[RowProblem]
    seconds: float
    reused: bool = False
    """True when the same file was imported the same way before and that dataset is used."""
    labels_off_scale: OffScaleLabels | None = None
    """Rows imported without a label because theirs was off the scale (None: no such row)."""


def source_hash(
    path: Path, fmt: str, fields: Mapping[str, str], label: str | None, id_column: str | None,
    limit: int | None, rubric: Rubric,
) -> str:
    """Everything an import's items depend on: the file's bytes, how its columns map to the
    rubric's fields, the label and id columns, the row limit, and the rubric's scale."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    settings = [fmt, sorted(fields.items()), label, id_column, limit, list(rubric.inputs),
                rubric.output, list(rubric.score_values)]
    if label is not None:
        settings.append(OFF_SCALE_POLICY)
    digest.update(json.dumps(settings, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def preview_dataset(
    path: Path, rubric: Rubric, rows: int = PREVIEW_ROWS, fmt: FileFormat | None = None
) -> DatasetPreview:
    """The first ``rows`` rows, the column names and the guessed mapping."""
    fmt = fmt or detect_format(path)
    columns, iterator = read_rows(path, fmt)
    shown: list[dict[str, str]] = []
    problems: list[RowProblem] = []
    for row in iterator:
        if isinstance(row, RowProblem):
            problems.append(row)
        else:
            shown.append({k: "" if v is None else str(v) for k, v in row.values.items()})
        if len(shown) >= rows:
            break
    iterator.close()
    mapping = guess_mapping(columns, rubric)
    taken = set(mapping.values())
    return DatasetPreview(
        path=path,
        format=fmt,
        columns=columns,
        rows=shown,
        mapping=mapping,
        missing_fields=[f for f in [*rubric.inputs, rubric.output] if f not in mapping],
        label_guess=guess_column(columns, LABEL_NAMES, taken),
        id_guess=guess_column(columns, ID_NAMES, taken),
        problems=problems,
    )


def import_dataset(
    store: Store,
    path: Path,
    rubric: Rubric,
    column_map: Mapping[str, str] | None = None,
    label: str | None = None,
    id_column: str | None = None,
    name: str | None = None,
    fmt: FileFormat | None = None,
    limit: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> ImportResult:
    """Read ``path``, check each row against ``rubric`` and store the good ones.

    ``column_map`` is {column: field}; unmapped fields are guessed. ``label`` names a column of
    human scores on the rubric's scale (empty cells mean unlabelled; a label off the scale is
    imported as none and counted in ``ImportResult.labels_off_scale``). ``limit`` stops after
    that many imported rows. Raises ``DatasetError`` when the file or the mapping cannot be used at
    all, or when no row is valid; otherwise bad rows are in ``ImportResult.problems``.
    """
    started = time.monotonic()
    fmt = fmt or detect_format(path)
    total_bytes = path.stat().st_size if path.is_file() else 0
    read = [0]

    def count_bytes(n: int) -> None:
        read[0] += n

    columns, rows = read_rows(path, fmt, count_bytes)
    mapping = resolve_mapping(columns, rubric, column_map, label, id_column, str(path))
    source = source_hash(path, fmt, mapping.fields, mapping.label, mapping.id, limit, rubric)
    earlier = store.find_dataset(source)
    if earlier is not None:
        return ImportResult(earlier, earlier.item_count, [], time.monotonic() - started,
                            reused=True)
    problems: list[RowProblem] = []
    off_scale = _OffScaleTally()
    task = f"Importing {path.name}"

    def items() -> Iterator[NewItem]:
        count = 0
        for row in rows:
            item = row if isinstance(row, RowProblem) else _to_item(row, rubric, mapping,
                                                                     off_scale)
            if isinstance(item, RowProblem):
                problems.append(item)
                continue
            count += 1
            yield item
            if on_progress is not None and count % PROGRESS_EVERY_ROWS == 0:
                on_progress(_progress(task, read[0], total_bytes, count, started))
            if limit is not None and count >= limit:
                break
        if count == 0:
            first = "; ".join(str(p) for p in problems[:3]) or "the file has no rows"
            raise DatasetError(f"{path}: no row could be imported ({first}); fix the file.")

    dataset = store.add_dataset(
        name=name or path.stem,
        source_path=str(path.resolve()),
        format=fmt,
        columns=columns,
        mapping=mapping.fields,
        rubric=rubric,
        items=items(),
        label_column=mapping.label,
        id_column=mapping.id,
        source_hash=source,
    )
    if on_progress is not None:
        end = total_bytes if limit is None else read[0]
        on_progress(_progress(task, read[0], end, dataset.item_count, started, True))
    return ImportResult(dataset, dataset.item_count, problems, time.monotonic() - started,
                        labels_off_scale=off_scale.result(rubric))


@dataclass
class _OffScaleTally:
    """Counts labels off the scale while importing, keeping only the first few."""

    count: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)

    def note(self, line: int, value: Value) -> None:
        self.count += 1
        if len(self.examples) < OFF_SCALE_EXAMPLES:
            self.examples.append((line, _shown(value)))

    def result(self, rubric: Rubric) -> OffScaleLabels | None:
        if self.count == 0:
            return None
        scale = f"{rubric.score_values[0]}-{rubric.score_values[-1]}"
        return OffScaleLabels(scale, self.count, tuple(self.examples))


def _progress(
    task: str, done: int, total: int, rows: int, started: float, finished: bool = False
) -> Progress:
    elapsed = time.monotonic() - started
    rate = done / elapsed if elapsed > 0 and done else None
    eta = (total - done) / rate if rate and total else None
    return Progress(task=task, done=done, total=total or None, unit="bytes", rate=rate,
                    eta_seconds=eta, detail=count_of(rows, "row"), finished=finished)


def _to_item(
    row: RawRow, rubric: Rubric, mapping: ColumnMapping, off_scale: _OffScaleTally
) -> NewItem | RowProblem:
    """The row as an item, or why it cannot be one; a label off the scale is dropped and
    noted in ``off_scale``."""
    values: dict[str, str] = {}
    for name, column in mapping.fields.items():
        text = _text(row.values.get(column))
        if isinstance(text, Problem):
            return RowProblem(row.line, f"column '{column}' (field '{name}') {text.reason}")
        values[name] = text
    human: int | None = None
    if mapping.label is not None:
        raw_label = row.values.get(mapping.label)
        human = _label(raw_label, rubric)
        if human is None and not _blank(raw_label):
            off_scale.note(row.line, raw_label)
    key = None
    if mapping.id is not None:
        raw = row.values.get(mapping.id)
        key = None if raw is None else str(raw)
    output = values.pop(rubric.output)
    return NewItem(row.line, values, output, human, key)


@dataclass(frozen=True)
class Problem:
    reason: str


def _text(value: Value) -> str | Problem:
    if value is None:
        return Problem("is missing")
    if isinstance(value, dict | list):
        return Problem(f"holds {json_kind(value)}, not text")
    text = value if isinstance(value, str) else _scalar_text(value)
    if not text.strip():
        return Problem("is empty")
    return text


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _blank(value: Value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: Value) -> str:
    """A label as written, short and terminal-safe, for the off-scale line."""
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = value if isinstance(value, str) else _scalar_text(value)
    text = terminal_safe(text.strip(), one_line=True)
    if len(text) > OFF_SCALE_VALUE_CHARS:
        text = text[: OFF_SCALE_VALUE_CHARS - 1] + "…"
    return text


def _label(value: Value, rubric: Rubric) -> int | None:
    """The score a label cell gives, or None (empty, or not a score on the rubric's scale)."""
    if _blank(value) or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        number: float = float(value)
    elif isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
    if not number.is_integer() or int(number) not in rubric.scores:
        return None
    return int(number)
