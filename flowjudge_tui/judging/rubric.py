"""Rubrics: what to judge, on which scale, and what each score means.

A rubric is a TOML file (one per rubric). The built-in library ships in ``rubrics/``; user
rubrics live in the config directory and shadow a built-in rubric of the same name.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from flowjudge_tui.errors import ItemError, RubricError
from flowjudge_tui.files import atomic_write_text, regular_file_problem
from flowjudge_tui.settings import Paths, package_data_dir

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")
MAX_NAME_LENGTH = 64
MAX_SCORE = 100
MAX_RUBRIC_BYTES = 1 << 20
TRAINED_SCALES: tuple[tuple[int, ...], ...] = ((0, 1), (1, 2, 3), (1, 2, 3, 4, 5))


def scale_label(values: list[int] | tuple[int, ...]) -> str:
    """A scale in words: 'pass/fail (0-1)', '5-point (1-5)'."""
    if list(values) == [0, 1]:
        return "pass/fail (0-1)"
    return f"{len(values)}-point ({values[0]}-{values[-1]})"


def short_scale_label(values: list[int] | tuple[int, ...]) -> str:
    """A scale for a narrow column: '0/1', '1-5'."""
    return "0/1" if list(values) == [0, 1] else f"{values[0]}-{values[-1]}"


# The scales Flow-Judge was trained on, by their label (the rubric editor offers these).
STANDARD_SCALES: dict[str, tuple[int, ...]] = {scale_label(s): s for s in TRAINED_SCALES}
RubricSource = Literal["built-in", "user", "file"]


class Item(BaseModel):
    """One thing to judge: the task's inputs (by field name) and the output under judgement."""

    model_config = ConfigDict(frozen=True)

    inputs: dict[str, str] = {}
    output: str


class Rubric(BaseModel):
    """A judging rubric, exactly as stored in its TOML file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str
    description: str = ""
    criteria: str
    inputs: list[str] = []
    output: str = "response"
    scores: dict[int, str]

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError("must use only lower-case letters, digits and '-', e.g. 'my-rubric'")
        if len(value) > MAX_NAME_LENGTH:
            raise ValueError(f"must be at most {MAX_NAME_LENGTH} characters long")
        return value

    @field_validator("title", "criteria")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("inputs")
    @classmethod
    def _inputs_are_fields(cls, value: list[str]) -> list[str]:
        for field in value:
            _check_field_name(field)
        lowered = [_tag(f) for f in value]
        if len(set(lowered)) != len(lowered):
            raise ValueError("must not name the same field twice")
        return value

    @field_validator("output")
    @classmethod
    def _output_is_field(cls, value: str) -> str:
        _check_field_name(value)
        return value

    @field_validator("scores")
    @classmethod
    def _scores_are_a_scale(cls, value: dict[int, str]) -> dict[int, str]:
        if len(value) < 2:
            raise ValueError("needs at least two scores, e.g. 0 and 1")
        ordered = sorted(value)
        if ordered != list(range(ordered[0], ordered[-1] + 1)):
            raise ValueError(f"must be a contiguous range of integers, got {ordered}")
        if ordered[0] < 0:
            raise ValueError("must not be negative")
        if ordered[-1] > MAX_SCORE:
            raise ValueError(f"must be at most {MAX_SCORE}")
        for score, text in value.items():
            if not text.strip():
                raise ValueError(f"score {score} needs a description")
        return dict(sorted(value.items()))

    @model_validator(mode="after")
    def _output_not_an_input(self) -> Rubric:
        if _tag(self.output) in {_tag(f) for f in self.inputs}:
            raise ValueError(f"output: '{self.output}' is also listed in inputs")
        return self

    @property
    def score_values(self) -> list[int]:
        return sorted(self.scores)

    @property
    def scale_label(self) -> str:
        return scale_label(self.score_values)

    @property
    def is_binary(self) -> bool:
        return self.score_values == [0, 1]

    @property
    def content_hash(self) -> str:
        """The rubric's version: a sha256 over everything that reaches the prompt."""
        canonical = json.dumps(
            {
                "criteria": self.criteria,
                "inputs": self.inputs,
                "output": self.output,
                "scores": {str(k): v for k, v in sorted(self.scores.items())},
            },
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def warnings(self) -> list[str]:
        """Things that are allowed but worth telling the user."""
        if tuple(self.score_values) in TRAINED_SCALES:
            return []
        return [
            f"rubric '{self.name}' uses the scale {self.score_values[0]}-{self.score_values[-1]}, "
            "which Flow-Judge was not trained on (it knows 0-1, 1-3 and 1-5): "
            "its scores may be less reliable."
        ]

    def check_item(self, item: Item) -> Item:
        """Return the item with its inputs in this rubric's order, or say what is missing."""
        missing = [f for f in self.inputs if f not in item.inputs]
        if missing:
            raise ItemError(
                f"The item lacks the input {_quote_list(missing)} that rubric '{self.name}' "
                f"needs; give {_quote_list(self.inputs)}."
            )
        for name, text in [*item.inputs.items(), (self.output, item.output)]:
            if not _is_unicode(text):
                raise ItemError(
                    f"The {name!r} text holds a lone surrogate (bytes that are not UTF-8, or an "
                    "escape such as \\ud800), which is not text; fix its encoding."
                )
        unknown = [f for f in item.inputs if f not in self.inputs]
        if unknown:
            expected = _quote_list(self.inputs) if self.inputs else "no inputs"
            raise ItemError(
                f"Rubric '{self.name}' has no input {_quote_list(unknown)}; it takes {expected}."
            )
        return Item(inputs={f: item.inputs[f] for f in self.inputs}, output=item.output)

    def to_toml(self) -> str:
        data: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "criteria": self.criteria,
            "inputs": list(self.inputs),
            "output": self.output,
            "scores": {str(k): v for k, v in sorted(self.scores.items())},
        }
        return tomli_w.dumps(data, multiline_strings=True)


