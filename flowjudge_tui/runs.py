"""Batch runs: judge a dataset's items one by one, committing each verdict as it is made.

A run is created once (``create_run``) and executed any number of times (``execute_run``,
``resume_run``): each execution judges only the items that have no verdict yet, so a run killed
at any moment (even by SIGKILL) loses nothing committed and judges nothing twice. Work done
before (same model file, rubric version, item and sampling settings, in any run) is copied
instead of judged again. Items too long for the context are recorded as skipped.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flowjudge_tui.engine.base import (
    JudgeEngine,
    JudgmentCancelled,
    LoadSettings,
    SamplingSettings,
    StopCheck,
)
from flowjudge_tui.errors import DatasetError, ItemError, ModelError, PromptTooLongError
from flowjudge_tui.judge import judge_item
from flowjudge_tui.progress import ProgressCallback, RateMeter
from flowjudge_tui.rubric import Item, Rubric
from flowjudge_tui.store import (
    FingerprintKind,
    ItemRecord,
    NewItem,
    NewVerdict,
    RunRecord,
    RunSettings,
    Store,
    VerdictRecord,
    open_store,
)
from flowjudge_tui.verdict import Verdict

FINGERPRINT_CHUNK = 1 << 20
PENDING_BATCH = 64
SPOT_CHECK_SOURCE = "spot check"


@dataclass(frozen=True)
class VerdictEvent:
    """A verdict was just committed."""

    run_id: int
    item: ItemRecord
    verdict: VerdictRecord
    done: int
    total: int


@dataclass(frozen=True)
class RunSummary:
    """What one execution of a run did; ``run`` is the run's record afterwards."""

    run: RunRecord
    judged: int
    reused: int
    skipped: int
    stopped: bool
    seconds: float


ItemFeedback = Callable[[ItemRecord, str], None]
VerdictCallback = Callable[[VerdictEvent], None]
Stop = threading.Event | StopCheck


def model_fingerprint(path: Path) -> tuple[str, FingerprintKind]:
    """A cheap identity for a model file: sha256 of its size, first MiB and last MiB.

    Hashing a whole 2.4 GB GGUF takes seconds; the size plus both ends tell files apart in
    practice (GGUF headers carry the tensor layout, quantization and metadata).
    """
    try:
        size = path.stat().st_size
        digest = hashlib.sha256(str(size).encode())
        with path.open("rb") as handle:
            digest.update(handle.read(FINGERPRINT_CHUNK))
            handle.seek(max(0, size - FINGERPRINT_CHUNK))
            digest.update(handle.read(FINGERPRINT_CHUNK))
    except OSError as exc:
        raise ModelError(f"Cannot read the model file {path} ({exc}); check the path.") from None
    return f"quick-v1:{digest.hexdigest()}", "quick-v1"


