"""Batched judging (engine/batched.py) against one-at-a-time judging, on real small GGUFs.

Measured tolerance: on the scripted phi3 model and on Gemma 3 270M Q4_K_M a batched verdict is
bit-identical to the same judgment made alone on a fresh context (distributions equal to 0.0),
whatever it was batched with and with or without a shared prefix. The tests allow 1e-9.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowjudge_tui.engine.batch_queue import SPLIT_ALIGN, common_prefix, split_point
from flowjudge_tui.engine.llama import LlamaEngine
from flowjudge_tui.engine.sequences import context_params
from flowjudge_tui.errors import PromptTooLongError
from flowjudge_tui.judging.backend import (
    EngineResult,
    JudgeOutcome,
    JudgeRequest,
    JudgmentCancelled,
    LoadSettings,
    SamplingSettings,
)
from flowjudge_tui.judging.prompt import build_prompt
from flowjudge_tui.judging.rubric import Item, RubricLibrary
from flowjudge_tui.settings import app_paths
from tests.gguf_models import PHI3_VOCAB_MISSING, phi3_vocab_path, write_phi3_gguf

TOLERANCE = 1e-9
SCALES = {"binary": (0, 1), "five": (1, 2, 3, 4, 5)}
RUBRICS = {"binary": "relevance-query-binary", "five": "relevance-query-5"}


def item_prompts(lengths: tuple[int, ...]) -> list[tuple[str, str]]:
    """Flow-Judge prompts of items of about ``length`` x 6 words, under both rubrics."""
    library = RubricLibrary(app_paths())
    rubrics = [library.get(RUBRICS[name]).rubric for name in SCALES]
    prompts = []
    for index, length in enumerate(lengths):
        item = Item(inputs={"query": f"Question {index}: " + "why is it so? " * length},
                    output="It is so because it is. " * length)
        prompts.append((build_prompt(rubrics[0], item), build_prompt(rubrics[1], item)))
    return prompts


@pytest.fixture(scope="module")
def batched_tiny(tiny_model_path: Path) -> Iterator[LlamaEngine]:
    engine = LlamaEngine(tiny_model_path, LoadSettings(n_parallel=3))
    yield engine
    engine.close()


def alone(path: Path, prompt: str, scores: tuple[int, ...], sampling: SamplingSettings,
          n_ctx: int = 4096) -> EngineResult:
    """One judgment on a fresh single-sequence engine: nothing before it in the context."""
    engine = LlamaEngine(path, LoadSettings(n_ctx=n_ctx))
    try:
        return engine.judge(prompt, scores, sampling)
    finally:
        engine.close()


def requests(sampling: SamplingSettings, lengths: tuple[int, ...]) -> list[JudgeRequest]:
    """Every item under a binary and a 5-point rubric, an item's requests side by side."""
    found = []
    for index, prompt_pair in enumerate(item_prompts(lengths)):
        for (name, scores), prompt in zip(SCALES.items(), prompt_pair, strict=True):
            found.append(JudgeRequest((index, name), prompt, scores, sampling, group=index))
    return found


def by_key(outcomes: Iterator[JudgeOutcome]) -> dict[object, JudgeOutcome]:
    return {outcome.request.key: outcome for outcome in outcomes}


def assert_same(batched: EngineResult, single: EngineResult) -> None:
    assert (batched.raw_text, batched.feedback, batched.stop_reason) == (
        single.raw_text, single.feedback, single.stop_reason)
    assert (batched.prompt_tokens, batched.completion_tokens) == (
        single.prompt_tokens, single.completion_tokens)
    assert batched.distribution.keys() == single.distribution.keys()
    for score, probability in single.distribution.items():
        assert batched.distribution[score] == pytest.approx(probability, abs=TOLERANCE)
    assert batched.score_mass == pytest.approx(single.score_mass, abs=TOLERANCE)


def test_batched_verdicts_are_the_one_at_a_time_verdicts(
    batched_tiny: LlamaEngine, tiny_model_path: Path
) -> None:
    sampling = SamplingSettings()
    asked = requests(sampling, (1, 60, 5, 20))  # very different lengths, 8 requests, 3 slots
    outcomes = by_key(batched_tiny.judge_many(asked))
    assert len(outcomes) == len(asked)
    times = batched_tiny.phase_times
    assert times is not None and times.shared_tokens > 0  # the items' prefixes were shared
    for request in asked:
        result = outcomes[request.key].result
        assert result is not None
        assert_same(result, alone(tiny_model_path, request.prompt, request.scores, sampling))


