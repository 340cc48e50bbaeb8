"""Executing runs: judge their pending items, committing each verdict as it is made.

Several runs (one dataset under several rubrics) execute together: an item's judgments are
asked for side by side, so a batching engine shares the item's part of the prompt.

Each execution judges only the items that have no verdict yet, so a run killed at any moment
(even by SIGKILL) loses nothing committed and judges nothing twice. Work done before (same
model file, rubric version, item and settings, in any run) is copied instead of judged again.
Items too long for the context are recorded as skipped (marked ``TOO_LONG``: ``runs.retry``
judges them again with a larger context), and so are items whose judgment met NaN or infinite
logits (the model is then flagged in the store). While it judges, the process refreshes the
run's heartbeat, so a run whose owner vanished can be taken over.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, cast

from flowjudge_tui.errors import InvalidLogitsError, ItemError, ModelError, PromptTooLongError
from flowjudge_tui.judging.backend import (
    BatchJudgeEngine,
    FeedbackCallback,
    JudgeEngine,
    JudgeOutcome,
    JudgeRequest,
    JudgmentCancelled,
    StopCheck,
)
from flowjudge_tui.judging.judge import judge_many, verdict_from_result
from flowjudge_tui.judging.prompt import build_prompt
from flowjudge_tui.judging.verdict import Verdict
from flowjudge_tui.progress import ProgressCallback, RateMeter
from flowjudge_tui.runs.work import (
    fingerprint_of_kind,
    served_fingerprint,
    served_model_of,
    work_key,
)
from flowjudge_tui.store import (
    TOO_LONG,
    ItemRecord,
    NewVerdict,
    RunRecord,
    Store,
    VerdictRecord,
)

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
    too_long: int = 0
    """Of ``skipped``, the items too long for the context."""


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
    [summary] = execute_runs(store, [run_id], engine, on_progress=on_progress,
                             on_verdict=on_verdict, on_feedback=on_feedback, stop=stop,
                             force=force)
    return summary


def execute_runs(
    store: Store,
    run_ids: Sequence[int],
    engine: JudgeEngine,
    *,
    on_progress: ProgressCallback | None = None,
    on_verdict: VerdictCallback | None = None,
    on_feedback: ItemFeedback | None = None,
    stop: Stop | None = None,
    force: bool = False,
) -> list[RunSummary]:
    """Judge several runs together (e.g. one dataset under several rubrics), as ``execute_run``.

    An item's judgments under every run are asked for one after another, as one group, so a
    batching engine (``engine.batched``) evaluates the item's part of the prompt once. Every
    verdict is committed the moment it is made; all the runs end in the same state.
    """
    runs = [_check_engine(store, store.get_run(run_id), engine) for run_id in run_ids]
    runs = [store.claim_run(run.id, force=force) for run in runs]
    work = _RunsWork(store, runs, engine, on_progress, on_verdict, on_feedback, stop)
    ids = [run.id for run in runs]
    try:
        with ExitStack() as beating:
            for run_id in ids:
                beating.enter_context(store.heartbeat(run_id))
            work.execute()
    except (_Stopped, JudgmentCancelled, KeyboardInterrupt) as exc:
        for run_id in ids:
            store.finish_run(run_id, "cancelled")
        work.stopped = True
        if isinstance(exc, KeyboardInterrupt):
            raise
    except BaseException as exc:
        for run_id in ids:
            store.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    else:
        for run_id in ids:
            store.finish_run(run_id, "done")
    work.progress(finished=True)
    return work.summaries()


class _RunsWork:
    """The pending (run, item) pairs of several runs, fed to the engine item by item."""

    def __init__(self, store: Store, runs: list[RunRecord], engine: JudgeEngine,
                 on_progress: ProgressCallback | None, on_verdict: VerdictCallback | None,
                 on_feedback: ItemFeedback | None, stop: Stop | None) -> None:
        self.store = store
        self.runs = {run.id: run for run in runs}
        self.engine = engine
        self.rubrics = {run.id: store.get_rubric(run.rubric_hash) for run in runs}
        self.on_progress = on_progress
        self.on_verdict = on_verdict
        self.on_feedback = on_feedback
        self.should_stop = _stop_check(stop)
        total = sum(run.total_items for run in runs)
        label = "Run " + ", ".join(str(run.id) for run in runs)
        self.done = {run.id: run.done for run in runs}
        self.meter = RateMeter(label, total, unit="verdicts", start_done=sum(self.done.values()),
                               rate_unit="judged")
        self.counts = {run.id: {"judged": 0, "reused": 0, "skipped": 0, "too_long": 0}
                       for run in runs}
        self.tokens = 0
        self.started = time.monotonic()
        self.stopped = False
        self.in_flight: set[str] = set()
        # A request's start changes what the panel says only when several are in flight.
        self.reports_starts = bool(_activity(self.engine, 0, 0, 0, 0.0))
        self.deferred: list[tuple[RunRecord, ItemRecord, str]] = []

    def execute(self) -> None:
        self.progress()
        self._judge(self._pairs())
        while self.deferred:
            again, self.deferred = self.deferred, []
            self._judge(iter(again))

    def _pairs(self) -> Iterator[tuple[RunRecord, ItemRecord, str]]:
        """Every pending (run, item, work key), an item's runs next to each other."""
        pending: dict[int, list[tuple[RunRecord, ItemRecord]]] = {}
        for run in self.runs.values():
            after_row = 0
            while batch := self.store.pending_items(run.id, PENDING_BATCH, after_row):
                for item in batch:
                    pending.setdefault(item.row_number, []).append((run, item))
                    after_row = item.row_number
        load = self.engine.load
        for row in sorted(pending):
            for run, item in pending[row]:
                key = work_key(run.model_fingerprint, run.rubric_hash, item.content_hash,
                               run.settings.sampling, load)
                yield run, item, key

    def _requests(self, pairs: Iterator[tuple[RunRecord, ItemRecord, str]]
                  ) -> Iterator[JudgeRequest]:
        for run, item, key in pairs:
            if self.should_stop():
                raise _Stopped
            if key in self.in_flight:
                self.deferred.append((run, item, key))  # the same work: reuse it when done
                continue
            reused = _reuse(self.store, key)
            if reused is not None:
                self._commit(run, item, reused)
                continue
            rubric = self.rubrics[run.id]
            try:
                prompt = build_prompt(rubric, item.to_item())
            except ItemError as exc:
                self._commit(run, item, NewVerdict(status="skipped", work_key=key,
                                                   skip_reason=str(exc)))
                continue
            self.in_flight.add(key)
            if self.reports_starts:
                self.progress()
            yield JudgeRequest(
                key=(run.id, item, key), prompt=prompt, scores=tuple(rubric.score_values),
                sampling=run.settings.sampling, group=item.content_hash,
                on_feedback=self._stream(item))

    def _stream(self, item: ItemRecord) -> FeedbackCallback | None:
        on_feedback = self.on_feedback
        if on_feedback is None:
            return None
        return lambda text: on_feedback(item, text)

    def _judge(self, pairs: Iterator[tuple[RunRecord, ItemRecord, str]]) -> None:
        for outcome in judge_many(self.engine, self._requests(pairs), self.should_stop):
            run_id, item, key = cast(tuple[int, ItemRecord, str], outcome.request.key)
            self.in_flight.discard(key)
            run = self.runs[run_id]
            self._commit(run, item, self._verdict(run, key, outcome))
            if self.should_stop():
                raise _Stopped

    def _verdict(self, run: RunRecord, key: str, outcome: JudgeOutcome) -> NewVerdict:
        """What to store: the verdict, or why the item was skipped (NaN logits flag the
        model in the store)."""
        try:
            if outcome.error is not None:
                raise outcome.error
            assert outcome.result is not None
            verdict = verdict_from_result(self.rubrics[run.id], self.engine.model_name,
                                          outcome.result)
        except PromptTooLongError as exc:
            return NewVerdict(status="skipped", work_key=key, skip_reason=str(exc),
                              stop_reason=TOO_LONG)
        except ItemError as exc:
            return NewVerdict(status="skipped", work_key=key, skip_reason=str(exc))
        except InvalidLogitsError as exc:
            self.store.flag_model(run.model_fingerprint, run.model_name, str(exc))
            return NewVerdict(status="skipped", work_key=key, skip_reason=str(exc),
                              stop_reason=INVALID_LOGITS)
        return verdict_to_store(verdict, key)

    def _commit(self, run: RunRecord, item: ItemRecord, new: NewVerdict) -> None:
        record = self.store.add_verdict(run.id, item.id, new)
        self.counts[run.id][record.status] += 1
        if record.stop_reason == TOO_LONG:
            self.counts[run.id]["too_long"] += 1
        self.done[run.id] += 1
        if record.status == "judged":
            self.tokens += record.completion_tokens
        if self.on_verdict is not None:
            self.on_verdict(VerdictEvent(run.id, item, record, self.done[run.id],
                                         run.total_items))
        self.progress()

    def progress(self, finished: bool = False) -> None:
        if self.on_progress is None:
            return
        totals = {name: sum(c[name] for c in self.counts.values())
                  for name in ("judged", "reused", "skipped", "too_long")}
        if finished:
            done = sum(self.store.get_run(run_id).done for run_id in self.runs)
        else:
            done = sum(self.done.values())
        seconds = time.monotonic() - self.started
        detail = _detail(self.tokens, seconds, totals)
        activity = "" if finished else _activity(self.engine, len(self.in_flight),
                                                 totals["judged"], self.tokens, seconds)
        # The rate and ETA count judged verdicts only: reused and skipped ones cost no judging.
        self.on_progress(self.meter.event(done, detail, finished=finished, activity=activity,
                                          worked=totals["judged"]))

    def summaries(self) -> list[RunSummary]:
        seconds = time.monotonic() - self.started
        return [RunSummary(self.store.get_run(run_id), c["judged"], c["reused"], c["skipped"],
                           self.stopped, seconds, c["too_long"])
                for run_id, c in self.counts.items()]


