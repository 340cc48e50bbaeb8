"""Target: a whole ``flowjudge judge`` process against the least program that does the same work
(load the model, same prompt, same number of generated tokens): minimal/ours >= 0.90 in wall
time.

For each bench model (see make_models.py), interleaved (minimal, ours, ours, minimal, ...):

* ours     ``flowjudge judge --model M --rubric faithfulness-context-5 --input query=...
           --input context=... --output ... --max-tokens N`` as a subprocess; it prints the
           verdict JSON (checked: stop_reason "length", N feedback tokens, so the model and the
           seed used here write exactly N tokens, then the score position is evaluated).
* minimal  a Python script written to a temporary file: import llama_cpp, load the model with
           the settings ``flowjudge judge`` uses for it (its first memory plan from
           ``engine.plans.load_settings_for``: n_ctx 4096, n_batch/n_ubatch 512, KV types, flash
           attention, n_threads; no logits_all), tokenize the same prompt (from
           ``flowjudge judge --print-prompt``) in the chat template
           ``<|user|>\\n{prompt}<|end|>\\n<|assistant|>\\n`` (with Phi-3's whitespace strip
           after special tokens for phi3 files, as the engine and HF do: the prompt token counts
           are checked equal), generate N tokens with the same sampler settings and print them.

Wall time is from spawn to exit (python start-up, imports, model load, prompt processing,
generation, output); also the child's CPU time. The ratio of the median wall times is the
figure; per-pair ratios, the CPU-time ratio and the ratio of each side's fastest run are printed
beside it.

``--threads plan`` (default) runs both as shipped: ``n_threads`` = physical cores (2 on a
2-vCPU box). On a machine shared with other busy processes, llama.cpp's spinning thread barrier
then makes every run's time swing by 2-5x (see bench/threads.py), and no ratio of two such runs
means much. ``--threads 1`` runs both with one generation thread (ours through a launcher that
makes ``engine.hardware.physical_cores`` return 1, i.e. the CLI exactly as on a 1-core machine;
the minimal program with ``n_threads=1``): stable, and still the same work on both sides.

Then a breakdown of what ``flowjudge judge`` does beyond the minimal program, measured in a child
process (medians of 3): importing flowjudge's modules, reading the rubric library and building
the prompt, and the memory plan (GGUF header + hardware probe). The score phase after
generation is measured by structure_overhead.py.

Usage::

    python bench/process_overhead.py [--dir DIR] [--models phi3,gemma] [--reps 3]
        [--n-phi3 64] [--n-gemma 300] [--threads plan|1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_models import HALUEVAL, bench_dir, gemma_path, phi3_path  # noqa: E402

RUBRIC = "faithfulness-context-5"

MINIMAL = r'''
import json, sys
from llama_cpp import Llama

path, prompt_file, n, rstrip = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
load = json.loads(sys.argv[5])  # the engine's LoadSettings for this file
with open(prompt_file, encoding="utf-8") as f:
    prompt = f.read()
llm = Llama(path, logits_all=False, verbose=False, **load)
head, tail = "<|user|>\n", "<|end|>\n<|assistant|>\n"
if rstrip:  # Phi-3 strips whitespace after its special tokens (not inside the prompt)
    head, tail = "<|user|>", "<|end|><|assistant|>"
tokens = llm.tokenize((head + prompt + tail).encode("utf-8"), add_bos=True, special=True)
llm.set_seed(0)
out = []
for token in llm.generate(tokens, temp=0.1, top_p=0.95, top_k=0, min_p=0.0, repeat_penalty=1.0):
    out.append(token)
    if len(out) >= n:
        break
print(len(tokens), len(out))
print(llm.detokenize(out).decode("utf-8", "replace"))
'''

# `flowjudge judge` exactly, on a machine that reports one physical core.
ONE_CORE_LAUNCHER = (
    "import sys; import flowjudge_tui.engine.hardware as h; h.physical_cores = lambda: 1; "
    "from flowjudge_tui.cli.main import main; sys.exit(main(sys.argv[1:]))"
)

BREAKDOWN = r'''
import json, sys, time
path, rubric_name = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
import llama_cpp  # both programs pay this
t1 = time.perf_counter()
import flowjudge_tui.cli.main, flowjudge_tui.engine.llama, flowjudge_tui.judging.judge  # noqa
import flowjudge_tui.engine.loader, flowjudge_tui.engine.fit, flowjudge_tui.models.gguf_file  # noqa
t2 = time.perf_counter()
from flowjudge_tui.judging.prompt import build_prompt
from flowjudge_tui.judging.rubric import Item, RubricLibrary
from flowjudge_tui.settings import app_paths
rubric = RubricLibrary(app_paths()).get(rubric_name).rubric
item = rubric.check_item(Item(inputs={"query": "q", "context": "c"}, output="o"))
build_prompt(rubric, item)
t3 = time.perf_counter()
from flowjudge_tui.engine.plans import load_settings_for
from pathlib import Path
load_settings_for(Path(path))
t4 = time.perf_counter()
import jinja2.sandbox  # the engine renders the GGUF's chat template with jinja2
t5 = time.perf_counter()
print(json.dumps({"import llama_cpp": t1 - t0, "import flowjudge": t2 - t1,
                  "rubric + prompt": t3 - t2, "memory plan": t4 - t3, "import jinja2": t5 - t4}))
'''


def item_args(row_index: int = 0) -> list[str]:
    with HALUEVAL.open(encoding="utf-8") as handle:
        row = json.loads(handle.readlines()[row_index])
    return ["--rubric", RUBRIC, "--input", f"query={row['query']}",
            "--input", f"context={row['context']}", "--output", row["response"]]


def flowjudge_cmd(threads: str) -> list[str]:
    if threads == "1":
        return [sys.executable, "-c", ONE_CORE_LAUNCHER]
    script = Path(sys.executable).with_name("flowjudge")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "flowjudge_tui.cli.main"]


def minimal_load_kwargs(path: Path, threads: str) -> dict:
    """The ``Llama`` arguments ``flowjudge judge`` uses for ``path`` (its first memory plan)."""
    import llama_cpp

    from flowjudge_tui.engine.plans import load_settings_for

    plan = load_settings_for(path)[0]
    types = {"f16": llama_cpp.GGML_TYPE_F16, "q8_0": llama_cpp.GGML_TYPE_Q8_0,
             "q4_0": llama_cpp.GGML_TYPE_Q4_0}
    kwargs = {"n_ctx": plan.n_ctx, "n_gpu_layers": plan.n_gpu_layers, "n_batch": plan.n_batch,
              "n_ubatch": plan.n_ubatch, "flash_attn": plan.flash_attn,
              "type_k": int(types[plan.type_k]), "type_v": int(types[plan.type_v])}
    if threads == "1":
        kwargs["n_threads"] = 1
    elif plan.n_threads:
        kwargs["n_threads"] = plan.n_threads
    return kwargs


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) of the child, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def breakdown(path: Path, env: dict[str, str], work: Path) -> dict[str, float]:
    script = work / "breakdown.py"
    script.write_text(BREAKDOWN, encoding="utf-8")
    runs = [json.loads(run([sys.executable, str(script), str(path), RUBRIC], env)[2])
            for _ in range(3)]
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def bench_model(name: str, path: Path, n: int, reps: int, threads: str, env: dict[str, str],
                work: Path) -> dict:
    print(f"\n=== {name}: {path.name}, N={n}, reps={reps}, threads={threads}", flush=True)
    args = item_args()
    _, _, printed = run([*flowjudge_cmd("plan"), "judge", *args, "--print-prompt"], env)
    assert printed.endswith("\n")
    prompt_file = work / "prompt.txt"
    prompt_file.write_text(printed[:-1], encoding="utf-8")
    minimal_file = work / "minimal.py"
    minimal_file.write_text(MINIMAL, encoding="utf-8")
    from gguf import GGUFReader

    arch = bytes(GGUFReader(str(path)).fields["general.architecture"].parts[-1]).decode()
    rstrip = "1" if arch == "phi3" else "0"
    load = minimal_load_kwargs(path, threads)
    print(f"load settings (flowjudge's plan, given to the minimal program too): {load}")
    ours_cmd = [*flowjudge_cmd(threads), "judge", "--model", str(path), *args,
                "--max-tokens", str(n)]
    minimal_cmd = [sys.executable, str(minimal_file), str(path), str(prompt_file), str(n), rstrip,
                   json.dumps(load)]

    walls: dict[str, list[float]] = {"minimal": [], "ours": []}
    cpus: dict[str, list[float]] = {"minimal": [], "ours": []}
    prompt_counts: dict[str, int] = {}
    for rep in range(reps):
        # alternate which goes first (ABBA...), cancelling drift
        order = [("minimal", minimal_cmd), ("ours", ours_cmd)]
        for side, cmd in order if rep % 2 == 0 else order[::-1]:
            wall, cpu, out = run(cmd, env)
            if side == "ours":
                verdict = json.loads(out)
                detail = (f"prompt {verdict['prompt_tokens']} tokens, completion "
                          f"{verdict['completion_tokens']} ({verdict['stop_reason']}), "
                          f"score {verdict['score']}")
                prompt_counts[side] = verdict["prompt_tokens"]
                if verdict["stop_reason"] != "length" or verdict["completion_tokens"] != n + 1:
                    print(f"WARNING: ours did not write exactly N feedback tokens: {detail}")
            else:
                prompt_tokens, generated = (int(v) for v in out.split("\n", 1)[0].split())
                detail = f"prompt {prompt_tokens} tokens, generated {generated}"
                prompt_counts[side] = prompt_tokens
                if generated != n:
                    print(f"WARNING: minimal generated {generated} tokens, not {n}")
            walls[side].append(wall)
            cpus[side].append(cpu)
            print(f"  rep {rep} {side:8s} {wall:7.2f} s wall {cpu:7.2f} s cpu  ({detail})",
                  flush=True)
        if rep == 0 and prompt_counts["ours"] != prompt_counts["minimal"]:
            print(f"WARNING: prompt token counts differ: {prompt_counts}")
    med = {k: statistics.median(v) for k, v in walls.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpus.items()}
    best = min(walls["minimal"]) / min(walls["ours"])
    pairs = [m / o for m, o in zip(walls["minimal"], walls["ours"], strict=True)]
    ratio = med["minimal"] / med["ours"]
    verdict = "PASS" if ratio >= 0.90 else "MISS"
    print(f"--- {name}: median minimal {med['minimal']:.2f} s, ours {med['ours']:.2f} s; "
          f"minimal/ours = {ratio:.3f} (per pair {', '.join(f'{p:.3f}' for p in pairs)}) "
          f"target >= 0.90 {verdict}", flush=True)
    print(f"    cpu: median minimal {med_cpu['minimal']:.2f} s, ours {med_cpu['ours']:.2f} s "
          f"({med_cpu['minimal'] / med_cpu['ours']:.3f}); fastest run of each: {best:.3f}",
          flush=True)
    parts = breakdown(path, env, work)
    extra = sum(v for k, v in parts.items() if k != "import llama_cpp")
    print("    flowjudge's own start-up work (child process, median of 3): "
          + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in parts.items())
          + f"; beyond the minimal program: {extra * 1000:.0f} ms = "
          f"{extra / med['minimal']:.1%} of the minimal run", flush=True)
    return {"model": name, "n": n, "threads": threads, "load": load, "walls": walls,
            "cpus": cpus, "median": med, "median_cpu": med_cpu, "ratio": ratio,
            "pair_ratios": pairs, "best_ratio": best, "startup_breakdown_s": parts,
            "startup_extra_s": extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="bench model directory (see make_models.py)")
    parser.add_argument("--models", default="phi3,gemma")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--n-phi3", type=int, default=64)
    parser.add_argument("--n-gemma", type=int, default=300)
    parser.add_argument("--threads", choices=["plan", "1"], default="plan",
                        help="generation threads on both sides: flowjudge's plan (physical "
                        "cores, as shipped) or 1 (stable on a busy shared machine)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    import llama_cpp

    directory = bench_dir(args.dir)
    print(f"{time.strftime('%Y-%m-%d %H:%M')}; {platform.platform()}; {os.cpu_count()} CPUs; "
          f"python {platform.python_version()}; llama-cpp-python {llama_cpp.__version__}; "
          f"load average {os.getloadavg()}")
    paths = {"phi3": (phi3_path(directory), args.n_phi3),
             "gemma": (gemma_path(directory), args.n_gemma)}
    results = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="flowjudge-bench-") as tmp:
        work = Path(tmp)
        env = dict(os.environ, FLOWJUDGE_HOME=str(work / "home"), PYTHONPATH=str(REPO))
        for name in args.models.split(","):
            path, n = paths[name]
            if not path.is_file():
                raise SystemExit(f"{path} is missing; run bench/make_models.py first.")
            results.append(bench_model(name, path, n, args.reps, args.threads, env, work))
    print(f"\n=== summary (threads={args.threads}; ratio of median wall times; "
          "target minimal/ours >= 0.90)")
    for r in results:
        print(f"{r['model']:6s} N={r['n']:4d} minimal {r['median']['minimal']:7.2f} s  "
              f"ours {r['median']['ours']:7.2f} s  minimal/ours {r['ratio']:.3f}  "
              f"(cpu {r['median_cpu']['minimal'] / r['median_cpu']['ours']:.3f}, "
              f"fastest runs {r['best_ratio']:.3f}; start-up extra "
              f"{r['startup_extra_s'] * 1000:.0f} ms)")
    print(f"total {time.monotonic() - started:.0f} s; load average {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
