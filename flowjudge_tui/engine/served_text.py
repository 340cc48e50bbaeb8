"""llama-cpp-python's own server (``python -m llama_cpp.server``): text in, text-keyed out.

That server answers ``/v1/completions`` like the others but differs in ways bridged here, so
that a verdict keeps the in-process guarantees:

- **Text prompts only.** The rendered prompt is sent as text; the server puts its BOS first
  and reads special tokens anywhere in it. For a prompt without control-token text (the usual
  case) those are exactly the tokens in-process judging evaluates (checked in the tests). An
  item holding a control token's text (a literal ``<|end|>``) would become another prompt
  there, so it is refused (``ItemError``: the item is skipped, a run goes on). The kept
  feedback reaches the score position as text too: the server tokenizes it again, which gives
  the tokens the model wrote unless it split a word unusually.
- **Log-probs keyed by token text** (OpenAI's legacy format). Tokens that print the same (a
  digit and its byte-fallback token; every control token prints "") share one key, and the
  value listed is the last written, the smaller. So each score token's log-prob is read by
  id: one request per score with ``logit_bias`` forcing that token and ``max_tokens: 1``; its
  ``token_logprobs`` entry is the raw log-softmax before the bias (llama-cpp-python applies
  the bias only when sampling). The server keeps the longest common prefix of its context, so
  each such request evaluates one token: a 1-5 rubric costs six one-token requests, no score
  is ever missing and ``score_mass`` is exact.
- **One request at a time**, and by default a new request interrupts the running stream
  (``--interrupt_requests``): the engine keeps one judgment in flight, and a stream that ends
  without a finish reason (interrupted by another client) is run again.
- **No context size in any answer**: it is read from the server's refusal of a prompt longer
  than any context (``PROBE_TOKENS`` tokens: tokenized, never evaluated).
- Tokens through ``/extras/tokenize``, which always parses special tokens and puts BOS first.
- No chat template in any answer: the prompt is wrapped in Flow-Judge's Phi-3 format, as
  in-process judging wraps a GGUF without a template (``doctor --vocab`` checks the tokenizer).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from flowjudge_tui.engine.served_http import (
    Cancelled,
    ServerConnection,
    ServerRetryable,
    StopCheck,
)
from flowjudge_tui.errors import ItemError, ServerError

TOKENIZE_PATH = "/extras/tokenize"
DETOKENIZE_PATH = "/extras/detokenize"
# More tokens than any context llama-cpp-python is started with (Phi-3.5 trains on 131072).
PROBE_TOKENS = 2**18
_CONTEXT_REFUSAL = re.compile(r"maximum context length is (\d+) tokens")
FORCING_BIAS = 1000.0
MAX_WHITESPACE_STEPS = 2


def text_server_bos(connection: ServerConnection, model: str) -> list[int] | None:
    """The tokens llama-cpp-python's server puts before a prompt; None for another server."""
    answer = connection.try_post(TOKENIZE_PATH, {"model": model, "input": ""})
    if answer is None or answer[0] != 200 or not isinstance(answer[1], dict):
        return None
    tokens = answer[1].get("tokens")
    if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
        return None
    return list(tokens)


def probe_context(connection: ServerConnection, model: str) -> int:
    """The server's context size, from its refusal of a prompt longer than any context."""
    answer = connection.try_post("/v1/completions", {
        "model": model, "prompt": " x" * PROBE_TOKENS, "max_tokens": 1})
    body = answer[1] if answer is not None else None
    error = body.get("error") if isinstance(body, dict) else None
    message = str(error.get("message", "")) if isinstance(error, dict) else ""
    found = _CONTEXT_REFUSAL.search(message)
    if answer is None or answer[0] != 400 or found is None:
        raise ServerError(
            f"The server at {connection.root} did not say its context size when asked; "
            "start llama-cpp-python's server with --n_ctx 4096 (or more) and try again."
        )
    return int(found.group(1))


def text_sampling(temperature: float, top_p: float, seed: int | None) -> dict[str, Any]:
    """Sampling as in-process: llama-cpp-python's server defaults add top_k 40, min_p 0.05
    and a repeat penalty of 1.1."""
    return {"temperature": temperature, "top_p": top_p, "seed": seed, "top_k": 0,
            "min_p": 0.0, "repeat_penalty": 1.0}


