"""A progress bar with the task's name, amount, rate and ETA, fed with ``Progress`` events;
under it what the worker is doing (a run: judgments in flight, the server's throughput)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label, ProgressBar

from flowjudge_tui.format import describe_progress
from flowjudge_tui.progress import Progress


class ProgressPanel(Vertical):
    """Hidden until the first event; stays visible with the last event after finishing."""

    DEFAULT_CSS = """
    ProgressPanel { height: auto; display: none; }
    ProgressPanel.-active { display: block; }
    ProgressPanel > ProgressBar { width: 1fr; }
    ProgressPanel > ProgressBar > Bar { width: 1fr; }
    ProgressPanel > .progress-hint { color: $text-accent; display: none; }
    ProgressPanel > .progress-hint.-shown { display: block; }
    ProgressPanel > .progress-activity { color: $text-muted; display: none; }
    ProgressPanel > .progress-activity.-shown { display: block; }
    """

    last: Progress | None = None

    def compose(self) -> ComposeResult:
        yield Label("", classes="progress-task")
        yield ProgressBar(show_eta=False, classes="progress-bar")
        yield Label("", classes="progress-detail")
        yield Label("", classes="progress-activity")
        yield Label("", classes="progress-hint")

    def show_progress(self, progress: Progress) -> None:
        self.last = progress
        self.add_class("-active")
        self.query_one(".progress-task", Label).update(Content(progress.task))
        bar = self.query_one(ProgressBar)
        bar.update(total=progress.total, progress=progress.done)
        self.query_one(".progress-detail", Label).update(Content(describe_progress(progress)))
        activity = self.query_one(".progress-activity", Label)
        activity.update(Content(progress.activity))
        activity.set_class(bool(progress.activity), "-shown")
        self.show_hint("")

    def show_hint(self, text: str) -> None:
        """What can be done next (e.g. "r resumes it"), under the bar; without one, no row
        is left for it (a class, not ``:empty``: that means "no child widgets" in Textual)."""
        hint = self.query_one(".progress-hint", Label)
        hint.update(Content.from_markup(text))
        hint.set_class(bool(text.strip()), "-shown")

    def hide(self) -> None:
        self.remove_class("-active")
