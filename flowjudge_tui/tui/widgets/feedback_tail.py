"""The end of the feedback as it streams in: as many of its last lines as the panel shows.

A Static holding the whole growing text re-wraps all of it on every update and asks the
screen for a new layout each time its height changes; over a 1,000-token judgment that is
most of the UI thread's work, and on a two-core machine the UI thread's work is taken from
llama.cpp. This widget has a fixed size (it fills its panel), so an update repaints it alone,
and it wraps only the tail that can be seen, so an update costs the same at the thousandth
token as at the first.
"""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget


class FeedbackTail(Widget):
    DEFAULT_CSS = """
    FeedbackTail { height: 1fr; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = ""

    @property
    def text(self) -> str:
        return self._text

    def clear(self) -> None:
        self._text = ""
        self.refresh()

    def append(self, piece: str) -> None:
        if piece:
            self._text += piece
            self.refresh()

    def render(self) -> Content:
        width, height = self.content_size.width, self.content_size.height
        if width <= 0 or height <= 0 or not self._text:
            return Content("")
        # Enough characters to fill the area even if every line were full, and whole lines.
        tail = self._text[-(width * height * 2 + width):]
        lines: list[Content] = []
        for paragraph in tail.split("\n"):
            lines.extend(Content(paragraph).wrap(width) or [Content("")])
        return Content("\n").join(lines[-height:])
