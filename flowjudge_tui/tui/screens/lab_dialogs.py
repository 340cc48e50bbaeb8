"""The rubric lab's dialogs: what to try the draft on, and two versions side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static

from flowjudge_tui.format import count_of
from flowjudge_tui.tui.plain import cell
from flowjudge_tui.tui.widgets.problem_line import ProblemLine

if TYPE_CHECKING:
    from flowjudge_tui.reports.lab import TrialComparison

DEFAULT_LABEL_COLUMN = "human_label"


@dataclass(frozen=True)
class TrialRequest:
    """What the user asked for in the try dialog."""

    data: str
    label: str
    sample: int
    seed: int


class TrialDialog(ModalScreen[TrialRequest | None]):
    """Ask for a labelled file (or a stored dataset), its label column, sample size and seed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="lab.cancel"),
    ]

    def __init__(self, last: TrialRequest | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.last = last

    def compose(self) -> ComposeResult:
        last = self.last
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Try this draft on labelled rows"
            yield Static("The same sample (stratified by label) is used for every version, so "
                         "versions can be compared; verdicts already made are reused.",
                         classes="dialog-explanation")
            yield Label("CSV/TSV/JSONL file, or a stored dataset's id")
            yield Input(last.data if last else "", id="lab-data", placeholder="labelled.jsonl")
            yield Label("Column of human scores")
            yield Input(last.label if last else DEFAULT_LABEL_COLUMN, id="lab-label")
            with Horizontal(classes="lab-numbers"):
                yield Label("Sample")
                yield Input(str(last.sample if last else 20), id="lab-sample", type="integer")
                yield Label("Seed")
                yield Input(str(last.seed if last else 0), id="lab-seed", type="integer")
            yield ProblemLine(id="lab-error")
            with Horizontal(classes="buttons"):
                yield Button("Try", id="lab-ok", variant="primary")
                yield Button("Cancel", id="lab-cancel")

    def request(self) -> TrialRequest | str:
        """The request, or the sentence saying what to fix."""
        data = self.query_one("#lab-data", Input).value.strip()
        label = self.query_one("#lab-label", Input).value.strip()
        if not data:
            return "Give a labelled file (or a dataset id) to try the draft on."
        if not label:
            return "Name the column that holds the human scores."
        try:
            sample = int(self.query_one("#lab-sample", Input).value)
            seed = int(self.query_one("#lab-seed", Input).value)
        except ValueError:
            return "The sample size and the seed must be whole numbers."
        if sample < 1:
            return "The sample needs at least 1 row."
        return TrialRequest(data, label, sample, seed)

    @on(Input.Submitted)
    @on(Button.Pressed, "#lab-ok")
    def _submit(self) -> None:
        request = self.request()
        if isinstance(request, str):
            self.query_one("#lab-error", ProblemLine).update(request)
            return
        self.dismiss(request)

    @on(Button.Pressed, "#lab-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class LabCompareScreen(ModalScreen[None]):
    """Two versions on the same items: the paired test's sentence and the items that changed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_screen", "Back", id="lab.back"),
    ]

    def __init__(self, comparison: TrialComparison) -> None:
        super().__init__(classes="dialog-screen")
        self.comparison = comparison

    def compose(self) -> ComposeResult:
        c = self.comparison
        with Vertical(classes="dialog", id="lab-compare") as dialog:
            dialog.border_title = f"Version {c.a.version} against {c.b.version}"
            yield Static(Content(c.sentence), id="lab-compare-sentence")
            yield Static(Content(f"{len(c.changed)} of {count_of(c.paired, 'item')} changed "
                                 "score."), classes="hint")
            table: DataTable[object] = DataTable(id="lab-changed", cursor_type="row")
            table.add_columns("Item", "People", c.a.version, c.b.version)
            for item in c.changed:
                table.add_row(cell(item.key), str(item.label), str(item.score_a),
                              str(item.score_b))
            yield table
            yield Static("", id="lab-feedbacks")

    def on_mount(self) -> None:
        self.show_feedbacks(0)

    @on(DataTable.RowHighlighted, "#lab-changed")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_feedbacks(event.cursor_row)

    def show_feedbacks(self, row: int) -> None:
        c = self.comparison
        if not c.changed:
            return
        item = c.changed[min(row, len(c.changed) - 1)]
        self.query_one("#lab-feedbacks", Static).update(Content(
            f"{c.a.version}: {item.feedback_a}\n\n{c.b.version}: {item.feedback_b}"
        ))

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)
