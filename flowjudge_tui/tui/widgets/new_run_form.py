"""Where a run starts: the file, the rubric its columns are mapped for, more rubrics that read
the same fields (one run each, judged together), the run's name and the judge settings."""

from __future__ import annotations

from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Input, Select, SelectionList, Static

from flowjudge_tui.errors import StoreError
from flowjudge_tui.judging.rubric import Rubric, RubricLibrary
from flowjudge_tui.store import check_run_name
from flowjudge_tui.tui.widgets.column_mapping import ColumnMappingForm
from flowjudge_tui.tui.widgets.judge_settings import JudgeSettingsForm
from flowjudge_tui.tui.widgets.problem_line import ProblemLine

MORE_RUBRICS_TITLE = "Also judge with (space ticks)"
NO_MORE_RUBRICS = "No other rubric reads these fields"
CHOOSE_RUBRIC_FIRST = "More rubrics: choose a rubric first"


def same_fields(rubric: Rubric, other: Rubric) -> bool:
    """Whether one column mapping serves both rubrics (the same inputs and output)."""
    return sorted(rubric.inputs) == sorted(other.inputs) and rubric.output == other.output


class FoldedForm(Static):
    """The new run in one line, shown while the focus is elsewhere (on the runs list): the
    list keeps the screen. Focusing it (tab, shift+tab or a click) opens the form."""

    can_focus = True
    DEFAULT_CSS = """
    FoldedForm { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show(self, summary: str) -> None:
        self.update(Content("▸ ") + Content(summary)
                    + Content.styled("   tab or click to edit", "dim"))


class NewRunForm(Vertical):
    """The inputs of a new run; the screen around it previews, starts and stops."""

    # Compact fields (one line each, no borders): the form leaves the runs list its rows.
    DEFAULT_CSS = """
    NewRunForm { height: auto; }
    NewRunForm #new-run-source, NewRunForm #new-run-extra { height: auto; }
    NewRunForm #new-run-source > *, NewRunForm #run-name { margin-right: 1; }
    NewRunForm #run-path { width: 2fr; }
    NewRunForm #run-rubric, NewRunForm #run-recent { width: 1fr; }
    NewRunForm #run-name { width: 1fr; margin-top: 1; }
    NewRunForm #run-more-rubrics {
        width: 2fr; height: auto; max-height: 4; border: none; padding: 0;
        border-top: solid $primary 30%; border-title-color: $text-muted;
    }
    NewRunForm #run-more-rubrics:focus { border-top: solid $primary; }
    """

    def __init__(self, library: RubricLibrary, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.library = library

    def compose(self) -> ComposeResult:
        with Horizontal(id="new-run-source"):
            yield Input(placeholder="Path of a .csv, .tsv or .jsonl file, then enter",
                        id="run-path", compact=True)
            yield Select[str]([], prompt="Rubric", id="run-rubric", compact=True)
            yield Select[str]([], prompt="Recent files", id="run-recent", compact=True)
        yield ProblemLine(id="preview-problems")
        yield ColumnMappingForm(id="column-mapping")
        with Horizontal(id="new-run-extra"):
            yield Input(placeholder="Name (optional)", id="run-name", compact=True,
                        tooltip="Shown beside the run's id in lists, Review and reports")
            more: SelectionList[str] = SelectionList(id="run-more-rubrics")
            more.border_title = CHOOSE_RUBRIC_FIRST
            yield more
        yield JudgeSettingsForm(with_limit=True, id="run-settings")

    def on_mount(self) -> None:
        self.query_one("#run-rubric", Select).set_options(
            [(entry.rubric.name, entry.rubric.name) for entry in self.library.entries()]
        )

    def choose_rubric(self, name: str) -> None:
        """Make ``name`` the rubric the columns are mapped for (e.g. the remembered one)."""
        self.query_one("#run-rubric", Select).value = name

    def selected_rubric(self) -> Rubric | None:
        value = self.query_one("#run-rubric", Select).value
        return self.library.get(value).rubric if isinstance(value, str) else None

    @on(Select.Changed, "#run-rubric")
    def _offer_more_rubrics(self) -> None:
        """The other rubrics one mapping serves; ticks stay on those still offered."""
        rubric = self.selected_rubric()
        more = self.query_one("#run-more-rubrics", SelectionList)
        ticked = set(more.selected)
        others = [] if rubric is None else [
            entry.rubric.name for entry in self.library.entries()
            if entry.rubric.name != rubric.name and same_fields(rubric, entry.rubric)
        ]
        more.clear_options()
        more.add_options([(Content(name), name, name in ticked) for name in others])
        more.border_title = (CHOOSE_RUBRIC_FIRST if rubric is None else
                             MORE_RUBRICS_TITLE if others else NO_MORE_RUBRICS)

    @on(events.DescendantFocus, "#run-more-rubrics")
    def _highlight_the_first_rubric(self) -> None:
        """Space ticks the highlighted rubric, and a list filled anew has none: reached with
        tab, space did nothing until an arrow key was pressed."""
        more = self.query_one("#run-more-rubrics", SelectionList)
        if more.highlighted is None and more.option_count:
            more.highlighted = 0

    def chosen_rubrics(self) -> list[Rubric]:
        """The mapped rubric first, then the ticked ones: one run each."""
        rubric = self.selected_rubric()
        if rubric is None:
            return []
        more = self.query_one("#run-more-rubrics", SelectionList)
        ticked = [self.library.get(str(name)).rubric for name in more.selected]
        return [rubric, *(other for other in ticked if same_fields(rubric, other))]

    def summary(self) -> str:
        """The form in a line: file, rubric (and how many more), name and row limit."""
        path = self.query_one("#run-path", Input).value.strip()
        rubrics = self.chosen_rubrics()
        parts = [Path(path).name if path else "no file chosen",
                 rubrics[0].name if rubrics else "no rubric chosen"]
        if len(rubrics) > 1:
            parts[1] += f" and {len(rubrics) - 1} more"
        name = self.query_one("#run-name", Input).value.strip()
        if name:
            parts.append(f'named "{name}"')
        limit = self.query_one("#set-limit", Input).value.strip()
        if limit:
            parts.append("first row" if limit == "1" else f"first {limit} rows")
        return " · ".join(parts)

    def run_name(self) -> str | None:
        """The name typed (None when empty); raises ``StoreError`` with what is wrong."""
        text = self.query_one("#run-name", Input).value
        return check_run_name(text) if text.strip() else None

    def name_problem(self) -> str | None:
        try:
            self.run_name()
        except StoreError as exc:
            return str(exc)
        return None
