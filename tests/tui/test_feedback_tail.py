"""The streaming feedback widget shows the end of the text, as much as fits, and never grows."""

from __future__ import annotations

from textual.app import App, ComposeResult

from flowjudge_tui.tui.widgets.feedback_tail import FeedbackTail


class TailApp(App[None]):
    CSS = "FeedbackTail { width: 20; height: 4; }"

    def compose(self) -> ComposeResult:
        yield FeedbackTail(id="tail")


async def test_the_tail_shows_the_last_lines_that_fit_and_keeps_its_size() -> None:
    app = TailApp()
    async with app.run_test(size=(40, 10)) as pilot:
        tail = app.query_one(FeedbackTail)
        size = tail.size
        words = [f"word{n:03d}" for n in range(300)]
        for word in words:
            tail.append(word + " ")
        tail.append("\nlast line")
        await pilot.pause()
        shown = str(tail.render()).splitlines()
        assert tail.size == size
        assert len(shown) == 4
        assert shown[-1] == "last line"
        assert shown[-2].split()[-1] == "word299"
        assert tail.text.startswith("word000 ") and tail.text.endswith("last line")
        tail.clear()
        assert str(tail.render()) == ""
