"""Why a judgment costs more on llama-cpp-python's own server than in-process.

That server can give log-probabilities only when it runs with ``logits_all`` (its default;
llama-cpp-python refuses ``logprobs`` otherwise), so it computes the output layer for every
prompt position, over the whole vocabulary, and keeps each row. This script measures:

1. raw llama-cpp-python, in this process: evaluating the same prompt with ``logits_all``
   False and True (alternated, ``--reps`` times each), and a one-token step of each;
2. one judgment of the same item in-process and on the server (started here on loopback with
   the same threads), the server's side split into the feedback stream (time to its first
   token, whole stream) and the one-token score requests, and the server's resident memory.

Usage::

    python bench/make_models.py --only gemma
    python bench/lcp_server_cost.py [--reps 2] [--threads 2] [--dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from make_models import bench_dir, gemma_path  # noqa: E402

PROMPT = "The quick brown fox jumps over the lazy dog near the river bank. " * 40


def raw_logits_all(model: Path, threads: int, reps: int) -> None:
    from llama_cpp import Llama

    figures: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(reps):
        for logits_all in (False, True):
            llm = Llama(str(model), n_ctx=4096, n_threads=threads, n_threads_batch=threads,
                        logits_all=logits_all, verbose=False)
            tokens = llm.tokenize(PROMPT.encode())
            start = time.perf_counter()
            llm.eval(tokens)
            prompt_s = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(32):
                llm.eval([tokens[5]])
            figures[logits_all].append((prompt_s, (time.perf_counter() - start) / 32))
            del llm
    for logits_all, rows in figures.items():
        print(f"raw logits_all={logits_all}: prompt of {len(tokens)} tokens "
              f"{statistics.median(r[0] for r in rows):.2f} s, one-token step "
              f"{statistics.median(r[1] for r in rows) * 1000:.0f} ms (median of {reps})")


def judgments(model: Path, threads: int) -> None:
    from flowjudge_tui.engine import served_http
    from flowjudge_tui.engine.llama import LlamaEngine
    from flowjudge_tui.engine.served import ServedEngine
    from flowjudge_tui.judging.backend import LoadSettings, SamplingSettings
    from flowjudge_tui.judging.judge import judge_item
    from tests.served_server import LlamaCppPythonServer
    from tests.test_served_engine import FIVE, ITEM

    sampling = SamplingSettings(max_feedback_tokens=32)
    engine = LlamaEngine(model, LoadSettings(n_ctx=4096, n_threads=threads))
    start = time.perf_counter()
    local = judge_item(engine, FIVE, ITEM, sampling)
    print(f"in-process judgment: {time.perf_counter() - start:.1f} s "
          f"({local.prompt_tokens} prompt tokens)")
    engine.close()

    requests: list[tuple[bool, float | None, float]] = []
    original = served_http.ServerConnection.stream

    def timed(self: Any, path: str, payload: dict[str, Any], stop: Any = None
              ) -> Generator[dict[str, Any], None, None]:
        start, first = time.perf_counter(), None
        try:
            for event in original(self, path, payload, stop):
                first = first or time.perf_counter() - start
                yield event
        finally:
            requests.append(("logit_bias" in payload, first, time.perf_counter() - start))

    served_http.ServerConnection.stream = timed  # type: ignore[method-assign]
    server = LlamaCppPythonServer(model)
    server.threads = threads
    server.start()
    try:
        remote = ServedEngine(server.url)
        start = time.perf_counter()
        judge_item(remote, FIVE, ITEM, sampling)
        total = time.perf_counter() - start
        remote.close()
        assert server.process is not None
        with open(f"/proc/{server.process.pid}/status", encoding="utf-8") as status:
            rss = next(line.split()[1] for line in status if line.startswith("VmRSS"))
    finally:
        server.stop()
    feedback = [r for r in requests if not r[0]]
    scores = [r for r in requests if r[0]]
    print(f"served judgment: {total:.1f} s: feedback stream {feedback[0][2]:.1f} s "
          f"(first token after {feedback[0][1] or 0:.1f} s), {len(scores)} score requests "
          f"{sum(r[2] for r in scores):.1f} s; server resident memory {int(rss) / 1e6:.2f} GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    model = gemma_path(bench_dir(args.dir))
    if not model.is_file():
        raise SystemExit(f"{model} is missing: run python bench/make_models.py --only gemma")
    raw_logits_all(model, args.threads, args.reps)
    judgments(model, args.threads)


if __name__ == "__main__":
    main()
