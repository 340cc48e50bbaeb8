"""Helpers for the app's tests: the terminal size, what to type, and waiting on the app."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot
from textual.widgets import Static

SIZE = (120, 40)
SPOT_INPUTS = {
    "query": "What is the capital of France?",
    "context": "Paris is the capital and largest city of France.",
}
SPOT_OUTPUT = "The capital of France is Paris."


async def wait_for(pilot: Pilot[object], condition: Callable[[], bool], timeout: float = 20.0,
                   what: str = "the app") -> None:
    """Let the app run until ``condition`` holds (workers finish in their own time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    await pilot.pause()


def shown(widget: Static) -> str:
    """The text a Static shows, without its markup."""
    return str(widget.render())


def picker_ready(app: object) -> bool:
    """The run picker is open and has sorted the runs (it does so off the UI thread)."""
    from flowjudge_tui.tui.screens.compare import RunPicker

    screen = getattr(app, "screen", None)
    return isinstance(screen, RunPicker) and not shown(
        screen.query_one("#run-options-note", Static)).startswith("Finding")


def notifications(app: object) -> list[str]:
    return [str(n.message) for n in getattr(app, "_notifications", [])]


async def preview_file(pilot: Pilot[object], screen: object, path: object,
                       rubric: str | None = "faithfulness-context-5") -> None:
    """On Runs: choose ``rubric`` (None keeps the one chosen), type ``path`` and wait for the
    file's preview, as a user does before starting a run."""
    from textual.widgets import Input, Select

    from flowjudge_tui.tui.screens.runs import RunsScreen

    assert isinstance(screen, RunsScreen)
    if rubric is not None:
        screen.query_one("#run-rubric", Select).value = rubric
    screen.query_one("#run-path", Input).value = str(path)
    screen.action_preview()
    await wait_for(pilot, lambda: screen.preview is not None, what="the preview")
