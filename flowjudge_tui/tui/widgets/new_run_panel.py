"""The New-run panel of Runs: the form, its buttons, a hint and the progress of the run.

While the focus is elsewhere (on the runs list) the form folds to one line that says what
it holds, so the list keeps the screen; the hint and the progress stay shown."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Input, Label

from flowjudge_tui.judging.rubric import RubricLibrary
from flowjudge_tui.tui.widgets.new_run_form import FoldedForm, NewRunForm
from flowjudge_tui.tui.widgets.progress_panel import ProgressPanel


class NewRunPanel(Vertical):
    """The screen starts and stops runs; this panel lays them out and folds."""

    def __init__(self, library: RubricLibrary, *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.library = library
        self.border_title = "New run"

    def compose(self) -> ComposeResult:
        yield FoldedForm(id="new-run-folded")
        yield NewRunForm(self.library, id="new-run-form")
        with Horizontal(id="run-buttons", classes="buttons"):
            yield Button("Start run", id="start-run", variant="primary", disabled=True,
                         compact=True)
            yield Button("Stop", id="stop-run", variant="error", disabled=True, compact=True)
        # Outside the buttons' row, so it still shows while the form is folded.
        yield Label("", id="run-hint", classes="hint")
        yield ProgressPanel(id="run-progress")

    def follow_focus(self, focused: Widget) -> None:
        """Open while the focus is in the panel, one line otherwise. The line is focusable
        (tab, shift+tab or a click reach it) and hands the focus on to the file's path."""
        if isinstance(focused, FoldedForm):
            self.remove_class("-folded")
            self.query_one("#run-path", Input).focus()
        elif self in focused.ancestors:
            self.remove_class("-folded")
        elif not self.has_class("-folded"):
            self.query_one(FoldedForm).show(self.query_one(NewRunForm).summary())
            self.add_class("-folded")

    def show_hint(self, text: str) -> None:
        """A line under the buttons (no model yet, stopping…), hidden when empty."""
        label = self.query_one("#run-hint", Label)
        label.update(text)
        label.display = bool(text)
