"""Batched judging against one judgment at a time, on HaluEval rows.

Two comparisons, each measured in this one process on the same model (ratios, not absolutes):

1. Three rubrics per item: one engine decoding ``--parallel`` sequences with each item's
   prompt prefix evaluated once and copied to its other rubrics (``engine.batched``), against
   three one-at-a-time runs (one rubric after the other, the single-sequence path).
   Target: >= 1.6x items x rubrics per hour on a CPU.
2. One rubric: ``--parallel 4`` against ``--parallel 1`` (no prefix to share: the gain is the
   decode steps shared by four sequences; prompt processing does not batch).

For each side it says where the time went: prompt evaluation, feedback generation, and the
score step. Before the sides, raw llama.cpp prices a prompt token and a decode step of 1..4
sequences on the same model (``raw_steps.py``); each comparison then prints its ceiling: the
speed-up the two sides' token counts (prompt tokens evaluated, decode steps by width) would
give if every second went into llama.cpp's own work. The load average is printed per side.
``--interleave`` alternates the sides an item at a time (each keeps its order and its
engine's cache), so a busy stretch of the shared machine slows both alike.
Judgments are made by ``LlamaEngine`` as a run makes them (no store, so SQLite does not blur
the figures). Each batched verdict's score is checked against its one-at-a-time
twin and the largest distribution difference is printed.

Usage::

    python bench/batched_throughput.py [--model PATH] [--rows 24] [--max-tokens 1000]
        [--parallel 3] [--threads N] [--only rubrics|parallel] [--no-raw]
        [--interleave]

``--model`` defaults to the Phi-3.5-shaped Q4_K_M with the real vocabulary from
``make_models.py --only phi3 --real-vocab`` (the issue's setting), else Gemma 3 270M.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from make_models import HALUEVAL, bench_dir, gemma_path, phi3_path  # noqa: E402
from raw_steps import RawCosts, measure  # noqa: E402

from flowjudge_tui.engine.llama import LlamaEngine  # noqa: E402
from flowjudge_tui.judging.backend import (  # noqa: E402
    EngineResult,
    JudgeRequest,
    LoadSettings,
    SamplingSettings,
)
from flowjudge_tui.judging.prompt import build_prompt  # noqa: E402
from flowjudge_tui.judging.rubric import Item, Rubric, RubricLibrary  # noqa: E402
from flowjudge_tui.settings import app_paths  # noqa: E402

# Three rubrics over HaluEval's fields (query, context -> response): they share the item.
RUBRICS = ("faithfulness-context-binary", "faithfulness-context-3", "faithfulness-context-5")


@dataclass
class Side:
    """One way of judging: wall time, where it went, and the results by (row, rubric)."""

    name: str
    seconds: float = 0.0
    prompt_s: float = 0.0
    feedback_s: float = 0.0
    score_s: float = 0.0
    prompt_tokens: int = 0
    evaluated_prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_tokens: int = 0
    step_widths: dict[int, int] = field(default_factory=dict)
    load: str = ""
    results: dict[tuple[int, str], EngineResult] = field(default_factory=dict)

    def line(self) -> str:
        judged = len(self.results)
        per_hour = judged / self.seconds * 3600
        other = self.seconds - self.prompt_s - self.feedback_s - self.score_s
        return (f"{self.name:<34} {judged:3d} verdicts in {self.seconds:7.1f} s = "
                f"{per_hour:7.1f}/h | prompt {self.prompt_s:6.1f} s "
                f"({self.evaluated_prompt_tokens} of {self.prompt_tokens} tokens evaluated), "
                f"feedback {self.feedback_s:6.1f} s ({self.completion_tokens} tokens), "
                f"score {self.score_s:5.1f} s, other {other:5.1f} s | decode steps by width "
                f"{dict(sorted(self.step_widths.items()))}, prompt tokens reused from the last "
                f"judgment {self.reused_tokens} | load average {self.load}")

    def raw_seconds(self, raw: RawCosts) -> float:
        """What this side's prompt tokens and decode steps cost raw llama.cpp."""
        return (self.evaluated_prompt_tokens * raw.prompt_token_s
                + sum(count * raw.step(width) for width, count in self.step_widths.items()))


