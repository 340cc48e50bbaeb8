"""A line that says what is wrong, shown only while it says something.

Textual's ``:empty`` pseudo-class means "no child widgets", not "no text": a Static never
has children, so a ``.problem:empty { display: none; }`` rule hid every problem sentence for
good (a dialog refused a typo and showed nothing). This widget shows itself when its text is
not empty and hides itself when it is.
"""

from __future__ import annotations

from textual.visual import VisualType
from textual.widgets import Static


class ProblemLine(Static):
    DEFAULT_CSS = """
    ProblemLine { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, classes="problem")
        self.display = False

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        super().update(content, layout=layout)
        self.display = bool(str(content).strip())
