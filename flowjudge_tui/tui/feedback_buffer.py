"""Coalesce streamed feedback on the judging thread before it reaches the UI.

The engine hands over a piece of text per token. Posting each piece to the UI (and rendering
it) costs the UI thread as much CPU as a llama.cpp thread, and on a machine with two cores
that slows the judgment itself. So the worker gathers the pieces here and posts at most one
update per ``interval`` seconds: the new text and how far generation has got.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

UPDATE_INTERVAL = 0.2
"""Seconds between UI updates while feedback streams: at most five a second (smooth to read,
and each costs the UI thread a few milliseconds of the cores llama.cpp needs)."""


@dataclass(frozen=True)
class FeedbackUpdate:
    """New feedback text since the last update and where generation stands."""

    text: str
    tokens: int
    tokens_per_second: float


class FeedbackBuffer:
    """Gathers feedback pieces and token ticks from a worker thread; ``post`` gets updates.

    ``token()`` is called once per generated token (the engine's stop check runs once per
    token), ``add()`` with each piece of feedback text. The rate is counted from the first
    token, so the prompt's processing does not drag it down.
    """

    def __init__(
        self,
        post: Callable[[FeedbackUpdate], None],
        interval: float = UPDATE_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._post = post
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._tokens = 0
        self._first_token_at: float | None = None
        self._last_post = clock()

    @property
    def tokens(self) -> int:
        return self._tokens

    def token(self) -> None:
        with self._lock:
            self._tokens += 1
            if self._first_token_at is None:
                self._first_token_at = self._clock()
        self._maybe_post()

    def add(self, text: str) -> None:
        with self._lock:
            self._pending.append(text)
        self._maybe_post()

    def flush(self) -> None:
        """Post whatever is pending (at the end of a judgment)."""
        self._post_now()

    def _maybe_post(self) -> None:
        if self._clock() - self._last_post >= self._interval:
            self._post_now()

    def _post_now(self) -> None:
        with self._lock:
            now = self._clock()
            self._last_post = now
            text = "".join(self._pending)
            self._pending.clear()
            tokens = self._tokens
            started = self._first_token_at
        rate = 0.0
        if started is not None and tokens > 1 and now > started:
            rate = (tokens - 1) / (now - started)
        self._post(FeedbackUpdate(text, tokens, rate))
