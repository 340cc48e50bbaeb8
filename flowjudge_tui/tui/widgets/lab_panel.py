"""The rubric lab inside the editor: try the draft on labelled rows, its history, compare.

The panel owns its workers: judging a trial (through the core's ``try_rubric``, which reuses
every verdict already made) and reading the rubric's history. Workers post the messages below;
only the handlers touch widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import Worker, get_current_worker

from flowjudge_tui.format import count_of
from flowjudge_tui.tui.plain import cell, escape
from flowjudge_tui.tui.worker_errors import WorkerErrorHandler

if TYPE_CHECKING:
    from flowjudge_tui.judging.backend import LoadSettings
    from flowjudge_tui.judging.rubric import Rubric
    from flowjudge_tui.progress import Progress
    from flowjudge_tui.reports.lab import TrialComparison, TrialResult
    from flowjudge_tui.runs.trial import TrialOutcome
    from flowjudge_tui.tui.app import FlowJudgeApp
    from flowjudge_tui.tui.screens.lab_dialogs import TrialRequest


class TrialProgressed(Message, bubble=False):
    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TrialProgressed)


class LabHistoryRead(Message, bubble=False):
    def __init__(self, name: str, results: list[TrialResult],
                 outcome: TrialOutcome | None = None, unusable_rows: int = 0,
                 off_scale: str | None = None) -> None:
        super().__init__()
        self.name = name
        self.results = results
        self.outcome = outcome
        self.unusable_rows = unusable_rows
        self.off_scale = off_scale


class LabCompared(Message):
    """Two versions were compared; bubbles up to the editor, which shows them."""

    def __init__(self, comparison: TrialComparison) -> None:
        super().__init__()
        self.comparison = comparison


def figures_line(result: TrialResult) -> str:
    from flowjudge_tui.reports.lab import FIGURE_NAMES

    return " · ".join(f"{FIGURE_NAMES[name]} {interval.describe()}"
                      for name, interval in result.figures.items())


class LabPanel(Vertical, WorkerErrorHandler):
    """Status of the last trial, and every tried version of this rubric (newest last)."""

    def __init__(self) -> None:
        super().__init__(id="lab-panel", classes="panel")
        self.border_title = "Rubric lab: agreement with people"
        self.rubric_name = ""
        self.results: list[TrialResult] = []
        self.trying = False

    def compose(self) -> ComposeResult:
        yield Static("Try this draft on labelled rows with ctrl+t.", id="lab-status")
        table: DataTable[object] = DataTable(id="lab-history", cursor_type="row")
        table.add_columns("Version", "n", "Figures", "Sample")
        yield table

    @property
    def flow(self) -> FlowJudgeApp:
        return cast("FlowJudgeApp", self.app)

    def show_status(self, text: str) -> None:
        self.query_one("#lab-status", Static).update(text)

    def show_rubric(self, name: str) -> None:
        """Follow the draft's name: its history is that name's."""
        if name and name != self.rubric_name:
            self.rubric_name = name
            self.read_history(name)

    @work(thread=True, exclusive=True, group="lab-history", exit_on_error=False)
    def read_history(self, name: str) -> None:
        from flowjudge_tui.reports.lab import trial_result

        store = self.flow.store
        results = [trial_result(store, t) for t in store.trials(name)]
        self.post_message(LabHistoryRead(name, results))

    def start_trial(self, rubric: Rubric, request: TrialRequest) -> None:
        if self.trying:
            self.app.notify("A trial is running; wait for it or press escape.",
                            title="Rubric lab", severity="warning")
            return
        self.trying = True
        self.rubric_name = rubric.name
        self.show_status(f"Trying version {rubric.content_hash[:12]} on "
                         f"{escape(Path(request.data).name)}…")
        self.try_in_background(rubric, request)

    @work(thread=True, exclusive=True, group="lab-try", exit_on_error=False)
    def try_in_background(self, rubric: Rubric, request: TrialRequest) -> None:
        from flowjudge_tui.reports.lab import trial_result
        from flowjudge_tui.runs.trial import open_source, try_rubric

        worker = get_current_worker()
        app = self.flow

        def progressed(progress: Progress) -> None:
            self.post_message(TrialProgressed(progress))

        with app.jobs.job():
            store = app.store
            source = open_source(store, request.data, rubric, label=request.label)
            outcome = try_rubric(
                store, rubric, source, app.engine_for_worker, planned=self.planned(),
                sample_size=request.sample,
                seed=request.seed, on_progress=progressed,
                stop=lambda: worker.is_cancelled,
            )
            results = [trial_result(store, t) for t in store.trials(rubric.name)]
        self.post_message(LabHistoryRead(rubric.name, results, outcome, len(source.problems),
                                         source.off_scale_sentence()))

    def planned(self) -> tuple[Path, LoadSettings] | None:
        """The chosen model and how it would be loaded: a finished trial is then found
        without loading it."""
        from flowjudge_tui.engine.plans import load_settings_for
        from flowjudge_tui.errors import FlowJudgeError

        path = self.flow.model_status.path
        if path is None:
            return None
        engine = self.flow.engine
        if engine is not None and engine.path == path:
            return path, engine.load
        try:
            return path, load_settings_for(path)[0]
        except (FlowJudgeError, OSError):
            return None

    def stop_trial(self) -> bool:
        if not self.trying:
            return False
        self.workers.cancel_group(self, "lab-try")
        self.trying = False
        self.show_status("Stopped; trying again carries on where it stopped.")
        return True

    def on_trial_progressed(self, message: TrialProgressed) -> None:
        progress = message.progress
        if self.trying:
            self.show_status(f"Judging the sample: {progress.done} of {progress.total}…")

    def on_lab_history_read(self, message: LabHistoryRead) -> None:
        if message.name != self.rubric_name:
            return
        self.results = message.results
        table = self.query_one("#lab-history", DataTable)
        table.clear()
        for result in self.results:
            trial = result.trial
            table.add_row(cell(result.version), str(len(result.scored)),
                          cell(figures_line(result)),
                          cell(f"{trial.sample_size} of {Path(trial.source).name}, "
                               f"seed {trial.seed}"),
                          key=str(trial.id))
        if self.results:
            table.move_cursor(row=len(self.results) - 1)
        outcome = message.outcome
        if outcome is not None:
            self.trying = False
            latest = next(r for r in self.results if r.trial.id == outcome.trial.id)
            done = ("already tried: nothing judged" if outcome.cached else
                    f"{outcome.judged} judged, {outcome.reused} reused")
            self.show_status(
                f"Version {latest.version} ({done}): {escape(figures_line(latest))}; "
                f"{len(latest.disagreements)} disagreements of {len(latest.scored)}."
                + (f" {count_of(message.unusable_rows, 'row')} of the file could not be used."
                   if message.unusable_rows else "")
                + (f" {escape(message.off_scale)}" if message.off_scale else "")
            )
        elif not self.results:
            self.show_status(f"No version of '{escape(message.name)}' tried yet: ctrl+t tries "
                             "this draft on labelled rows.")

    def on_worker_failed(self, worker: Worker[object]) -> None:
        self.trying = False
        self.show_status("The trial stopped: see the message.")

    def selected_pair(self) -> tuple[TrialResult, TrialResult] | None:
        """The highlighted version and the version tried before it on the same sample."""
        table = self.query_one("#lab-history", DataTable)
        if not self.results or table.cursor_row < 0:
            return None
        chosen = self.results[min(table.cursor_row, len(self.results) - 1)]
        earlier = [r for r in self.results[: self.results.index(chosen)]
                   if r.trial.rubric_hash != chosen.trial.rubric_hash
                   and r.trial.sample_key == chosen.trial.sample_key
                   and r.trial.model_fingerprint == chosen.trial.model_fingerprint]
        return (earlier[-1], chosen) if earlier else None

    def compare_selected(self) -> None:
        pair = self.selected_pair()
        if pair is None:
            self.app.notify("Highlight a version that has an earlier version tried on the same "
                            "sample, then compare.", title="Rubric lab", severity="warning")
            return
        self.compare_in_background(*pair)

    @work(thread=True, exclusive=True, group="lab-compare", exit_on_error=False)
    def compare_in_background(self, a: TrialResult, b: TrialResult) -> None:
        from flowjudge_tui.reports.lab import compare_results

        self.post_message(LabCompared(compare_results(a, b)))
