"""The hostile-input corpus: every case, with the command it is fed to and what must happen.

Static cases are files in ``data/``, ``rubrics/`` and ``items/``; their expected exit status
is in ``cases.toml`` (with why). Cases too big or too binary to keep as files (GGUF headers,
100,000 levels of JSON nesting, huge cells, special paths) are made here, in a folder the test
gives, with their expectations beside them.
"""

from __future__ import annotations

import os
import struct
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
CATEGORIES = ("data", "rubrics", "items", "gguf", "paths", "ids")


@dataclass(frozen=True)
class Case:
    """One hostile input: ``argv`` is the flowjudge command line, with ``{model}`` for the tiny
    scripted model, ``{database}`` for the store and ``{case}`` for the case's own file."""

    category: str
    name: str
    argv: tuple[str, ...]
    status: int
    why: str
    path: Path | None = None

    @property
    def id(self) -> str:
        return f"{self.category}/{self.name}"


def _manifest() -> dict[str, dict[str, dict[str, object]]]:
    with (HERE / "cases.toml").open("rb") as handle:
        return tomllib.load(handle)


# The command each category's files are fed to.
COMMANDS: dict[str, tuple[str, ...]] = {
    "data": ("run", "--model", "{model}", "--rubric", "faithfulness-context-binary",
             "--data", "{case}", "--max-tokens", "16", "--json"),
    "rubrics": ("rubrics", "validate", "{case}"),
    "items": ("judge", "--model", "{model}", "--rubric", "faithfulness-context-binary",
              "--item", "{case}", "--max-tokens", "16"),
    "gguf": ("models", "add", "{case}"),
}


def static_cases() -> list[Case]:
    """Every file of the corpus folders, with its expectation from ``cases.toml``."""
    manifest = _manifest()
    cases = []
    for category in ("data", "rubrics", "items"):
        expected = manifest.get(category, {})
        files = sorted(p for p in (HERE / category).iterdir() if p.is_file())
        missing = {p.name for p in files} - set(expected)
        assert not missing, f"no expectation in cases.toml for {category}/{sorted(missing)}"
        for path in files:
            entry = expected[path.name]
            extra = entry.get("args", [])
            assert isinstance(extra, list)
            argv = (*COMMANDS[category], *(str(a) for a in extra))
            cases.append(Case(category, path.name, argv, int(str(entry["status"])),
                              str(entry["why"]), path))
    return cases


# --- generated cases -------------------------------------------------------------------------