def _check_engine(store: Store, run: RunRecord, engine: JudgeEngine) -> RunRecord:
    """The run, if ``engine`` is its judge; a served run may move to another server serving
    the same model. Another model than the run's is refused: its verdicts would not compare."""
    served = served_model_of(engine)
    if run.server_url is not None or served is not None:
        if served is None or run.server_url is None:
            where = (f"the server at {run.server_url}" if run.server_url
                     else f"the model file {run.model_name}")
            raise ModelError(f"Run {run.id} is judged by {where}; continue it with the same "
                             "kind of judge ('flowjudge runs resume' picks it).")
        if served.model != run.model_name:
            raise ModelError(
                f"Run {run.id} is judged by {run.model_name}, but {served.server} serves "
                f"{served.model}; give --server-model {run.model_name}."
            )
        if served.server != run.server_url:
            return store.move_run_to_server(run.id, served.server,
                                            served_fingerprint(served)[0])
        return run
    path = engine.path
    if (path is not None and path.is_file()
            and fingerprint_of_kind(path, run.fingerprint_kind) == run.model_fingerprint):
        return run
    if path is None and engine.model_name == run.model_name:
        return run
    raise ModelError(
        f"Run {run.id} is judged by {run.model_name}, not the loaded {engine.model_name}; "
        f"load {run.model_path} to continue it."
    )


