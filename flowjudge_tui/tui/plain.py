"""Showing user text (outputs, file and model names, rubric wording) exactly as it is.

Textual and Rich read ``[...]`` in plain strings as markup; text that came from a user or a
file must never be read that way (a ``[/]`` in a judged output would break the screen).
"""

from __future__ import annotations

from rich.text import Text
from textual.markup import escape


def cell(text: str) -> Text:
    """A DataTable cell that shows ``text`` literally."""
    return Text(text, end="")


__all__ = ["cell", "escape"]