def _gguf_cases(small_gguf: bytes) -> list[tuple[str, bytes, int, str]]:
    def patch(offset: int, value: bytes) -> bytes:
        data = bytearray(small_gguf)
        data[offset:offset + len(value)] = value
        return bytes(data)

    u32, u64 = (lambda v: struct.pack("<I", v)), (lambda v: struct.pack("<Q", v))
    return [
        ("empty.gguf", b"", 2, "an empty file is not a model"),
        ("wrong_magic.gguf", patch(0, b"GGML"), 2, "the magic says it is not GGUF"),
        ("truncated_header.gguf", small_gguf[:100], 2, "the header ends midway"),
        ("version_99.gguf", patch(4, u32(99)), 2, "a GGUF version this reader does not know"),
        ("tensor_count_2_63.gguf", patch(8, u64(2**63)), 2, "a tensor count beyond reason"),
        ("kv_count_2_63.gguf", patch(16, u64(2**63)), 2, "a metadata count beyond reason"),
        ("key_length_2_62.gguf", patch(24, u64(2**62)), 2, "a string length beyond the file"),
        ("value_type_99.gguf", _first_value_type(small_gguf, 99), 2, "an unknown value type"),
        ("data_cut_short.gguf", small_gguf[: len(small_gguf) * 3 // 4], 2,
         "the tensor data ends before the tensors do"),
        ("random_bytes.gguf", b"GGUF" + bytes(range(256)) * 8, 2,
         "the magic followed by junk"),
        ("valid_small.gguf", small_gguf, 0, "a small but complete phi3 GGUF is accepted"),
    ]


def _first_value_type(data: bytes, value_type: int) -> bytes:
    key_length = struct.unpack_from("<Q", data, 24)[0]
    at = 32 + key_length
    patched = bytearray(data)
    patched[at:at + 4] = struct.pack("<I", value_type)
    return bytes(patched)


Maker = Callable[[Path, bytes], None]
"""Writes a generated case's file at the path given (the small GGUF's bytes at hand)."""


def _text(content: str) -> Maker:
    return lambda path, _gguf: path.write_text(content, encoding="utf-8")


GOOD_ROW = '{"query": "Q", "context": "C", "response": "R"}\n'
GENERATED: list[tuple[str, str, int, str, Maker]] = [
    ("data", "deep_nesting.jsonl", 0,
     "100,000 levels of nesting are one bad row; the good row is judged",
     _text("[" * 100_000 + "]" * 100_000 + "\n" + GOOD_ROW)),
    ("data", "huge_cell.csv", 0,
     "a 300 kB cell is read; its item is too long for the context and skipped",
     _text("query,context,response\nQ," + "word " * 60_000 + ",R\nQ,C,R\n")),
    ("data", "many_columns.csv", 0, "5,000 columns: the three the rubric needs are found",
     _text(",".join(["query", "context", "response"] + [f"c{n}" for n in range(5000)]) + "\n"
           + ",".join(["Q", "C", "R"] + ["x"] * 5000) + "\n")),
    ("items", "deep_nesting.json", 2, "JSON nested too deeply to be an item",
     _text("[" * 100_000 + "]" * 100_000)),
    ("items", "too_long.json", 2,
     "an item far longer than the context is refused before generating",
     _text('{"inputs": {"query": "Q", "context": "' + "word " * 8000 + '"}, "output": "R"}')),
    ("rubrics", "two_megabytes.toml", 2, "larger than a rubric can be",
     _text('name = "big"\n# ' + "x" * (2 << 20) + "\n")),
]


def _gguf_maker(index: int) -> Maker:
    return lambda path, small: path.write_bytes(_gguf_cases(small)[index][1])


def generated_cases() -> list[tuple[Case, Maker]]:
    """The generated cases (files under ``{generated}/CATEGORY/NAME``) and their makers."""
    found = [(Case(category, name, COMMANDS[category], status, why), make)
             for category, name, status, why, make in GENERATED]
    for index, (name, _, status, why) in enumerate(_gguf_cases(b"\0" * 64)):
        found.append((Case("gguf", name, COMMANDS["gguf"], status, why), _gguf_maker(index)))
    return found


# --- special paths -----------------------------------------------------------------------------

READERS: dict[str, tuple[str, ...]] = {
    "data": ("run", "--model", "{model}", "--rubric", "faithfulness-context-binary", "--data"),
    "item": ("judge", "--rubric", "faithfulness-context-binary", "--print-prompt", "--item"),
    "rubric": ("rubrics", "validate"),
    "model": ("models", "add"),
}
READ_TARGETS = (("folder", "{folder}"), ("named_pipe", "{fifo}"), ("dev_zero", "/dev/zero"),
                ("symlink_loop", "{loop}"), ("missing", "{missing}"), ("empty_path", ""))
EXPORT_TARGETS = (
    ("empty", "", 2, "an empty --out names no file"),
    ("dot", ".", 2, "'.' names no file"),
    ("folder", "{folder}", 2, "a folder is not overwritten"),
    ("dev_null", "/dev/null", 2, "a device is not replaced"),
    ("named_pipe", "{fifo}", 2, "a pipe is not replaced"),
    ("symlink_loop", "{loop}", 2, "a symlink loop cannot be followed"),
    ("the_database", "{database}", 2, "the store itself is never overwritten"),
    ("symlink_to_database", "{store_link}", 2, "nor through a symlink to it"),
    ("symlink", "{link}", 0, "a symlink's target is replaced and the link stays"),
    ("odd_name", "{odd}", 0, "escape sequences and a newline in a file name are fine"),
    ("new_folder", "{missing}", 0, "a missing folder is created"),
    ("proc", "/proc/version", 2, "a file the kernel lets no one write"),
)


def path_cases() -> list[Case]:
    """Special paths where a file is read or written (placeholders filled by ``make_paths``)."""
    cases = [Case("paths", f"{reader}_{name}", (*argv, target), 2,
                  f"{name.replace('_', ' ')} given as the {reader} file")
             for reader, argv in READERS.items() for name, target in READ_TARGETS]
    cases += [Case("paths", f"export_{name}",
                   ("export", "{run}", "--format", "csv", "--out", target), status, why)
              for name, target, status, why in EXPORT_TARGETS]
    return cases


def make_paths(folder: Path, database: Path) -> dict[str, str]:
    """Create the special files under ``folder``; the placeholders for ``path_cases``."""
    folder.mkdir(parents=True, exist_ok=True)
    loop = folder / "loop"
    loop.symlink_to(loop)
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    target = folder / "target.csv"
    target.write_text("old\n")
    link = folder / "link.csv"
    link.symlink_to(target)
    store_link = folder / "innocent.csv"
    store_link.symlink_to(database)
    return {"folder": str(folder), "fifo": str(fifo), "loop": str(loop), "link": str(link),
            "store_link": str(store_link), "database": str(database),
            "odd": str(folder / "name with \x1b]0;PWNED\x07 and\nnewline.csv"),
            "missing": str(folder / "no-such-folder" / "file.csv")}


# --- ids and numbers on the command line -----------------------------------------------------

HUGE = str(2**64)
ID_COMMANDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("runs_show_2_64", ("runs", "show", HUGE), "a run id beyond 64 bits"),
    ("runs_resume_2_64", ("runs", "resume", HUGE), "a run id beyond 64 bits"),
    ("runs_resume_negative", ("runs", "resume", "-1"), "a negative run id"),
    ("stats_2_64", ("stats", HUGE), "a run id beyond 64 bits"),
    ("compare_2_64", ("compare", HUGE, "{run}"), "a run id beyond 64 bits"),
    ("export_2_64", ("export", HUGE, "--format", "jsonl", "--out", "{folder}/x.jsonl"),
     "a run id beyond 64 bits"),
    ("judge_nan_temperature", ("judge", "--model", "{model}", "--rubric",
                               "faithfulness-context-binary", "--input", "query=q", "--input",
                               "context=c", "--output", "o", "--temperature", "nan"),
     "a NaN temperature"),
    ("judge_seed_2_64", ("judge", "--model", "{model}", "--rubric",
                         "faithfulness-context-binary", "--input", "query=q", "--input",
                         "context=c", "--output", "o", "--seed", HUGE), "a seed beyond 32 bits"),
    ("run_max_tokens_zero", ("run", "--model", "{model}", "--rubric",
                             "faithfulness-context-binary", "--data", "{folder}/none.csv",
                             "--max-tokens", "0"), "a feedback budget of zero"),
)


def id_cases() -> list[Case]:
    """Numbers out of range where the command line takes an id or a setting."""
    return [Case("ids", name, argv, 2, why) for name, argv, why in ID_COMMANDS]
