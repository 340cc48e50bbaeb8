"""Judging through an OpenAI-compatible server (llama.cpp's server, vLLM) over HTTP.

The same verdict as in-process, made elsewhere: the chat template is rendered here and the
prompt is sent as token ids to ``/v1/completions`` (never the chat endpoint), so the server
sees exactly the tokens ``LlamaEngine`` would evaluate. Only the template's own markers are
tokenized as special tokens; the judged text is tokenized as plain text.

The feedback streams over SSE and the stream is closed at ``<score>``; the context is then
brought to the score position exactly as in-process (kept tokens + forced tail, see
``structure``) and one request with ``max_tokens: 1`` reads the top log-probabilities there
(see ``served_scores``). That request extends the first one, so the server's prefix cache
makes it cost a few tokens of prompt processing.

Thread-safe: several judgments may be in flight at once (a run's ``--concurrency``).

llama-cpp-python's own server takes text prompts only and keys its log-probs by token text;
``served_text`` explains how the same guarantees are kept there (one judgment in flight).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowjudge_tui.engine.served_batch import judge_concurrently
from flowjudge_tui.engine.served_discovery import discover
from flowjudge_tui.engine.served_http import (
    Cancelled,
    ServerConnection,
    ServerOptions,
    ServerRetryable,
)
from flowjudge_tui.engine.served_scores import (
    TopToken,
    missing_scores,
    probability_of,
    score_distribution,
    top_logprobs,
)
from flowjudge_tui.engine.served_stream import Resumable, follow_stream
from flowjudge_tui.engine.served_text import TextScorer, text_sampling, text_score_distribution
from flowjudge_tui.engine.served_tokens import ServerTokenizer
from flowjudge_tui.engine.structure import (
    GenerationWatcher,
    engine_result,
    locate_score_position,
)
from flowjudge_tui.errors import PromptTooLongError, ServerError
from flowjudge_tui.judging.backend import (
    EngineResult,
    FeedbackCallback,
    JudgeOutcome,
    JudgeRequest,
    JudgmentCancelled,
    LoadSettings,
    SamplingSettings,
    StopCheck,
)

SCORE_RESERVE = 24
MIN_FEEDBACK_TOKENS = 64
MAX_WHITESPACE_STEPS = 2
DEFAULT_TOP_LOGPROBS = 20
# llama.cpp's server takes any k: a score missing from the top 20 is looked for in the top
# 1000, then in the whole vocabulary (megabytes of JSON with Gemma's 262k tokens: only for a
# model that hardly considers any score there).
WIDER_TOP_LOGPROBS = 1000


@dataclass
class ServedTimings:
    """Where a server's time went, summed over judgments (for ``bench/``)."""

    judgments: int = 0
    prompt_s: float = 0.0
    feedback_s: float = 0.0
    score_s: float = 0.0
    score_requests: int = 0
    score_prompt_tokens: int = 0
    """Tokens the score requests had to process (the rest came from the prefix cache)."""
    score_cached_tokens: int = 0