def load_average() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def ceiling(alone: Side, together: Side, raw: RawCosts | None) -> str:
    if raw is None:
        return ""
    a, b = alone.raw_seconds(raw), together.raw_seconds(raw)
    return (f"ceiling from token counts x raw costs: {a:.1f} s / {b:.1f} s = {a / b:.2f}x "
            f"(measured {alone.seconds / together.seconds:.2f}x)")


def load_rows(count: int) -> list[Item]:
    rows = [json.loads(line) for line in HALUEVAL.read_text(encoding="utf-8").splitlines()]
    return [Item(inputs={"query": r["query"], "context": r["context"]}, output=r["response"])
            for r in rows[:count]]


def engine(model: Path, parallel: int, n_ctx: int, threads: int | None) -> LlamaEngine:
    return LlamaEngine(model, LoadSettings(n_ctx=n_ctx, n_parallel=parallel, n_threads=threads))


Job = tuple[int, Rubric, Item]


class OneAtATime:
    """The single-sequence path, one judgment after another, timed by wrapping
    llama-cpp-python's eval: several tokens = prompt, one = feedback."""

    def __init__(self, model: Path, sampling: SamplingSettings, n_ctx: int,
                 threads: int | None) -> None:
        self.side = Side("one at a time (runs in turn)")
        self.sampling = sampling
        self.engine = engine(model, 1, n_ctx, threads)
        side, llm = self.side, self.engine._llm
        evaluate: Callable[[Any], None] = llm.eval
        scoring = False

        def timed_eval(tokens: Any) -> None:
            started = time.monotonic()
            evaluate(tokens)
            elapsed = time.monotonic() - started
            if scoring:
                return
            if len(tokens) > 1:
                side.prompt_s += elapsed
                side.evaluated_prompt_tokens += len(tokens)
            else:
                side.feedback_s += elapsed
                side.step_widths[1] = side.step_widths.get(1, 0) + 1

        score_distribution = self.engine._score_distribution

        def timed_score(*args: Any) -> Any:
            nonlocal scoring
            scoring, started = True, time.monotonic()
            try:
                return score_distribution(*args)
            finally:
                scoring = False
                side.score_s += time.monotonic() - started

        llm.eval = timed_eval
        self.engine._score_distribution = timed_score  # type: ignore[method-assign]

    def judge(self, jobs: list[Job]) -> None:
        started = time.monotonic()
        for index, rubric, item in jobs:
            result = self.engine.judge(build_prompt(rubric, item), rubric.score_values,
                                       self.sampling)
            self.side.results[(index, rubric.name)] = result
        self.side.seconds += time.monotonic() - started

    def close(self) -> Side:
        self.engine.close()
        return _count(self.side)


class Batched:
    """Every (item, rubric) through one batched engine, an item's rubrics side by side."""

    def __init__(self, model: Path, sampling: SamplingSettings, parallel: int, n_ctx: int,
                 threads: int | None) -> None:
        self.side = Side(f"batched, {parallel} sequences")
        self.sampling = sampling
        self.engine = engine(model, parallel, n_ctx, threads)

    def judge(self, jobs: list[Job]) -> None:
        requests = [JudgeRequest((index, rubric.name), build_prompt(rubric, item),
                                 tuple(rubric.score_values), self.sampling, group=index)
                    for index, rubric, item in jobs]
        started = time.monotonic()
        for outcome in self.engine.judge_many(requests):
            if outcome.result is None:
                raise SystemExit(f"{outcome.request.key}: {outcome.error}")
            self.side.results[outcome.request.key] = outcome.result  # type: ignore[index]
        self.side.seconds += time.monotonic() - started

    def close(self) -> Side:
        times = self.engine.phase_times
        assert times is not None
        side = self.side
        side.prompt_s, side.feedback_s, side.score_s = (
            times.prompt_s, times.feedback_s, times.score_s)
        side.evaluated_prompt_tokens = times.prompt_tokens
        side.reused_tokens, side.step_widths = times.reused_tokens, dict(times.step_widths)
        self.engine.close()
        return _count(side)


