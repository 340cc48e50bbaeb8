"""A one-line text progress bar for ``Progress`` events, redrawn in place on a terminal."""

from __future__ import annotations

import sys
from typing import TextIO

from flowjudge_tui.cli.terminal import write_control
from flowjudge_tui.format import format_amount, format_eta, format_rate
from flowjudge_tui.progress import Progress

BAR_WIDTH = 28


def render(progress: Progress) -> str:
    fraction = progress.fraction
    if fraction is None:
        bar = "?" * 3
        amount = format_amount(progress.done, progress.unit)
    else:
        filled = round(fraction * BAR_WIDTH)
        bar = "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + f"] {fraction * 100:5.1f}%"
        total = progress.total or 0.0
        done = format_amount(progress.done, progress.unit)
        amount = f"{done}/{format_amount(total, progress.unit)}"
    parts = [progress.task, bar, amount, format_rate(progress), format_eta(progress.eta_seconds)]
    if progress.detail:
        parts.append(progress.detail)
    return "  ".join(p for p in parts if p)


class ProgressPrinter:
    """Draws events on ``stream``: in place on a terminal, one line per ~5% otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._last_step = -1
        self._last_line = ""
        self._width = 0

    def __call__(self, progress: Progress) -> None:
        line = render(progress)
        if self.interactive:
            padded = line.ljust(self._width)
            self._width = len(line)
            write_control(self.stream, "\r")
            self.stream.write(padded + ("\n" if progress.finished else ""))
            self.stream.flush()
            return
        fraction = progress.fraction
        step = int(fraction * 20) if fraction is not None else -1
        if (progress.finished or step != self._last_step) and line != self._last_line:
            self._last_step = step
            self._last_line = line
            self.stream.write(line + "\n")
            self.stream.flush()
