"""The feedback buffer: at most one UI update per interval, nothing lost, rates from the
first token."""

from __future__ import annotations

from flowjudge_tui.tui.feedback_buffer import FeedbackBuffer, FeedbackUpdate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pieces_within_an_interval_become_one_update_and_flush_sends_the_rest() -> None:
    clock = Clock()
    posted: list[FeedbackUpdate] = []
    buffer = FeedbackBuffer(posted.append, interval=0.1, clock=clock)
    clock.now += 1.0  # the prompt is read: no token yet
    for index in range(50):  # 50 tokens at 100 tokens/s
        buffer.token()
        buffer.add(f"w{index} ")
        clock.now += 0.01
    buffer.flush()
    assert "".join(update.text for update in posted) == "".join(f"w{i} " for i in range(50))
    assert 5 <= len(posted) <= 7
    assert posted[-1].tokens == 50
    assert abs(posted[-1].tokens_per_second - 100.0) < 5.0


def test_no_token_yet_means_no_rate() -> None:
    posted: list[FeedbackUpdate] = []
    FeedbackBuffer(posted.append, clock=Clock()).flush()
    assert posted == [FeedbackUpdate("", 0, 0.0)]
