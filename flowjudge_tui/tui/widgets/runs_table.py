"""The runs, newest first: a run being judged shows "running" and its count as it goes.

The columns fit the table's width: what a run is and how far it got (run, rubric, state,
done) come first and are never pushed off screen; names too long for their share are cut in
the middle (a rubric's or model's distinguishing end stays), and below about 100 columns
dataset, model and start time follow off to the right (left/right scroll to them)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from flowjudge_tui.store import RunRecord
from flowjudge_tui.tui.plain import cell

COLUMNS = ("Run", "Rubric", "State", "Done", "Dataset", "Model", "Started")
STATE_COLUMN = COLUMNS.index("State")
DONE_COLUMN = COLUMNS.index("Done")
FIRST_SEEN = 4
"""Run, rubric, state and done: the columns that must stay on screen at any width."""
SHRINKABLE_MIN = {"Model": 12, "Dataset": 10, "Run": 12, "Rubric": 22}
"""How narrow a name column may get before the later columns go off screen instead."""
SHRINK_ORDER = (("Model", "Dataset"), ("Run", "Rubric"))
"""Which names give up width first: model and dataset, then run and rubric."""
SCROLLBAR = 2


@dataclass(frozen=True)
class RunRow:
    """One run's cells as plain strings, before they are fitted to their columns."""

    key: str
    texts: tuple[str, ...]


def cut(text: str, width: int, middle: bool = True) -> str:
    """``text`` in at most ``width`` characters: cut in the middle (or at the end) with '…'."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    if not middle:
        return text[: width - 1] + "…"
    head = width // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def model_label(name: str) -> str:
    """A model's name without the '.gguf' every local file has: five more useful columns."""
    return name[: -len(".gguf")] if name.lower().endswith(".gguf") else name


def fit_widths(natural: list[int], room: int) -> list[int]:
    """Column widths for ``room`` characters of cells (padding already taken off).

    Everything fits: natural widths. Else model and dataset shrink (the wider first) down to
    their minimum, then run and rubric. If even that is too wide, run and rubric share what
    the first four columns can have, and the later columns keep their natural widths off to
    the right.
    """
    widths = list(natural)
    floor = {COLUMNS.index(name): low for name, low in SHRINKABLE_MIN.items()}
    for tier in SHRINK_ORDER:
        shrinkable = [COLUMNS.index(name) for name in tier]
        while sum(widths) > room:
            wide = [i for i in shrinkable if widths[i] > floor[i]]
            if not wide:
                break
            widest = max(wide, key=lambda i: widths[i])
            widths[widest] -= 1
    if sum(widths) <= room:
        return widths
    widths = list(natural)
    first = widths[:FIRST_SEEN]
    while sum(first) > room and max(first[0], first[1]) > 4:
        widest = 0 if first[0] >= first[1] else 1
        first[widest] -= 1
    return [*first, *widths[FIRST_SEEN:]]


class RunsTable(DataTable[str | Text]):
    """One row per run, keyed by its id; a named run shows its name beside the id."""

    rows_shown: tuple[RunRow, ...] = ()
    laid_out_for = -1
    """The width the columns were last fitted to."""

    def on_mount(self) -> None:
        self.lay_out()

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self.laid_out_for:
            selected = self.selected_run_id()
            self.lay_out()
            if selected is not None:
                self.select_run(selected)

    def show_runs(self, runs: list[RunRecord], live: Collection[int | None],
                  selected: int | None) -> None:
        """List ``runs`` (those in ``live`` as running), the cursor on ``selected``."""
        self.rows_shown = tuple(
            RunRow(str(run.id), (
                str(run.id) if run.name is None else f"{run.id}{run.quoted_name}",
                run.rubric_name,
                "running" if run.id in live else run.state,
                f"{run.done}/{run.total_items}",
                run.dataset_name,
                model_label(run.model_name),
                (run.started_at or run.created_at)[:16].replace("T", " "),
            ))
            for run in runs
        )
        self.lay_out()
        if selected is not None:
            self.select_run(selected)

    def lay_out(self) -> None:
        """Rebuild the columns for the current width and fill them with the rows shown."""
        self.laid_out_for = self.size.width
        natural = [max([len(name), *(len(row.texts[i]) for row in self.rows_shown)])
                   for i, name in enumerate(COLUMNS)]
        natural[STATE_COLUMN] = max(natural[STATE_COLUMN], len("running"))
        # Room for a live count up to its total ("999/999"), so it is never cut as it grows.
        natural[DONE_COLUMN] = max([natural[DONE_COLUMN], *(
            2 * len(row.texts[DONE_COLUMN].partition("/")[2]) + 1 for row in self.rows_shown)])
        room = self.size.width - SCROLLBAR - 2 * self.cell_padding * len(COLUMNS)
        widths = natural if self.size.width == 0 else fit_widths(natural, room)
        self.clear(columns=True)
        for name, width in zip(COLUMNS, widths, strict=True):
            self.add_column(name, width=width, key=name.lower())
        for row in self.rows_shown:
            self.add_row(*(self.fitted(index, text, width)
                           for index, (text, width) in enumerate(zip(row.texts, widths,
                                                                     strict=True))),
                         key=row.key)

    @staticmethod
    def fitted(index: int, text: str, width: int) -> str | Text:
        """A cell cut to its column: names (the user's text) shown literally, the run's name
        cut at its end and the others in the middle; state, count and time as they are."""
        if COLUMNS[index] in SHRINKABLE_MIN:
            return cell(cut(text, width, middle=COLUMNS[index] != "Run"))
        return text

    def selected_run_id(self) -> int | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    def select_run(self, run_id: int) -> None:
        """Put the cursor on this run (if it is listed)."""
        if str(run_id) in self.rows:
            self.move_cursor(row=self.get_row_index(str(run_id)))

    def show_live_row(self, run_id: int, done: int, total: float | None) -> None:
        """A running run's row follows its progress (the store is read only at the end)."""
        if str(run_id) not in self.rows:
            return
        row = self.get_row_index(str(run_id))
        self.update_cell_at(Coordinate(row, STATE_COLUMN), "running")
        if total is not None:
            self.update_cell_at(Coordinate(row, DONE_COLUMN), f"{done}/{int(total)}")
        self.rows_shown = tuple(
            RunRow(shown.key, (*shown.texts[:STATE_COLUMN], "running",
                               f"{done}/{int(total)}" if total is not None
                               else shown.texts[DONE_COLUMN], *shown.texts[DONE_COLUMN + 1:]))
            if shown.key == str(run_id) else shown
            for shown in self.rows_shown
        )
