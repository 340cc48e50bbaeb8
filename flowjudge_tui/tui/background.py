"""Background jobs the app must let finish before it closes the database.

A cancelled thread worker is marked cancelled at once, but its thread runs on until its next
stop check; a run's last act there is to record that it stopped. The app waits (a little) for
these jobs on exit, so a run quit midway is left cleanly resumable.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class JobTracker:
    def __init__(self) -> None:
        self._running: set[threading.Event] = set()
        self._lock = threading.Lock()

    @contextmanager
    def job(self) -> Iterator[None]:
        """Wrap the body of a thread worker that writes to the database."""
        done = threading.Event()
        with self._lock:
            self._running.add(done)
        try:
            yield
        finally:
            with self._lock:
                self._running.discard(done)
            done.set()

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._running)

    async def wait(self, timeout: float) -> None:
        """Wait until no job is running, or ``timeout`` seconds at most."""
        deadline = time.monotonic() + timeout
        while self.busy and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
