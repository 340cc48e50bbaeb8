"""The default backend: llama.cpp in-process through llama-cpp-python.

Feedback is generated freely with llama.cpp's own sampler (no grammar, no ``logits_all``), so
it runs at full decode speed. When the model reaches ``<score>`` (or runs out of budget, or
stops early) the context is brought to the score position (see ``structure``) and the score
distribution is read from the raw logits of that one position.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flowjudge_tui.engine.batch_queue import split_point
from flowjudge_tui.engine.chat import ChatWrapper, SpecialToken
from flowjudge_tui.engine.score_reader import ScoreReader
from flowjudge_tui.engine.sequences import ggml_type
from flowjudge_tui.engine.structure import (
    GenerationWatcher,
    engine_result,
    locate_score_position,
)
from flowjudge_tui.errors import InvalidLogitsError, ModelError, PromptTooLongError
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

if TYPE_CHECKING:
    from flowjudge_tui.engine.batch_queue import PhaseTimes
    from flowjudge_tui.engine.batched import BatchedJudge

# Tokens kept free after the feedback for "</feedback>\n<score>", the score and whitespace.
SCORE_RESERVE = 24
# The least room for feedback an item must leave, or it is refused as too long.
MIN_FEEDBACK_TOKENS = 64
# With several sequences the judging context is the batched one; llama-cpp-python's own
# context (always created by ``Llama``) then only needs to exist, so it is kept small.
IDLE_CONTEXT = 256


# How feedback is sampled: the official temperature and top_p, nothing else (llama-cpp-python's
# other defaults would add top_k 40 and min_p 0.05).
SAMPLER_EXTRAS: dict[str, Any] = {"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0}


LLAMA_LOG_ENV = "FLOWJUDGE_LLAMA_LOG"
"""Set to 1 to see llama.cpp's own log lines (model loading, warnings) on stderr."""
_GGML_LOG_ERROR = 4  # ggml's levels here: 1 debug, 2 info, 3 warn, 4 error, 5 continuation
_log_state: dict[str, Any] = {}


def quiet_llama_logs() -> None:
    """Keep llama.cpp's own logging off stderr except real errors, unless asked for with
    FLOWJUDGE_LLAMA_LOG=1. (llama-cpp-python's level table is one off for this llama.cpp, so
    its warnings, such as the SWA cache notice, would otherwise be printed as errors.)"""
    if "callback" in _log_state:
        return
    import ctypes
    import sys

    import llama_cpp

    loud = os.environ.get(LLAMA_LOG_ENV, "") not in ("", "0")
    _log_state["last"] = 0

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        effective = _log_state["last"] if level == 5 else level
        _log_state["last"] = effective
        if loud or effective >= _GGML_LOG_ERROR:
            sys.stderr.write(text.decode("utf-8", "replace"))

    _log_state["callback"] = log  # kept alive: llama.cpp holds a raw pointer to it
    llama_cpp.llama_log_set(log, ctypes.c_void_p(0))