class ServedEngine:
    """A judge model behind an OpenAI-compatible server."""

    def __init__(self, url: str, model: str | None = None, options: ServerOptions | None = None,
                 top_k: int = DEFAULT_TOP_LOGPROBS, api_key: str | None = None,
                 concurrency: int = 1) -> None:
        self.concurrency = max(1, concurrency)
        self.connection = ServerConnection(url, options, api_key)
        self.server = self.connection.base_url
        self.top_k = top_k
        self._lock = threading.Lock()
        self.timings = ServedTimings()
        self._cancelled = threading.Event()
        try:
            facts = discover(self.connection, model)
        except BaseException:
            self.connection.close()
            raise
        self.model, self.is_llama_cpp, self.n_vocab = facts.model, facts.is_llama_cpp, facts.n_vocab
        self.kind, self.slots = facts.kind, facts.slots
        self.text_prompts = facts.text_prompts
        self._n_ctx = facts.n_ctx
        self.chat = facts.chat
        self.tokens = ServerTokenizer(self.connection, self.chat, self.model,
                                      facts.bos if facts.text_prompts else None)
        self._scorer = TextScorer(self.connection, self.model)
        self.load = LoadSettings(n_ctx=facts.n_ctx)

    @property
    def n_parallel(self) -> int:
        """Judgments kept in flight by ``judge_many`` (the server batches them); one for a
        server that serves one request at a time and interrupts a stream for the next."""
        return 1 if self.text_prompts else self.concurrency

    def judge_many(self, requests: Iterable[JudgeRequest],
                   should_stop: StopCheck | None = None) -> Iterator[JudgeOutcome]:
        """Outcomes as they finish, ``n_parallel`` requests in flight (see ``served_batch``)."""
        stop = self._stop_check(should_stop)

        def judge_one(request: JudgeRequest) -> EngineResult:
            return self.judge(request.prompt, request.scores, request.sampling,
                              request.on_feedback, stop)

        try:
            yield from judge_concurrently(judge_one, requests, self.n_parallel, stop,
                                          self.cancel)
        finally:
            self.reset_cancel()

    @property
    def path(self) -> Path | None:
        """None: the model file is the server's, not on this machine."""
        return None

    @property
    def model_name(self) -> str:
        return self.model

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def notices(self) -> list[str]:
        return []

    def describe(self) -> str:
        return f"{self.model} at {self.connection.root}"

    def close(self) -> None:
        self.connection.close()

    def cancel(self) -> None:
        """End every judgment in flight (from any thread): each raises ``JudgmentCancelled``."""
        self._cancelled.set()
        self.connection.abort_all()

    def reset_cancel(self) -> None:
        self._cancelled.clear()

    def chat_tokens(self, prompt: str, stop: StopCheck | None = None) -> list[int]:
        return self.tokens.chat_tokens(prompt, stop)

    def count_tokens(self, prompt: str) -> int:
        return len(self.chat_tokens(prompt))

    # Judging --------------------------------------------------------------------------------

    def judge(self, prompt: str, scores: Sequence[int], sampling: SamplingSettings,
              on_feedback: FeedbackCallback | None = None,
              should_stop: StopCheck | None = None) -> EngineResult:
        stop = self._stop_check(should_stop)
        try:
            return self._judge(prompt, list(scores), sampling, on_feedback, stop)
        except Cancelled:
            raise JudgmentCancelled() from None

    def _stop_check(self, should_stop: StopCheck | None) -> StopCheck:
        if should_stop is None:
            return self._cancelled.is_set
        return lambda: self._cancelled.is_set() or should_stop()

    def _judge(self, prompt: str, scores: list[int], sampling: SamplingSettings,
               on_feedback: FeedbackCallback | None, stop: StopCheck) -> EngineResult:
        started = time.monotonic()
        if self.text_prompts:
            return self._judge_text(prompt, scores, sampling, on_feedback, stop)
        prompt_tokens = self.chat_tokens(prompt, stop)
        room = self.n_ctx - len(prompt_tokens) - SCORE_RESERVE
        if room < MIN_FEEDBACK_TOKENS:
            raise PromptTooLongError(
                len(prompt_tokens), MIN_FEEDBACK_TOKENS + SCORE_RESERVE, self.n_ctx
            )
        budget = min(sampling.max_feedback_tokens, room)
        generated, watcher, ended = self._generate(prompt_tokens, budget, sampling,
                                                   on_feedback, stop)
        scored = time.monotonic()
        position = locate_score_position(watcher.pieces, ended)
        context = prompt_tokens + generated[: position.kept_tokens]
        context += self.tokens.continuation(position.tail, stop)
        distribution, mass = self._score_distribution(context, scores, stop)
        with self._lock:
            self.timings.judgments += 1
            self.timings.score_s += time.monotonic() - scored
        return engine_result(position, watcher, len(prompt_tokens), len(generated),
                             distribution, mass, started)

    def _judge_text(self, prompt: str, scores: list[int], sampling: SamplingSettings,
                    on_feedback: FeedbackCallback | None, stop: StopCheck) -> EngineResult:
        """``_judge`` through a server that takes text prompts (see ``served_text``)."""
        started = time.monotonic()
        text, prompt_tokens = self.tokens.prompt_text(prompt, stop)
        room = self.n_ctx - len(prompt_tokens) - SCORE_RESERVE
        if room < MIN_FEEDBACK_TOKENS:
            raise PromptTooLongError(
                len(prompt_tokens), MIN_FEEDBACK_TOKENS + SCORE_RESERVE, self.n_ctx
            )
        budget = min(sampling.max_feedback_tokens, room)
        _, watcher, ended = self._generate(text, budget, sampling, on_feedback, stop)
        scored = time.monotonic()
        position = locate_score_position(watcher.pieces, ended)
        kept = b"".join(watcher.pieces[: position.kept_tokens]).decode("utf-8", "replace")
        sequences = {s: self.tokens.continuation(str(s), stop) for s in scores}
        several = any(len(seq) > 1 for seq in sequences.values())
        digits = [self.tokens.continuation(str(d), stop)[0] for d in range(10)] if several \
            else []
        requests = self._scorer.requests
        after = self.tokens.text_after(text, prompt_tokens, kept + position.tail, stop)
        distribution, mass = text_score_distribution(
            self._scorer, text + after, sequences, digits, stop)
        # Tokens written: the server's tokens of prompt and answer, less the prompt's.
        written = b"".join(watcher.pieces).decode("utf-8", "replace")
        written = text + self.tokens.text_after(text, prompt_tokens, written, stop)
        generated = len(self.tokens.tokenize(written, add_bos=True, stop=stop)) - \
            len(prompt_tokens)
        with self._lock:
            self.timings.judgments += 1
            self.timings.score_s += time.monotonic() - scored
            self.timings.score_requests += self._scorer.requests - requests
        return engine_result(position, watcher, len(prompt_tokens), generated,
                             distribution, mass, started)

    def _sampling_payload(self, sampling: SamplingSettings) -> dict[str, Any]:
        if self.text_prompts:
            return text_sampling(sampling.temperature, sampling.top_p, sampling.seed)
        payload: dict[str, Any] = {"temperature": sampling.temperature, "top_p": sampling.top_p,
                                   "seed": sampling.seed}
        if self.is_llama_cpp:
            # llama.cpp's server defaults to top_k 40 and min_p 0.05; in-process uses neither.
            payload.update(top_k=0, min_p=0.0, repeat_penalty=1.0, cache_prompt=True)
        return payload

    def _generate(self, prompt: list[int] | str, budget: int, sampling: SamplingSettings,
                  on_feedback: FeedbackCallback | None, stop: StopCheck,
                  ) -> tuple[list[int], GenerationWatcher, str]:
        payload = {"model": self.model, "prompt": prompt, "max_tokens": budget,
                   "stream": True, **self._sampling_payload(sampling)}
        if not self.text_prompts:
            payload.update(logprobs=1, return_tokens_as_token_ids=True)
        streamed = Resumable(on_feedback)
        failing_since: float | None = None
        attempt = 0
        while True:
            watcher = GenerationWatcher(streamed.forward if on_feedback else None)
            streamed.restart()
            try:
                return self._read_stream(payload, watcher, budget, stop)
            except ServerRetryable as exc:
                failing_since = failing_since or time.monotonic()
                self.connection.pause_before_retry(failing_since, attempt, str(exc), stop)
                attempt += 1

    def _read_stream(self, payload: dict[str, Any], watcher: GenerationWatcher, budget: int,
                     stop: StopCheck) -> tuple[list[int], GenerationWatcher, str]:
        generated: list[int] = []
        sent = time.monotonic()
        events = self.connection.stream("/v1/completions", payload, stop)
        try:
            ended, first = follow_stream(events, generated, watcher, budget, self.text_prompts)
        finally:
            events.close()
        if stop():
            raise Cancelled
        done = time.monotonic()
        first = first or done
        with self._lock:
            self.timings.prompt_s += first - sent
            self.timings.feedback_s += done - first
        return generated, watcher, ended

    def logprobs_check(self, text: str) -> tuple[int, str]:
        """Ask once for the log-probs after ``text`` (``doctor``): how many came, and how
        they name tokens. Raises ``ServerError`` when the server gives none."""
        never = _never
        if self.text_prompts:
            token = self.tokens.continuation("1", never)[0]
            self._scorer.forced(text, token, never)
            return 1, "read by token id through logit_bias"
        ids = [token for token, _ in self.tokens.tokenize(text, special=True)]
        return len(self.top_logprobs(ids)), "with token ids"

    def top_logprobs(self, context: list[int]) -> list[TopToken]:
        """The top log-probabilities after ``context`` (``doctor`` checks a server with it)."""
        return self._top(context, lambda: False)

    def _top(self, context: list[int], stop: StopCheck, k: int | None = None) -> list[TopToken]:
        payload = {"model": self.model, "prompt": context, "max_tokens": 1, "temperature": 0.0,
                   "logprobs": k or self.top_k, "return_tokens_as_token_ids": True,
                   "stream": False}
        if self.is_llama_cpp:
            payload.update(cache_prompt=True, n_probs=k or self.top_k)
        answer = self.connection.post("/v1/completions", payload, stop)
        choices = answer.get("choices") if isinstance(answer, dict) else None
        top = top_logprobs(choices[0]) if isinstance(choices, list) and choices else []
        if not top:
            raise ServerError(
                f"The server at {self.connection.root} returned no log-probabilities for the "
                "score position; it must support 'logprobs' on /v1/completions."
            )
        usage = answer.get("usage") or {}
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        with self._lock:
            self.timings.score_requests += 1
            self.timings.score_cached_tokens += cached
            self.timings.score_prompt_tokens += max(0, len(context) - cached)
        return top

    def _score_top(self, context: list[int], firsts: dict[int, int],
                   stop: StopCheck) -> list[TopToken]:
        top = self._top(context, stop)
        if not self.is_llama_cpp:
            return top
        for wider in (WIDER_TOP_LOGPROBS, self.n_vocab):
            if not missing_scores(top, firsts) or wider <= len(top):
                break
            top = self._top(context, stop, wider)
        return top

    def _score_distribution(self, context: list[int], scores: list[int],
                            stop: StopCheck) -> tuple[dict[int, float], float]:
        sequences = {s: self.tokens.continuation(str(s), stop) for s in scores}
        firsts = {s: seq[0] for s, seq in sequences.items()}
        top = self._score_top(context, firsts, stop)
        for _ in range(MAX_WHITESPACE_STEPS):
            token = _preferred_whitespace(top, firsts)
            if token is None:
                break
            context = [*context, token]
            top = self._score_top(context, firsts, stop)
        if all(len(seq) == 1 for seq in sequences.values()) and \
                len(set(firsts.values())) == len(firsts):
            return score_distribution(top, firsts)
        return self._multi_token_distribution(context, top, sequences, stop)

    def _multi_token_distribution(
        self, context: list[int], top: list[TopToken], sequences: dict[int, list[int]],
        stop: StopCheck,
    ) -> tuple[dict[int, float], float]:
        """Scores of several tokens (e.g. 10): P(tokens) times P(the number ends there)."""
        digits = {self.tokens.continuation(str(d), stop)[0] for d in range(10)}
        log_probs: dict[int, float] = {}
        for score, sequence in sequences.items():
            current, log_p = top, 0.0
            for index, token in enumerate(sequence):
                log_p += math.log(max(probability_of(current, token), 1e-12))
                current = self._top(context + sequence[: index + 1], stop)
            ends = 1.0 - sum(probability_of(current, t) for t in digits)
            log_probs[score] = log_p + math.log(max(ends, 1e-12))
        best = max(log_probs.values())
        weights = {s: math.exp(v - best) for s, v in log_probs.items()}
        total = sum(weights.values())
        return {s: w / total for s, w in weights.items()}, min(1.0, math.exp(best) * total)


def _never() -> bool:
    return False


def _preferred_whitespace(top: list[TopToken], firsts: dict[int, int]) -> int | None:
    """The whitespace token the model would write before the score, if it prefers one."""
    best = top[0]
    if not best.piece or best.piece.strip():
        return None
    shown = {t.token: t.logprob for t in top}
    rivals = [shown.get(t, -math.inf) for t in firsts.values()]
    return best.token if best.logprob > max(rivals) else None
