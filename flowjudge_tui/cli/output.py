"""Small helpers shared by the command modules: JSON output and plain tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from flowjudge_tui.format import terminal_safe

# JSON escapes C0 controls itself; DEL and C1 controls are escaped too, so that the output is
# terminal-safe and still valid JSON.
_JSON_CONTROLS = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


def print_json(data: Any) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2)
    sys.stdout.write(text.translate(_JSON_CONTROLS) + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[terminal_safe(h, one_line=True) for h in headers],
             *[[terminal_safe(c, one_line=True) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))


def refusal_to_confirm(yes: bool, action: str, question: str, nothing: str) -> int | None:
    """None when the user agreed to ``action`` (``--yes``, or "y" on a terminal), else the
    exit status: 2 without a terminal to ask on (one line saying to add --yes), 1 for "no"."""
    if yes:
        return None
    if not sys.stdin.isatty():
        print(f"flowjudge: add --yes to {action} without a question.", file=sys.stderr)
        return 2
    if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        print(nothing)
        return 1
    return None