def test_an_items_verdict_does_not_depend_on_its_neighbours(batched_tiny: LlamaEngine) -> None:
    sampling = SamplingSettings(seed=3)
    asked = requests(sampling, (2, 100, 7))
    together = by_key(batched_tiny.judge_many(asked))
    for request in asked[::2]:
        [only] = list(batched_tiny.judge_many([request]))
        assert only.result is not None and together[request.key].result is not None
        assert_same(together[request.key].result, only.result)


def test_gemma_batched_scores_are_the_one_at_a_time_scores(gemma_model_path: Path) -> None:
    sampling = SamplingSettings(max_feedback_tokens=16)
    asked = requests(sampling, (1,))
    engine = LlamaEngine(gemma_model_path, LoadSettings(n_ctx=2048, n_parallel=3))
    try:
        outcomes = by_key(engine.judge_many(asked))
    finally:
        engine.close()
    for request in asked:
        batched = outcomes[request.key].result
        single = alone(gemma_model_path, request.prompt, request.scores, sampling, n_ctx=2048)
        assert batched is not None
        assert max(batched.distribution, key=batched.distribution.__getitem__) == max(
            single.distribution, key=single.distribution.__getitem__)
        assert_same(batched, single)


def test_one_sequence_reaches_the_context_limit_while_the_others_go_on(
    random_model_path: Path,
) -> None:
    sampling = SamplingSettings(max_feedback_tokens=150)
    [short, long_prompt, other] = [pair[0] for pair in item_prompts((1, 20, 2))]
    engine = LlamaEngine(random_model_path, LoadSettings(n_ctx=1536, n_parallel=3))
    try:
        long_tokens = engine.count_tokens(long_prompt)
        room = 1536 - long_tokens - 24
        assert 64 <= room < 150, long_tokens
        asked = [JudgeRequest(name, prompt, (1, 2, 3, 4, 5), sampling)
                 for name, prompt in (("short", short), ("long", long_prompt), ("other", other))]
        outcomes = by_key(engine.judge_many(asked))
    finally:
        engine.close()
    limited = outcomes["long"].result
    assert limited is not None and limited.stop_reason == "length"
    assert limited.completion_tokens == room + 1
    for name in ("short", "other"):
        result = outcomes[name].result
        assert result is not None and result.completion_tokens == 151
        assert result.stop_reason == "length"


def test_an_item_too_long_is_refused_and_the_rest_are_judged(batched_tiny: LlamaEngine) -> None:
    sampling = SamplingSettings()
    fine = requests(sampling, (1,))
    too_long = JudgeRequest("long", "word " * 5000, (0, 1), sampling)
    outcomes = by_key(batched_tiny.judge_many([fine[0], too_long, fine[1]]))
    assert isinstance(outcomes["long"].error, PromptTooLongError)
    assert all(outcomes[r.key].result is not None for r in fine)


def test_cancelling_mid_batch_drops_the_judgments_in_flight(
    batched_tiny: LlamaEngine, tiny_model_path: Path
) -> None:
    sampling = SamplingSettings()
    streamed: list[str] = []
    stop = False

    def on_feedback(text: str) -> None:
        nonlocal stop
        streamed.append(text)
        stop = True

    asked = requests(sampling, (3, 9, 27))
    streaming = [JudgeRequest(r.key, r.prompt, r.scores, r.sampling, r.group, on_feedback)
                 for r in asked]
    finished: list[JudgeOutcome] = []
    with pytest.raises(JudgmentCancelled):
        for outcome in batched_tiny.judge_many(streaming, lambda: stop):
            finished.append(outcome)
    assert streamed and len(finished) < len(asked)
    # Every sequence was freed: the same engine judges the same requests exactly afterwards.
    again = by_key(batched_tiny.judge_many(asked))
    for request in asked[:2]:
        result = again[request.key].result
        assert result is not None
        assert_same(result, alone(tiny_model_path, request.prompt, request.scores, sampling))


