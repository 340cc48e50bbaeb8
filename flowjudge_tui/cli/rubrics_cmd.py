"""``flowjudge rubrics list | show NAME | validate FILE`` (and the lab's ``try | history |
compare``, in ``lab_cmd``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from flowjudge_tui.cli import lab_cmd
from flowjudge_tui.cli.output import print_json, print_table, refusal_to_confirm
from flowjudge_tui.judging.rubric import RubricLibrary, load_rubric
from flowjudge_tui.settings import app_paths


def register(commands: argparse._SubParsersAction[Any]) -> None:
    rubrics = commands.add_parser("rubrics", help="list, show, validate and try rubrics")
    verbs = rubrics.add_subparsers(dest="rubrics_command", metavar="VERB")
    listing = verbs.add_parser("list", help="the built-in and user rubrics")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)
    show = verbs.add_parser("show", help="one rubric's TOML, by name or path")
    show.add_argument("name")
    show.set_defaults(handler=_show)
    validate = verbs.add_parser("validate", help="check a rubric file")
    validate.add_argument("file", type=Path)
    validate.set_defaults(handler=_validate)
    delete = verbs.add_parser("delete", help="delete one of your own rubrics")
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="do not ask first")
    delete.set_defaults(handler=_delete)
    lab_cmd.register(verbs)


def _list(args: argparse.Namespace) -> int:
    library = RubricLibrary(app_paths())
    entries = library.entries()
    if args.json:
        print_json(
            [
                {
                    "name": e.rubric.name,
                    "title": e.rubric.title,
                    "scale": e.rubric.score_values,
                    "inputs": e.rubric.inputs,
                    "output": e.rubric.output,
                    "source": e.source,
                    "path": str(e.path),
                    "hash": e.rubric.content_hash,
                }
                for e in entries
            ]
        )
    else:
        print_table(
            ["NAME", "SCALE", "INPUTS", "SOURCE", "TITLE"],
            [
                (
                    e.rubric.name,
                    e.rubric.scale_label,
                    ", ".join(e.rubric.inputs) or "-",
                    e.source,
                    e.rubric.title,
                )
                for e in entries
            ],
        )
    for problem in library.problems:
        print(f"flowjudge: skipped {problem}", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    entry = RubricLibrary(app_paths()).get(args.name)
    print(f"# {entry.source} rubric, {entry.path}, version {entry.rubric.content_hash[:12]}")
    print(entry.rubric.to_toml(), end="")
    return 0


def _validate(args: argparse.Namespace) -> int:
    rubric = load_rubric(args.file)
    for warning in rubric.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{args.file}: valid rubric '{rubric.name}', {rubric.scale_label}, "
          f"version {rubric.content_hash[:12]}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    library = RubricLibrary(app_paths())
    entry = library.get(args.name)
    if entry.source != "user":
        library.delete_user_rubric(args.name)  # says why it cannot be deleted
    refused = refusal_to_confirm(args.yes, f"delete your rubric '{args.name}'",
                                 f"Delete your rubric '{args.name}' ({entry.path})?",
                                 "Nothing deleted.")
    if refused is not None:
        return refused
    library.delete_user_rubric(args.name)
    after = library.entries()
    restored = next((e for e in after if e.rubric.name == args.name), None)
    note = " (the built-in rubric of that name is in use again)" if restored else ""
    print(f"Deleted your rubric '{args.name}'{note}; runs keep the version they used.")
    return 0
