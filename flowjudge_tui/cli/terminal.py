"""Standard output and error made terminal-safe while a command runs.

Every message a command prints may carry user text (file names, column names, dataset
values, model output). On a terminal, ``SafeTerminalStream`` shows each control character as
a visible symbol (see ``format.terminal_safe``), so nothing a dataset holds can retitle, clear or
reprogram the user's terminal. Output to a file or a pipe is left byte for byte as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from flowjudge_tui.format import terminal_safe


class SafeTerminalStream:
    """Wraps a terminal's text stream; ``write_control`` is for our own cursor moves only."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text))

    def write_control(self, text: str) -> int:
        return self._stream.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _wrap(stream: TextIO) -> TextIO:
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):
        return stream
    return SafeTerminalStream(stream) if interactive else stream  # type: ignore[return-value]


@contextmanager
def terminal_safe_output() -> Iterator[None]:
    """Make ``sys.stdout`` and ``sys.stderr`` terminal-safe inside the block."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _wrap(saved[0]), _wrap(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def write_control(stream: TextIO, text: str) -> None:
    """Write our own control characters (a carriage return) past the safe wrapper."""
    writer = getattr(stream, "write_control", stream.write)
    writer(text)