def _activity(engine: JudgeEngine, in_flight: int, judged: int, tokens: int,
              seconds: float) -> str:
    """Judgments in flight and, for a server, its throughput over the run so far; for a model
    in-process, its parallel sequences when there are several."""
    parallel = engine.n_parallel if isinstance(engine, BatchJudgeEngine) else 1
    if served_model_of(engine) is None:
        return f"{in_flight} of {parallel} parallel sequences busy" if parallel > 1 else ""
    concurrency = int(getattr(engine, "concurrency", parallel))
    parts = [f"{in_flight} in flight of concurrency {concurrency}"]
    if parallel < concurrency:
        parts[0] += f" (the server takes {parallel} at a time)"
    if judged and seconds > 0:
        parts.append(f"server: {judged * 3600 / seconds:.0f} items/h, "
                     f"{tokens / seconds:.1f} tok/s generated")
    return "  ·  ".join(parts)


def _detail(tokens: int, seconds: float, counts: dict[str, int]) -> str:
    """Throughput over wall-clock time (batched judgments overlap), reuse and skips."""
    parts = []
    if seconds > 0:
        parts.append(f"{tokens / seconds:.1f} tok/s")
    if counts["reused"]:
        parts.append(f"{counts['reused']} reused")
    if counts["skipped"]:
        too_long = f" ({counts['too_long']} too long)" if counts["too_long"] else ""
        parts.append(f"{counts['skipped']} skipped{too_long}")
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


def verdict_to_store(verdict: Verdict, key: str) -> NewVerdict:
    return NewVerdict(status="judged", work_key=key, **_verdict_fields(verdict))


