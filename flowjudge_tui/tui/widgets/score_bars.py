"""Horizontal bars for a score distribution (probabilities) or a score histogram (counts)."""

from __future__ import annotations

from collections.abc import Mapping

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

EIGHTHS = " ▏▎▍▌▋▊▉"
LABEL_WIDTH = 4
VALUE_WIDTH = 6


def draw_bar(fraction: float, width: int) -> str:
    """A bar ``fraction`` of ``width`` cells long, to an eighth of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (EIGHTHS[part] if part else "")
    return bar.ljust(width)


def render_bars(
    values: Mapping[int, float],
    width: int,
    highlight: int | None = None,
    as_counts: bool = False,
) -> Content:
    """One line per score. Probabilities fill the width at 1.0; counts at the largest count."""
    if not values:
        return Content("")
    scale = max(values.values()) if as_counts else 1.0
    bar_width = max(4, width - LABEL_WIDTH - VALUE_WIDTH - 1)
    lines: list[Content] = []
    for score in sorted(values):
        value = values[score]
        chosen = score == highlight
        shown = f"{int(value):>{VALUE_WIDTH}d}" if as_counts else f"{value:>{VALUE_WIDTH}.0%}"
        lines.append(
            Content.assemble(
                ("▶" if chosen else " ", "bold $accent"),
                (f"{score:>2} ", "bold" if chosen else ""),
                (draw_bar(value / scale if scale else 0.0, bar_width),
                 "$accent" if chosen else "$primary"),
                (f" {shown}", "bold" if chosen else "$text-muted"),
            )
        )
    return Content("\n").join(lines)


class ScoreBars(Widget):
    """A distribution drawn as bars; the highlighted score is marked with ▶."""

    DEFAULT_CSS = """
    ScoreBars { height: auto; }
    """

    values: reactive[dict[int, float]] = reactive(dict, layout=True)
    highlight: reactive[int | None] = reactive(None)

    def __init__(
        self,
        as_counts: bool = False,
        empty_text: str = "No scores yet.",
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.as_counts = as_counts
        self.empty_text = empty_text

    def show(self, values: Mapping[int, float], highlight: int | None = None) -> None:
        self.values = dict(values)
        self.highlight = highlight

    def clear(self) -> None:
        self.values = {}
        self.highlight = None

    def render(self) -> Content:
        if not self.values:
            return Content.styled(self.empty_text, "$text-muted")
        return render_bars(self.values, self.content_size.width, self.highlight, self.as_counts)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return max(1, len(self.values))