def test_the_real_phi3_vocabulary_counts_tokens_as_flow_judge(tmp_path: Path) -> None:
    vocab = phi3_vocab_path()
    if vocab is None:
        pytest.skip(PHI3_VOCAB_MISSING)
    path = write_phi3_gguf(tmp_path / "real-vocab.gguf", weights="random", vocab_from=vocab)
    engine = LlamaEngine(path, LoadSettings(n_ctx=2048, n_parallel=2))
    try:
        reader = engine._scores
        assert reader.continuation("5") == [29945]  # the facts' token ids
        assert len(reader.continuation("<score>")) == 3
        [first, second] = item_prompts((20,))[0]
        shared = engine.chat_tokens(first)
        other = engine.chat_tokens(second)
        assert shared[:300] == other[:300]  # the item comes before the rubric
        sampling = SamplingSettings(max_feedback_tokens=8)
        outcomes = list(engine.judge_many([
            JudgeRequest(1, first, (0, 1), sampling, group="item"),
            JudgeRequest(2, second, (1, 2, 3, 4, 5), sampling, group="item")]))
        times = engine.phase_times
    finally:
        engine.close()
    assert times is not None and times.shared_tokens > 300
    assert [o.result.completion_tokens for o in outcomes if o.result] == [9, 9]


def test_a_prompt_is_cut_only_where_the_cut_changes_no_logit() -> None:
    assert split_point(350, [826, 901, 840]) == 344  # down to a multiple of 8
    assert split_point(352, [826]) == 352
    assert split_point(400, [405]) == 392  # at least 8 tokens are left after the cut
    assert split_point(400, [408, 900]) == 400
    assert split_point(7, [900]) == 0
    assert split_point(900, [5]) == 0


def test_a_freed_sequence_keeps_the_instructions_for_the_next_item(
    batched_tiny: LlamaEngine, tiny_model_path: Path
) -> None:
    sampling = SamplingSettings(seed=5)
    first, second = requests(sampling, (4,))[:1], requests(sampling, (9, 30))
    list(batched_tiny.judge_many(first))
    times = batched_tiny.phase_times
    assert times is not None
    reused = times.reused_tokens
    header = common_prefix(batched_tiny.chat_tokens(first[0].prompt),
                           batched_tiny.chat_tokens(second[0].prompt))
    outcomes = by_key(batched_tiny.judge_many(second))
    assert times.reused_tokens - reused >= header - header % SPLIT_ALIGN > 0
    for request in second:
        result = outcomes[request.key].result
        assert result is not None
        assert_same(result, alone(tiny_model_path, request.prompt, request.scores, sampling))


def test_the_single_path_keeps_only_an_exact_prefix_of_the_last_judgment(
    tiny_model_path: Path,
) -> None:
    sampling = SamplingSettings(seed=2)
    [(first, _), (second, _)] = item_prompts((5, 5))  # they share more than the instructions
    engine = LlamaEngine(tiny_model_path)
    try:
        engine.judge(first, (0, 1), sampling)
        llm = engine._llm
        evaluate = llm.eval
        starts: list[int] = []

        def recording_eval(tokens: list[int]) -> None:
            starts.append(llm.n_tokens)
            evaluate(tokens)

        llm.eval = recording_eval
        result = engine.judge(second, (0, 1), sampling)
        common = common_prefix(engine.chat_tokens(first), engine.chat_tokens(second))
    finally:
        engine.close()
    assert common % SPLIT_ALIGN != 0
    assert starts[0] == common - common % SPLIT_ALIGN > 0  # the prompt resumed from the cut
    assert_same(result, alone(tiny_model_path, second, (0, 1), sampling))


def test_the_batched_context_computes_as_the_single_sequence_context(
    batched_tiny: LlamaEngine,
) -> None:
    """Every setting of the batched context is the single context's, except its size (sequences
    x context, the idle single context being small) and what does not change a logit."""
    import llama_cpp

    single = batched_tiny._llm.context_params
    params = context_params(llama_cpp, batched_tiny.load, 3, single)
    by_design = {"n_ctx", "n_batch", "n_ubatch", "n_seq_max", "no_perf"}
    differing = {
        name for name, _ in params._fields_
        if isinstance(getattr(single, name), int | float | bool | None)
        and name not in by_design and getattr(params, name) != getattr(single, name)
    }
    assert differing == set()
    assert (params.n_ctx, params.n_seq_max) == (batched_tiny.load.n_ctx * 3, 3)
