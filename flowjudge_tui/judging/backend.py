"""What a judging backend must do, and the settings a judgment is made with.

The judging domain owns this interface; ``engine/`` implements it (llama.cpp in-process, or a
server), and the store records the settings with each run. Nothing here imports a backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from flowjudge_tui.errors import SettingsError

KVCacheType = Literal["f16", "q8_0", "q4_0"]
# Phi-3 switches to its long RoPE factors above 4096 tokens, which changes every output.
DEFAULT_N_CTX = 4096
FeedbackCallback = Callable[[str], None]
StopCheck = Callable[[], bool]


MAX_TEMPERATURE = 5.0
MAX_FEEDBACK_TOKENS = 1 << 16
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class SamplingSettings:
    """How feedback is generated. Defaults are the official library's, with a fixed seed."""

    temperature: float = 0.1
    top_p: float = 0.95
    max_feedback_tokens: int = 1000
    seed: int = 0

    def check(self) -> SamplingSettings:
        """These settings, or a sentence saying which one is out of range."""
        if not math.isfinite(self.temperature) or not 0.0 <= self.temperature <= MAX_TEMPERATURE:
            raise SettingsError(f"The temperature {self.temperature} is not a number from 0 to "
                                f"{MAX_TEMPERATURE}; the official setting is 0.1.")
        if not math.isfinite(self.top_p) or not 0.0 < self.top_p <= 1.0:
            raise SettingsError(f"top-p {self.top_p} is not a number above 0 and at most 1; "
                                "the official setting is 0.95.")
        if not 1 <= self.max_feedback_tokens <= MAX_FEEDBACK_TOKENS:
            raise SettingsError(f"The feedback budget {self.max_feedback_tokens} is not from 1 to "
                                f"{MAX_FEEDBACK_TOKENS} tokens.")
        if not 0 <= self.seed <= MAX_SEED:
            raise SettingsError(f"The seed {self.seed} is not from 0 to {MAX_SEED}.")
        return self


@dataclass(frozen=True)
class LoadSettings:
    """How a model is loaded: one memory plan (see ``engine.fit``)."""

    n_ctx: int = DEFAULT_N_CTX
    n_gpu_layers: int = 0
    type_k: KVCacheType = "f16"
    type_v: KVCacheType = "f16"
    flash_attn: bool = False
    n_threads: int | None = None
    n_batch: int = 512
    n_ubatch: int = 512
    n_parallel: int = 1
    """Sequences decoded together, each with its own ``n_ctx`` (see ``engine.batched``)."""

    def describe(self) -> str:
        where = "CPU only" if self.n_gpu_layers == 0 else f"{self.n_gpu_layers} layers on the GPU"
        fa = ", flash attention" if self.flash_attn else ""
        parallel = f", {self.n_parallel} sequences" if self.n_parallel > 1 else ""
        return f"{where}, context {self.n_ctx}{parallel}, KV {self.type_k}/{self.type_v}{fa}"


@dataclass(frozen=True)
class EngineResult:
    """What a backend returns for one prompt; ``judging.judge`` turns it into a ``Verdict``."""

    feedback: str
    distribution: dict[int, float]
    score_mass: float
    prompt_tokens: int
    completion_tokens: int
    raw_text: str
    stop_reason: str
    seconds: float


class JudgeEngine(Protocol):
    """A loaded judge model. Implementations serialise calls: one judgment at a time."""

    load: LoadSettings
    """The memory plan the model was loaded with."""

    @property
    def path(self) -> Path | None:
        """The model file judging in this process, or None when the model runs elsewhere."""
        ...

    @property
    def model_name(self) -> str: ...

    @property
    def n_ctx(self) -> int: ...

    def count_tokens(self, prompt: str) -> int:
        """Tokens the prompt takes once wrapped in the model's chat template."""
        ...

    def judge(
        self,
        prompt: str,
        scores: Sequence[int],
        sampling: SamplingSettings,
        on_feedback: FeedbackCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> EngineResult:
        """Generate feedback for ``prompt`` and read the score distribution over ``scores``.

        Raises ``PromptTooLongError`` before generating when the prompt does not fit, and
        ``JudgmentCancelled`` when ``should_stop`` returns True.
        """
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class JudgeRequest:
    """One judgment among many (``judge_many``); ``key`` is the caller's own identifier.

    Requests with the same ``group`` (the same item under several rubrics) share the start of
    their prompts: a batching engine evaluates that prefix once and copies it.
    """

    key: Hashable
    prompt: str
    scores: tuple[int, ...]
    sampling: SamplingSettings
    group: Hashable | None = None
    on_feedback: FeedbackCallback | None = None


@dataclass(frozen=True)
class JudgeOutcome:
    """A finished request: its result, or the error that refused it (e.g. too long)."""

    request: JudgeRequest
    result: EngineResult | None = None
    error: Exception | None = None


@runtime_checkable
class BatchJudgeEngine(JudgeEngine, Protocol):
    """An engine that judges several requests together; outcomes come as each finishes."""

    @property
    def n_parallel(self) -> int: ...

    def judge_many(
        self, requests: Iterable[JudgeRequest], should_stop: StopCheck | None = None
    ) -> Iterator[JudgeOutcome]:
        """Judge ``requests`` (read lazily), yielding each outcome when it is ready.

        Raises ``JudgmentCancelled`` when ``should_stop`` returns True; judgments in flight
        are dropped.
        """
        ...


class JudgmentCancelled(Exception):
    """Raised inside a judgment when its caller asked it to stop."""
