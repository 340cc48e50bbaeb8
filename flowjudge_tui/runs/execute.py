"""Executing a run: judge its pending items one by one, committing each verdict as it is made.

Each execution judges only the items that have no verdict yet, so a run killed at any moment
(even by SIGKILL) loses nothing committed and judges nothing twice. Work done before (same
model file, rubric version, item and settings, in any run) is copied instead of judged again.
Items too long for the context are recorded as skipped, and so are items whose judgment met
NaN or infinite logits (the model is then flagged in the store). While it judges, the process
refreshes the run's heartbeat, so a run whose owner vanished can be taken over.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowjudge_tui.errors import InvalidLogitsError, ItemError, ModelError, PromptTooLongError
from flowjudge_tui.judging.backend import (
    JudgeEngine,
    JudgmentCancelled,
    SamplingSettings,
    StopCheck,
)
from flowjudge_tui.judging.judge import judge_item
from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.judging.verdict import Verdict
from flowjudge_tui.progress import ProgressCallback, RateMeter
from flowjudge_tui.runs.work import fingerprint_of_kind, work_key
from flowjudge_tui.store import ItemRecord, NewVerdict, RunRecord, Store, VerdictRecord

PENDING_BATCH = 64
# The stop reason of an item skipped because the model computed NaN or infinite logits.
INVALID_LOGITS = "invalid_logits"


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
    force: bool = False,
) -> RunSummary:
    """Judge the run's pending items with ``engine`` until none is left or ``stop`` is set.

    ``stop`` is checked between items and during each judgment; a judgment stopped midway is
    discarded. The run ends 'done', 'cancelled' (stopped; resumable) or 'failed' (an
    unexpected error, re-raised; resumable). Blocking: call it from a worker thread in an app.
    ``force`` takes the run over from an owner that looks alive (see ``Store.claim_run``).
    """
    run = store.get_run(run_id)
    _check_engine(run, engine)
    run = store.claim_run(run_id, force=force)
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
        with store.heartbeat(run_id):
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
                    if new.stop_reason == INVALID_LOGITS:
                        store.flag_model(run.model_fingerprint, run.model_name,
                                         new.skip_reason or "")
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
    """Refuse to go on with another model than the run's: its verdicts would not compare."""
    path = engine.path
    if (path is not None and path.is_file()
            and fingerprint_of_kind(path, run.fingerprint_kind) == run.model_fingerprint):
        return
    if path is None and engine.model_name == run.model_name:
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
    except InvalidLogitsError as exc:
        return NewVerdict(status="skipped", work_key=key, skip_reason=str(exc),
                          stop_reason=INVALID_LOGITS)
    return verdict_to_store(verdict, key)


def verdict_to_store(verdict: Verdict, key: str) -> NewVerdict:
    return NewVerdict(status="judged", work_key=key, **_verdict_fields(verdict))


