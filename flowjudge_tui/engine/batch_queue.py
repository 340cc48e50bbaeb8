"""The queue side of continuous batching: groups of requests and the time spent per phase.

Requests arrive as an iterator (a run reads its pending items page by page); a group (the same
item under several rubrics) is admitted only once it is known to be complete, so its shared
prompt prefix can be evaluated once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterator
from dataclasses import dataclass

import numpy as np

from flowjudge_tui.judging.backend import JudgeRequest


@dataclass
class PhaseTimes:
    """Where the time went: decodes with prompt tokens, pure feedback decodes, score steps."""

    prompt_s: float = 0.0
    feedback_s: float = 0.0
    score_s: float = 0.0
    prompt_tokens: int = 0
    shared_tokens: int = 0
    feedback_tokens: int = 0
    decodes: int = 0


def look_ahead(source: Iterator[JudgeRequest], waiting: deque[JudgeRequest],
                exhausted: bool) -> bool:
    """Read requests until the first group in ``waiting`` is known to be complete."""
    while not exhausted:
        if waiting:
            first = waiting[0].group
            if first is None or waiting[-1].group != first:
                return False
        try:
            waiting.append(next(source))
        except StopIteration:
            return True
    return True


def leading_group(waiting: deque[JudgeRequest]) -> list[JudgeRequest]:
    first = waiting[0]
    if first.group is None:
        return [first]
    group: list[JudgeRequest] = []
    key: Hashable = first.group
    for request in waiting:
        if request.group != key:
            break
        group.append(request)
    return group


def common_prefix(a: list[int], b: list[int]) -> int:
    size = min(len(a), len(b))
    if size == 0:
        return 0
    same = np.asarray(a[:size]) == np.asarray(b[:size])
    return size if bool(same.all()) else int(np.argmin(same))
