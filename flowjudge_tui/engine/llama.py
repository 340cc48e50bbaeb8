"""The default backend: llama.cpp in-process through llama-cpp-python.

Feedback is generated freely with llama.cpp's own sampler (no grammar, no ``logits_all``), so
it runs at full decode speed. When the model reaches ``<score>`` (or runs out of budget, or
stops early) the context is brought to the score position (see ``structure``) and the score
distribution is read from the raw logits of that one position.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flowjudge_tui.engine.chat import ChatWrapper, SpecialToken
from flowjudge_tui.engine.structure import GenerationWatcher, locate_score_position
from flowjudge_tui.errors import InvalidLogitsError, ModelError, PromptTooLongError
from flowjudge_tui.judging.backend import (
    EngineResult,
    FeedbackCallback,
    JudgmentCancelled,
    LoadSettings,
    SamplingSettings,
    StopCheck,
)

# Tokens kept free after the feedback for "</feedback>\n<score>", the score and whitespace.
SCORE_RESERVE = 24
# The least room for feedback an item must leave, or it is refused as too long.
MIN_FEEDBACK_TOKENS = 64
MAX_WHITESPACE_STEPS = 2


def _ggml_type(name: str) -> int:
    import llama_cpp

    return int({"f16": llama_cpp.GGML_TYPE_F16, "q8_0": llama_cpp.GGML_TYPE_Q8_0,
                "q4_0": llama_cpp.GGML_TYPE_Q4_0}[name])


class LlamaEngine:
    """One GGUF model loaded in this process. Calls are serialised by a lock."""

    def __init__(self, path: Path, load: LoadSettings | None = None) -> None:
        from llama_cpp import Llama

        self.path = Path(path)
        self.load = load or LoadSettings()
        if not self.path.is_file():
            raise ModelError(f"No model file at {self.path}; check the path or pull a model.")
        kwargs: dict[str, Any] = {
            "n_ctx": self.load.n_ctx,
            "n_gpu_layers": self.load.n_gpu_layers,
            "n_batch": self.load.n_batch,
            "n_ubatch": self.load.n_ubatch,
            "flash_attn": self.load.flash_attn,
            "type_k": _ggml_type(self.load.type_k),
            "type_v": _ggml_type(self.load.type_v),
            "logits_all": False,
            "verbose": False,
        }
        if self.load.n_threads:
            # llama-cpp-python would otherwise take cpu_count(), blind to CPU limits.
            kwargs["n_threads"] = self.load.n_threads
            kwargs["n_threads_batch"] = self.load.n_threads
        try:
            self._llm = Llama(str(self.path), **kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(
                f"llama.cpp could not load {self.path.name} with {self.load.describe()} ({exc}); "
                "check the file with 'flowjudge models add' or try a smaller memory plan."
            ) from None
        self._lock = threading.Lock()
        self._vocab = self._import().llama_model_get_vocab(self._llm.model)
        meta = self._llm.metadata
        self.chat = ChatWrapper(
            template=meta.get("tokenizer.chat_template"),
            architecture=meta.get("general.architecture", ""),
            bos_token=self._token_text(self._llm.token_bos()),
            eos_token=self._token_text(self._llm.token_eos()),
        )
        self._continuations: dict[str, list[int]] = {}
        self._specials: dict[str, SpecialToken] | None = None

    @staticmethod
    def _import() -> Any:
        import llama_cpp

        return llama_cpp

    @property
    def model_name(self) -> str:
        return self.path.name

    @property
    def n_ctx(self) -> int:
        return int(self._llm.n_ctx())

    @property
    def notices(self) -> list[str]:
        """Things the user should be told once about this model."""
        if self.chat.uses_fallback:
            return [
                f"{self.path.name} has no chat template; using Flow-Judge's Phi-3 prompt wrapper."
            ]
        return []

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return bytes(self._llm.detokenize([token], special=True)).decode("utf-8", "replace")

    def chat_tokens(self, prompt: str) -> list[int]:
        """The prompt wrapped in the chat template, as tokens.

        Only the template's own markers become control tokens: the prompt (rubric and judged
        item) is tokenized with special parsing off, so text such as ``<|end|>`` in an item
        stays text. For a prompt without such text the tokens are those of the whole wrapped
        text parsed at once.
        """
        segments = self.chat.segments(prompt, self._special_tokens())
        add_bos = not (segments and self.chat.starts_with_bos(segments[0].text))
        tokens: list[int] = []
        for segment in segments:
            tokens += self._llm.tokenize(segment.text.encode("utf-8"),
                                         add_bos=add_bos and not tokens, special=segment.special)
        return tokens

    def _special_tokens(self) -> dict[str, SpecialToken]:
        """The texts llama.cpp parses as control tokens, with their whitespace attributes."""
        if self._specials is None:
            llama_cpp = self._import()
            special = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
            found: dict[str, SpecialToken] = {}
            for token in range(self._llm.n_vocab()):
                attr = int(llama_cpp.llama_vocab_get_attr(self._vocab, token))
                if not attr & special:
                    continue
                text = self._token_text(token)
                if text:
                    found[text] = SpecialToken(
                        text,
                        lstrip=bool(attr & llama_cpp.LLAMA_TOKEN_ATTR_LSTRIP),
                        rstrip=bool(attr & llama_cpp.LLAMA_TOKEN_ATTR_RSTRIP),
                    )
            self._specials = found
        return self._specials

    def count_tokens(self, prompt: str) -> int:
        with self._lock:
            return len(self.chat_tokens(prompt))

    def close(self) -> None:
        with self._lock:
            self._llm.close()

    def judge(
        self,
        prompt: str,
        scores: Sequence[int],
        sampling: SamplingSettings,
        on_feedback: FeedbackCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> EngineResult:
        with self._lock:
            return self._judge(prompt, list(scores), sampling, on_feedback, should_stop)

    def _judge(
        self,
        prompt: str,
        scores: list[int],
        sampling: SamplingSettings,
        on_feedback: FeedbackCallback | None,
        should_stop: StopCheck | None,
    ) -> EngineResult:
        started = time.monotonic()
        prompt_tokens = self.chat_tokens(prompt)
        room = self.n_ctx - len(prompt_tokens) - SCORE_RESERVE
        if room < MIN_FEEDBACK_TOKENS:
            raise PromptTooLongError(
                len(prompt_tokens), MIN_FEEDBACK_TOKENS + SCORE_RESERVE, self.n_ctx
            )
        budget = min(sampling.max_feedback_tokens, room)
        generated, watcher, ended = self._generate(
            prompt_tokens, budget, sampling, on_feedback, should_stop
        )
        position = locate_score_position(watcher.pieces, ended)
        context = prompt_tokens + generated[: position.kept_tokens]
        context += self._continuation(position.tail)
        distribution, mass = self._score_distribution(context, scores)
        return EngineResult(
            feedback=position.feedback,
            distribution=distribution,
            score_mass=mass,
            prompt_tokens=len(prompt_tokens),
            completion_tokens=len(generated) + 1,
            raw_text=b"".join(watcher.pieces).decode("utf-8", "replace"),
            stop_reason=position.stop_reason,
            seconds=time.monotonic() - started,
        )

    def _generate(
        self,
        prompt_tokens: list[int],
        budget: int,
        sampling: SamplingSettings,
        on_feedback: FeedbackCallback | None,
        should_stop: StopCheck | None,
    ) -> tuple[list[int], GenerationWatcher, str]:
        llama_cpp = self._import()
        watcher = GenerationWatcher(on_feedback)
        generated: list[int] = []
        ended = "length"
        self._llm.set_seed(sampling.seed)
        tokens = self._llm.generate(
            prompt_tokens,
            temp=sampling.temperature,
            top_p=sampling.top_p,
            top_k=0,
            min_p=0.0,
            repeat_penalty=1.0,
        )
        try:
            for token in tokens:
                if should_stop is not None and should_stop():
                    raise JudgmentCancelled()
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    ended = "eos"
                    break
                generated.append(token)
                if watcher.feed(bytes(self._llm.detokenize([token]))):
                    ended = "marker"
                    break
                if len(generated) >= budget:
                    break
        finally:
            tokens.close()
        return generated, watcher, ended

    def _continuation(self, text: str) -> list[int]:
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

    def _eval_to(self, tokens: list[int]) -> np.ndarray:
        """Make the context exactly ``tokens``, reusing the cached prefix; a copy of its logits."""
        llm = self._llm
        cached = llm.n_tokens
        limit = min(cached, len(tokens))
        same = np.asarray(llm.input_ids[:limit]) == np.asarray(tokens[:limit], dtype=np.intc)
        common = limit if same.all() else int(np.argmin(same))
        common = min(common, len(tokens) - 1)
        llm.n_tokens = common
        llm.eval(tokens[common:])
        llama_cpp = self._import()
        pointer = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),)).copy()
        if not np.isfinite(logits).all():
            raise InvalidLogitsError(self.model_name)
        return logits

    def _score_distribution(
        self, context: list[int], scores: list[int]
    ) -> tuple[dict[int, float], float]:
        logits = self._eval_to(context)
        for _ in range(MAX_WHITESPACE_STEPS):
            token = self._preferred_whitespace(logits, scores)
            if token is None:
                break
            context = [*context, token]
            logits = self._eval_to(context)
        sequences = {s: self._continuation(str(s)) for s in scores}
        if all(len(seq) == 1 for seq in sequences.values()) and _distinct_firsts(sequences):
            return _softmax_over(logits, {s: seq[0] for s, seq in sequences.items()})
        return self._multi_token_distribution(context, logits, sequences)

    def _preferred_whitespace(self, logits: np.ndarray, scores: list[int]) -> int | None:
        """The whitespace token the model would write before the score, if it prefers one."""
        best = int(np.argmax(logits))
        text = bytes(self._llm.detokenize([best]))
        if not text or text.strip() or self._import().llama_vocab_is_eog(self._vocab, best):
            return None
        firsts = [self._continuation(str(s))[0] for s in scores]
        return best if logits[best] > max(logits[t] for t in firsts) else None

    def _multi_token_distribution(
        self, context: list[int], logits: np.ndarray, sequences: dict[int, list[int]]
    ) -> tuple[dict[int, float], float]:
        """Scores of several tokens (e.g. 10): P(tokens) times P(the number ends there)."""
        digit_tokens = {self._continuation(str(d))[0] for d in range(10)}
        log_total = _logsumexp(logits)
        log_probs: dict[int, float] = {}
        for score, sequence in sequences.items():
            current, log_p = logits, 0.0
            for index, token in enumerate(sequence):
                log_p += float(current[token]) - _logsumexp(current)
                current = self._eval_to(context + sequence[: index + 1])
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
