"""Several judgments in flight on one server (a run's ``--concurrency``).

The server batches the requests it holds (llama.cpp's ``--parallel`` slots, vLLM's continuous
batching); this keeps ``concurrency`` of them in flight from threads of this process and
yields each outcome as it finishes, in any order. Requests are read lazily in the calling
thread, so whatever the caller does while producing them (committing reused verdicts) stays
in its thread. When one judgment fails for a reason other than a refused item, the others are
cancelled, the outcomes already finished are still yielded, and the error is raised
(a refused item, ``ItemError``, is that item's outcome).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from flowjudge_tui.errors import InvalidLogitsError, ItemError, PromptTooLongError
from flowjudge_tui.judging.backend import (
    EngineResult,
    JudgeOutcome,
    JudgeRequest,
    JudgmentCancelled,
    StopCheck,
)

Judge = Callable[[JudgeRequest], EngineResult]
POLL_S = 0.25


def judge_concurrently(
    judge: Judge,
    requests: Iterable[JudgeRequest],
    concurrency: int,
    should_stop: StopCheck,
    cancel: Callable[[], None],
) -> Iterator[JudgeOutcome]:
    pending = iter(requests)
    in_flight: dict[Future[EngineResult], JudgeRequest] = {}
    exhausted = False
    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="flowjudge-served") as pool:
        try:
            while True:
                while not exhausted and len(in_flight) < concurrency and not should_stop():
                    request = next(pending, None)
                    if request is None:
                        exhausted = True
                    else:
                        in_flight[pool.submit(judge, request)] = request
                if should_stop():
                    raise JudgmentCancelled()
                if not in_flight:
                    return
                finished, _ = wait(in_flight, timeout=POLL_S, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield _outcome(in_flight.pop(future), future)
        except GeneratorExit:
            _abandon(in_flight, cancel)
            raise
        except BaseException:
            _abandon(in_flight, cancel)
            done = [(future, request) for future, request in in_flight.items()
                    if not future.cancelled() and future.exception() is None]
            for future, request in done:
                yield JudgeOutcome(request, result=future.result())
            raise


def _abandon(in_flight: dict[Future[EngineResult], JudgeRequest],
             cancel: Callable[[], None]) -> None:
    cancel()
    for future in in_flight:
        future.cancel()
    wait(in_flight)


def _outcome(request: JudgeRequest, future: Future[EngineResult]) -> JudgeOutcome:
    error = future.exception()
    if error is None:
        return JudgeOutcome(request, result=future.result())
    if isinstance(error, PromptTooLongError | InvalidLogitsError | ItemError):
        return JudgeOutcome(request, error=error)
    raise error
