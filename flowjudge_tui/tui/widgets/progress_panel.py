"""A progress bar with the task's name, amount, rate and ETA, fed with ``Progress`` events."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label, ProgressBar

from flowjudge_tui.cli.progress_bar import format_amount, format_eta, format_rate
from flowjudge_tui.progress import Progress


def describe_progress(progress: Progress) -> str:
    """The words beside the bar: amount done, rate, ETA and the task's own detail."""
    amount = format_amount(progress.done, progress.unit)
    if progress.total is not None:
        amount += f" of {format_amount(progress.total, progress.unit)}"
    if progress.unit != "bytes":
        amount += f" {progress.unit}"
    parts = [amount, format_rate(progress), format_eta(progress.eta_seconds), progress.detail]
    return "  ·  ".join(p for p in parts if p)


class ProgressPanel(Vertical):
    """Hidden until the first event; stays visible with the last event after finishing."""

    DEFAULT_CSS = """
    ProgressPanel { height: auto; display: none; }
    ProgressPanel.-active { display: block; }
    ProgressPanel > ProgressBar { width: 1fr; }
    ProgressPanel > ProgressBar > Bar { width: 1fr; }
    """

    last: Progress | None = None

    def compose(self) -> ComposeResult:
        yield Label("", classes="progress-task")
        yield ProgressBar(show_eta=False, classes="progress-bar")
        yield Label("", classes="progress-detail")

    def show_progress(self, progress: Progress) -> None:
        self.last = progress
        self.add_class("-active")
        self.query_one(".progress-task", Label).update(Content(progress.task))
        bar = self.query_one(ProgressBar)
        bar.update(total=progress.total, progress=progress.done)
        self.query_one(".progress-detail", Label).update(Content(describe_progress(progress)))

    def hide(self) -> None:
        self.remove_class("-active")