@dataclass(frozen=True)
class RubricEntry:
    """A rubric together with where it came from."""

    rubric: Rubric
    source: RubricSource
    path: Path


def _tag(field: str) -> str:
    return field.lower().replace(" ", "_")


def _check_field_name(field: str) -> None:
    if not field.strip():
        raise ValueError("field names must not be empty")
    if any(ch in field for ch in "<>/\n\r\t"):
        raise ValueError(f"field name '{field}' must not contain '<', '>', '/' or line breaks")


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _quote_list(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def parse_rubric(text: str, origin: str) -> Rubric:
    """Parse and validate rubric TOML; ``origin`` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{origin}: not valid TOML ({exc}); fix the syntax there.") from None
    if isinstance(data.get("scores"), dict):
        scores: dict[Any, Any] = {}
        for key, description in data["scores"].items():
            try:
                scores[int(key)] = description
            except ValueError:
                raise RubricError(
                    f"{origin}: key 'scores.{key}' must be an integer score such as 1 or 5."
                ) from None
        data["scores"] = scores
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError(_describe_validation_error(origin, exc)) from None


def _describe_validation_error(origin: str, exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "missing":
        return f"{origin}: key '{key}' is missing; add it (see rubrics/README.md for the format)."
    if kind == "extra_forbidden":
        return f"{origin}: key '{key}' is not a rubric key; remove it or check its spelling."
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{origin}: key '{key}' {message}."


def load_rubric(path: Path) -> Rubric:
    problem = regular_file_problem(path)
    if problem is not None and problem != "no such file":
        raise RubricError(f"{path} {problem}; give a rubric .toml file.")
    if problem is None and path.stat().st_size > MAX_RUBRIC_BYTES:
        raise RubricError(f"{path} is larger than a rubric can be ({MAX_RUBRIC_BYTES:,} bytes); "
                          "give a rubric .toml file.")
    try:
        text = path.read_text(encoding="utf-8-sig")  # editors that write a BOM are fine
    except FileNotFoundError:
        raise RubricError(f"{path}: no such rubric file; check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError(f"{path}: cannot be read ({exc}); check the file.") from None
    return parse_rubric(text, str(path))


class RubricLibrary:
    """The built-in rubrics plus the user's own, the user's shadowing built-ins by name."""

    def __init__(self, paths: Paths, builtin_dir: Path | None = None) -> None:
        self.paths = paths
        self.builtin_dir = builtin_dir or package_data_dir("rubrics")
        self.problems: list[str] = []
        # Parsed files by path, kept while the file's size and modification time are the same:
        # a long-lived library (the app's) re-reads only what changed.
        self._parsed: dict[Path, tuple[tuple[int, int], Rubric | RubricError]] = {}

    def _load(self, path: Path) -> Rubric:
        try:
            stat = path.stat()
        except OSError:
            return load_rubric(path)
        stamp = (stat.st_size, stat.st_mtime_ns)
        cached = self._parsed.get(path)
        if cached is None or cached[0] != stamp:
            try:
                parsed: Rubric | RubricError = load_rubric(path)
            except RubricError as exc:
                parsed = exc
            cached = (stamp, parsed)
            self._parsed[path] = cached
        if isinstance(cached[1], RubricError):
            raise cached[1]
        return cached[1]

    def entries(self) -> list[RubricEntry]:
        """Every valid rubric, sorted by name. Invalid files are noted in ``problems``."""
        self.problems = []
        found: dict[str, RubricEntry] = {}
        sources: tuple[tuple[RubricSource, Path], ...] = (
            ("built-in", self.builtin_dir),
            ("user", self.paths.rubrics_dir),
        )
        for source, directory in sources:
            if not directory.is_dir():
                continue
            for path in sorted(directory.glob("*.toml")):
                try:
                    rubric = self._load(path)
                except RubricError as exc:
                    self.problems.append(str(exc))
                    continue
                found[rubric.name] = RubricEntry(rubric, source, path)
        return [found[name] for name in sorted(found)]

    def get(self, name_or_path: str) -> RubricEntry:
        """A rubric by name, or from a TOML file when given a path."""
        candidate = Path(name_or_path).expanduser()
        if name_or_path.endswith(".toml") or candidate.is_file():
            return RubricEntry(load_rubric(candidate), "file", candidate)
        for entry in self.entries():
            if entry.rubric.name == name_or_path:
                return entry
        raise RubricError(
            f"No rubric named '{name_or_path}'; run 'flowjudge rubrics list' to see the names, "
            "or give a path to a .toml file."
        )

    def save_user_rubric(self, rubric: Rubric) -> Path:
        """Write a rubric to the user's library (shadowing any built-in of the same name)."""
        path = self.paths.rubrics_dir / f"{rubric.name}.toml"
        try:
            atomic_write_text(path, rubric.to_toml())
        except OSError as exc:
            raise RubricError(
                f"Cannot save rubric '{rubric.name}' to {path} ({exc.strerror or exc}); check "
                "that the folder is writable, or set FLOWJUDGE_HOME to a writable folder."
            ) from None
        return path

    def delete_user_rubric(self, name: str) -> None:
        """Delete the user's rubric file; runs keep the versions they were judged with (the
        store has them), and a built-in of the same name is in use again."""
        path = self.paths.rubrics_dir / f"{name}.toml"
        if not path.is_file():
            raise RubricError(f"'{name}' is not a user rubric; built-in rubrics cannot be deleted.")
        try:
            path.unlink()
        except OSError as exc:
            raise RubricError(
                f"Cannot delete {path} ({exc.strerror or exc}); check the folder's permissions."
            ) from None
