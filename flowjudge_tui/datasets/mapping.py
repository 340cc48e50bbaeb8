"""Which column of a dataset file feeds which field of a rubric.

``--map COLUMN=field`` says it explicitly; otherwise a column is matched by the field's own
name (ignoring case, spaces and punctuation), then by common synonyms (question -> query,
answer/output/completion -> the rubric's output, ground_truth -> reference_answer, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flowjudge_tui.errors import DatasetError
from flowjudge_tui.judging.rubric import Rubric

_INPUT_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("query", "question", "customer_query", "user_query", "user_input", "input", "prompt",
     "request", "user_message", "customer_message", "q"),
    ("context", "contexts", "document", "documents", "passage", "passages", "knowledge",
     "retrieved_context", "retrieved_contexts", "source", "sources", "source_text", "article",
     "background", "evidence", "text"),
    ("reference_answer", "reference", "ground_truth", "gold", "gold_answer", "expected",
     "expected_answer", "expected_output", "correct_answer", "right_answer", "ideal_answer",
     "target"),
    ("instructions", "instruction", "system_prompt", "task", "prompt"),
)
_OUTPUT_SYNONYMS = (
    "response", "answer", "output", "completion", "generation", "prediction", "model_output",
    "model_answer", "model_response", "generated_text", "generated_answer", "summary", "reply",
    "hypothesis", "candidate",
)
LABEL_NAMES = (
    "human_label", "human_score", "label", "gold_label", "gold_score", "human_rating", "rating",
    "judgment", "human_judgment",
)
ID_NAMES = ("id", "item_id", "row_id", "sample_id", "example_id", "uid", "uuid", "key")


def normalize(name: str) -> str:
    """A column or field name compared loosely: lower-case, runs of punctuation as '_'."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


@dataclass(frozen=True)
class ColumnMapping:
    """Which column feeds each rubric field, and the optional label and id columns."""

    fields: dict[str, str]
    """Rubric field -> column."""
    label: str | None = None
    id: str | None = None


def parse_map_args(pairs: Sequence[str]) -> dict[str, str]:
    """``["COLUMN=field", ...]`` as {column: field}."""
    mapped: dict[str, str] = {}
    for pair in pairs:
        column, sep, name = pair.rpartition("=")
        if not sep or not column or not name:
            raise DatasetError(
                f"--map '{pair}' is not COLUMN=field; write e.g. --map question=query."
            )
        mapped[column] = name
    return mapped


def _aliases(name: str, is_output: bool) -> list[str]:
    key = normalize(name)
    aliases = [key]
    groups = (_OUTPUT_SYNONYMS,) if is_output else _INPUT_SYNONYMS
    for group in groups:
        if is_output or key in group:
            aliases += [a for a in group if a not in aliases]
    return aliases


def guess_mapping(columns: Sequence[str], rubric: Rubric) -> dict[str, str]:
    """Rubric field -> column for every field a column obviously matches (exact names first)."""
    by_norm: dict[str, str] = {}
    for column in columns:
        by_norm.setdefault(normalize(column), column)
    fields = [(f, False) for f in rubric.inputs] + [(rubric.output, True)]
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for exact_only in (True, False):
        for name, is_output in fields:
            if name in mapping:
                continue
            aliases = _aliases(name, is_output)
            for alias in aliases[:1] if exact_only else aliases:
                found = by_norm.get(alias)
                if found is not None and found not in used:
                    mapping[name] = found
                    used.add(found)
                    break
    return mapping


def guess_column(columns: Sequence[str], names: Sequence[str], taken: set[str]) -> str | None:
    by_norm = {normalize(c): c for c in columns if c not in taken}
    return next((by_norm[n] for n in names if n in by_norm), None)


def resolve_mapping(
    columns: Sequence[str],
    rubric: Rubric,
    column_map: Mapping[str, str] | None = None,
    label: str | None = None,
    id_column: str | None = None,
    origin: str = "the file",
) -> ColumnMapping:
    """Explicit ``column_map`` ({column: field}) first, then guesses; or say what is missing."""
    fields = [*rubric.inputs, rubric.output]
    listed = ", ".join(f"'{c}'" for c in columns)
    mapping: dict[str, str] = {}
    for column, name in (column_map or {}).items():
        if column not in columns:
            raise DatasetError(f"{origin} has no column '{column}' (given in --map); its columns "
                               f"are {listed}.")
        if name not in fields:
            raise DatasetError(f"Rubric '{rubric.name}' has no field '{name}' (given in --map); "
                               f"its fields are {', '.join(repr(f) for f in fields)}.")
        mapping[name] = column
    remaining = [c for c in columns if c not in mapping.values() and c not in (label, id_column)]
    for name, guessed in guess_mapping(remaining, rubric).items():
        mapping.setdefault(name, guessed)
    missing = [f for f in fields if f not in mapping]
    if missing:
        raise DatasetError(
            f"No column of {origin} matches the field {', '.join(repr(f) for f in missing)} of "
            f"rubric '{rubric.name}'; its columns are {listed}: map one with --map "
            f"COLUMN={missing[0]}."
        )
    for optional, flag in ((label, "--label"), (id_column, "--id")):
        if optional is not None and optional not in columns:
            raise DatasetError(
                f"{origin} has no column '{optional}' (given in {flag}); its columns are {listed}."
            )
    return ColumnMapping({f: mapping[f] for f in fields}, label, id_column)
