"""Rubrics: the library (built-in and the user's own) with search, details, and the editor."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Input, Markdown

from flowjudge_tui.judging.rubric import Rubric, RubricEntry, short_scale_label
from flowjudge_tui.tui.messages import RubricDeleted
from flowjudge_tui.tui.screens.base import FlowScreen
from flowjudge_tui.tui.screens.dialogs import Confirm
from flowjudge_tui.tui.screens.rubric_editor import RubricEditorScreen


def matches(entry: RubricEntry, query: str) -> bool:
    rubric = entry.rubric
    haystack = " ".join(
        [rubric.name, rubric.title, rubric.description, rubric.criteria, *rubric.inputs,
         rubric.output, entry.source]
    ).lower()
    return all(word in haystack for word in query.lower().split())


def describe_rubric(entry: RubricEntry) -> str:
    """The rubric as Markdown: what it asks, on which scale, with which fields."""
    rubric = entry.rubric
    inputs = ", ".join(f"`{name}`" for name in rubric.inputs) or "none (output only)"
    scores = "\n".join(f"- **{score}**: {text}" for score, text in sorted(rubric.scores.items()))
    lines = [
        f"## {rubric.title}",
        f"`{rubric.name}` · {entry.source} · {rubric.scale_label} · "
        f"version `{rubric.content_hash[:12]}`",
        "",
        rubric.description,
        "",
        f"**Criteria:** {rubric.criteria}",
        "",
        f"**Inputs:** {inputs} · **Output:** `{rubric.output}`",
        "",
        "**Scores**",
        "",
        scores,
    ]
    lines += ["", *(f"> {warning}" for warning in rubric.warnings())]
    return "\n".join(lines)


class RubricsScreen(FlowScreen):
    SECTION = "rubrics"
    HELP = (
        "The rubric library. Type in the search box to filter by name, title, criteria or "
        "field. Built-in rubrics cannot be changed, but **d** duplicates one into your own "
        "library to adapt it; your rubric of the same name replaces the built-in one. "
        "**delete** deletes one of your own rubrics (after asking); runs keep the version "
        "they were judged with."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_rubric", "New", id="rubrics.new"),
        Binding("e", "edit_rubric", "Edit", id="rubrics.edit"),
        Binding("d", "duplicate_rubric", "Duplicate", id="rubrics.duplicate"),
        Binding("s", "spot_check", "Spot check", id="rubrics.spot_check"),
        Binding("slash", "focus_search", "Search", id="rubrics.search"),
        Binding("delete", "delete_rubric", "Delete", id="rubrics.delete"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[RubricEntry] = []

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="rubrics-body"):
            with Vertical(id="rubrics-list"):
                yield Input(placeholder="Search rubrics (/)", id="rubric-search")
                table: DataTable[str] = DataTable(id="rubric-table", cursor_type="row")
                yield table
                yield Markdown("", id="rubric-problems", classes="problem")
            with VerticalScroll(id="rubric-detail", classes="panel") as detail:
                detail.border_title = "Rubric"
                yield Markdown("", id="rubric-markdown")

    def on_mount(self) -> None:
        self.query_one("#rubric-table", DataTable).add_columns("Name", "Scale", "Source")
        self.query_one("#rubric-table", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self, select: str | None = None) -> None:
        """Read the library again (files may have changed) and show it."""
        self.entries = self.flow.library.entries()
        self.show_entries(select)

    def show_entries(self, select: str | None = None) -> None:
        query = self.query_one("#rubric-search", Input).value
        table = self.query_one("#rubric-table", DataTable)
        current = select or self.selected_name()
        table.clear()
        for entry in self.entries:
            if matches(entry, query):
                rubric = entry.rubric
                table.add_row(rubric.name, short_scale_label(rubric.score_values), entry.source,
                              key=rubric.name)
        if current is not None and current in table.rows:
            table.move_cursor(row=table.get_row_index(current))
        problems = self.flow.library.problems
        self.query_one("#rubric-problems", Markdown).update(
            "\n".join(f"- skipped {problem}" for problem in problems)
        )
        self.show_selected()

    def selected_name(self) -> str | None:
        table = self.query_one("#rubric-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key

    def selected_entry(self) -> RubricEntry | None:
        name = self.selected_name()
        return next((e for e in self.entries if e.rubric.name == name), None)

    def show_selected(self) -> None:
        entry = self.selected_entry()
        text = describe_rubric(entry) if entry else "No rubric matches the search."
        self.query_one("#rubric-markdown", Markdown).update(text)

    @on(Input.Changed, "#rubric-search")
    def _search_changed(self) -> None:
        self.show_entries()

    @on(Input.Submitted, "#rubric-search")
    def _search_submitted(self) -> None:
        self.query_one("#rubric-table", DataTable).focus()

    @on(DataTable.RowHighlighted, "#rubric-table")
    def _row_highlighted(self) -> None:
        self.show_selected()

    @on(DataTable.RowSelected, "#rubric-table")
    def _row_selected(self) -> None:
        self.action_edit_rubric()

    def action_delete_rubric(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        if entry.source != "user":
            self.notify(f"'{entry.rubric.name}' is built in and cannot be deleted.",
                        title="Rubrics", severity="warning")
            return
        name = entry.rubric.name
        question = (f"Delete your rubric '{name}' ({entry.path.name})? Runs keep the version "
                    "they were judged with.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_in_background(name)

        self.app.push_screen(Confirm(f"Delete rubric {name}", question), answered)

    @work(thread=True, group="delete-rubric", exit_on_error=False)
    def delete_in_background(self, name: str) -> None:
        self.flow.library.delete_user_rubric(name)
        self.post_message(RubricDeleted(name))

    def on_rubric_deleted(self, message: RubricDeleted) -> None:
        self.notify(f"Deleted your rubric '{message.name}'.", title="Rubrics")
        self.reload()

    def action_focus_search(self) -> None:
        self.query_one("#rubric-search", Input).focus()

    def action_new_rubric(self) -> None:
        self.open_editor(None, is_new=True)

    def action_edit_rubric(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        if entry.source == "built-in":
            self.notify(
                f"'{entry.rubric.name}' is built in; its copy opens for you to adapt.",
                title="Rubrics",
            )
            self.action_duplicate_rubric()
            return
        self.open_editor(entry.rubric, is_new=False)

    def action_duplicate_rubric(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            copy = entry.rubric.model_copy(update={"name": f"{entry.rubric.name}-copy"})
            self.open_editor(copy, is_new=True)

    def action_spot_check(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.flow.open_spot_check(name)

    def open_editor(self, rubric: Rubric | None, is_new: bool) -> None:
        editor = RubricEditorScreen(rubric, is_new=is_new, existing=self.existing_names())
        self.app.push_screen(editor, self._editor_closed)

    def existing_names(self) -> set[str]:
        return {entry.rubric.name for entry in self.entries}

    def _editor_closed(self, saved: Rubric | None) -> None:
        if saved is not None:
            self.reload(select=saved.name)
