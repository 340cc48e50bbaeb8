"""The same judgment in the app's spot check (driven by Pilot) and by ``flowjudge judge``.

Each repetition runs two fresh processes, interleaved: the CLI judging the item, and the app
(headless, through Textual's Pilot) loading the same model, then judging the same item from
its Spot check screen. Both judge HaluEval QA row 0 with ``faithfulness-context-5`` and the
default sampling (at most 1,000 feedback tokens) on Gemma 3 270M.

Figures per repetition:

* CLI: the judgment's own time (``seconds`` in its JSON: prompt, feedback and score, model
  already loaded) and the whole process's wall time;
* app: the wall time from pressing ctrl+r to the verdict on screen (model already loaded),
  and the CPU time of the UI thread (the asyncio thread that renders) over that span. The
  driver polls the screen every 0.25 s (on the UI thread, so its own cost is included; it
  can add up to 0.25 s to the app's wall time).

The target: app judgment wall / CLI judgment time <= 1.1.

Usage::

    python bench/make_models.py --only gemma
    python bench/app_vs_cli.py [--reps 3] [--dir DIR] [--no-extra-bufts]

``--no-extra-bufts`` loads the model without llama.cpp's extra weight buffers (AMX/repack),
in both processes alike: llama.cpp builds with AMX crash on Gemma in some virtual machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from make_models import HALUEVAL, bench_dir, gemma_path  # noqa: E402

RUBRIC = "faithfulness-context-5"
POLL_SECONDS = 0.25


def item_fields(row_index: int = 0) -> tuple[dict[str, str], str]:
    with HALUEVAL.open(encoding="utf-8") as handle:
        row = json.loads(handle.readlines()[row_index])
    return {"query": row["query"], "context": row["context"]}, row["response"]


def without_extra_buffers() -> None:
    """Load models without llama.cpp's extra buffer types (see the module docstring)."""
    import llama_cpp
    import llama_cpp.llama as llama_module

    default = llama_cpp.llama_model_default_params

    def params() -> Any:
        value = default()
        value.use_extra_bufts = False
        return value

    llama_module.llama_cpp.llama_model_default_params = params  # type: ignore[attr-defined]


def child_cli(model: Path, item_file: Path) -> None:
    from flowjudge_tui.cli.main import main

    raise SystemExit(main(["judge", "--model", str(model), "--rubric", RUBRIC,
                           "--item", str(item_file)]))


def child_app(model: Path) -> None:
    from textual.widgets import Static

    from flowjudge_tui.tui.app import create_app
    from flowjudge_tui.tui.messages import FeedbackStreamed
    from flowjudge_tui.tui.screens.spot_check import SpotCheckScreen

    inputs, output = item_fields()
    updates: list[FeedbackStreamed] = []

    def hook(message: object) -> None:
        if isinstance(message, FeedbackStreamed):
            updates.append(message)

    async def drive() -> dict[str, Any]:
        app = create_app(model=str(model), section="spot")
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            screen = app.screen
            assert isinstance(screen, SpotCheckScreen)
            while app.model_status.state != "unloaded":
                await pilot.pause(0.05)
            app.load_model()
            while app.model_status.state != "loaded":
                await pilot.pause(0.05)
            screen.select_rubric(RUBRIC)
            while screen.rubric is None:
                await pilot.pause(0.05)
            screen.fill(inputs, output)
            await pilot.pause()
            headline_widget = screen.query_one("#verdict-headline", Static)
            wall0, cpu0 = time.perf_counter(), time.thread_time()
            await pilot.press("ctrl+r")
            # Poll rarely: the polling itself runs on the UI thread and would be counted.
            while screen.last is None or not str(headline_widget.render()).startswith("Score"):
                await pilot.pause(POLL_SECONDS)
            wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
            verdict = screen.last.verdict
            headline = str(headline_widget.render())
        return {"wall": wall, "ui_cpu": cpu, "seconds": verdict.seconds,
                "completion_tokens": verdict.completion_tokens,
                "prompt_tokens": verdict.prompt_tokens, "score": verdict.score,
                "updates": len(updates), "headline": headline}

    print(json.dumps(asyncio.run(drive())))


def run_child(mode: str, model: Path, home: Path, item_file: Path,
              no_extra: bool) -> tuple[float, dict[str, Any]]:
    command = [sys.executable, __file__, "--child", mode, "--model", str(model),
               "--item-file", str(item_file)]
    if no_extra:
        command.append("--no-extra-bufts")
    env = dict(os.environ, FLOWJUDGE_HOME=str(home), PYTHONPATH=str(REPO))
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    text = done.stdout.strip()
    return wall, json.loads(text if mode == "cli" else text.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--dir", help="bench model directory (see make_models.py)")
    parser.add_argument("--no-extra-bufts", action="store_true")
    parser.add_argument("--child", choices=["cli", "app"], help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--item-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.no_extra_bufts:
            without_extra_buffers()
        if args.child == "cli":
            child_cli(args.model, args.item_file)
        else:
            child_app(args.model)
        return

    model = gemma_path(bench_dir(args.dir))
    if not model.is_file():
        raise SystemExit(f"{model} is missing: run python bench/make_models.py --only gemma")
    ratios: list[float] = []
    ui_share: list[float] = []
    with tempfile.TemporaryDirectory() as temp:
        home = Path(temp) / "home"
        item_file = Path(temp) / "item.json"
        inputs, output = item_fields()
        item_file.write_text(json.dumps({"inputs": inputs, "output": output}))
        print(f"model {model.name}; rubric {RUBRIC}; HaluEval row 0; reps {args.reps}"
              + ("; no extra buffer types" if args.no_extra_bufts else ""))
        for rep in range(args.reps):
            cli_wall, cli = run_child("cli", model, home, item_file, args.no_extra_bufts)
            app_wall, app = run_child("app", model, home, item_file, args.no_extra_bufts)
            ratio = app["wall"] / cli["seconds"]
            ratios.append(ratio)
            ui_share.append(app["ui_cpu"] / app["wall"])
            print(f"rep {rep}: cli judgment {cli['seconds']:6.2f} s "
                  f"({cli['completion_tokens']} tokens, process {cli_wall:5.1f} s) | "
                  f"app judgment {app['wall']:6.2f} s ({app['completion_tokens']} tokens, "
                  f"{app['updates']} UI updates, process {app_wall:5.1f} s), "
                  f"UI thread CPU {app['ui_cpu']:.2f} s ({app['ui_cpu'] / app['wall']:.1%}) | "
                  f"app/cli {ratio:.3f}", flush=True)
            print(f"       app headline at the end: {app['headline']!r}")
    print(f"app/cli judgment wall: median {statistics.median(ratios):.3f} "
          f"(runs {', '.join(f'{r:.3f}' for r in ratios)}); UI thread CPU while judging: "
          f"median {statistics.median(ui_share):.1%} of the wall time")


if __name__ == "__main__":
    main()
