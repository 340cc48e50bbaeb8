"""Dataset text with escape sequences is shown as symbols in the app, never sent raw."""

from __future__ import annotations

HOSTILE = "\x1b]0;PWNED\x07\x1b[2J\x9b31m\rfake line"


async def test_the_app_never_sends_dataset_escapes_to_the_terminal() -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    from flowjudge_tui.tui.app import create_app

    create_app()  # installs the guard, as every start of the app does

    class Probe(App[None]):
        def compose(self) -> ComposeResult:
            yield Static(HOSTILE, markup=False, id="probe")

    app = Probe()
    async with app.run_test(size=(80, 4)) as pilot:
        await pilot.pause()
        widget = app.query_one("#probe", Static)
        rendered = "".join(segment.text for segment in widget.render_line(0))
    assert "\x1b" not in rendered and "\x9b" not in rendered
    assert "␛]0;PWNED" in rendered
