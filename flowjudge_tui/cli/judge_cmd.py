"""``flowjudge judge``: judge one item and print the verdict as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from flowjudge_tui.cli import arg_types
from flowjudge_tui.cli.model_args import add_model_arguments, load_from_args
from flowjudge_tui.cli.output import print_json
from flowjudge_tui.errors import ItemError, PromptTooLongError
from flowjudge_tui.files import regular_file_problem
from flowjudge_tui.judging.backend import SamplingSettings
from flowjudge_tui.judging.prompt import build_prompt
from flowjudge_tui.judging.rubric import Item, RubricLibrary
from flowjudge_tui.settings import app_paths


def register(commands: argparse._SubParsersAction[Any]) -> None:
    judge = commands.add_parser(
        "judge",
        help="judge one output against a rubric and print the verdict as JSON",
        description="Judge one output. Give the rubric's inputs with --input NAME=TEXT and the "
        "output with --output, or both in a JSON file with --item.",
    )
    add_model_arguments(judge)
    judge.add_argument("--rubric", required=True, help="a rubric name or a .toml file")
    judge.add_argument("--input", action="append", default=[], metavar="NAME=TEXT",
                       help="one of the rubric's inputs (repeat for each)")
    judge.add_argument("--output", help="the output to judge")
    judge.add_argument("--item", type=Path,
                       help='a JSON file {"inputs": {...}, "output": "..."} instead of '
                       "--input/--output")
    judge.add_argument("--print-prompt", action="store_true",
                       help="print the exact prompt and exit without loading a model")
    judge.add_argument("--stream", action="store_true",
                       help="show the feedback on stderr as it is generated")
    judge.add_argument("--max-tokens", type=arg_types.positive,
                     default=SamplingSettings.max_feedback_tokens,
                       help="most tokens of feedback (default %(default)s)")
    judge.add_argument("--temperature", type=arg_types.temperature,
                     default=SamplingSettings.temperature)
    judge.add_argument("--seed", type=arg_types.seed, default=SamplingSettings.seed)
    judge.set_defaults(handler=_judge)


def read_item(args: argparse.Namespace) -> Item:
    if args.item is not None:
        if args.input or args.output is not None:
            raise ItemError("Give either --item or --input/--output, not both.")
        return _item_from_file(args.item)
    if args.output is None:
        raise ItemError("Give the output to judge with --output TEXT (or use --item FILE.json).")
    inputs: dict[str, str] = {}
    for pair in args.input:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ItemError(f"--input '{pair}' is not NAME=TEXT; write it as --input query=...")
        inputs[name] = value
    return Item(inputs=inputs, output=args.output)


MAX_ITEM_BYTES = 64 << 20


def _item_from_file(path: Path) -> Item:
    problem = regular_file_problem(path)
    if problem is not None and problem != "no such file":
        raise ItemError(f"{path} {problem}; give a JSON file to --item.")
    if problem is None and path.stat().st_size > MAX_ITEM_BYTES:
        raise ItemError(f"{path} is larger than an item can be ({MAX_ITEM_BYTES:,} bytes).")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ItemError(f"{path}: no such file; check the path given to --item.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ItemError(f"{path}: not a readable JSON file ({exc}).") from None
    except RecursionError:
        raise ItemError(f"{path}: the JSON nests too deeply to be an item.") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("output"), str)
        or not isinstance(data.get("inputs", {}), dict)
        or not all(isinstance(v, str) for v in data.get("inputs", {}).values())
    ):
        raise ItemError(
            f'{path}: expected {{"inputs": {{"name": "text", ...}}, "output": "text"}}.'
        )
    return Item(inputs=data.get("inputs", {}), output=data["output"])


def _judge(args: argparse.Namespace) -> int:
    from flowjudge_tui.judging.judge import judge_item

    rubric = RubricLibrary(app_paths()).get(args.rubric).rubric
    for warning in rubric.warnings():
        print(f"flowjudge: warning: {warning}", file=sys.stderr)
    item = rubric.check_item(read_item(args))
    if args.print_prompt:
        sys.stdout.write(build_prompt(rubric, item) + "\n")
        return 0
    engine = load_from_args(args)
    sampling = SamplingSettings(
        temperature=args.temperature, max_feedback_tokens=args.max_tokens, seed=args.seed
    )
    on_feedback = _stream_to_stderr if args.stream else None
    try:
        verdict = judge_item(engine, rubric, item, sampling, on_feedback=on_feedback)
    except PromptTooLongError as exc:
        print(f"flowjudge: {exc} {LARGER_CONTEXT_HINT}", file=sys.stderr)
        return 2
    finally:
        if engine.path is None:
            engine.close()  # a server connection; a loaded model stays for reuse
    if args.stream:
        sys.stderr.write("\n")
    print_json(verdict.to_json_dict())
    return 0


LARGER_CONTEXT_HINT = (
    "Judge it with a larger --n-ctx (up to 131072; above 4096 Phi-3 switches to its "
    "long-context RoPE factors), or shorten the item."
)


def _stream_to_stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()
