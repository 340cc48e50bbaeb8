"""One progress event type for everything long: downloads, imports and runs.

The command line draws it as a text bar (``cli.progress_bar``); the app binds it to a
Textual ``ProgressBar``. Producers call a ``ProgressCallback`` with a new event each step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Progress:
    """Where a long task stands. ``total`` is None when it is not known yet."""

    task: str
    done: float
    total: float | None
    unit: str = "items"
    rate: float | None = None
    eta_seconds: float | None = None
    detail: str = ""
    finished: bool = False
    activity: str = ""
    """What the worker is doing, for a line of its own (a run: judgments in flight, the
    server's throughput)."""
    rate_unit: str = ""
    """What ``rate`` counts when it is not ``unit`` (a run: 'judged', not every verdict)."""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


ProgressCallback = Callable[[Progress], None]


@dataclass
class RateMeter:
    """Turns a running count into rate and ETA over the whole task so far.

    ``worked`` is the part of the progress that cost the time, when not all of it did: a run
    counts reused and skipped verdicts in ``done`` (the bar) but they take no judging, so its
    rate counts judged verdicts only and its ETA is the remaining items at that rate (a resume
    that mostly reused said "4873.1 verdicts/min")."""

    task: str
    total: float | None
    unit: str = "items"
    start_done: float = 0.0
    started: float = field(default_factory=time.monotonic)
    rate_unit: str = ""

    def event(self, done: float, detail: str = "", finished: bool = False,
              activity: str = "", worked: float | None = None) -> Progress:
        elapsed = time.monotonic() - self.started
        progressed = done - self.start_done if worked is None else worked
        rate = progressed / elapsed if elapsed > 0 and progressed > 0 else None
        eta = None
        if rate and self.total is not None:
            eta = max(0.0, (self.total - done) / rate)
        return Progress(
            task=self.task,
            done=done,
            total=self.total,
            unit=self.unit,
            rate=rate,
            eta_seconds=eta,
            detail=detail,
            finished=finished,
            activity=activity,
            rate_unit=self.rate_unit,
        )
