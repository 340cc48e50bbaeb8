"""Where does the batched context's prompt time go? (bench/RESULTS.md section 5, the gap)

One process, one loaded model, llama-cpp-python's own context (the single-sequence path) and a
``SequenceContext`` of 3 sequences (the batched path) over it, the same prompt tokens, one
thread. Each round times, in turn: the single context evaluating a piece from position 0 and a
second piece after it; the batched context doing the same on sequence 0, on sequence 2, and on
sequence 1 after a copy of sequence 0's first piece (as a follower after a shared prefix).
The fastest round of each is printed (the machine is shared).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from flowjudge_tui.engine.llama import LlamaEngine
from flowjudge_tui.engine.sequences import Entry, SequenceContext
from flowjudge_tui.judging.backend import LoadSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--piece", type=int, default=128, help="tokens per piece")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--n-ctx", type=int, default=4096)
    args = parser.parse_args()

    load = LoadSettings(n_ctx=args.n_ctx, n_threads=1)
    engine = LlamaEngine(args.model, load)
    llm = engine._llm
    context = SequenceContext(llm.model, int(llm.n_vocab()), load, 3, llm.context_params)
    piece = args.piece
    tokens = [1] + [int(t) for t in np.random.default_rng(0).integers(100, 30000, 2 * piece - 1)]
    first, second = tokens[:piece], tokens[piece:]

    def single(start: int, part: list[int]) -> float:
        llm.n_tokens = start
        began = time.perf_counter()
        llm.eval(part)
        return time.perf_counter() - began

    def batched(sequence: int, start: int, part: list[int]) -> float:
        entries = [Entry(token, start + offset, sequence, offset == len(part) - 1)
                   for offset, token in enumerate(part)]
        began = time.perf_counter()
        context.decode(entries)
        return time.perf_counter() - began

    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, seconds), seconds)
        print(f"  {name:34s} {seconds * 1000 / piece:7.1f} ms/token", flush=True)

    for round_ in range(args.rounds):
        print(f"round {round_ + 1}", flush=True)
        keep("single, from 0", single(0, first))
        keep("single, after the first piece", single(piece, second))
        for sequence in range(3):
            context.remove(sequence)
        keep("batched seq 0, from 0", batched(0, 0, first))
        keep("batched seq 0, after the first piece", batched(0, piece, second))
        keep("batched seq 2, from 0", batched(2, 0, first))
        context.copy(0, 1)
        context.remove(1, piece)
        keep("batched seq 1, after a copied piece", batched(1, piece, second))
    print("fastest of each:")
    for name, seconds in best.items():
        print(f"  {name:34s} {seconds * 1000 / piece:7.1f} ms/token")
    context.close()
    engine.close()


if __name__ == "__main__":
    main()
