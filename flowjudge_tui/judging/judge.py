"""One judgment: rubric + item -> prompt -> engine -> Verdict."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from flowjudge_tui.errors import InvalidLogitsError, PromptTooLongError
from flowjudge_tui.judging.backend import (
    BatchJudgeEngine,
    EngineResult,
    FeedbackCallback,
    JudgeEngine,
    JudgeOutcome,
    JudgeRequest,
    SamplingSettings,
    StopCheck,
)
from flowjudge_tui.judging.prompt import build_prompt
from flowjudge_tui.judging.rubric import Item, Rubric
from flowjudge_tui.judging.verdict import Verdict, summarize_distribution

DEFAULT_SAMPLING = SamplingSettings()


def judge_item(
    engine: JudgeEngine,
    rubric: Rubric,
    item: Item,
    sampling: SamplingSettings = DEFAULT_SAMPLING,
    on_feedback: FeedbackCallback | None = None,
    should_stop: StopCheck | None = None,
) -> Verdict:
    """Judge one item. The score always comes from the model's own score position."""
    sampling.check()
    prompt = build_prompt(rubric, item)
    result = engine.judge(
        prompt,
        rubric.score_values,
        sampling,
        on_feedback=on_feedback,
        should_stop=should_stop,
    )
    return verdict_from_result(rubric, engine.model_name, result)


def verdict_from_result(rubric: Rubric, model_name: str, result: EngineResult) -> Verdict:
    """The verdict an engine's result gives under ``rubric``; ``InvalidLogitsError`` when the
    model's numbers are not finite."""
    numbers = [*result.distribution.values(), result.score_mass]
    if not result.distribution or not all(math.isfinite(value) for value in numbers):
        raise InvalidLogitsError(model_name)
    score, expected, confidence = summarize_distribution(result.distribution)
    return Verdict(
        score=score,
        feedback=result.feedback,
        distribution=result.distribution,
        expected_score=expected,
        confidence=confidence,
        score_mass=result.score_mass,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        seconds=result.seconds,
        raw_text=result.raw_text,
        stop_reason=result.stop_reason,
        rubric=rubric.name,
        rubric_hash=rubric.content_hash,
        model=model_name,
    )


def judge_many(
    engine: JudgeEngine, requests: Iterable[JudgeRequest], should_stop: StopCheck | None = None
) -> Iterator[JudgeOutcome]:
    """Outcomes of ``requests`` as they finish: the engine's own batching when it has some
    (``BatchJudgeEngine``), else one request after another."""
    if isinstance(engine, BatchJudgeEngine):
        yield from engine.judge_many(requests, should_stop)
        return
    for request in requests:
        try:
            result = engine.judge(request.prompt, request.scores, request.sampling,
                                  request.on_feedback, should_stop)
        except (PromptTooLongError, InvalidLogitsError) as exc:
            yield JudgeOutcome(request, error=exc)
        else:
            yield JudgeOutcome(request, result=result)
