"""Raw llama.cpp costs on one model: a prompt token, and one decode step of 1..N sequences.

``batched_throughput.py`` prices each side's token counts with these to give the ceiling of
batching on this machine in the same run: what the speed-up would be if all the time went into
llama.cpp's own prompt and decode work, nothing into ours. It uses llama-cpp-python's low-level
API directly (a context of N sequences, one KV stream each, as ``engine.sequences``), so no
flowjudge code is timed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class RawCosts:
    """Seconds per prompt token (in pieces of ``prompt_piece``) and per decode step by width
    (steps from the end of the prompt)."""

    prompt_token_s: float
    step_s: dict[int, float]
    prompt_piece: int

    def line(self) -> str:
        one = self.step_s[1]
        steps = ", ".join(f"{n}: {s * 1000:.0f} ms ({s / one:.2f}x)"
                          for n, s in sorted(self.step_s.items()))
        return (f"raw llama.cpp: prompt {self.prompt_token_s * 1000:.1f} ms/token "
                f"({self.prompt_piece}-token pieces); decode step of n sequences: {steps}")

    def step(self, width: int) -> float:
        return self.step_s.get(width, self.step_s[max(self.step_s)] * width / max(self.step_s))


def measure(model_path: Path, threads: int | None, widths: int = 4, prompt: int = 768,
            n_batch: int = 512, rounds: int = 3, prompt_rounds: int = 2,
            steps: int = 4) -> RawCosts:
    """Time a ``prompt``-token prompt in ``n_batch`` pieces (as a judgment evaluates one) and,
    from its end (where a judgment's feedback starts), ``steps`` decode steps of each width
    1..``widths``, interleaved by round; the fastest round of each is kept (the machine is
    shared). The other sequences get a copy of the first one's prompt."""
    import llama_cpp as lib

    from flowjudge_tui.engine.llama import quiet_llama_logs

    quiet_llama_logs()
    model_params = lib.llama_model_default_params()
    model = lib.llama_model_load_from_file(str(model_path).encode(), model_params)
    params = lib.llama_context_default_params()
    params.n_ctx = (prompt + steps + 256) * widths
    params.n_batch = params.n_ubatch = n_batch
    params.n_seq_max = widths
    params.kv_unified = False
    params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
    if threads:
        params.n_threads = params.n_threads_batch = threads
    context = lib.llama_init_from_model(model, params)
    memory = lib.llama_get_memory(context)
    batch = lib.llama_batch_init(n_batch, 0, 1)
    tokens = [1] + [int(t) for t in np.random.default_rng(0).integers(100, 30000, prompt - 1)]

    def decode(entries: list[tuple[int, int, int]]) -> float:
        batch.n_tokens = len(entries)
        for index, (token, position, sequence) in enumerate(entries):
            batch.token[index], batch.pos[index] = token, position
            batch.n_seq_id[index], batch.seq_id[index][0] = 1, sequence
            batch.logits[index] = index == len(entries) - 1 or position >= prompt
        started = time.perf_counter()
        if lib.llama_decode(context, batch) != 0:
            raise SystemExit("raw llama.cpp could not decode")
        return time.perf_counter() - started

    try:
        prompt_s: list[float] = []
        for _ in range(prompt_rounds):
            lib.llama_memory_seq_rm(memory, 0, 0, -1)
            prompt_s.append(sum(
                decode([(tokens[i], i, 0) for i in range(start, min(start + n_batch, prompt))])
                for start in range(0, prompt, n_batch)) / prompt)
        for sequence in range(1, widths):
            lib.llama_memory_seq_rm(memory, sequence, 0, -1)
            lib.llama_memory_seq_cp(memory, 0, sequence, -1, -1)
        step: dict[int, list[float]] = {n: [] for n in range(1, widths + 1)}
        for _ in range(rounds):
            for width in range(1, widths + 1):
                for sequence in range(widths):
                    lib.llama_memory_seq_rm(memory, sequence, prompt, -1)
                step[width].append(sum(
                    decode([(500, prompt + k, s) for s in range(width)]) for k in range(steps)
                ) / steps)
        return RawCosts(min(prompt_s), {n: min(v) for n, v in step.items()}, n_batch)
    finally:
        lib.llama_batch_free(batch)
        lib.llama_free(context)
        lib.llama_model_free(model)