def work_key(
    fingerprint: str,
    rubric_hash: str,
    content_hash: str,
    sampling: SamplingSettings,
    load: LoadSettings,
) -> str:
    """Identifies one judgment's work: equal keys would give the same verdict.

    Of the load settings, only those that change what the model computes count: the context
    size (Phi-3 switches RoPE factors above 4096) and the KV cache types. GPU offload does not.
    """
    canonical = json.dumps(
        {"model": fingerprint, "rubric": rubric_hash, "item": content_hash,
         "sampling": asdict(sampling),
         "context": {"n_ctx": load.n_ctx, "type_k": load.type_k, "type_v": load.type_v}},
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def create_run(
    store: Store,
    dataset_id: int,
    rubric: Rubric,
    model_path: Path,
    settings: RunSettings | None = None,
) -> RunRecord:
    """A queued run of ``rubric`` over the dataset (its first ``settings.limit`` items)."""
    settings = settings or RunSettings()
    dataset = store.get_dataset(dataset_id)
    if sorted(dataset.input_fields) != sorted(rubric.inputs):
        fields = ", ".join(repr(f) for f in dataset.input_fields) or "no inputs"
        needed = ", ".join(repr(f) for f in rubric.inputs) or "no inputs"
        raise DatasetError(
            f"Dataset {dataset_id} ('{dataset.name}') gives {fields} but rubric '{rubric.name}' "
            f"needs {needed}; import the file again for this rubric."
        )
    if settings.limit is not None and settings.limit < 1:
        raise DatasetError("--limit must be at least 1.")
    total = dataset.item_count if settings.limit is None else min(settings.limit,
                                                                   dataset.item_count)
    fingerprint, kind = model_fingerprint(model_path)
    return store.create_run(
        dataset_id=dataset_id,
        rubric=rubric,
        model_name=model_path.name,
        model_path=str(model_path.resolve()),
        model_fingerprint=fingerprint,
        fingerprint_kind=kind,
        settings=settings,
        total_items=total,
    )


def _stop_check(stop: Stop | None) -> StopCheck:
    if stop is None:
        return lambda: False
    if isinstance(stop, threading.Event):
        return stop.is_set
    return stop


class _Stopped(Exception):
    pass


def execute_run(
    store: Store,
    run_id: int,
    engine: JudgeEngine,
    *,
    on_progress: ProgressCallback | None = None,
    on_verdict: VerdictCallback | None = None,
    on_feedback: ItemFeedback | None = None,
    stop: Stop | None = None,
) -> RunSummary:
    """Judge the run's pending items with ``engine`` until none is left or ``stop`` is set.

    ``stop`` is checked between items and during each judgment; a judgment stopped midway is
    discarded. The run ends 'done', 'cancelled' (stopped; resumable) or 'failed' (an
    unexpected error, re-raised; resumable). Blocking: call it from a worker thread in an app.
    """
    run = store.get_run(run_id)
    _check_engine(run, engine)
    run = store.claim_run(run_id)
    rubric = store.get_rubric(run.rubric_hash)
    should_stop = _stop_check(stop)
    sampling = run.settings.sampling
    load = engine.load
    meter = RateMeter(f"Run {run_id}", run.total_items, unit="verdicts", start_done=run.done)
    counts = {"judged": 0, "reused": 0, "skipped": 0}
    done, tokens, seconds = run.done, 0, 0.0
    started = time.monotonic()
    status: str = "done"
    if on_progress is not None:
        on_progress(meter.event(done))
    after_row = 0
    try:
        while batch := store.pending_items(run_id, PENDING_BATCH, after_row):
            for item in batch:
                if should_stop():
                    raise _Stopped
                after_row = item.row_number
                key = work_key(run.model_fingerprint, run.rubric_hash, item.content_hash,
                               sampling, load)
                new = _reuse(store, key) or _judge(
                    engine, rubric, item, sampling, key, on_feedback, should_stop
                )
                record = store.add_verdict(run_id, item.id, new)
                counts[record.status] += 1
                done += 1
                if record.status == "judged":
                    tokens += record.completion_tokens
                    seconds += record.seconds
                if on_verdict is not None:
                    on_verdict(VerdictEvent(run_id, item, record, done, run.total_items))
                if on_progress is not None:
                    on_progress(meter.event(done, _detail(tokens, seconds, counts)))
    except (_Stopped, JudgmentCancelled, KeyboardInterrupt) as exc:
        store.finish_run(run_id, "cancelled")
        status = "cancelled"
        if isinstance(exc, KeyboardInterrupt):
            raise
    except BaseException as exc:
        store.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    else:
        store.finish_run(run_id, "done")
    final = store.get_run(run_id)
    if on_progress is not None:
        on_progress(meter.event(final.done, _detail(tokens, seconds, counts), finished=True))
    return RunSummary(final, counts["judged"], counts["reused"], counts["skipped"],
                      status == "cancelled", time.monotonic() - started)


def _check_engine(run: RunRecord, engine: JudgeEngine) -> None:
    path = getattr(engine, "path", None)
    if isinstance(path, Path) and path.is_file():
        if model_fingerprint(path)[0] == run.model_fingerprint:
            return
    elif engine.model_name == run.model_name:
        return
    raise ModelError(
        f"Run {run.id} is judged by {run.model_name}, not the loaded {engine.model_name}; "
        f"load {run.model_path} to continue it."
    )


def _detail(tokens: int, seconds: float, counts: dict[str, int]) -> str:
    parts = []
    if seconds > 0:
        parts.append(f"{tokens / seconds:.1f} tok/s")
    if counts["reused"]:
        parts.append(f"{counts['reused']} reused")
    if counts["skipped"]:
        parts.append(f"{counts['skipped']} skipped")
    return ", ".join(parts)


# What a stored verdict copies from a Verdict, or from an earlier verdict it reuses.
_VERDICT_FIELDS = (
    "score", "feedback", "distribution", "expected_score", "confidence", "score_mass",
    "prompt_tokens", "completion_tokens", "seconds", "raw_text", "stop_reason",
)


def _verdict_fields(source: Verdict | VerdictRecord) -> dict[str, Any]:
    return {name: getattr(source, name) for name in _VERDICT_FIELDS}


def _reuse(store: Store, key: str) -> NewVerdict | None:
    found = store.find_reusable(key)
    if found is None:
        return None
    return NewVerdict(status="reused", work_key=key, reused_from=found.id,
                      **_verdict_fields(found))


def _judge(
    engine: JudgeEngine,
    rubric: Rubric,
    item: ItemRecord,
    sampling: SamplingSettings,
    key: str,
    on_feedback: ItemFeedback | None,
    should_stop: StopCheck,
) -> NewVerdict:
    stream = None if on_feedback is None else (lambda text: on_feedback(item, text))
    try:
        verdict = judge_item(engine, rubric, item.to_item(), sampling, stream, should_stop)
    except (PromptTooLongError, ItemError) as exc:
        return NewVerdict(status="skipped", work_key=key, skip_reason=str(exc))
    return _from_verdict(verdict, key)


def _from_verdict(verdict: Verdict, key: str) -> NewVerdict:
    return NewVerdict(status="judged", work_key=key, **_verdict_fields(verdict))


def keep_verdict(
    store: Store,
    rubric: Rubric,
    item: Item,
    verdict: Verdict,
    model_path: Path,
    settings: RunSettings,
) -> RunRecord:
    """Store a verdict made outside a run (a spot check) as a finished one-item run.

    It can then be reviewed, labelled, compared and exported like any run, and a run of the
    same item later reuses it.
    """
    item = rubric.check_item(item)
    fields = [*rubric.inputs, rubric.output]
    dataset = store.add_dataset(
        name=f"spot check · {rubric.name}",
        source_path=SPOT_CHECK_SOURCE,
        format="spot",
        columns=fields,
        mapping={name: name for name in fields},
        rubric=rubric,
        items=[NewItem(row_number=1, inputs=dict(item.inputs), output=item.output)],
    )
    run = create_run(store, dataset.id, rubric, model_path, settings)
    stored = store.items(dataset.id)[0]
    store.claim_run(run.id)
    key = work_key(run.model_fingerprint, rubric.content_hash, stored.content_hash,
                   settings.sampling, settings.load)
    store.add_verdict(run.id, stored.id, _from_verdict(verdict, key))
    return store.finish_run(run.id, "done")


def load_run_engine(run: RunRecord) -> JudgeEngine:
    """Load the model file a run was created with, with its memory plan."""
    from flowjudge_tui.engine.loader import load_engine

    path = Path(run.model_path)
    if not path.is_file():
        raise ModelError(
            f"Run {run.id} was judged with {path}, which is gone; put the file back to resume."
        )
    return load_engine(path, run.settings.load)


def resume_run(
    run_id: int,
    *,
    store: Store | None = None,
    engine: JudgeEngine | None = None,
    on_progress: ProgressCallback | None = None,
    on_verdict: VerdictCallback | None = None,
    on_feedback: ItemFeedback | None = None,
    stop: Stop | None = None,
) -> RunSummary:
    """Judge the items of run ``run_id`` that have no verdict yet.

    Loads the run's own model file unless ``engine`` is given (it must be the same file).
    """
    own_store = store is None
    active = store or open_store()
    try:
        run = active.get_run(run_id)
        if run.pending == 0 and run.state != "running":
            if run.status != "done":
                run = active.finish_run(run_id, "done")
            return RunSummary(run, 0, 0, 0, False, 0.0)
        return execute_run(
            active,
            run_id,
            engine or load_run_engine(run),
            on_progress=on_progress,
            on_verdict=on_verdict,
            on_feedback=on_feedback,
            stop=stop,
        )
    finally:
        if own_store:
            active.close()
