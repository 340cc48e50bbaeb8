"""Items per hour: a run served by llama.cpp's server (N slots, --concurrency N) against the
same run in-process, one item at a time, on the same machine, in the same process.

Both sides judge the same HaluEval rows with ``faithfulness-context-5`` through flowjudge's own
run machinery (``execute_run``), each into its own fresh store, with the same sampling and
feedback budget:

* in-process: ``LlamaEngine`` with the model's first memory plan, one sequence at a time
  (``n_parallel=1``; bench/batched_throughput.py measures in-process batching);
* served: the ``xllamacpp`` wheel's llama.cpp server in a subprocess on loopback
  (``n_parallel`` = slots, context slots x 4096, the same thread count), ``ServedEngine``
  with ``concurrency`` items in flight.

Where the time goes: in-process, the engine's calls timed from outside (llama.cpp's
``llama_perf_context`` crashes this build): to first token (prompt), first token -> <score>
(feedback), the rest of the judgment (tokenizing and the score step). Served, the engine's
own clock (request sent -> first token: prompt; first token -> <score>: feedback; the score
step), and how many tokens the score request had to evaluate against how many came from the
server's prefix cache.

The issue's target run is 40 rows on the Flow-Judge-shaped Q4_K_M (``make_models.py``); on a
shared 2-core CPU that takes hours, so ``--rows``, ``--max-tokens`` and ``--model`` scale it.

Usage::

    python bench/served_throughput.py [--model PATH|small-phi3] [--rows 8] [--max-tokens 48]
        [--slots 4] [--concurrency 4] [--threads 2] [--order local-first|served-first]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_models import HALUEVAL, bench_dir, gemma_path  # noqa: E402

RUBRIC = "faithfulness-context-5"


SMALL_PHI3 = "phi3-small-random-f16.gguf"


def small_phi3(directory: Path) -> Path:
    """A small random ``phi3`` (6 layers, hidden 768, f16, 184 MB): Flow-Judge's architecture,
    vocabulary size and chat template at a size this CPU judges in seconds."""
    import numpy as np
    from gguf_models import Phi3Shape, write_phi3_gguf

    target = directory / SMALL_PHI3
    if not target.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        shape = Phi3Shape(n_layer=6, n_embd=768, n_head=12, n_head_kv=12, n_ff=2048)
        partial = target.with_suffix(".partial")
        write_phi3_gguf(partial, shape, weights="random", dtype=np.float16)
        partial.replace(target)
    return target


def _rows(count: int, target: Path) -> Path:
    lines = HALUEVAL.read_text(encoding="utf-8").splitlines()[:count]
    if len(lines) < count:
        raise SystemExit(f"{HALUEVAL} has only {len(lines)} rows")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _fresh_run(home: Path, data: Path, judge: Any, max_tokens: int) -> tuple[Any, int]:
    """A new store under ``home`` with the dataset imported and one queued run."""
    os.environ["FLOWJUDGE_HOME"] = str(home)
    from flowjudge_tui.datasets import import_dataset
    from flowjudge_tui.judging.backend import SamplingSettings
    from flowjudge_tui.judging.rubric import RubricLibrary
    from flowjudge_tui.runs.workflow import create_run
    from flowjudge_tui.settings import app_paths
    from flowjudge_tui.store import RunSettings, open_store

    rubric = RubricLibrary(app_paths()).get(RUBRIC).rubric
    store = open_store()
    imported = import_dataset(store, data, rubric)
    settings = RunSettings(sampling=SamplingSettings(max_feedback_tokens=max_tokens))
    run = create_run(store, imported.dataset.id, rubric, judge, settings)
    return store, run.id


def run_in_process(model: Path, data: Path, max_tokens: int, threads: int,
                   home: Path) -> dict[str, Any]:
    from flowjudge_tui.engine.llama import LlamaEngine
    from flowjudge_tui.engine.plans import load_settings_for
    from flowjudge_tui.runs.execute import execute_run

    plan = load_settings_for(model)[0]
    from dataclasses import replace

    engine = LlamaEngine(model, replace(plan, n_threads=threads, n_parallel=1))
    store, run_id = _fresh_run(home, data, model, max_tokens)
    spent = {"prompt": 0.0, "feedback": 0.0, "judge": 0.0}
    llm_generate, engine_generate, engine_judge = (engine._llm.generate, engine._generate,
                                                   engine._judge)

    def timed_tokens(*args: Any, **kwargs: Any) -> Iterator[int]:
        started = time.monotonic()
        first = True
        tokens = llm_generate(*args, **kwargs)
        try:
            for token in tokens:
                if first:
                    spent["prompt"] += time.monotonic() - started
                    first = False
                yield token
        finally:
            tokens.close()

    def timed_generate(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        before = spent["prompt"]
        try:
            return engine_generate(*args, **kwargs)
        finally:
            spent["feedback"] += time.monotonic() - started - (spent["prompt"] - before)

    def timed_judge(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return engine_judge(*args, **kwargs)
        finally:
            spent["judge"] += time.monotonic() - started

    engine._llm.generate = timed_tokens  # type: ignore[method-assign]
    engine._generate = timed_generate  # type: ignore[method-assign]
    engine._judge = timed_judge  # type: ignore[method-assign]
    started = time.monotonic()
    summary = execute_run(store, run_id, engine)
    wall = time.monotonic() - started
    verdicts = sorted(store.verdicts(run_id), key=lambda v: v.item_id)
    store.close()
    engine.close()
    return {"wall_s": wall, "judged": summary.judged, "skipped": summary.skipped,
            "prompt_s": spent["prompt"], "feedback_s": spent["feedback"],
            "score_s": spent["judge"] - spent["prompt"] - spent["feedback"],
            "prompt_tokens": [v.prompt_tokens for v in verdicts],
            "scores": [v.score for v in verdicts]}


def run_served(model: Path, data: Path, max_tokens: int, threads: int, slots: int,
               concurrency: int, home: Path) -> dict[str, Any]:
    from served_server import LlamaServer

    from flowjudge_tui.engine.served import ServedEngine
    from flowjudge_tui.runs.execute import execute_run
    from flowjudge_tui.runs.work import ServedModel

    server = LlamaServer(model, parallel=slots, threads=threads).start()
    try:
        engine = ServedEngine(server.url, concurrency=concurrency)
        store, run_id = _fresh_run(home, data, ServedModel(engine.server, engine.model),
                                   max_tokens)
        started = time.monotonic()
        summary = execute_run(store, run_id, engine)
        wall = time.monotonic() - started
        verdicts = sorted(store.verdicts(run_id), key=lambda v: v.item_id)
        store.close()
        t = engine.timings
        engine.close()
    finally:
        server.stop()
    return {"wall_s": wall, "judged": summary.judged, "skipped": summary.skipped,
            "prompt_s": t.prompt_s, "feedback_s": t.feedback_s, "score_s": t.score_s,
            "score_requests": t.score_requests,
            "score_tokens_evaluated": t.score_prompt_tokens,
            "score_tokens_cached": t.score_cached_tokens,
            "prompt_tokens": [v.prompt_tokens for v in verdicts],
            "scores": [v.score for v in verdicts]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=None)
    parser.add_argument("--model", default=None,
                        help="a GGUF path, or 'small-phi3' (written to the bench dir if "
                        "missing); default: the bench dir's Gemma 3 270M")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--order", choices=["local-first", "served-first"],
                        default="local-first")
    args = parser.parse_args()
    if args.model == "small-phi3":
        model = small_phi3(bench_dir(args.dir))
    else:
        model = Path(args.model) if args.model else gemma_path(bench_dir(args.dir))
    if not model.is_file():
        raise SystemExit(f"{model} is missing; run bench/make_models.py first")
    with tempfile.TemporaryDirectory(prefix="flowjudge-bench-served-") as tmp:
        data = _rows(args.rows, Path(tmp) / "rows.jsonl")
        sides = ["local", "served"] if args.order == "local-first" else ["served", "local"]
        results: dict[str, dict[str, Any]] = {}
        for side in sides:
            print(f"{side}: judging {args.rows} rows ...", flush=True)
            home = Path(tmp) / side
            if side == "local":
                results[side] = run_in_process(model, data, args.max_tokens, args.threads, home)
            else:
                results[side] = run_served(model, data, args.max_tokens, args.threads,
                                           args.slots, args.concurrency, home)
    local, served = results["local"], results["served"]
    for r in results.values():
        r["items_per_hour"] = 3600 * r["judged"] / r["wall_s"] if r["wall_s"] else 0.0
    print(json.dumps({"model": model.name, "rows": args.rows, "max_tokens": args.max_tokens,
                      "slots": args.slots, "concurrency": args.concurrency,
                      "threads": args.threads, "order": args.order,
                      "load_average": os.getloadavg(), **results}, indent=1))
    ratio = served["items_per_hour"] / local["items_per_hour"]
    print(f"\nitems/hour: in-process {local['items_per_hour']:.0f}, served "
          f"{served['items_per_hour']:.0f} ({args.slots} slots, concurrency "
          f"{args.concurrency}): served/in-process = {ratio:.2f}")
    print(f"in-process: to first token {local['prompt_s']:.1f} s, feedback "
          f"{local['feedback_s']:.1f} s, score step and tokenizing {local['score_s']:.1f} s, "
          f"wall {local['wall_s']:.1f} s")
    per_score = served["score_s"] / max(1, served["judged"])
    print(f"served (summed over items in flight): to first token {served['prompt_s']:.1f} s, "
          f"feedback {served['feedback_s']:.1f} s, score step {served['score_s']:.1f} s "
          f"({per_score:.2f} s an item; {served['score_tokens_evaluated']} tokens evaluated, "
          f"{served['score_tokens_cached']} from the prefix cache), wall {served['wall_s']:.1f} s")
    same = local["scores"] == served["scores"]
    print(f"prompt tokens equal: {local['prompt_tokens'] == served['prompt_tokens']}; "
          f"scores equal: {same} (median prompt {statistics.median(local['prompt_tokens'])})")


if __name__ == "__main__":
    main()
