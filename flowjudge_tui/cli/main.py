"""Entry point of the ``flowjudge`` command; with no arguments it opens the terminal app."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flowjudge_tui import __version__
from flowjudge_tui.cli import judge_cmd, models_cmd, rubrics_cmd, runs_cmd
from flowjudge_tui.errors import FlowJudgeError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowjudge",
        description="An offline LLM judge (Flow-Judge-v0.1 through llama.cpp). "
        "Run with no arguments to open the terminal app.",
    )
    parser.add_argument("--version", action="version", version=f"flowjudge {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (judge_cmd, rubrics_cmd, models_cmd, runs_cmd):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return _open_app()
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.parse_args([args.command, "--help"])
            return 2
        return int(handler(args))
    except FlowJudgeError as exc:
        print(f"flowjudge: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flowjudge: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _open_app() -> int:
    from flowjudge_tui.tui.app import run_app

    return run_app()


if __name__ == "__main__":
    sys.exit(main())
