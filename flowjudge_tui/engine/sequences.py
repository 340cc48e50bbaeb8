"""A llama.cpp context holding several sequences over an already-loaded model.

Each sequence gets its own KV stream of ``n_ctx`` cells (``kv_unified`` off), so a sequence
sees exactly the context a single-sequence judgment would: the same positions, and for Phi-3
the same RoPE factors (llama.cpp picks them from the per-sequence context size; a unified
cache of N x 4096 cells would switch Phi-3 to its long factors and change every output).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flowjudge_tui.errors import ModelError
from flowjudge_tui.judging.backend import LoadSettings

# Fields of the single-sequence context's params the batched context takes as they are: its
# threads, and its RoPE settings (llama-cpp-python passes its own YaRN defaults, e.g. an attention
# factor of 1.0, where llama.cpp's default params say -1, "the model's value"; a model that sets
# one would otherwise get other RoPE in the batched context than in the single one).
SHARED_PARAMS = (
    "n_threads", "n_threads_batch", "rope_scaling_type", "rope_freq_base", "rope_freq_scale",
    "yarn_ext_factor", "yarn_attn_factor", "yarn_beta_fast", "yarn_beta_slow", "yarn_orig_ctx",
)


@dataclass(frozen=True)
class Entry:
    """One token of a batch: which sequence, at which position, and whether to keep logits."""

    token: int
    position: int
    sequence: int
    logits: bool


def ggml_type(name: str) -> int:
    import llama_cpp

    return int({"f16": llama_cpp.GGML_TYPE_F16, "q8_0": llama_cpp.GGML_TYPE_Q8_0,
                "q4_0": llama_cpp.GGML_TYPE_Q4_0}[name])


def context_params(llama_cpp: Any, load: LoadSettings, n_seq: int, single: Any) -> Any:
    """The params of a context of ``n_seq`` sequences that computes each one exactly as the
    single-sequence context with params ``single`` does."""
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = load.n_ctx * n_seq
    params.n_batch = load.n_batch
    params.n_ubatch = load.n_ubatch
    params.n_seq_max = n_seq
    params.kv_unified = False
    params.type_k = ggml_type(load.type_k)
    params.type_v = ggml_type(load.type_v)
    params.flash_attn_type = (llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if load.flash_attn
                              else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED)
    for name in SHARED_PARAMS:
        setattr(params, name, getattr(single, name))
    return params


class SequenceContext:
    """``n_seq`` sequences of up to ``load.n_ctx`` tokens each, decoded in shared batches."""

    def __init__(self, model: Any, n_vocab: int, load: LoadSettings, n_seq: int,
                 single: Any) -> None:
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.n_seq = n_seq
        self.n_batch = load.n_batch
        self._n_vocab = n_vocab
        params = context_params(llama_cpp, load, n_seq, single)
        self._ctx = llama_cpp.llama_init_from_model(model, params)
        if not self._ctx:
            raise ModelError(
                f"llama.cpp could not make a context of {n_seq} sequences x {load.n_ctx} tokens "
                f"({load.describe()}); use fewer parallel sequences or a smaller memory plan."
            )
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(load.n_batch, 0, 1)
        self.n_ctx_seq = int(llama_cpp.llama_n_ctx_seq(self._ctx))

    def decode(self, entries: Sequence[Entry]) -> None:
        """Evaluate up to ``n_batch`` tokens of any sequences together."""
        if not entries:
            return
        if len(entries) > self.n_batch:
            raise ValueError(f"{len(entries)} tokens exceed the batch of {self.n_batch}")
        batch = self._batch
        batch.n_tokens = len(entries)
        for index, entry in enumerate(entries):
            batch.token[index] = entry.token
            batch.pos[index] = entry.position
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = entry.sequence
            batch.logits[index] = entry.logits
        code = self._llama_cpp.llama_decode(self._ctx, batch)
        if code != 0:
            raise ModelError(
                f"llama.cpp could not decode a batch of {len(entries)} tokens (code {code}); "
                "use fewer parallel sequences or a smaller context."
            )

    def logits(self, index: int) -> np.ndarray:
        """A copy of the logits of batch entry ``index`` of the last decode."""
        pointer = self._llama_cpp.llama_get_logits_ith(self._ctx, index)
        return np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).copy()

    def sample(self, sampler: Any, index: int) -> int:
        """Sample (and accept) a token from batch entry ``index`` with a sampler chain."""
        return int(self._llama_cpp.llama_sampler_sample(sampler.sampler, self._ctx, index))

    def remove(self, sequence: int, start: int = -1) -> None:
        """Forget the tokens of ``sequence`` from position ``start`` on (all with -1)."""
        self._llama_cpp.llama_memory_seq_rm(self._memory, sequence, start, -1)

    def copy(self, source: int, target: int) -> None:
        """Make ``target`` a copy of ``source`` (its whole stream; ``target`` must be empty)."""
        self._llama_cpp.llama_memory_seq_cp(self._memory, source, target, -1, -1)

    def close(self) -> None:
        if self._ctx:
            self._llama_cpp.llama_batch_free(self._batch)
            self._llama_cpp.llama_free(self._ctx)
            self._ctx = None
