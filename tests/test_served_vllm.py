"""The served engine against vLLM's documented answers (``tests.vllm_server``: vLLM's wire
format over a real llama.cpp server, since vLLM needs a GPU): models with ``max_model_len``,
``/tokenize``, token-id prompts, log-probs in OpenAI's legacy format capped at 20."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowjudge_tui.engine.llama import LlamaEngine
from flowjudge_tui.engine.served import ServedEngine
from flowjudge_tui.errors import ServerError
from flowjudge_tui.judging.backend import SamplingSettings
from flowjudge_tui.judging.judge import judge_item
from flowjudge_tui.judging.prompt import build_prompt
from tests.gguf_models import SCRIPTED_FEEDBACK, scripted_probabilities
from tests.served_server import LlamaServer
from tests.test_served_engine import FIVE, ITEM
from tests.vllm_server import MODEL, VllmLikeServer


@pytest.fixture
def vllm(llama_server: LlamaServer) -> Iterator[VllmLikeServer]:
    with VllmLikeServer(llama_server.url) as server:
        yield server


def test_a_streamed_verdict_through_vllms_answers_is_the_models_own(
    vllm: VllmLikeServer, tiny_engine: LlamaEngine
) -> None:
    engine = ServedEngine(vllm.url)
    try:
        assert (engine.kind, engine.model, engine.n_ctx) == ("vLLM server", MODEL, 4096)
        prompt = build_prompt(FIVE, ITEM)
        assert engine.chat_tokens(prompt) == tiny_engine.chat_tokens(prompt)

        chunks: list[str] = []
        verdict = judge_item(engine, FIVE, ITEM, on_feedback=chunks.append)
        assert verdict.distribution == pytest.approx(scripted_probabilities([1, 2, 3, 4, 5]),
                                                     abs=1e-3)
        assert (verdict.score, verdict.stop_reason) == (4, "score")
        assert verdict.feedback == "".join(chunks) == SCRIPTED_FEEDBACK

        short = SamplingSettings(max_feedback_tokens=3)
        remote, local = judge_item(engine, FIVE, ITEM, short), judge_item(tiny_engine, FIVE,
                                                                           ITEM, short)
        assert remote.raw_text == local.raw_text
        assert remote.distribution == pytest.approx(local.distribution, abs=1e-3)
    finally:
        engine.close()
    asked = [body for path, body in vllm.requests if path == "/v1/completions"]
    assert asked and all(body["logprobs"] <= vllm.max_logprobs for body in asked)
    assert all(isinstance(body["prompt"], list) for body in asked)  # token ids, no second BOS


def test_a_vllm_that_names_tokens_only_by_text_is_refused_in_one_sentence(
    llama_server: LlamaServer,
) -> None:
    with VllmLikeServer(llama_server.url, ids=False) as old:
        engine = ServedEngine(old.url)
        try:
            with pytest.raises(ServerError, match="without token ids"):
                judge_item(engine, FIVE, ITEM)
        finally:
            engine.close()


def test_doctor_names_vllm(vllm: VllmLikeServer, capsys: pytest.CaptureFixture[str]) -> None:
    from flowjudge_tui.cli.main import main

    assert main(["doctor", "--server", vllm.url]) == 0
    out = capsys.readouterr().out
    assert "reachable (vLLM server)" in out and "4096 tokens per request" in out
    assert "log-probs  yes (top" in out and "with token ids" in out
