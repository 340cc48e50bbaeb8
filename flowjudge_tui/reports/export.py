"""Exporting a run: JSONL in the official flow-judge result layout, CSV, or one HTML report.

The JSONL file has one ``{"sample": {"inputs": [...], "output": {...}}, "feedback", "score"}``
object per verdict, as ``flow_judge.utils.result_writer`` writes it, with our own fields
alongside; a metadata JSON file with the library's keys is written next to it.
"""

from __future__ import annotations

import csv
import json
import math
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from flowjudge_tui import __version__
from flowjudge_tui.errors import StoreError
from flowjudge_tui.files import atomic_open, export_file_name
from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.store import JudgedItem, RunRecord, Store

ExportFormat = Literal["jsonl", "csv", "html"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv", "html")
MODEL_TYPE = "llama_cpp"
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def metadata_path(out: Path) -> Path:
    """Where the metadata of a JSONL export goes: ``results.jsonl`` -> ``results.metadata.json``."""
    return out.with_name(f"{out.stem}.metadata.json")


def result_record(entry: JudgedItem, rubric: Rubric, run: RunRecord) -> dict[str, Any]:
    """One verdict in flow-judge's result layout, plus our fields."""
    item, verdict = entry.item, entry.verdict
    return {
        "sample": {
            "inputs": [{name: item.inputs[name]} for name in rubric.inputs if name in item.inputs],
            "output": {rubric.output: item.output},
        },
        "feedback": verdict.feedback,
        "score": verdict.score,
        "distribution": {str(k): p for k, p in sorted(verdict.distribution.items())},
        "expected_score": verdict.expected_score,
        "confidence": verdict.confidence,
        "score_mass": verdict.score_mass,
        "human_label": entry.human_score,
        "human_comment": entry.label.comment if entry.label else "",
        "status": verdict.status,
        "skip_reason": verdict.skip_reason,
        "stop_reason": verdict.stop_reason,
        "prompt_tokens": verdict.prompt_tokens,
        "completion_tokens": verdict.completion_tokens,
        "seconds": verdict.seconds,
        "item_id": item.id,
        "row_number": item.row_number,
        "source_key": item.source_key,
        "run_id": run.id,
        "rubric": rubric.name,
        "rubric_hash": rubric.content_hash,
        "model": run.model_name,
    }


def run_metadata(run: RunRecord, rubric: Rubric) -> dict[str, Any]:
    """The library's metadata keys (library_version, timestamp, model_id, model_type,
    generation_params, kwargs) and ours."""
    sampling = run.settings.sampling
    return {
        "library_version": f"flowjudge-tui {__version__}",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S.%f")[:-3],
        "model_id": run.model_name,
        "model_type": MODEL_TYPE,
        "generation_params": {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_new_tokens": sampling.max_feedback_tokens,
            "seed": sampling.seed,
        },
        "kwargs": asdict(run.settings.load),
        "metric_name": rubric.name,
        "rubric_hash": rubric.content_hash,
        "rubric_toml": rubric.to_toml(),
        "run_id": run.id,
        "run_name": run.name,
        "status": run.status,
        "dataset": run.dataset_name,
        "model_path": run.model_path,
        "server": run.server_url,
        "model_fingerprint": run.model_fingerprint,
        "fingerprint_kind": run.fingerprint_kind,
        "total_items": run.total_items,
        "judged": run.judged,
        "reused": run.reused,
        "skipped": run.skipped,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
    }


def export_target(out: Path, store_path: Path | None = None,
                  suggested: str = "results.jsonl") -> Path:
    """The file an export to ``out`` really writes, or a sentence saying why not.

    A symlink is followed, so its target is replaced and the link stays. The store itself, a
    directory, a device or anything else that is not a regular file is refused; ``suggested``
    is the file name offered instead (``files.export_file_name``: the run's, in the format
    asked for).
    """
    if not str(out).strip() or not out.name or out.name in (".", ".."):
        raise StoreError(f"The output path {str(out)!r} names no file; give a file name, "
                         f"e.g. --out {suggested}.")
    try:
        target = out.expanduser().resolve()
    except (OSError, RuntimeError) as exc:
        raise StoreError(f"Cannot follow the output path {out} ({exc}); choose another "
                         "path.") from None
    if target.is_dir():
        raise StoreError(f"The output path {out} is a folder; give a file name inside it, "
                         f"e.g. {out / suggested}.")
    if target.exists() and not stat.S_ISREG(target.stat().st_mode):
        raise StoreError(f"The output path {out} is not a regular file (a device, pipe or "
                         "socket); choose a file name.")
    if store_path is not None and _is_store_file(target, store_path):
        raise StoreError(f"The output path {out} is flowjudge's own database; writing there "
                         "would destroy every run, so choose another file name.")
    return target


def _is_store_file(target: Path, store_path: Path) -> bool:
    try:
        store = store_path.resolve()
    except (OSError, RuntimeError):
        return False
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = store.with_name(store.name + suffix)
        if target == candidate:
            return True
        try:
            if target.exists() and candidate.exists() and target.samefile(candidate):
                return True
        except OSError:
            continue
    return False


@contextmanager
def _atomic(path: Path) -> Iterator[TextIO]:
    """Write to a temporary file beside ``path`` and move it into place only when complete.

    ``path`` has been through ``export_target``: a real file name, symlinks resolved.
    """
    try:
        with atomic_open(path) as stream:
            yield stream
    except OSError as exc:
        raise StoreError(f"Cannot write {path} ({exc.strerror or exc}); choose another path."
                         ) from None


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def spreadsheet_safe(text: str) -> str:
    """A text cell a spreadsheet shows as text: a leading ``'`` stops formulas (=, +, -, @)."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _write_jsonl(out: Path, run: RunRecord, rubric: Rubric, entries: list[JudgedItem]) -> None:
    with _atomic(out) as stream:
        for entry in entries:
            record = json_safe(result_record(entry, rubric, run))
            stream.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
    with _atomic(metadata_path(out)) as stream:
        json.dump(json_safe(run_metadata(run, rubric)), stream, ensure_ascii=False, indent=2,
                  allow_nan=False)


def _write_csv(out: Path, run: RunRecord, rubric: Rubric, entries: list[JudgedItem]) -> None:
    header = [
        "item_id", "row_number", "source_key", *rubric.inputs, rubric.output, "score",
        "expected_score", "confidence", "score_mass",
        *[f"p_{score}" for score in rubric.score_values],
        "feedback", "human_label", "human_comment", "status", "skip_reason", "stop_reason",
        "prompt_tokens", "completion_tokens", "seconds", "rubric_hash", "model",
    ]
    with _atomic(out) as stream:
        writer = csv.writer(stream)
        writer.writerow([spreadsheet_safe(name) for name in header])
        for entry in entries:
            item, verdict = entry.item, entry.verdict
            text = spreadsheet_safe
            writer.writerow([
                item.id, item.row_number, text(item.source_key or ""),
                *[text(item.inputs.get(name, "")) for name in rubric.inputs], text(item.output),
                _cell(verdict.score), _cell(verdict.expected_score), _cell(verdict.confidence),
                _cell(verdict.score_mass),
                *[_cell(verdict.distribution.get(score)) for score in rubric.score_values],
                text(verdict.feedback), _cell(entry.human_score),
                text(entry.label.comment if entry.label else ""), verdict.status,
                text(verdict.skip_reason or ""), verdict.stop_reason, verdict.prompt_tokens,
                verdict.completion_tokens, f"{verdict.seconds:.3f}", rubric.content_hash,
                text(run.model_name),
            ])


def _cell(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return repr(float(value)) if math.isfinite(value) else ""


def _write_html(out: Path, run: RunRecord, rubric: Rubric, entries: list[JudgedItem]) -> None:
    # The report's figures need numpy; the other formats, and importing this module, do not.
    from flowjudge_tui.reports.agreement import stats_from_items
    from flowjudge_tui.reports.html import render_html

    stats = stats_from_items(run, rubric, entries)
    with _atomic(out) as stream:
        stream.write(render_html(run, rubric, entries, stats))


_WRITERS: dict[ExportFormat, Callable[[Path, RunRecord, Rubric, list[JudgedItem]], None]] = {
    "jsonl": _write_jsonl,
    "csv": _write_csv,
    "html": _write_html,
}


def export_run(store: Store, run_id: int, fmt: ExportFormat, out: Path) -> list[Path]:
    """Write run ``run_id`` to ``out`` in ``fmt``; returns the files written."""
    if fmt not in _WRITERS:
        raise StoreError(f"Unknown export format '{fmt}'; use one of {', '.join(FORMATS)}.")
    run = store.get_run(run_id)
    target = export_target(out, store.path, export_file_name(run.id, fmt, run.name))
    if fmt == "jsonl":
        export_target(metadata_path(target), store.path)
    rubric = store.get_rubric(run.rubric_hash)
    _WRITERS[fmt](target, run, rubric, store.judged_items(run_id))
    return [target, metadata_path(target)] if fmt == "jsonl" else [target]
