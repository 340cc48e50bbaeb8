"""Decode throughput by generation thread count, on one loaded model, interleaved.

Not a target: a diagnostic. ``flowjudge judge`` loads with ``n_threads`` = physical cores (the
memory plan, ``engine.fit``); a bare ``Llama()`` uses ``cpu_count() // 2``. On a small shared
machine the two differ (2 vs 1 on a 2-vCPU box), and llama.cpp's thread barrier spins, so a
thread that loses its core to another process stalls every token. This measures the
generation speed of each thread count, alternating (1, 2, 2, 1, ...) on the same context via
``llama_set_n_threads``, with the prompt processed once beforehand (n_threads_batch unchanged).

Usage::

    python bench/threads.py [--dir DIR] [--models gemma,phi3] [--threads 1,2] [--reps 4]
        [--n-phi3 32] [--n-gemma 150]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_models import bench_dir, gemma_path, phi3_path
from structure_overhead import bench_prompt, prime, raw_generate

from flowjudge_tui.engine.llama import LlamaEngine
from flowjudge_tui.engine.plans import load_settings_for
from flowjudge_tui.judging.backend import SamplingSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir")
    parser.add_argument("--models", default="gemma,phi3")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--n-phi3", type=int, default=32)
    parser.add_argument("--n-gemma", type=int, default=150)
    args = parser.parse_args()
    import llama_cpp

    directory = bench_dir(args.dir)
    counts = [int(t) for t in args.threads.split(",")]
    prompt, _ = bench_prompt()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} CPUs; "
          f"llama-cpp-python {llama_cpp.__version__}; load average {os.getloadavg()}")
    paths = {"gemma": (gemma_path(directory), args.n_gemma),
             "phi3": (phi3_path(directory), args.n_phi3)}
    for name in args.models.split(","):
        path, n = paths[name]
        engine = LlamaEngine(path, load_settings_for(path)[0])
        llm = engine._llm
        tokens = engine.chat_tokens(prompt)
        llm.eval(tokens)
        sampling = SamplingSettings(max_feedback_tokens=n)
        speeds: dict[int, list[float]] = {t: [] for t in counts}
        for rep in range(args.reps):
            for threads in counts if rep % 2 == 0 else counts[::-1]:
                llama_cpp.llama_set_n_threads(llm.ctx, threads, llm.n_threads_batch)
                prime(llm, tokens)
                started = time.perf_counter()
                got = len(raw_generate(llm, tokens, n, sampling))
                speeds[threads].append(got / (time.perf_counter() - started))
                print(f"  {name} rep {rep} n_threads={threads}: {speeds[threads][-1]:.2f} tok/s",
                      flush=True)
        base = counts[0]
        for threads in counts:
            ratio = [a / b for a, b in zip(speeds[threads], speeds[base], strict=True)]
            print(f"{name}: n_threads={threads} median {statistics.median(speeds[threads]):.2f} "
                  f"tok/s, best {max(speeds[threads]):.2f}, worst {min(speeds[threads]):.2f}; "
                  f"vs n_threads={base}: median ratio {statistics.median(ratio):.3f}")
        engine.close()
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