class TextScorer:
    """Reads score log-probs by token id from a text-keyed server (thread-safe)."""

    def __init__(self, connection: ServerConnection, model: str) -> None:
        self.connection = connection
        self.model = model
        self.requests = 0
        self._lock = threading.Lock()
        self._texts: dict[tuple[int, ...], str] = {}

    def text_of(self, tokens: Sequence[int], stop: StopCheck) -> str:
        """What the server prints for ``tokens`` (cached)."""
        key = tuple(tokens)
        with self._lock:
            known = self._texts.get(key)
        if known is not None:
            return known
        answer = self.connection.post(DETOKENIZE_PATH, {"model": self.model,
                                                        "tokens": list(tokens)}, stop)
        text = answer.get("text") if isinstance(answer, dict) else None
        if not isinstance(text, str):
            raise ServerError(f"The server at {self.connection.root} answered "
                              f"{DETOKENIZE_PATH} without text; is it llama-cpp-python's?")
        with self._lock:
            self._texts[key] = text
        return text

    def _streamed_logprobs(self, payload: dict[str, Any], stop: StopCheck) -> Any:
        """The log-probs of the one token a streamed request writes. Streamed, because then
        llama-cpp-python computes them for that position only (a plain answer converts the
        logits of every position of the context first: seconds on a long prompt)."""
        failing_since: float | None = None
        attempt = 0
        while True:
            with self._lock:
                self.requests += 1
            events = self.connection.stream("/v1/completions", payload, stop)
            try:
                for event in events:
                    choices = event.get("choices")
                    choice = choices[0] if isinstance(choices, list) and choices else None
                    if isinstance(choice, dict):
                        return choice.get("logprobs")
                # The token's chunk comes before the server would let another request cut
                # the stream, so an empty stream is a request the server failed.
                raise ServerError(
                    f"The server at {self.connection.root} answered the score request with "
                    "nothing; start llama-cpp-python's server with --logits_all True (its "
                    "default) so that it gives log-probabilities."
                )
            except ServerRetryable as exc:
                problem = str(exc)
            finally:
                events.close()
            if stop():
                raise Cancelled
            failing_since = failing_since or time.monotonic()
            self.connection.pause_before_retry(failing_since, attempt, problem, stop)
            attempt += 1

    def forced(self, context: str, token: int, stop: StopCheck) -> tuple[float, str, float]:
        """The raw log-probability of ``token`` right after ``context``, and the text and
        log-probability of the model's most likely token there.

        The answer's ``top_logprobs`` lists the most likely token first, then the forced one;
        when both print the same text, the forced one is (almost surely) the most likely.
        """
        payload: dict[str, Any] = {"model": self.model, "prompt": context, "max_tokens": 1,
                                   "logprobs": 1, "stream": True,
                                   "logit_bias": {str(token): FORCING_BIAS},
                                   **text_sampling(0.0, 1.0, None)}
        logprobs = self._streamed_logprobs(payload, stop)
        if not isinstance(logprobs, dict):
            logprobs = {}
        tokens, values = logprobs.get("tokens"), logprobs.get("token_logprobs")
        tops = logprobs.get("top_logprobs")
        if not (isinstance(tokens, list) and tokens and isinstance(values, list) and values
                and isinstance(values[0], int | float) and isinstance(tops, list) and tops
                and isinstance(tops[0], dict) and tops[0]):
            raise ServerError(
                f"The server at {self.connection.root} returned no log-probabilities for the "
                "score position; start llama-cpp-python's server with --logits_all True."
            )
        if tokens[0] != self.text_of([token], stop):
            raise ServerError(
                f"The server at {self.connection.root} ignored logit_bias, so it cannot say a "
                "score's probability; use llama-cpp-python's own server, llama.cpp's or vLLM."
            )
        best_text, best = next(iter(tops[0].items()))
        return float(values[0]), str(best_text), float(best)


def text_score_distribution(
    scorer: TextScorer, context: str, sequences: Mapping[int, list[int]],
    digits: Sequence[int], stop: StopCheck,
) -> tuple[dict[int, float], float]:
    """As ``ServedEngine._score_distribution``, by id through forced tokens: the softmax of
    the raw log-probs over the scores and the mass they hold; a whitespace token the model
    prefers to every score is written first, as in-process."""
    firsts = {score: sequence[0] for score, sequence in sequences.items()}
    steps = 0
    while True:
        first: dict[int, float] = {}
        best_text, best = "", -math.inf
        for token in dict.fromkeys(firsts.values()):
            first[token], best_text, best = scorer.forced(context, token, stop)
        if steps == MAX_WHITESPACE_STEPS or not best_text or best_text.strip() or \
                best <= max(first.values()):
            break
        context, steps = context + best_text, steps + 1
    several = any(len(s) > 1 for s in sequences.values()) or \
        len(set(firsts.values())) < len(firsts)
    log_probs: dict[int, float] = {}
    for score, sequence in sequences.items():
        log_p = first[sequence[0]]
        if several:
            # Scores of several tokens (e.g. 10): P(tokens) times P(the number ends there).
            for index in range(1, len(sequence)):
                written = context + scorer.text_of(sequence[:index], stop)
                log_p += scorer.forced(written, sequence[index], stop)[0]
            after = context + scorer.text_of(sequence, stop)
            more = sum(math.exp(scorer.forced(after, d, stop)[0]) for d in digits)
            log_p += math.log(max(1.0 - more, 1e-12))
        log_probs[score] = log_p
    best = max(log_probs.values())
    weights = {s: math.exp(v - best) for s, v in log_probs.items()}
    total = sum(weights.values())
    return {s: w / total for s, w in weights.items()}, min(1.0, math.exp(best) * total)


def refuse_control_text(prompt: str, round_trip: str) -> None:
    """An item whose text the server would read as control tokens is not judged there:
    control tokens print nothing, so the prompt does not come back from its own tokens (but
    for the space a SentencePiece vocabulary puts first)."""
    if round_trip not in (prompt, " " + prompt):
        raise ItemError(
            "The item holds text that llama-cpp-python's server reads as a control token "
            "(such as <|end|>), so it would judge another prompt; judge it in-process or "
            "through llama.cpp's server."
        )
