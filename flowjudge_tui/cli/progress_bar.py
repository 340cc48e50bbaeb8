"""A one-line text progress bar for ``Progress`` events, redrawn in place on a terminal."""

from __future__ import annotations

import sys
from typing import TextIO

from flowjudge_tui.progress import Progress

BAR_WIDTH = 28


def format_amount(value: float, unit: str) -> str:
    if unit != "bytes":
        return f"{value:,.0f}"
    for suffix, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.2f} {suffix}"
    return f"{value:.0f} B"


def format_rate(progress: Progress) -> str:
    if progress.rate is None:
        return ""
    if progress.unit == "bytes":
        return f"{format_amount(progress.rate, 'bytes')}/s"
    per_minute = progress.rate * 60
    return f"{per_minute:.1f} {progress.unit}/min"


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"ETA {hours}:{minutes:02d}:{secs:02d}" if hours else f"ETA {minutes}:{secs:02d}"


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
            self.stream.write("\r" + padded + ("\n" if progress.finished else ""))
            self.stream.flush()
            return
        fraction = progress.fraction
        step = int(fraction * 20) if fraction is not None else -1
        if (progress.finished or step != self._last_step) and line != self._last_line:
            self._last_step = step
            self._last_line = line
            self.stream.write(line + "\n")
            self.stream.flush()
