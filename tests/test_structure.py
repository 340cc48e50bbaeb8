"""Where the score position is, for every way a model can end its answer.

These are pure functions over the bytes of generated tokens; the engine tests run the same
logic on real models.
"""

from __future__ import annotations

from flowjudge_tui.engine.structure import (
    GenerationWatcher,
    decode_feedback,
    locate_score_position,
)


def pieces(*parts: str) -> list[bytes]:
    return [p.encode() for p in parts]


def test_a_well_formed_answer_keeps_every_token() -> None:
    tokens = pieces("<feedback>", " Good", " answer.", "</feedback>", "\n", "<score>")
    position = locate_score_position(tokens, "marker")
    assert position.kept_tokens == 6
    assert position.tail == ""
    assert position.feedback == "Good answer."
    assert position.stop_reason == "score"


def test_a_score_tag_split_inside_a_token_is_completed_by_the_tail() -> None:
    tokens = pieces("<feedback>", "Fine", "</feedback>\n<sc", "ore>")
    position = locate_score_position(tokens, "marker")
    assert position.kept_tokens == 4
    assert position.tail == ""
    tokens = pieces("<feedback>", "Fine", "</feedback>\n<sco", "re>\n5")
    position = locate_score_position(tokens, "marker")
    assert position.kept_tokens == 2
    assert position.tail == "</feedback>\n<score>"


def test_a_closed_feedback_without_a_score_gets_one() -> None:
    tokens = pieces("<feedback>", "Ok", "</feedback>", " blah", " blah")
    position = locate_score_position(tokens, "eos")
    assert position.kept_tokens == 2
    assert position.tail == "</feedback>\n<score>"
    assert position.stop_reason == "feedback_closed"
    assert position.feedback == "Ok"


def test_running_out_of_budget_closes_the_feedback() -> None:
    tokens = pieces("<feedback>", " It", " goes", " on", " </feed")
    position = locate_score_position(tokens, "length")
    assert position.kept_tokens == 4
    assert position.tail == " \n</feedback>\n<score>"
    assert position.feedback == "It goes on"
    assert position.stop_reason == "length"


def test_junk_without_any_tag_is_all_feedback() -> None:
    tokens = pieces("qz", "x", "\n")
    position = locate_score_position(tokens, "eos")
    assert position.kept_tokens == 3
    assert position.tail == "</feedback>\n<score>"
    assert position.feedback == "qzx"


def test_nothing_generated_still_reaches_a_score_position() -> None:
    position = locate_score_position([], "eos")
    assert position.kept_tokens == 0
    assert position.tail == "\n</feedback>\n<score>"
    assert position.feedback == ""


def test_a_score_written_inside_the_feedback_is_the_score_position() -> None:
    tokens = pieces("<feedback>", "Text", "<score>")
    position = locate_score_position(tokens, "marker")
    assert (position.kept_tokens, position.tail, position.feedback) == (3, "", "Text")


def test_the_watcher_streams_exactly_the_final_feedback() -> None:
    parts = ["  <feed", "back>", "\n", "Héllo", " wor", "ld", " \n", "</feed", "back>", "\n"]
    seen: list[str] = []
    watcher = GenerationWatcher(seen.append)
    stops = [watcher.feed(p.encode()) for p in parts]
    assert not any(stops)
    assert "".join(seen) == "Héllo world" == decode_feedback("".join(parts).encode())


def test_the_watcher_joins_split_utf8_characters() -> None:
    seen: list[str] = []
    watcher = GenerationWatcher(seen.append)
    data = "<feedback>é ü".encode()
    for byte in data:
        watcher.feed(bytes([byte]))
    watcher.feed(b"<score>")
    assert "".join(seen) == "é ü"


def test_the_watcher_stops_at_the_score_tag_and_after_rambling() -> None:
    watcher = GenerationWatcher(None)
    assert not watcher.feed(b"<feedback>x</feedback>")
    assert watcher.feed(b"<score>")
    rambling = GenerationWatcher(None)
    rambling.feed(b"<feedback>x</feedback>")
    assert any(rambling.feed(b" more") for _ in range(20))
