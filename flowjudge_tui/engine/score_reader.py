"""Reading the score distribution at the score position, for any way of evaluating tokens.

The single-sequence engine evaluates on llama-cpp-python's own context; the batched engine on
one sequence of a multi-sequence context. Both hand this module a function that makes "the
context" exactly a list of tokens and returns the logits after its last token, so the score
logic (optional whitespace before the score, scores of several tokens) is one piece of code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_WHITESPACE_STEPS = 2

EvalTo = Callable[[list[int]], np.ndarray]
"""Make the sequence exactly these tokens; return a copy of the logits after the last one."""


class ScoreReader:
    """Score-position logic over one loaded model's vocabulary."""

    def __init__(self, llm: Any, vocab: Any) -> None:
        self._llm = llm
        self._vocab = vocab
        self._continuations: dict[str, list[int]] = {}

    @staticmethod
    def _import() -> Any:
        import llama_cpp

        return llama_cpp

    def is_end_of_generation(self, token: int) -> bool:
        return bool(self._import().llama_vocab_is_eog(self._vocab, token))

    def piece(self, token: int) -> bytes:
        """The bytes one generated token adds to the text."""
        return bytes(self._llm.detokenize([token]))

    def continuation(self, text: str) -> list[int]:
        """Tokens for ``text`` as it continues a sequence (no BOS, no added leading space)."""
        if not text:
            return []
        cached = self._continuations.get(text)
        if cached is not None:
            return cached
        anchor = b"\n"
        tokens = list(self._llm.tokenize(anchor + text.encode("utf-8"), add_bos=False,
                                         special=False))
        for cut in range(1, len(tokens) + 1):
            head = bytes(self._llm.detokenize(tokens[:cut]))
            if head.lstrip(b" ") == anchor:
                rest = tokens[cut:]
                break
        else:
            rest = list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))
        self._continuations[text] = rest
        return rest

    def distribution(
        self, context: list[int], scores: list[int], eval_to: EvalTo
    ) -> tuple[dict[int, float], float]:
        """The distribution over ``scores`` after ``context`` and the mass they hold."""
        logits = eval_to(context)
        for _ in range(MAX_WHITESPACE_STEPS):
            token = self._preferred_whitespace(logits, scores)
            if token is None:
                break
            context = [*context, token]
            logits = eval_to(context)
        sequences = {s: self.continuation(str(s)) for s in scores}
        if all(len(seq) == 1 for seq in sequences.values()) and _distinct_firsts(sequences):
            return _softmax_over(logits, {s: seq[0] for s, seq in sequences.items()})
        return self._multi_token_distribution(context, logits, sequences, eval_to)

    def _preferred_whitespace(self, logits: np.ndarray, scores: list[int]) -> int | None:
        """The whitespace token the model would write before the score, if it prefers one."""
        best = int(np.argmax(logits))
        text = self.piece(best)
        if not text or text.strip() or self.is_end_of_generation(best):
            return None
        firsts = [self.continuation(str(s))[0] for s in scores]
        return best if logits[best] > max(logits[t] for t in firsts) else None

    def _multi_token_distribution(
        self, context: list[int], logits: np.ndarray, sequences: dict[int, list[int]],
        eval_to: EvalTo,
    ) -> tuple[dict[int, float], float]:
        """Scores of several tokens (e.g. 10): P(tokens) times P(the number ends there)."""
        digit_tokens = {self.continuation(str(d))[0] for d in range(10)}
        log_total = _logsumexp(logits)
        log_probs: dict[int, float] = {}
        for score, sequence in sequences.items():
            current, log_p = logits, 0.0
            for index, token in enumerate(sequence):
                log_p += float(current[token]) - _logsumexp(current)
                current = eval_to(context + sequence[: index + 1])
            ends = 1.0 - sum(math.exp(float(current[t]) - _logsumexp(current))
                             for t in digit_tokens)
            log_probs[score] = log_p + math.log(max(ends, 1e-12))
        top = max(log_probs.values())
        weights = {s: math.exp(v - top) for s, v in log_probs.items()}
        total = sum(weights.values())
        mass = math.exp(top - (log_total - _logsumexp(logits))) * total
        return {s: w / total for s, w in weights.items()}, min(1.0, mass)


def _distinct_firsts(sequences: dict[int, list[int]]) -> bool:
    firsts = [seq[0] for seq in sequences.values()]
    return len(set(firsts)) == len(firsts)


def _logsumexp(values: np.ndarray) -> float:
    top = float(np.max(values))
    return top + math.log(float(np.sum(np.exp(values.astype(np.float64) - top))))


def _softmax_over(logits: np.ndarray, tokens: dict[int, int]) -> tuple[dict[int, float], float]:
    chosen = {s: float(logits[t]) for s, t in tokens.items()}
    top = max(chosen.values())
    weights = {s: math.exp(v - top) for s, v in chosen.items()}
    total = sum(weights.values())
    mass = math.exp(top + math.log(total) - _logsumexp(logits))
    return {s: w / total for s, w in weights.items()}, min(1.0, mass)
