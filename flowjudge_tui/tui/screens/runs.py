"""Runs: judge a whole file. Map its columns (with a preview), watch progress, cancel, resume."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar

from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Select, Static
from textual.worker import get_current_worker

from flowjudge_tui.datasets import DatasetPreview, preview_dataset
from flowjudge_tui.format import count_of
from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.progress import Progress
from flowjudge_tui.runs.retry import retry_companions, retryable
from flowjudge_tui.store import RunRecord
from flowjudge_tui.tui.messages import (
    DatasetsListed,
    PreviewReady,
    ProgressChanged,
    RunCounted,
    RunEnded,
    RunRenamed,
    RunsEnded,
    RunsListed,
    RunStarted,
    TaskFinished,
)
from flowjudge_tui.tui.plain import cell, escape
from flowjudge_tui.tui.run_outcomes import describe_run_end, describe_runs_end
from flowjudge_tui.tui.run_start import RunRequest, import_and_judge
from flowjudge_tui.tui.screens.base import FlowScreen
from flowjudge_tui.tui.screens.dialogs import Confirm
from flowjudge_tui.tui.screens.rename_dialog import rename_prompt
from flowjudge_tui.tui.screens.retry_dialog import companions_prompt, retry_prompt
from flowjudge_tui.tui.widgets.column_mapping import ColumnMappingForm
from flowjudge_tui.tui.widgets.judge_settings import JudgeSettingsForm
from flowjudge_tui.tui.widgets.new_run_form import NewRunForm
from flowjudge_tui.tui.widgets.new_run_panel import NewRunPanel
from flowjudge_tui.tui.widgets.progress_panel import ProgressPanel
from flowjudge_tui.tui.widgets.runs_table import RunsTable

RECENT_FILES = 10


class RunsScreen(FlowScreen):
    SECTION = "runs"
    HELP = (
        "Judge every row of a CSV, TSV or JSON Lines file. Give the file's path and a rubric: "
        "the first rows appear with each rubric field mapped to a column (change any that "
        "are wrong; a column of human scores is optional). **ctrl+r** imports the file and "
        "starts the run. Every verdict is saved as it is made, so a run that is stopped, or "
        "cut short, resumes where it left off (**r** on a run in the list). **enter** opens "
        "a run in Review; **n** renames it; **delete** deletes it (after asking). Items too "
        "long for a run's context are skipped; **l** judges just those again with a larger "
        "context. Give a run a name beside the settings; tick more rubrics that read the same "
        "fields to judge the file with each (one run per rubric, judged together)."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "start_run", "Start run", priority=True, id="runs.start"),
        Binding("escape", "cancel_run", "Stop run", id="runs.cancel"),
        Binding("r", "resume_run", "Resume", id="runs.resume"),
        Binding("l", "retry_too_long", "Retry too long", id="runs.retry_too_long"),
        Binding("delete", "delete_run", "Delete", id="runs.delete"),
        Binding("n", "rename_run", "Rename", id="runs.rename"),
        Binding("p", "preview", "Preview", show=False, id="runs.preview"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.preview: DatasetPreview | None = None
        self.running = False
        self.runs: list[RunRecord] = []
        self.active_run_id: int | None = None
        """The run being judged, or the one that last stopped: the table's cursor follows it."""
        self.live_run_ids: list[int] = []
        """The runs being judged together (one per rubric), shown as running in the table."""

    def compose_body(self) -> Iterable[Widget]:
        yield NewRunPanel(self.flow.library, id="new-run", classes="panel")
        runs = RunsTable(id="runs-table", classes="panel", cursor_type="row")
        runs.border_title = "Runs"
        yield runs

    def on_mount(self) -> None:
        if self.flow.preferences.rubric:
            self.query_one(NewRunForm).choose_rubric(self.flow.preferences.rubric)

    @on(events.DescendantFocus)
    def _fold_or_unfold(self, event: events.DescendantFocus) -> None:
        """The form folds to one line while the focus is elsewhere: the list keeps the screen."""
        self.query_one(NewRunPanel).follow_focus(event.widget)

    def on_screen_resume(self) -> None:
        self.list_runs()

    @work(thread=True, exclusive=True, group="list-runs", exit_on_error=False)
    def list_runs(self) -> None:
        self.post_message(RunsListed(self.flow.store.list_runs()))
        self.post_message(DatasetsListed(self.flow.store.list_datasets()))

    def on_datasets_listed(self, message: DatasetsListed) -> None:
        paths = list(dict.fromkeys(dataset.source_path for dataset in message.datasets))
        select = self.query_one("#run-recent", Select)
        with self.prevent(Select.Changed):
            select.set_options([(cell(Path(path).name), path) for path in paths[:RECENT_FILES]])

    @on(Select.Changed, "#run-recent")
    def _recent_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.query_one("#run-path", Input).value = event.value
            self.action_preview()

    def on_runs_listed(self, message: RunsListed) -> None:
        self.runs = message.runs
        live = [*self.live_run_ids, self.active_run_id] if self.running else []
        self.query_one(RunsTable).show_runs(message.runs, live,
                                            self.active_run_id or self.selected_run_id())
        self.refresh_bindings()

    def selected_run_id(self) -> int | None:
        return self.query_one(RunsTable).selected_run_id()

    def selected_rubric(self) -> Rubric | None:
        return self.query_one(NewRunForm).selected_rubric()

    @on(Input.Submitted, "#run-path")
    @on(Select.Changed, "#run-rubric")
    def action_preview(self) -> None:
        text = self.query_one("#run-path", Input).value.strip()
        rubric = self.selected_rubric()
        if not text or rubric is None:
            return
        self.query_one("#preview-problems", Static).update("Reading the first rows…")
        self.preview_in_background(Path(text).expanduser(), rubric)

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def preview_in_background(self, path: Path, rubric: Rubric) -> None:
        self.post_message(PreviewReady(preview_dataset(path, rubric)))

    async def on_preview_ready(self, message: PreviewReady) -> None:
        rubric = self.selected_rubric()
        if rubric is None:
            return
        self.preview = message.preview
        await self.query_one(ColumnMappingForm).show_preview(message.preview, rubric)
        problems = [str(p) for p in message.preview.problems[:3]]
        if message.preview.missing_fields:
            missing = ", ".join(message.preview.missing_fields)
            problems.insert(0, f"Choose the column for: {missing}.")
        self.query_one("#preview-problems", Static).update(Content("\n".join(problems)))
        self.update_buttons()

    def on_worker_failed(self, worker: object) -> None:
        self.query_one("#preview-problems", Static).update("")
        self.set_running(False)

    def update_buttons(self) -> None:
        ready = self.preview is not None and not self.running
        self.query_one("#start-run", Button).disabled = not ready
        self.query_one("#stop-run", Button).disabled = not self.running
        hint = ("" if self.flow.model_status.has_judge
                else "No model yet: set one up on Models (F3).")
        self.show_hint(hint)

    def show_hint(self, text: str) -> None:
        self.query_one(NewRunPanel).show_hint(text)

    def set_running(self, running: bool) -> None:
        self.running = running
        if not running:
            self.live_run_ids = []
        self.update_buttons()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_run":
            return self.running
        if action == "start_run":
            return not self.running
        if action == "resume_run":
            run = self.selected_run()
            return not self.running and run is not None and run.resumable
        if action == "retry_too_long":
            run = self.selected_run()
            return not self.running and run is not None and retryable(run)
        return True

    def selected_run(self) -> RunRecord | None:
        run_id = self.selected_run_id()
        return None if run_id is None else self.find_run(run_id)

    def find_run(self, run_id: int) -> RunRecord | None:
        return next((run for run in self.runs if run.id == run_id), None)

    def select_run(self, run_id: int) -> None:
        """Put the table's cursor on this run (if it is listed)."""
        self.query_one(RunsTable).select_run(run_id)

    def action_start_run(self) -> None:
        form = self.query_one(NewRunForm)
        rubrics = form.chosen_rubrics()
        mapping = self.query_one(ColumnMappingForm).chosen_mapping()
        if self.preview is None or not rubrics or mapping is None:
            self.notify("Give a file and a rubric, and map every field to a column first.",
                        title="Runs", severity="warning")
            return
        problem = form.name_problem()
        if problem is not None:
            self.notify(problem, title="Runs", severity="warning")
            self.query_one("#run-name", Input).focus()
            return
        settings = self.query_one(JudgeSettingsForm).settings()
        if settings is None:
            return
        self.set_running(True)
        # The list (with the run's row) and the progress take the screen; tab reopens the form.
        self.query_one(RunsTable).focus()
        self.start_in_background(RunRequest(self.preview.path, rubrics, settings,
                                            form.run_name(), *mapping))

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def start_in_background(self, request: RunRequest) -> None:
        worker = get_current_worker()
        with self.flow.jobs.job():
            import_and_judge(self.flow, self.post_message, request,
                             stop=lambda: worker.is_cancelled)

    def action_resume_run(self, run_id: int | None = None) -> None:
        if run_id is not None:
            self.select_run(run_id)
        if run_id is None:
            run = self.selected_run()
        else:
            run = self.find_run(run_id) or self.flow.store.get_run(run_id)
        if self.running:
            self.notify("A run is in progress; stop it first (escape).", title="Runs")
            return
        if run is None or not run.resumable:
            return
        self.set_running(True)
        self.active_run_id = run.id
        self.list_runs()
        self.resume_in_background(run.id)

    def action_retry_too_long(self, run_id: int | None = None) -> None:
        """Ask for a larger context, then judge the run's too-long items with it."""
        if run_id is None:
            run = self.selected_run()
        else:
            self.select_run(run_id)
            run = self.find_run(run_id) or self.flow.store.get_run(run_id)
        if self.running:
            self.notify("A run is in progress; stop it first (escape).", title="Runs")
            return
        if run is None or not retryable(run):
            return

        def retry(run_ids: list[int], n_ctx: int) -> None:
            if not self.running:
                self.set_running(True)
                self.active_run_id = run_ids[0]
                self.resume_in_background(run_ids[0], n_ctx, run_ids[1:])

        def answered(text: str | None) -> None:
            if text is None or run is None or self.running:
                return
            n_ctx = int(text.strip())
            companions = retry_companions(self.flow.store, run)
            if not companions:
                retry([run.id], n_ctx)
                return
            self.app.push_screen(
                companions_prompt(run, companions),
                lambda together: retry([run.id, *(other.id for other in companions)]
                                       if together else [run.id], n_ctx))

        self.app.push_screen(retry_prompt(run), answered)

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def resume_in_background(self, run_id: int, retry_ctx: int | None = None,
                             companions: Sequence[int] = ()) -> None:
        """Resume with the run's own model and settings, as ``flowjudge runs resume`` does;
        with ``retry_ctx``, first make its too-long items (and its ``companions``') pending
        to judge them with it, all together."""
        from flowjudge_tui.runs.workflow import resume_runs

        worker = get_current_worker()
        with self.flow.jobs.job():
            summaries = resume_runs(self.flow.store, [run_id, *companions],
                                    retry_too_long=retry_ctx is not None, n_ctx=retry_ctx,
                                    opener=self.flow.open_engine_for_run,
                                    on_notice=self.post_notice,
                                    on_progress=self.post_progress,
                                    stop=lambda: worker.is_cancelled)
        self.post_message(RunEnded(summaries[0]) if len(summaries) == 1
                          else RunsEnded(summaries))

    def post_notice(self, text: str) -> None:
        self.post_message(TaskFinished("notice", escape(text)))

    def post_progress(self, progress: Progress) -> None:
        self.post_message(ProgressChanged(progress))

    def on_task_finished(self, message: TaskFinished) -> None:
        self.notify(message.outcome, title="Runs")

    def on_run_started(self, message: RunStarted) -> None:
        """The cursor follows the first of the runs started together."""
        if not self.live_run_ids:
            self.active_run_id = message.run.id
        self.live_run_ids.append(message.run.id)

    def on_run_counted(self, message: RunCounted) -> None:
        if self.running and message.run_id in self.live_run_ids:
            self.show_live_row(message.run_id, message.done, message.total)

    def on_progress_changed(self, message: ProgressChanged) -> None:
        progress = message.progress
        self.query_one(ProgressPanel).show_progress(progress)
        if self.active_run_id is not None and progress.task == f"Run {self.active_run_id}":
            self.show_live_row(self.active_run_id, int(progress.done), progress.total)

    def show_live_row(self, run_id: int, done: int, total: float | None) -> None:
        self.query_one(RunsTable).show_live_row(run_id, done, total)

    def on_run_ended(self, message: RunEnded) -> None:
        summary = message.summary
        self.active_run_id = summary.run.id
        self.set_running(False)
        self.notify(describe_run_end(summary.run, summary.judged, summary.reused,
                                     summary.skipped, summary.stopped), title="Runs")
        if summary.stopped:
            self.query_one(ProgressPanel).show_hint(
                f"Run {summary.run.id} stopped: [b]r[/b] resumes it."
            )
            self.query_one("#runs-table", DataTable).focus()
        self.list_runs()

    def on_runs_ended(self, message: RunsEnded) -> None:
        """Several runs started together ended: one notice for all, the cursor on the first."""
        summaries = message.summaries
        self.active_run_id = summaries[0].run.id
        self.set_running(False)
        self.notify(describe_runs_end(summaries), title="Runs")
        if any(summary.stopped for summary in summaries):
            self.query_one(ProgressPanel).show_hint(
                "Stopped: [b]r[/b] resumes the selected run.")
            self.query_one("#runs-table", DataTable).focus()
        self.list_runs()

    def action_delete_run(self) -> None:
        run = self.selected_run()
        if run is None:
            return
        if self.running and run.id == self.active_run_id:
            self.notify("This run is in progress; stop it first (escape).", title="Runs")
            return
        named = f"run {run.id}{run.quoted_name}"
        question = (f"Delete {named} ({run.rubric_name} on {run.dataset_name}) and its "
                    f"{count_of(run.done, 'verdict')}? Your labels and comments are kept.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_in_background(run.id, named)

        # The names are the user's: shown as typed, never read as markup.
        self.app.push_screen(Confirm(escape(f"Delete {named}"), escape(question)), answered)

    @work(thread=True, group="delete-run", exit_on_error=False)
    def delete_in_background(self, run_id: int, named: str) -> None:
        from flowjudge_tui.runs.workflow import delete_run

        with self.flow.jobs.job():
            delete_run(self.flow.store, run_id)
        self.post_message(TaskFinished("delete", escape(f"Deleted {named}.")))
        self.post_message(RunsListed(self.flow.store.list_runs()))

    def action_rename_run(self) -> None:
        """Name the selected run in a small dialog (empty takes the name away)."""
        run = self.selected_run()
        if run is None:
            self.notify("Choose a run in the list to rename first.", title="Runs")
            return
        self.app.push_screen(rename_prompt(
            self.flow.store, run, lambda renamed: self.post_message(RunRenamed(renamed))))

    def on_run_renamed(self, message: RunRenamed) -> None:
        self.notify(f"{message.run.title} is now unnamed." if message.run.name is None
                    else f"Renamed: {message.run.title}.", title="Runs", markup=False)
        self.list_runs()

    def action_cancel_run(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "run")
            self.show_hint("Stopping after the current item…")

    @on(Button.Pressed, "#start-run")
    def _start_pressed(self) -> None:
        self.action_start_run()

    @on(Button.Pressed, "#stop-run")
    def _stop_pressed(self) -> None:
        self.action_cancel_run()

    @on(DataTable.RowSelected, "#runs-table")
    def _run_selected(self) -> None:
        run_id = self.selected_run_id()
        if run_id is not None:
            self.flow.open_review(run_id)

    @on(DataTable.RowHighlighted, "#runs-table")
    def _run_highlighted(self) -> None:
        self.refresh_bindings()
