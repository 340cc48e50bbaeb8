"""The queue side of continuous batching: groups of requests, where a prompt may be split,
and the time spent per phase.

Requests arrive as an iterator (a run reads its pending items page by page); a group (the same
item under several rubrics) is admitted only once it is known to be complete, so its shared
prompt prefix can be evaluated once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field

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
    reused_tokens: int = 0
    feedback_tokens: int = 0
    decodes: int = 0
    # Feedback decode steps by how many sequences they carried.
    step_widths: dict[int, int] = field(default_factory=dict)


# Where a prompt may be cut into pieces evaluated apart without changing a bit of any logit.
# llama.cpp's CPU kernels compute a row of a batch differently depending on the rows around it
# (rows go in groups of 4, and pieces of fewer than 8 rows take other paths). Measured on the
# Phi-3 Q4_K_M bench model (8 layers x 1024) with a 400-token prompt cut once: cuts at 2, 4,
# 350 and 396 change the logits by up to 0.07; cuts at 8, 12, 20, ..., 348, 352 and 392 leave
# them bit-identical. So a cut falls on a multiple of 8 and leaves at least 8 tokens after it.
SPLIT_ALIGN = 8


def split_point(common: int, lengths: Iterable[int]) -> int:
    """The longest prefix, at most ``common`` tokens, that prompts of ``lengths`` tokens can
    take from an already evaluated sequence and still come out exactly as evaluated alone."""
    limit = min([common, *(length - SPLIT_ALIGN for length in lengths)])
    return max(0, limit - limit % SPLIT_ALIGN)


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
