"""Exporting a run: JSONL in the official flow-judge result layout, CSV, or one HTML report.

The JSONL file has one ``{"sample": {"inputs": [...], "output": {...}}, "feedback", "score"}``
object per verdict, as ``flow_judge.utils.result_writer`` writes it, with our own fields
alongside; a metadata JSON file with the library's keys is written next to it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from flowjudge_tui import __version__
from flowjudge_tui.errors import StoreError
from flowjudge_tui.files import atomic_open
from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.store import JudgedItem, RunRecord, Store

ExportFormat = Literal["jsonl", "csv", "html"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv", "html")
MODEL_TYPE = "llama_cpp"


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
        "status": run.status,
        "dataset": run.dataset_name,
        "model_path": run.model_path,
        "model_fingerprint": run.model_fingerprint,
        "fingerprint_kind": run.fingerprint_kind,
        "total_items": run.total_items,
        "judged": run.judged,
        "reused": run.reused,
        "skipped": run.skipped,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
    }


@contextmanager
def _atomic(path: Path) -> Iterator[TextIO]:
    """The export's file, written atomically; a failure to write is one sentence."""
    try:
        with atomic_open(path) as stream:
            yield stream
    except OSError as exc:
        raise StoreError(f"Cannot write {path} ({exc.strerror or exc}); choose another path."
                         ) from None


def _write_jsonl(out: Path, run: RunRecord, rubric: Rubric, entries: list[JudgedItem]) -> None:
    with _atomic(out) as stream:
        for entry in entries:
            stream.write(json.dumps(result_record(entry, rubric, run), ensure_ascii=False) + "\n")
    with _atomic(metadata_path(out)) as stream:
        json.dump(run_metadata(run, rubric), stream, ensure_ascii=False, indent=2)


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
        writer.writerow(header)
        for entry in entries:
            item, verdict = entry.item, entry.verdict
            writer.writerow([
                item.id, item.row_number, item.source_key or "",
                *[item.inputs.get(name, "") for name in rubric.inputs], item.output,
                _cell(verdict.score), _cell(verdict.expected_score), _cell(verdict.confidence),
                _cell(verdict.score_mass),
                *[_cell(verdict.distribution.get(score)) for score in rubric.score_values],
                verdict.feedback, _cell(entry.human_score),
                entry.label.comment if entry.label else "", verdict.status,
                verdict.skip_reason or "", verdict.stop_reason, verdict.prompt_tokens,
                verdict.completion_tokens, f"{verdict.seconds:.3f}", rubric.content_hash,
                run.model_name,
            ])


def _cell(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else repr(float(value))


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
    rubric = store.get_rubric(run.rubric_hash)
    _WRITERS[fmt](out, run, rubric, store.judged_items(run_id))
    return [out, metadata_path(out)] if fmt == "jsonl" else [out]