class LlamaEngine:
    """One GGUF model loaded in this process. Calls are serialised by a lock.

    With ``load.n_parallel`` > 1 every judgment goes through ``BatchedJudge`` (several
    sequences in one context); otherwise through llama-cpp-python's own context.
    """

    def __init__(self, path: Path, load: LoadSettings | None = None) -> None:
        from llama_cpp import Llama

        quiet_llama_logs()

        self.path = Path(path)
        self.load = load or LoadSettings()
        if not self.path.is_file():
            raise ModelError(f"No model file at {self.path}; check the path or pull a model.")
        batched = self.load.n_parallel > 1
        own_ctx = min(IDLE_CONTEXT, self.load.n_ctx) if batched else self.load.n_ctx
        kwargs: dict[str, Any] = {
            "n_ctx": own_ctx,
            "n_gpu_layers": self.load.n_gpu_layers,
            "n_batch": min(self.load.n_batch, own_ctx),
            "n_ubatch": min(self.load.n_ubatch, own_ctx),
            "flash_attn": self.load.flash_attn,
            "type_k": ggml_type(self.load.type_k),
            "type_v": ggml_type(self.load.type_v),
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
        self._scores = ScoreReader(self._llm, self._vocab)
        meta = self._llm.metadata
        self.chat = ChatWrapper(
            template=meta.get("tokenizer.chat_template"),
            architecture=meta.get("general.architecture", ""),
            bos_token=self._token_text(self._llm.token_bos()),
            eos_token=self._token_text(self._llm.token_eos()),
        )
        self._specials: dict[str, SpecialToken] | None = None
        # The prompt length of the last judgment: only its prompt's tokens in the cache were
        # evaluated as the same tokens of a later prompt would be.
        self._cached_prompt = 0
        self._batched: BatchedJudge | None = None
        if batched:
            self._batched = self._batched_judge()

    def _batched_judge(self) -> BatchedJudge:
        from flowjudge_tui.engine.batched import BatchedJudge

        llama_cpp = self._import()
        try:
            return BatchedJudge(
                self._llm, self.chat_tokens, self._scores, self.load, self.sampler_chain,
                score_reserve=SCORE_RESERVE, min_feedback_tokens=MIN_FEEDBACK_TOKENS,
                # A copied KV stream is exact for plain caches; llama.cpp does not copy the
                # sliding-window part of an iSWA cache (Gemma 3), so those re-evaluate it.
                share_prefixes=llama_cpp.llama_model_n_swa(self._llm.model) == 0,
                model_name=self.model_name,
            )
        except ModelError:
            self._llm.close()
            raise

    @staticmethod
    def _import() -> Any:
        import llama_cpp

        return llama_cpp

    @property
    def model_name(self) -> str:
        return self.path.name

    @property
    def n_ctx(self) -> int:
        if self._batched is not None:
            return self._batched.context.n_ctx_seq
        # llama.cpp pads the context to a multiple of 256 and reports that, but
        # llama-cpp-python keeps only the size asked for in token slots (``input_ids``):
        # past it, its eval fails with a numpy broadcast error. The smaller is the real room.
        return min(int(self._llm.n_ctx()), len(self._llm.input_ids))

    @property
    def n_parallel(self) -> int:
        return self.load.n_parallel if self._batched is not None else 1

    @property
    def phase_times(self) -> PhaseTimes | None:
        """Where the batched judgments' time went (None without batching)."""
        return self._batched.times if self._batched is not None else None

    @property
    def notices(self) -> list[str]:
        """Things the user should be told once about this model."""
        from flowjudge_tui.models.gguf_file import flow_judge_mismatch

        mismatch = flow_judge_mismatch(self.path.name, self.chat.architecture,
                                       not self.chat.uses_fallback)
        return [mismatch] if mismatch else []

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

    def sampler_chain(self, sampling: SamplingSettings) -> Any:
        """A fresh sampler chain exactly as ``Llama.generate`` builds it for ``sampling``."""
        self._llm.set_seed(sampling.seed)
        return self._llm._init_sampler(temp=sampling.temperature, top_p=sampling.top_p,
                                       **SAMPLER_EXTRAS)

    def close(self) -> None:
        with self._lock:
            if self._batched is not None:
                self._batched.close()
                self._batched = None
            self._llm.close()

    def judge(
        self,
        prompt: str,
        scores: Sequence[int],
        sampling: SamplingSettings,
        on_feedback: FeedbackCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> EngineResult:
        if self._batched is not None:
            request = JudgeRequest(0, prompt, tuple(scores), sampling, on_feedback=on_feedback)
            [outcome] = list(self.judge_many([request], should_stop))
            if outcome.error is not None:
                raise outcome.error
            assert outcome.result is not None
            return outcome.result
        with self._lock:
            return self._judge(prompt, list(scores), sampling, on_feedback, should_stop)

    def judge_many(
        self, requests: Iterable[JudgeRequest], should_stop: StopCheck | None = None
    ) -> Iterator[JudgeOutcome]:
        """Judge ``requests``, ``n_parallel`` at a time, yielding outcomes as they finish."""
        with self._lock:
            if self._batched is not None:
                yield from self._batched.run(requests, should_stop)
                return
            for request in requests:
                try:
                    result = self._judge(request.prompt, list(request.scores), request.sampling,
                                         request.on_feedback, should_stop)
                except (PromptTooLongError, InvalidLogitsError) as exc:
                    yield JudgeOutcome(request, error=exc)
                else:
                    yield JudgeOutcome(request, result=result)

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
        return engine_result(position, watcher, len(prompt_tokens), len(generated),
                             distribution, mass, started)

    def _generate(
        self,
        prompt_tokens: list[int],
        budget: int,
        sampling: SamplingSettings,
        on_feedback: FeedbackCallback | None,
        should_stop: StopCheck | None,
    ) -> tuple[list[int], GenerationWatcher, str]:
        watcher = GenerationWatcher(on_feedback)
        generated: list[int] = []
        ended = "length"
        self._keep_exact_prefix(prompt_tokens)
        self._cached_prompt = len(prompt_tokens)
        self._llm.set_seed(sampling.seed)
        tokens = self._llm.generate(
            prompt_tokens, temp=sampling.temperature, top_p=sampling.top_p, **SAMPLER_EXTRAS
        )
        try:
            for token in tokens:
                if should_stop is not None and should_stop():
                    raise JudgmentCancelled()
                if self._scores.is_end_of_generation(token):
                    ended = "eos"
                    break
                generated.append(token)
                if watcher.feed(self._scores.piece(token)):
                    ended = "marker"
                    break
                if len(generated) >= budget:
                    break
        finally:
            tokens.close()
        return generated, watcher, ended

    def _keep_exact_prefix(self, prompt_tokens: list[int]) -> None:
        """Cut llama-cpp-python's cached prefix back to where a cut leaves the prompt's logits
        exactly as on a fresh context (``split_point``): ``generate`` reuses the longest
        common prefix with the last judgment, and a cut anywhere else would make a verdict
        depend on what was judged before it."""
        llm = self._llm
        limit = min(llm.n_tokens, len(prompt_tokens), self._cached_prompt)
        same = np.asarray(llm.input_ids[:limit]) == np.asarray(prompt_tokens[:limit],
                                                               dtype=np.intc)
        common = limit if same.all() else int(np.argmin(same))
        llm.n_tokens = split_point(common, [len(prompt_tokens)])

    def _continuation(self, text: str) -> list[int]:
        """Tokens for ``text`` as it continues a sequence (no BOS, no added leading space)."""
        return self._scores.continuation(text)

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
        return self._scores.distribution(context, scores, self._eval_to)
