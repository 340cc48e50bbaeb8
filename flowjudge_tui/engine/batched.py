"""Continuous batching: several judgments decoded together over one loaded model.

Each request gets a sequence of a ``SequenceContext`` and goes through exactly the steps of a
single-sequence judgment (``engine.llama``): the same prompt tokens, its own sampler chain with
the same settings and seed, the same stop rules and feedback budget, then the score step
(``structure`` + ``score_reader``) on its own sequence. Batching only changes which tokens
share a ``llama_decode`` call, so an item's verdict does not depend on its neighbours (up to
float rounding in the kernels). A request joins as soon as a sequence is free.

Requests of one group (the same item under several rubrics) are admitted together: the
longest prompt prefix they share is evaluated once, on the first one's sequence, then copied
to the others (``llama_memory_seq_cp``), which evaluate only their own rest. A finished
sequence keeps its tokens, so the next request on it evaluates only what differs from the last
one (Flow-Judge's instructions before the item), as llama-cpp-python's own cache does for the
single-sequence path. Prompts are cut only where the cut changes no logit (``split_point``).

One decode step takes the next token of every generating sequence, in sequence order: with
one KV stream per sequence llama.cpp computes consecutive sequence ids together and splits
the step at every gap, so a step over sequences 0 and 2 costs two steps. Steps of up to three
sequences are bit-identical to single-sequence steps; from four on, llama.cpp's CPU kernels
take another path for the rows (logits differ by float rounding, up to 0.35 on random
weights), so ``--parallel`` above 3 trades exactness for speed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flowjudge_tui.engine.batch_queue import (
    PhaseTimes,
    common_prefix,
    leading_group,
    look_ahead,
    split_point,
)
from flowjudge_tui.engine.score_reader import ScoreReader
from flowjudge_tui.engine.sequences import Entry, SequenceContext
from flowjudge_tui.engine.structure import (
    GenerationWatcher,
    engine_result,
    locate_score_position,
)
from flowjudge_tui.errors import InvalidLogitsError, PromptTooLongError
from flowjudge_tui.judging.backend import (
    JudgeOutcome,
    JudgeRequest,
    JudgmentCancelled,
    LoadSettings,
    SamplingSettings,
    StopCheck,
)

# A shared prefix shorter than this is not worth a copy of the KV stream.
MIN_SHARED_PREFIX = 16

SamplerFactory = Callable[[SamplingSettings], Any]


@dataclass(eq=False)
class _Slot:
    sequence: int
    request: JudgeRequest
    prompt: list[int]
    budget: int
    sampler: Any
    watcher: GenerationWatcher
    started: float
    pending: list[int]
    cached: list[int] = field(default_factory=list)
    reused: int = 0
    generated: list[int] = field(default_factory=list)
    leader: _Slot | None = None
    share_at: int = 0
    followers: list[_Slot] = field(default_factory=list)

    @property
    def waiting(self) -> bool:
        return self.leader is not None

    def next_tokens(self) -> list[int]:
        """What this sequence may evaluate now (a leader stops at the shared prefix)."""
        if self.followers:
            return self.pending[: self.share_at - len(self.cached)]
        return self.pending


class BatchedJudge:
    """Judges requests ``n_seq`` at a time on its own multi-sequence context."""

    def __init__(
        self,
        llm: Any,
        chat_tokens: Callable[[str], list[int]],
        reader: ScoreReader,
        load: LoadSettings,
        sampler_for: SamplerFactory,
        *,
        score_reserve: int,
        min_feedback_tokens: int,
        share_prefixes: bool,
        model_name: str,
    ) -> None:
        self.context = SequenceContext(llm.model, int(llm.n_vocab()), load, load.n_parallel,
                                       llm.context_params)
        self.n_ctx = load.n_ctx
        self._chat_tokens = chat_tokens
        self._reader = reader
        self._sampler_for = sampler_for
        self._score_reserve = score_reserve
        self._min_feedback = min_feedback_tokens
        self.share_prefixes = share_prefixes
        self._model_name = model_name
        self.times = PhaseTimes()
        # What a free sequence still holds: its tokens, and how many of them are its prompt
        # (only a prompt's tokens were evaluated as a later prompt would evaluate them).
        self._kept: dict[int, tuple[list[int], int]] = {}

    def close(self) -> None:
        self._kept.clear()
        self.context.close()

    def run(
        self, requests: Iterable[JudgeRequest], should_stop: StopCheck | None = None
    ) -> Iterator[JudgeOutcome]:
        """Judge ``requests`` (read lazily), yielding each outcome as it is ready."""
        source = iter(requests)
        waiting: deque[JudgeRequest] = deque()
        ready: deque[JudgeOutcome] = deque()
        free = list(range(self.context.n_seq))
        active: list[_Slot] = []
        exhausted = False
        try:
            while True:
                if should_stop is not None and should_stop():
                    raise JudgmentCancelled()
                exhausted = look_ahead(source, waiting, exhausted)
                self._admit(waiting, free, active, ready)
                while ready:
                    yield ready.popleft()
                if not active:
                    if exhausted and not waiting:
                        return
                    continue
                sampled = self._step(active)
                for slot, token in sampled:
                    outcome = self._after_sample(slot, token)
                    if outcome is not None:
                        active.remove(slot)
                        self._release(slot)
                        free.append(slot.sequence)
                        yield outcome
        finally:
            for slot in active:
                self.context.remove(slot.sequence)

    # -- admission -----------------------------------------------------------------------

    def _admit(self, waiting: deque[JudgeRequest], free: list[int], active: list[_Slot],
               ready: deque[JudgeOutcome]) -> None:
        while waiting and free:
            group = leading_group(waiting)
            if len(group) > len(free) and len(free) < self.context.n_seq:
                return  # wait for room to admit the whole group and share its prefix
            admitted: list[_Slot] = []
            for request in group[: len(free)]:
                waiting.popleft()
                slot = self._slot(request, free, ready)
                if slot is not None:
                    admitted.append(slot)
            self._share(admitted)
            self.times.reused_tokens += sum(slot.reused for slot in admitted
                                            if not slot.waiting)
            active.extend(admitted)

    def _slot(self, request: JudgeRequest, free: list[int],
              ready: deque[JudgeOutcome]) -> _Slot | None:
        prompt = self._chat_tokens(request.prompt)
        room = self.n_ctx - len(prompt) - self._score_reserve
        if room < self._min_feedback:
            error = PromptTooLongError(len(prompt), self._min_feedback + self._score_reserve,
                                       self.n_ctx)
            ready.append(JudgeOutcome(request, error=error))
            return None
        sequence, reuse = self._reusable(prompt, free)
        free.remove(sequence)
        if self._kept.pop(sequence, None) is not None:
            self.context.remove(sequence, reuse if reuse else -1)
        return _Slot(
            sequence=sequence, request=request, prompt=prompt,
            budget=min(request.sampling.max_feedback_tokens, room),
            sampler=self._sampler_for(request.sampling),
            watcher=GenerationWatcher(request.on_feedback), started=time.monotonic(),
            cached=prompt[:reuse], reused=reuse, pending=prompt[reuse:],
        )

    def _reusable(self, prompt: list[int], free: list[int]) -> tuple[int, int]:
        """The free sequence holding the longest usable prefix of ``prompt``, and its length
        (the lowest free sequence and 0 when none holds any, so steps stay contiguous)."""
        best, reuse = min(free), 0
        for sequence in sorted(free):
            kept = self._kept.get(sequence)
            if kept is None:
                continue
            tokens, evaluated = kept
            length = split_point(min(common_prefix(tokens, prompt), evaluated), [len(prompt)])
            if length > reuse:
                best, reuse = sequence, length
        return best, reuse

    def _release(self, slot: _Slot) -> None:
        """Free ``slot``'s sequence, keeping its tokens for the next prompt where that is exact
        (an iSWA cache, as Gemma 3's, cannot be cut back to a prefix)."""
        if self.share_prefixes:
            self._kept[slot.sequence] = (slot.cached, len(slot.prompt))
        else:
            self.context.remove(slot.sequence)

    def _share(self, slots: list[_Slot]) -> None:
        if not self.share_prefixes or len(slots) < 2:
            return
        shared = min(common_prefix(slots[0].prompt, s.prompt) for s in slots[1:])
        shared = split_point(shared, (len(s.prompt) for s in slots))
        if shared < MIN_SHARED_PREFIX:
            return
        leader = slots[0]
        leader.share_at = shared
        leader.followers = slots[1:]
        for follower in slots[1:]:
            follower.leader = leader
        if len(leader.cached) >= shared:  # the leader's sequence already holds the prefix
            self.context.remove(leader.sequence, shared)
            leader.cached = leader.prompt[:shared]
            leader.pending = leader.prompt[shared:]
            leader.reused = shared
            self._copy_prefix(leader)

    # -- decoding ------------------------------------------------------------------------

    def _step(self, active: list[_Slot]) -> list[tuple[_Slot, int]]:
        """Decode one token of every generating sequence together, and one prompt chunk of
        each sequence still reading its prompt, alone; the tokens sampled.

        A prompt chunk is decoded on its own and ends on a multiple of ``n_batch``, exactly
        as the single-sequence path splits a prompt: llama.cpp splits a batch that mixes
        sequences into sub-batches of equal length per sequence, and a prompt evaluated in
        other pieces comes out different in the last bits (enough to change a sampled token).
        """
        sampled: list[tuple[_Slot, int]] = []
        generating = sorted((s for s in active if not s.waiting and len(s.cached) >= len(s.prompt)),
                            key=lambda slot: slot.sequence)
        for start in range(0, len(generating), self.context.n_batch):
            group = generating[start : start + self.context.n_batch]
            entries = [Entry(slot.pending[0], len(slot.cached), slot.sequence, True)
                       for slot in group]
            self._decode(entries, prompt=False)
            sampled.extend((slot, self._sample(slot, index)) for index, slot in enumerate(group))
            for slot in group:
                slot.cached.append(slot.pending.pop())
        for slot in [s for s in active if not s.waiting and len(s.cached) < len(s.prompt)]:
            size = self.context.n_batch - len(slot.cached) % self.context.n_batch
            tokens = slot.next_tokens()[:size]
            last = len(tokens) == len(slot.pending)
            start = len(slot.cached)
            self._decode([Entry(token, start + offset, slot.sequence,
                                last and offset == len(tokens) - 1)
                          for offset, token in enumerate(tokens)], prompt=True)
            if last:
                sampled.append((slot, self._sample(slot, len(tokens) - 1)))
            slot.cached.extend(tokens)
            del slot.pending[: len(tokens)]
            if slot.followers and len(slot.cached) == slot.share_at:
                self._copy_prefix(slot)
        return sampled

    def _decode(self, entries: list[Entry], prompt: bool) -> None:
        started = time.monotonic()
        self.context.decode(entries)
        elapsed = time.monotonic() - started
        self.times.decodes += 1
        if prompt:
            self.times.prompt_s += elapsed
            self.times.prompt_tokens += len(entries)
        else:
            self.times.feedback_s += elapsed
            self.times.feedback_tokens += len(entries)
            widths = self.times.step_widths
            widths[len(entries)] = widths.get(len(entries), 0) + 1

    def _copy_prefix(self, leader: _Slot) -> None:
        for follower in leader.followers:
            self.context.remove(follower.sequence)
            self.context.copy(leader.sequence, follower.sequence)
            follower.cached = follower.prompt[: leader.share_at]
            follower.pending = follower.prompt[leader.share_at :]
            follower.leader = None
            self.times.shared_tokens += leader.share_at
        leader.followers = []

    def _sample(self, slot: _Slot, index: int) -> int:
        return self.context.sample(slot.sampler, index)

    def _after_sample(self, slot: _Slot, token: int) -> JudgeOutcome | None:
        """The single-sequence generation rules for one sampled token; an outcome when done."""
        if self._reader.is_end_of_generation(token):
            return self._finish(slot, "eos")
        slot.generated.append(token)
        if slot.watcher.feed(self._reader.piece(token)):
            return self._finish(slot, "marker")
        if len(slot.generated) >= slot.budget:
            return self._finish(slot, "length")
        slot.pending = [token]
        return None

    def _finish(self, slot: _Slot, ended: str) -> JudgeOutcome:
        started = time.monotonic()
        position = locate_score_position(slot.watcher.pieces, ended)
        context = slot.prompt + slot.generated[: position.kept_tokens]
        context += self._reader.continuation(position.tail)
        try:
            distribution, mass = self._reader.distribution(
                context, list(slot.request.scores), lambda tokens: self._eval_to(slot, tokens))
        except InvalidLogitsError as exc:
            return JudgeOutcome(slot.request, error=exc)  # this item only; the others go on
        finally:
            self.times.score_s += time.monotonic() - started
        result = engine_result(position, slot.watcher, len(slot.prompt), len(slot.generated),
                               distribution, mass, slot.started)
        return JudgeOutcome(slot.request, result=result)

    def _eval_to(self, slot: _Slot, tokens: list[int]) -> np.ndarray:
        """Make ``slot``'s sequence exactly ``tokens``, alone; a copy of the last logits."""
        common = min(common_prefix(slot.cached, tokens), len(tokens) - 1)
        self.context.remove(slot.sequence, common)
        rest = tokens[common:]
        size = self.context.n_batch
        chunk: list[int] = []
        for start in range(0, len(rest), size):
            chunk = rest[start : start + size]
            last = start + size >= len(rest)
            self.context.decode([
                Entry(token, common + start + offset, slot.sequence,
                      last and offset == len(chunk) - 1)
                for offset, token in enumerate(chunk)])
        slot.cached = list(tokens)
        logits = self.context.logits(len(chunk) - 1)
        if not np.isfinite(logits).all():
            raise InvalidLogitsError(self._model_name)
        return logits
