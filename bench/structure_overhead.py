"""Target: guaranteed structure and the score distribution cost at most 10% of decode throughput
against unconstrained generation of the same number of tokens (ours/raw >= 0.90).

For each bench model (see make_models.py) and one real Flow-Judge prompt (rubric
faithfulness-context-5, a HaluEval QA row), in one process and on one loaded ``Llama`` (loaded
with the settings ``flowjudge judge`` uses for the file: ``engine.plans.load_settings_for``):

* raw      raw llama-cpp-python: ``Llama.generate`` with the engine's sampler settings
           (temperature 0.1, top_p 0.95, top_k 0, min_p 0, repeat_penalty 1, same seed), taking
           exactly N tokens, nothing else.
* ours     ``LlamaEngine.judge`` with ``max_feedback_tokens=N`` and a streaming callback (as the
           TUI and ``--stream`` use it): free generation watched by ``structure``, then the score
           position and the score distribution. The whole ``judge`` call is timed.

Prompt processing is kept out of both: before every timed run the context is brought back to
exactly the prompt with fresh logits (one token re-evaluated, untimed), so ``generate`` samples
at once on either side. Runs are interleaved (raw, ours, ours, raw, ...) and the median of the
per-pair ratios is reported, by wall time and by process CPU time (less sensitive to other
processes on the machine). Both sides must produce the same N tokens: checked.

Naive alternatives, for contrast (``--no-naive`` skips them):

* grammar    the same generation under a GBNF grammar of the whole answer (``LlamaGrammar``):
             ``<feedback>[^<]*</feedback>\\n<score>[1-5]</score>``.
* logits_all a second ``Llama`` with ``logits_all=True`` (what ``logprobs`` needs) running the
             same ``generate``; also its prompt processing against the normal context's.
* logprobs   that instance through ``create_completion(logprobs=5)``, the usual way to get token
             probabilities from llama-cpp-python (one run of at most 32 tokens: it is slow).

The prompt processing and generation speeds of each model on this machine are printed too.

Usage::

    python bench/structure_overhead.py [--dir DIR] [--models phi3,gemma] [--reps 3]
        [--n-phi3 100] [--n-gemma 300] [--no-naive] [--n-threads T]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_models import HALUEVAL, bench_dir, gemma_path, phi3_path  # noqa: E402

from flowjudge_tui.engine.llama import LlamaEngine  # noqa: E402
from flowjudge_tui.engine.plans import load_settings_for  # noqa: E402
from flowjudge_tui.judging.backend import SamplingSettings  # noqa: E402
from flowjudge_tui.judging.prompt import build_prompt  # noqa: E402
from flowjudge_tui.judging.rubric import Item, RubricLibrary  # noqa: E402
from flowjudge_tui.settings import app_paths  # noqa: E402

RUBRIC = "faithfulness-context-5"
ANSWER_GRAMMAR = r'''root ::= "<feedback>" feedback "</feedback>\n<score>" score "</score>"
feedback ::= [^<]*
score ::= [1-5]
'''


def bench_prompt(row_index: int = 0) -> tuple[str, list[int]]:
    rubric = RubricLibrary(app_paths()).get(RUBRIC).rubric
    with HALUEVAL.open(encoding="utf-8") as handle:
        row = json.loads(handle.readlines()[row_index])
    item = Item(inputs={"query": row["query"], "context": row["context"]},
                output=row["response"])
    return build_prompt(rubric, item), list(rubric.score_values)


def sampler_kwargs(s: SamplingSettings) -> dict[str, float | int]:
    """Exactly the sampler settings LlamaEngine._generate gives Llama.generate."""
    return {"temp": s.temperature, "top_p": s.top_p, "top_k": 0, "min_p": 0.0,
            "repeat_penalty": 1.0}


def prime(llm, prompt_tokens: list[int]) -> None:
    """Make the context exactly the prompt, with fresh logits, re-evaluating one token."""
    n = len(prompt_tokens)
    if llm.n_tokens >= n and list(llm.input_ids[:n]) == prompt_tokens:
        llm.n_tokens = n - 1
        llm.eval(prompt_tokens[-1:])
    else:
        llm.reset()
        llm.eval(prompt_tokens)


def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def raw_generate(llm, prompt_tokens: list[int], n: int, s: SamplingSettings,
                 grammar=None) -> list[int]:
    llm.set_seed(s.seed)
    out: list[int] = []
    tokens = llm.generate(prompt_tokens, grammar=grammar, **sampler_kwargs(s))
    for token in tokens:
        out.append(token)
        if len(out) >= n:
            break
    tokens.close()
    return out


def logprobs_completion(llm, prompt_tokens: list[int], n: int, s: SamplingSettings) -> int:
    llm.set_seed(s.seed)
    out = llm.create_completion(prompt_tokens, max_tokens=n, logprobs=5, seed=s.seed,
                                temperature=s.temperature, top_p=s.top_p, top_k=0, min_p=0.0,
                                repeat_penalty=1.0)
    return int(out["usage"]["completion_tokens"])


def fmt_ratio(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} (runs {', '.join(f'{v:.3f}' for v in values)})"


def bench_model(name: str, path: Path, n: int, reps: int, naive: bool, naive_reps: int,
                prompt: str, scores: list[int], n_threads: int | None = None) -> dict:
    print(f"\n=== {name}: {path.name} ({path.stat().st_size / 1e9:.2f} GB), N={n}, reps={reps}",
          flush=True)
    load = load_settings_for(path)[0]  # what `flowjudge judge` loads this file with
    if n_threads is not None:
        load = replace(load, n_threads=n_threads)
    engine = LlamaEngine(path, load)
    llm = engine._llm
    prompt_tokens = engine.chat_tokens(prompt)
    print(f"load: {load.describe()}, n_threads={llm.n_threads}, "
          f"n_threads_batch={llm.context_params.n_threads_batch}; "
          f"prompt {len(prompt_tokens)} tokens", flush=True)

    # Prompt processing speed (also primes the prompt cache).
    llm.reset()
    pp_wall, _, _ = timed(lambda: llm.eval(prompt_tokens))
    pp_speed = len(prompt_tokens) / pp_wall
    print(f"prompt processing: {len(prompt_tokens)} tokens in {pp_wall:.2f} s = "
          f"{pp_speed:.1f} tokens/s", flush=True)

    sampling = SamplingSettings(max_feedback_tokens=n, seed=0)
    streamed: list[str] = []

    # Time the engine's generation loop inside judge(), to split off the score phase.
    generate_seconds: list[float] = []
    engine_generate = engine._generate

    def generate_timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return engine_generate(*args, **kwargs)
        finally:
            generate_seconds.append(time.perf_counter() - started)

    engine._generate = generate_timed

    # Check both sides generate the same N tokens (and warm up): small budget first.
    prime(llm, prompt_tokens)
    check_raw = raw_generate(llm, prompt_tokens, 8, sampling)
    prime(llm, prompt_tokens)
    check = engine.judge(prompt, scores, SamplingSettings(max_feedback_tokens=8, seed=0))
    raw_text = bytes(llm.detokenize(check_raw)).decode("utf-8", "replace")
    if check.raw_text != raw_text:
        print(f"WARNING: first tokens differ: raw {raw_text!r} ours {check.raw_text!r}")

    def run_raw() -> int:
        return len(raw_generate(llm, prompt_tokens, n, sampling))

    def run_ours() -> int:
        streamed.clear()
        generate_seconds.clear()
        result = engine.judge(prompt, scores, sampling, on_feedback=streamed.append)
        if result.stop_reason != "length":
            print(f"WARNING: ours stopped early ({result.stop_reason})")
        score_phase.append(result.seconds - generate_seconds[-1])
        return result.completion_tokens - 1  # completion_tokens counts the score token

    score_phase: list[float] = []

    sides: dict[str, Callable[[], int]] = {"raw": run_raw, "ours": run_ours}
    grammar = None
    llm_all = None
    if naive:
        from llama_cpp import Llama, LlamaGrammar

        grammar = LlamaGrammar.from_string(ANSWER_GRAMMAR, verbose=False)
        sides["grammar"] = lambda: len(raw_generate(llm, prompt_tokens, n, sampling, grammar))
        llm_all = Llama(str(path), n_ctx=load.n_ctx, n_batch=load.n_batch,
                        n_ubatch=load.n_ubatch, n_gpu_layers=load.n_gpu_layers,
                        flash_attn=load.flash_attn, n_threads=llm.n_threads,
                        logits_all=True, verbose=False)
        # Prompt processing with logits_all against without: the first pair is the
        # measurement above; on a small model (fast) two more interleaved pairs.
        pp_pairs: list[tuple[float, float]] = []
        llm_all.reset()
        a, _, _ = timed(lambda: llm_all.eval(prompt_tokens))
        pp_pairs.append((a, pp_wall))
        if pp_wall < 20:
            for _ in range(2):
                llm.reset()
                b, _, _ = timed(lambda: llm.eval(prompt_tokens))
                llm_all.reset()
                a, _, _ = timed(lambda: llm_all.eval(prompt_tokens))
                pp_pairs.append((a, b))
        sides["logits_all"] = lambda: len(raw_generate(llm_all, prompt_tokens, n, sampling))
        sides["logprobs"] = lambda: logprobs_completion(llm_all, prompt_tokens, min(n, 32),
                                                        sampling)

    walls: dict[str, list[float]] = {k: [] for k in sides}
    cpus: dict[str, list[float]] = {k: [] for k in sides}
    counts: dict[str, list[int]] = {k: [] for k in sides}
    for rep in range(reps):
        # raw and ours alternate which goes first (ABBA...), cancelling drift; naive ones last.
        order = ["raw", "ours"] if rep % 2 == 0 else ["ours", "raw"]
        order += [k for k in sides if k not in order]
        for side in order:
            fn = sides[side]
            if side in ("grammar", "logits_all") and rep >= naive_reps:
                continue
            if side == "logprobs" and rep >= 1:
                continue
            target = llm_all if side in ("logits_all", "logprobs") else llm
            prime(target, prompt_tokens)
            wall, cpu, count = timed(fn)
            walls[side].append(wall)
            cpus[side].append(cpu)
            counts[side].append(int(count))
            print(f"  rep {rep} {side:10s} {count:4d} tokens {wall:7.2f} s wall "
                  f"{cpu:7.2f} s cpu  {count / wall:6.2f} tok/s", flush=True)

    # Throughput ratios per interleaved pair (ours/raw = raw_time/ours_time at equal tokens).
    def ratios(side: str, clock: dict[str, list[float]]) -> list[float]:
        return [(counts[side][i] / clock[side][i]) / (counts["raw"][i] / clock["raw"][i])
                for i in range(len(clock[side]))]

    same = all(c == n for c in counts["raw"] + counts["ours"])
    result = {
        "model": name,
        "n": n,
        "prompt_tokens": len(prompt_tokens),
        "prompt_tok_s": pp_speed,
        "raw_gen_tok_s": statistics.median(
            c / w for c, w in zip(counts["raw"], walls["raw"], strict=True)),
        "ours_gen_tok_s": statistics.median(
            c / w for c, w in zip(counts["ours"], walls["ours"], strict=True)),
        "same_token_count": same,
        "ours_over_raw_wall": ratios("ours", walls),
        "ours_over_raw_cpu": ratios("ours", cpus),
    }
    print(f"\n--- {name} results (N={n}, same token count on both sides: {same})")
    print(f"prompt processing {pp_speed:.1f} tok/s; generation raw "
          f"{result['raw_gen_tok_s']:.2f} tok/s, ours {result['ours_gen_tok_s']:.2f} tok/s")
    print(f"ours/raw decode throughput (wall): {fmt_ratio(result['ours_over_raw_wall'])}")
    print(f"ours/raw decode throughput (cpu):  {fmt_ratio(result['ours_over_raw_cpu'])}")
    # score_phase[0] is the 8-token check run's; the timed runs follow.
    phase = statistics.median(score_phase[1:])
    result["score_phase_s"] = phase
    print(f"ours: score phase (score position + distribution, after generation) "
          f"{phase * 1000:.0f} ms median = {phase / statistics.median(walls['ours']):.1%} "
          f"of a judge call")
    best = min(walls["raw"]) / min(walls["ours"])
    result["ours_over_raw_best"] = best
    print(f"ours/raw from the fastest run of each side (least disturbed): {best:.3f}")
    if naive:
        for side in ("grammar", "logits_all", "logprobs"):
            result[f"{side}_over_raw_wall"] = ratios(side, walls)
            result[f"{side}_counts"] = counts[side]
            print(f"{side}/raw decode throughput (wall): {fmt_ratio(ratios(side, walls))} "
                  f"[tokens {counts[side]}]")
        pp = [b / a for a, b in pp_pairs]
        result["logits_all_prompt_ratio"] = pp
        print(f"logits_all/normal prompt processing throughput: {fmt_ratio(pp)}")
        llm_all.close()
    engine.close()
    verdict = "PASS" if statistics.median(result["ours_over_raw_wall"]) >= 0.90 else "MISS"
    print(f"{name}: ours/raw = {statistics.median(result['ours_over_raw_wall']):.3f} "
          f"(target >= 0.90) {verdict}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="bench model directory (see make_models.py)")
    parser.add_argument("--models", default="phi3,gemma")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--naive-reps", type=int, default=1)
    parser.add_argument("--n-phi3", type=int, default=100)
    parser.add_argument("--n-gemma", type=int, default=300)
    parser.add_argument("--no-naive", dest="naive", action="store_false")
    parser.add_argument("--n-threads", type=int, default=None,
                        help="override the plan's generation threads (default: flowjudge's plan, "
                        "one per physical core)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    import llama_cpp

    directory = bench_dir(args.dir)
    prompt, scores = bench_prompt()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}; {platform.platform()}; {os.cpu_count()} CPUs; "
          f"python {platform.python_version()}; llama-cpp-python {llama_cpp.__version__}")
    print(f"prompt: rubric {RUBRIC}, HaluEval QA row 0, {len(prompt)} characters")
    paths = {"phi3": (phi3_path(directory), args.n_phi3),
             "gemma": (gemma_path(directory), args.n_gemma)}
    results = []
    started = time.monotonic()
    for name in args.models.split(","):
        path, n = paths[name]
        if not path.is_file():
            raise SystemExit(f"{path} is missing; run bench/make_models.py first.")
        results.append(bench_model(name, path, n, args.reps, args.naive, args.naive_reps,
                                   prompt, scores, args.n_threads))
    print("\n=== summary (median of interleaved pairs; target ours/raw >= 0.90)")
    for r in results:
        print(f"{r['model']:6s} N={r['n']:4d} ours/raw wall "
              f"{statistics.median(r['ours_over_raw_wall']):.3f}"
              f"  cpu {statistics.median(r['ours_over_raw_cpu']):.3f}"
              + (f"  | grammar/raw {statistics.median(r['grammar_over_raw_wall']):.3f}"
                 f"  logits_all/raw {statistics.median(r['logits_all_over_raw_wall']):.3f}"
                 f"  logprobs/raw {statistics.median(r['logprobs_over_raw_wall']):.3f}"
                 f"  logits_all prompt {statistics.median(r['logits_all_prompt_ratio']):.3f}"
                 if args.naive else ""))
    print(f"total {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
