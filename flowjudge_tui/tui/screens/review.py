"""Review: a run's verdicts to sort and filter, each in full, with human labels and agreement."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import DataTable, Markdown, Select, Static

from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.store import JudgedItem, RunRecord
from flowjudge_tui.tui.messages import (
    LabelSaved,
    ReviewRequested,
    RunLoaded,
    RunsListed,
    StatsReady,
)
from flowjudge_tui.tui.plain import cell
from flowjudge_tui.tui.review_rows import (
    SORT_COLUMNS,
    RowFilter,
    describe_entry,
    human_cell,
    preview_text,
    row_filters,
    visible_rows,
)
from flowjudge_tui.tui.row_view import matches, next_sort, sort_on_column, view_summary
from flowjudge_tui.tui.screens.base import FlowScreen
from flowjudge_tui.tui.screens.compare import CompareScreen, RunPicker
from flowjudge_tui.tui.screens.dialogs import TextPrompt
from flowjudge_tui.tui.screens.export_dialog import ExportChoice, ExportDialog, ExportWritten
from flowjudge_tui.tui.widgets.agreement_panel import AgreementPanel
from flowjudge_tui.tui.widgets.reliability_plot import CalibrationReady, ReliabilityPlot
from flowjudge_tui.tui.widgets.score_bars import ScoreBars

DIGITS = "0123456789"


class ReviewScreen(FlowScreen):
    SECTION = "review"
    HELP = (
        "A run's verdicts. Choose the run at the top; filter to the low-confidence ones or to "
        "those that disagree with a person; click a column title (or press **o**) to sort. "
        "On a verdict, a **digit** records your own score and **c** a comment: both are "
        "saved at once, and the agreement figures update. A label imported with the dataset "
        "is kept beside yours (the Human column shows yours, then the imported one); "
        "**backspace** clears yours and **u** undoes your last label. **v** compares this run "
        "with another one, side by side, and **x** exports it as JSONL, CSV or an HTML report. "
        "**/** searches the verdicts' text; **escape** clears the search. "
        "The plot shows whether the judge's probability of its score predicts agreement (ECE, "
        "the expected calibration error, is the average gap between the two); **t** sets the "
        "probability below which verdicts need review (a filter)."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(d, f"label({d})", "Label", show=d == "0", key_display="0-9",
                  id=f"review.label_{d}") for d in DIGITS),
        Binding("backspace", "label(-1)", "Clear label", show=False, id="review.clear_label"),
        Binding("u", "undo_label", "Undo label", id="review.undo_label"),
        Binding("c", "comment", "Comment", id="review.comment"),
        Binding("f", "next_filter", "Filter", id="review.filter"),
        Binding("o", "next_sort", "Sort", id="review.sort"),
        Binding("O", "reverse_sort", "Reverse", show=False, id="review.reverse"),
        Binding("slash", "search", "Search", id="review.search"),
        # Shown and active only while a search is on (check_action), as in Compare.
        Binding("escape", "clear_search", "Clear search", id="review.clear_search"),
        Binding("v", "compare", "Compare", id="review.compare"),
        Binding("x", "export", "Export", id="review.export"),
        Binding("t", "review_threshold", "Threshold", id="review.threshold"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.run: RunRecord | None = None
        self.rubric: Rubric | None = None
        self.entries: dict[int, JudgedItem] = {}
        self.sort = "line"
        self.descending = False
        self.runs: list[RunRecord] = []
        self.label_requests: dict[int, int] = {}
        self.search = ""
        self.undo_labels: list[tuple[int, int | None]] = []
        """(verdict id, the reviewer's score before the change), newest last."""
        self.label_lock = threading.Lock()
        self.review_below: float | None = None

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="review-bar"):
            yield Select[int]([], prompt="Choose a run", id="review-run")
            yield Select[str]([(f.label, f.key) for f in row_filters([])], value="all",
                              id="review-filter", allow_blank=False)
            yield Static("", id="review-count", classes="hint")
        with Horizontal(id="review-body"):
            table: DataTable[str] = DataTable(id="verdicts", cursor_type="row", classes="panel")
            table.border_title = "Verdicts"
            yield table
            with VerticalScroll(id="review-detail", classes="panel") as detail:
                detail.border_title = "Verdict"
                yield Markdown("Choose a run to review.", id="verdict-detail")
        with Horizontal(id="review-stats"):
            with Vertical(id="review-scores", classes="panel") as histogram:
                histogram.border_title = "Scores"
                yield ScoreBars(as_counts=True, id="review-histogram")
            with Vertical(id="review-people", classes="panel") as agreement:
                agreement.border_title = "Agreement with people"
                yield AgreementPanel("", id="review-agreement")
            with Vertical(id="review-calibration", classes="panel") as calibration:
                calibration.border_title = "When to trust a verdict"
                yield ReliabilityPlot("", id="review-reliability")

    def on_mount(self) -> None:
        table = self.query_one("#verdicts", DataTable)
        for title in [*SORT_COLUMNS, "Output"]:
            table.add_column(title, key=title)

    def on_screen_resume(self) -> None:
        self.list_runs()

    def on_review_requested(self, message: ReviewRequested) -> None:
        self.list_runs()

    @work(thread=True, exclusive=True, group="list-runs", exit_on_error=False)
    def list_runs(self) -> None:
        self.post_message(RunsListed(self.flow.store.list_runs()))

    def on_runs_listed(self, message: RunsListed) -> None:
        self.runs = message.runs
        select = self.query_one("#review-run", Select)
        shown = self.run.id if self.run is not None else None
        with self.prevent(Select.Changed):
            select.set_options([(Content(f"{r.title} · {r.rubric_name} · {r.dataset_name}"),
                                 r.id) for r in message.runs])
            if any(r.id == shown for r in message.runs):
                select.value = shown  # the same run stays, with its filter and row
        wanted = self.flow.review_run_id or (message.runs[0].id if message.runs else None)
        known = any(r.id == wanted for r in message.runs)
        if known and wanted != shown:
            select.value = wanted

    @on(Select.Changed, "#review-run")
    def _run_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, int):
            self.flow.review_run_id = event.value
            self.load_run(event.value)

    @work(thread=True, exclusive=True, group="load-run", exit_on_error=False)
    def load_run(self, run_id: int) -> None:
        from flowjudge_tui.reports.agreement import stats_from_items

        store = self.flow.store
        run = store.get_run(run_id)
        rubric = store.get_rubric(run.rubric_hash)
        entries = store.judged_items(run_id)
        self.post_message(RunLoaded(run, rubric, entries, stats_from_items(run, rubric, entries)))

    def on_run_loaded(self, message: RunLoaded) -> None:
        same_run = self.run is not None and self.run.id == message.run.id
        self.run, self.rubric = message.run, message.rubric
        self.query_one("#verdicts", DataTable).border_title = Content(
            f"Verdicts · {message.run.title}")
        self.entries = {entry.verdict.id: entry for entry in message.entries}
        filters = self.query_one("#review-filter", Select)
        chosen = filters.value
        with self.prevent(Select.Changed):
            options = [(f.label, f.key) for f in self.filters()]
            filters.set_options(options)
            keep = same_run and any(key == chosen for _, key in options)
            filters.value = chosen if keep else "all"
        self.show_rows()
        self.show_stats(message)

    def show_stats(self, message: RunLoaded | StatsReady) -> None:
        stats = message.stats
        self.query_one("#review-histogram", ScoreBars).show(
            {score: float(count) for score, count in stats.histogram.items()}
        )
        self.query_one(AgreementPanel).show_stats(stats)
        if self.run is not None:
            self.calibrate(self.run.id, list(self.entries.values()))

    def filters(self) -> list[RowFilter]:
        scale = self.rubric.score_values if self.rubric is not None else []
        return row_filters(scale, self.review_below)

    @work(thread=True, exclusive=True, group="calibrate", exit_on_error=False)
    def calibrate(self, run_id: int, entries: list[JudgedItem], change: bool = False,
                  threshold: float | None = None) -> None:
        """The run's calibration and review threshold (first set to ``threshold`` when
        ``change``), read and written here, off the UI thread."""
        from flowjudge_tui.reports.calibration import run_calibration

        if change:
            self.flow.store.set_review_threshold(run_id, threshold)
        below = self.flow.store.review_threshold(run_id)
        scale = self.rubric.score_values if self.rubric is not None else []
        self.post_message(CalibrationReady(run_id, run_calibration(entries, scale), below))

    def on_calibration_ready(self, message: CalibrationReady) -> None:
        if self.run is None or message.run_id != self.run.id:
            return
        self.query_one(ReliabilityPlot).show(message.calibration, message.review_below)
        if message.review_below != self.review_below:
            self.review_below = message.review_below
            select = self.query_one("#review-filter", Select)
            current = select.value
            with self.prevent(Select.Changed):
                select.set_options([(f.label, f.key) for f in self.filters()])
                keys = [f.key for f in self.filters()]
                select.value = current if current in keys else "all"
            self.show_rows()

    def action_review_threshold(self) -> None:
        if self.run is None:
            return
        run_id = self.run.id
        current = "" if self.review_below is None else f"{self.review_below:.2f}"
        prompt = TextPrompt("Needs review below", "Verdicts whose probability of their score "
                            "is below this need a person (0 to 1; empty for none). `flowjudge "
                            "stats ID --target 0.9` suggests one.", value=current)
        self.app.push_screen(prompt, lambda text: self.save_threshold(run_id, text))

    def save_threshold(self, run_id: int, text: str | None) -> None:
        if text is None:
            return
        try:
            below = float(text) if text.strip() else None
        except ValueError:
            below = -1.0
        if below is not None and not 0.0 <= below <= 1.0:
            self.notify("The threshold is a probability between 0 and 1, like 0.8.",
                        title="Needs review", severity="warning")
            return
        self.calibrate(run_id, list(self.entries.values()), change=True, threshold=below)

    def on_stats_ready(self, message: StatsReady) -> None:
        if self.run is not None and message.stats.run_id == self.run.id:
            self.show_stats(message)

    @on(Select.Changed, "#review-filter")
    def _filter_changed(self) -> None:
        self.show_rows()

    def show_rows(self) -> None:
        if self.rubric is None:
            return
        table = self.query_one("#verdicts", DataTable)
        selected = self.selected_entry()
        chosen = self.query_one("#review-filter", Select).value
        active = next((f for f in self.filters() if f.key == chosen), self.filters()[0])
        search = self.search

        def keep(entry: JudgedItem) -> bool:
            return active.keep(entry) and (not search or matches(entry, search))

        rows = visible_rows(list(self.entries.values()), keep, self.sort, self.descending)
        table.clear()
        for entry in rows:
            table.add_row(*self.cells(entry), key=str(entry.verdict.id))
        if selected is not None and str(selected.verdict.id) in table.rows:
            table.move_cursor(row=table.get_row_index(str(selected.verdict.id)))
        self.query_one("#review-count", Static).update(
            view_summary(len(rows), len(self.entries), self.sort, self.descending, search))
        self.show_detail()

    @staticmethod
    def cells(entry: JudgedItem) -> tuple[str, str, str, str, Text]:
        verdict = entry.verdict
        return (
            str(entry.item.row_number),
            "skip" if verdict.score is None else str(verdict.score),
            "" if verdict.confidence is None else f"{verdict.confidence:.2f}",
            human_cell(entry),
            cell(preview_text(entry.item.output)),
        )

    def selected_entry(self) -> JudgedItem | None:
        table = self.query_one("#verdicts", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.entries.get(int(key)) if key is not None else None

    @on(DataTable.RowHighlighted, "#verdicts")
    def show_detail(self) -> None:
        entry = self.selected_entry()
        text = "No verdict matches this filter."
        if entry is not None and self.rubric is not None:
            text = describe_entry(entry, self.rubric.output)
        self.query_one("#verdict-detail", Markdown).update(text)

    @on(DataTable.HeaderSelected, "#verdicts")
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        sort = SORT_COLUMNS.get(str(event.label))
        if sort is not None:
            self.sort, self.descending = sort_on_column(self.sort, self.descending, sort, "line")
            self.show_rows()

    def action_next_sort(self) -> None:
        self.sort, self.descending = next_sort(list(SORT_COLUMNS.values()), self.sort)
        self.show_rows()

    def action_reverse_sort(self) -> None:
        self.descending = not self.descending
        self.show_rows()

    def action_search(self) -> None:
        def search_for(text: str | None) -> None:
            if text is not None:
                self.set_search(text)

        self.app.push_screen(TextPrompt("Search the verdicts",
                                        "Rows whose inputs, output, feedback or comment "
                                        "contain this (any case); empty shows every row.",
                                        value=self.search), search_for)

    def action_clear_search(self) -> None:
        self.set_search("")

    def set_search(self, text: str) -> None:
        self.search = text.strip()
        self.show_rows()
        self.refresh_bindings()  # the footer shows "esc Clear search" only while one is on

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_search":
            return bool(self.search)
        return True

    def action_next_filter(self) -> None:
        if self.rubric is None:
            return
        keys = [f.key for f in self.filters()]
        select = self.query_one("#review-filter", Select)
        current = select.value if isinstance(select.value, str) else "all"
        select.value = keys[(keys.index(current) + 1) % len(keys)]

    def action_label(self, score: int) -> None:
        entry = self.selected_entry()
        if entry is None or self.rubric is None:
            return
        if score >= 0 and score not in self.rubric.scores:
            scale = self.rubric.score_values
            self.notify(f"{score} is not on this rubric's scale ({scale[0]}-{scale[-1]}).",
                        title="Label", severity="warning")
            return
        wanted = None if score < 0 else score
        if wanted == entry.reviewer_score:
            return
        self.undo_labels.append((entry.verdict.id, entry.reviewer_score))
        self.write_label(entry, wanted)
        if wanted is None and entry.imported_label is not None:
            self.notify(f"Your label is cleared; the imported label {entry.imported_label} "
                        "stays. u undoes this.", title="Label")

    def write_label(self, entry: JudgedItem, score: int | None) -> None:
        if self.rubric is None:
            return
        self.label_requests[entry.item.id] = self.label_requests.get(entry.item.id, 0) + 1
        self.save_label(entry, self.rubric.content_hash, score,
                        self.label_requests[entry.item.id])

    def action_undo_label(self) -> None:
        """Put back the reviewer's label as it was before the last digit or backspace."""
        if not self.undo_labels:
            self.notify("No label to undo.", title="Label")
            return
        verdict_id, previous = self.undo_labels.pop()
        entry = self.entries.get(verdict_id)
        if entry is None:
            return
        self.write_label(entry, previous)
        shown = "no label of yours" if previous is None else f"your label {previous}"
        self.notify(f"Row {entry.item.row_number} is back to {shown}.", title="Label")

    @work(thread=True, group="labels", exit_on_error=False)
    def save_label(self, entry: JudgedItem, rubric_hash: str, score: int | None,
                   request: int) -> None:
        """Labels are written in a worker, so the table never waits on the database. Keys
        pressed quickly start several workers: only the newest request for an item writes."""
        with self.flow.jobs.job(), self.label_lock:
            if request != self.label_requests.get(entry.item.id):
                return
            label = self.flow.store.set_human_score(entry.item.id, rubric_hash, score)
        self.post_message(LabelSaved(entry.verdict.id, label))

    def on_label_saved(self, message: LabelSaved) -> None:
        entry = self.entries.get(message.verdict_id)
        if entry is not None:
            self.replace_entry(replace(entry, label=message.label))

    def action_comment(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        current = entry.label.comment if entry.label else ""
        prompt = TextPrompt(f"Comment on row {entry.item.row_number}",
                            "Saved with your label; empty to remove it.", value=current)
        self.app.push_screen(prompt, lambda text: self.save_comment(entry, text))

    def save_comment(self, entry: JudgedItem, text: str | None) -> None:
        if text is not None and self.rubric is not None:
            self.save_comment_in_background(entry, self.rubric.content_hash, text.strip())

    @work(thread=True, group="labels", exit_on_error=False)
    def save_comment_in_background(self, entry: JudgedItem, rubric_hash: str, text: str) -> None:
        with self.flow.jobs.job():
            label = self.flow.store.set_comment(entry.item.id, rubric_hash, text)
        self.post_message(LabelSaved(entry.verdict.id, label))

    def replace_entry(self, entry: JudgedItem) -> None:
        self.entries[entry.verdict.id] = entry
        table = self.query_one("#verdicts", DataTable)
        key = str(entry.verdict.id)
        if key in table.rows:
            # Widened to fit: "2 (imp. 1)" is longer than the imported "1 imp." it replaces.
            table.update_cell(key, "Human", self.cells(entry)[3], update_width=True)
        self.show_detail()
        self.recompute_stats(list(self.entries.values()))

    @work(thread=True, exclusive=True, group="stats", exit_on_error=False)
    def recompute_stats(self, entries: list[JudgedItem]) -> None:
        from flowjudge_tui.reports.agreement import stats_from_items

        if self.run is not None and self.rubric is not None:
            self.post_message(StatsReady(stats_from_items(self.run, self.rubric, entries)))

    def action_compare(self) -> None:
        if self.run is None:
            self.notify("Open a run to compare first (a run in the list, enter).",
                        title="Compare", severity="warning")
            return
        others = [run for run in self.runs if run.id != self.run.id]
        if not others:
            self.notify("There is no other run to compare with yet.", title="Compare")
            return
        run_id = self.run.id

        def compare_with(other: int | None) -> None:
            if other is not None:
                self.app.push_screen(CompareScreen(run_id, other))

        self.app.push_screen(RunPicker(run_id, others, f"Compare {self.run.title} with…"),
                             compare_with)

    def action_export(self) -> None:
        if self.run is None:
            self.notify("Choose a run to export first.", title="Export", severity="warning")
            return
        run_id = self.run.id

        def export_to(choice: ExportChoice | None) -> None:
            if choice is not None:
                self.export_run(run_id, choice)

        self.app.push_screen(ExportDialog(run_id, store_path=self.flow.store.path,
                                          run_name=self.run.name), export_to)

    @work(thread=True, group="export", exit_on_error=False)
    def export_run(self, run_id: int, choice: ExportChoice) -> None:
        from flowjudge_tui.reports.export import export_run

        paths = export_run(self.flow.store, run_id, choice.fmt, choice.path)
        self.post_message(ExportWritten(run_id, paths))

    def on_export_written(self, message: ExportWritten) -> None:
        self.notify(f"Wrote {', '.join(str(path) for path in message.paths)}.",
                    title=f"Export run {message.run_id}")
