"""The runs, newest first: a run being judged shows "running" and its count as it goes."""

from __future__ import annotations

from collections.abc import Collection

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from flowjudge_tui.store import RunRecord
from flowjudge_tui.tui.plain import cell

STATE_COLUMN = 4
DONE_COLUMN = 5


class RunsTable(DataTable[str | Text]):
    """One row per run, keyed by its id; a named run shows its name beside the id."""

    def on_mount(self) -> None:
        self.add_columns("Run", "Rubric", "Dataset", "Model", "State", "Done", "Started")

    def show_runs(self, runs: list[RunRecord], live: Collection[int | None],
                  selected: int | None) -> None:
        """List ``runs`` (those in ``live`` as running), the cursor on ``selected``."""
        self.clear()
        for run in runs:
            self.add_row(
                str(run.id) if run.name is None else cell(f"{run.id}{run.quoted_name}"),
                run.rubric_name, cell(run.dataset_name), cell(run.model_name),
                "running" if run.id in live else run.state,
                f"{run.done}/{run.total_items}",
                (run.started_at or run.created_at)[:16].replace("T", " "), key=str(run.id),
            )
        if selected is not None:
            self.select_run(selected)

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