def compare(alone: OneAtATime, together: Batched, alone_jobs: list[Job],
            together_jobs: list[Job], slices: int) -> tuple[Side, Side]:
    """Both sides' jobs in ``slices`` alternating slices (the machine is shared: what slows
    it for a few minutes then slows both sides alike); each side keeps its own order and its
    engine's state between slices. The load average is read before and after."""
    load = load_average()
    for number in range(slices):
        for runner, jobs in ((alone, alone_jobs), (together, together_jobs)):
            size = -(-len(jobs) // slices)
            runner.judge(jobs[number * size : (number + 1) * size])
    load += " -> " + load_average()
    sides = alone.close(), together.close()
    for side in sides:
        side.load = load
    return sides


def _count(side: Side) -> Side:
    side.prompt_tokens = sum(r.prompt_tokens for r in side.results.values())
    side.completion_tokens = sum(r.completion_tokens for r in side.results.values())
    return side


def agreement(a: Side, b: Side) -> str:
    same_score = sum(
        max(r.distribution, key=r.distribution.__getitem__)
        == max(b.results[k].distribution, key=b.results[k].distribution.__getitem__)
        for k, r in a.results.items())
    same_text = sum(r.raw_text == b.results[k].raw_text for k, r in a.results.items())
    worst = max(abs(p - b.results[k].distribution[s])
                for k, r in a.results.items() for s, p in r.distribution.items())
    return (f"same score {same_score}/{len(a.results)}, same feedback text "
            f"{same_text}/{len(a.results)}, largest distribution difference {worst:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="bench model directory (see make_models.py)")
    parser.add_argument("--model", type=Path, help="a GGUF (default: see the docstring)")
    parser.add_argument("--rows", type=int, default=24, help="HaluEval rows (default 24)")
    parser.add_argument("--max-tokens", type=int, default=1000,
                        help="feedback budget per judgment (default 1000, the official one)")
    parser.add_argument("--parallel", type=int, default=3,
                        help="sequences for the three-rubric comparison (default 3)")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    parser.add_argument("--only", choices=["rubrics", "parallel"])
    parser.add_argument("--interleave", action="store_true",
                        help="alternate the sides item by item (4 items for --parallel 4)")
    parser.add_argument("--no-raw", action="store_true",
                        help="skip the raw llama.cpp costs (and so the ceilings)")
    args = parser.parse_args()
    model = args.model
    if model is None:
        directory = bench_dir(args.dir)
        model = phi3_path(directory, real_vocab=True)
        if not model.is_file():
            model = gemma_path(directory)
    if not model.is_file():
        raise SystemExit(f"No model at {model}; run bench/make_models.py first.")
    items = load_rows(args.rows)
    library = RubricLibrary(app_paths())
    rubrics = [library.get(name).rubric for name in RUBRICS]
    sampling = SamplingSettings(max_feedback_tokens=args.max_tokens)
    print(f"model {model.name}, {len(items)} HaluEval rows, feedback budget {args.max_tokens}, "
          f"n_ctx {args.n_ctx}, threads {args.threads or 'default'}, "
          f"load average {load_average()}", flush=True)
    raw = None if args.no_raw else measure(model, args.threads)
    if raw is not None:
        print(raw.line(), flush=True)
    if args.only in (None, "rubrics"):
        print(f"\n1. {len(rubrics)} rubrics per item ({', '.join(RUBRICS)})", flush=True)
        alone, together = compare(
            OneAtATime(model, sampling, args.n_ctx, args.threads),
            Batched(model, sampling, args.parallel, args.n_ctx, args.threads),
            [(i, rubric, item) for rubric in rubrics for i, item in enumerate(items)],
            [(i, rubric, item) for i, item in enumerate(items) for rubric in rubrics],
            slices=len(items) if args.interleave else 1)
        print(alone.line(), flush=True)
        print(together.line())
        print(f"speed-up {alone.seconds / together.seconds:.2f}x items x rubrics per hour "
              f"(target >= 1.6x); {agreement(together, alone)}", flush=True)
        print(ceiling(alone, together, raw), flush=True)
    if args.only in (None, "parallel"):
        print(f"\n2. one rubric ({RUBRICS[-1]}), --parallel 4 against --parallel 1", flush=True)
        jobs = [(i, rubrics[-1], item) for i, item in enumerate(items)]
        one, four = compare(OneAtATime(model, sampling, args.n_ctx, args.threads),
                            Batched(model, sampling, 4, args.n_ctx, args.threads), jobs, jobs,
                            slices=max(1, len(items) // 4) if args.interleave else 1)
        print(one.line())
        print(four.line())
        print(f"speed-up {one.seconds / four.seconds:.2f}x; {agreement(four, one)}", flush=True)
        print(ceiling(one, four, raw), flush=True)


if __name__ == "__main__":
    main()
