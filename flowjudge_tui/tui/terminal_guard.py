"""Nothing the app displays can act on the terminal.

Textual and Rich already drop a few control characters (bell, backspace, carriage return...)
from every text they render, but let ESC through, so a dataset value holding an escape
sequence (an OSC title change, clear screen) would reach the terminal raw. Their tables are
widened once, at start-up, with every other control character mapped to a visible symbol of
the same length (see ``format.terminal_safe``): one place that covers every widget.
"""

from __future__ import annotations

from typing import Any

from flowjudge_tui.format import MULTI_LINE_TRANSLATION


def guard_displayed_text() -> None:
    """Make every text Textual or Rich renders terminal-safe (idempotent)."""
    import rich.control
    import textual.content

    tables: tuple[dict[int, Any], ...] = (
        textual.content._CONTROL_STRIP_TRANSLATE,  # the one hook both offer
        rich.control._CONTROL_STRIP_TRANSLATE,
    )
    for table in tables:
        for code, shown in MULTI_LINE_TRANSLATION.items():
            table.setdefault(code, shown)
