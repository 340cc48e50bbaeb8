"""How numbers, amounts and durations are written, the same in the command line, the app and
the reports.
"""

from __future__ import annotations

import math

from flowjudge_tui.progress import Progress

NOT_AVAILABLE = "n/a"


def format_figure(value: float | None, digits: int = 3) -> str:
    """A statistic: ``digits`` decimals, or 'n/a' when it is undefined (None or nan)."""
    if value is None or math.isnan(value):
        return NOT_AVAILABLE
    return f"{value:.{digits}f}"


def format_amount(value: float, unit: str) -> str:
    """A count with thousands separators, or a byte size in kB/MB/GB."""
    if unit != "bytes":
        return f"{value:,.0f}"
    for suffix, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.2f} {suffix}"
    return f"{value:.0f} B"


def count_of(n: int, noun: str, plural: str | None = None) -> str:
    """'1 item', '2 items', '1,000 rows': a count with its noun in the right number
    (``plural`` for nouns that do not take an s)."""
    word = noun if n == 1 else (plural or f"{noun}s")
    return f"{n:,} {word}"


def format_rate(progress: Progress) -> str:
    """Bytes per second for downloads; units per minute for everything else."""
    if progress.rate is None:
        return ""
    if progress.unit == "bytes":
        return f"{format_amount(progress.rate, 'bytes')}/s"
    return f"{progress.rate * 60:.1f} {progress.rate_unit or progress.unit}/min"


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"ETA {hours}:{minutes:02d}:{secs:02d}" if hours else f"ETA {minutes}:{secs:02d}"


def describe_progress(progress: Progress) -> str:
    """The words beside a progress bar: amount done, rate, ETA and the task's own detail."""
    amount = format_amount(progress.done, progress.unit)
    if progress.total is not None:
        amount += f" of {format_amount(progress.total, progress.unit)}"
    if progress.unit != "bytes":
        amount += f" {progress.unit}"
    parts = [amount, format_rate(progress), format_eta(progress.eta_seconds), progress.detail]
    return "  ·  ".join(p for p in parts if p)


# Terminal-safe text. A judged item may hold escape sequences (an OSC title change, clear
# screen, cursor moves) or other control characters; printed raw they would act on the user's
# terminal. Here each one becomes a visible symbol instead: C0 controls turn into their Unicode
# control pictures (ESC shows as "␛"), DEL as "␡", C1 controls as U+FFFD. Each replacement is
# one character, so text offsets (styled spans) stay valid. Newlines and tabs stay unless
# ``one_line`` asks for them to be shown too.
_C0_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)}
_C1_ESCAPES = {code: "\ufffd" for code in range(0x80, 0xA0)}
# Every control a terminal could act on, mapped to something visible.
CONTROL_TRANSLATION: dict[int, str] = {**_C0_PICTURES, 0x7F: "\u2421", **_C1_ESCAPES}
MULTI_LINE_TRANSLATION = {c: text for c, text in CONTROL_TRANSLATION.items() if c not in (9, 10)}


def terminal_safe(text: object, one_line: bool = False) -> str:
    """``text`` with every terminal control character replaced by a visible symbol."""
    return str(text).translate(CONTROL_TRANSLATION if one_line else MULTI_LINE_TRANSLATION)


def has_controls(text: str) -> bool:
    """Whether ``text`` holds a character ``terminal_safe`` would replace (newline, tab aside)."""
    return text != text.translate(MULTI_LINE_TRANSLATION)
