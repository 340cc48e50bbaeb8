"""The command line: every verb's parser, and the one place its errors become a sentence.

``flowjudge_tui.entry`` calls ``main`` and passes it the app to open when no verb is given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from flowjudge_tui import __version__
from flowjudge_tui.cli import doctor, judge_cmd, models_cmd, rubrics_cmd, runs_cmd
from flowjudge_tui.cli.terminal import terminal_safe_output
from flowjudge_tui.errors import FlowJudgeError

T = TypeVar("T")


class UsageError(FlowJudgeError):
    """The command line itself is wrong: an unknown option, a missing or malformed value."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one sentence like every other error (the verbs' parsers
    are made of the same class)."""

    def error(self, message: str) -> NoReturn:
        sentence = message[:1].upper() + message[1:]
        if not sentence.endswith("."):
            sentence += "."
        raise UsageError(f"{sentence} See '{self.prog} --help'.")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="flowjudge",
        description="An offline LLM judge (Flow-Judge-v0.1 through llama.cpp). "
        "Run with no arguments to open the terminal app.",
    )
    parser.add_argument("--version", action="version", version=f"flowjudge {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (judge_cmd, rubrics_cmd, models_cmd, doctor, runs_cmd):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None, open_app: Callable[[], int] | None = None) -> int:
    parser = build_parser()
    with terminal_safe_output():
        parsed = _guarded(lambda: parser.parse_args(argv))
    if not isinstance(parsed, argparse.Namespace):
        return parsed
    args = parsed
    if args.command is None:
        if open_app is None:
            parser.print_help()
            return 2
        return _guarded(open_app)
    with terminal_safe_output():
        return _guarded(lambda: _dispatch(parser, args))


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.parse_args([args.command, "--help"])
        return 2
    return int(handler(args))


def _guarded(command: Callable[[], T]) -> T | int:
    """Run ``command``; an error a user can cause ends in its one sentence, never a traceback."""
    try:
        return command()
    except FlowJudgeError as exc:
        print(f"flowjudge: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flowjudge: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
