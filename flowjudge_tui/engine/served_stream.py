"""Reading a streamed completion: tokens to the watcher, why it ended, feedback sent once.

llama.cpp's server and vLLM stream token ids with their bytes; llama-cpp-python's server
streams text chunks without ids (``text_chunks``), each standing for its tokens, and a stream
of its that ends without a finish reason was interrupted (by another client's request).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from flowjudge_tui.engine.served_http import ServerRetryable
from flowjudge_tui.engine.served_scores import generated_tokens
from flowjudge_tui.engine.structure import GenerationWatcher

# What stands for a token id in a stream of text chunks without ids.
TEXT_CHUNK = -1


def follow_stream(events: Iterator[dict[str, Any]], generated: list[int],
                  watcher: GenerationWatcher, budget: int,
                  text_chunks: bool = False) -> tuple[str, float | None]:
    """Feed streamed tokens to ``watcher``; why generation ended, when the first came.

    ``text_chunks``: the server streams text without token ids (llama-cpp-python's), each
    chunk stands for its tokens, and a stream that ends without a finish reason was
    interrupted (by another client's request) and must be run again.
    """
    first: float | None = None
    for event in events:
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices:
            continue
        choice = choices[0]
        chunk = choice.get("text")
        if text_chunks:
            tokens = [(TEXT_CHUNK, chunk.encode("utf-8"))] if isinstance(chunk, str) and \
                chunk else []
        else:
            tokens = generated_tokens(choice)
        if first is None and tokens:
            first = time.monotonic()
        for token, piece in tokens:
            generated.append(token)
            if watcher.feed(piece):
                return "marker", first
        if choice.get("finish_reason") == "stop":
            return "eos", first
        if choice.get("finish_reason") or len(generated) >= budget:
            break
    else:
        if text_chunks:
            raise ServerRetryable("the server interrupted the stream")
    return "length", first


class Resumable:
    """Forwards streamed feedback once, even when a broken stream is run again."""

    def __init__(self, target: Callable[[str], None] | None) -> None:
        self._target = target
        self._delivered = 0
        self._seen = 0

    def restart(self) -> None:
        self._seen = 0

    def forward(self, text: str) -> None:
        start, self._seen = self._seen, self._seen + len(text)
        fresh = text[max(0, self._delivered - start):]
        if fresh and self._target is not None:
            self._target(fresh)
            self._delivered = self._seen
