"""Home: the model in use and its memory plan, the rubric library, recent runs, what next."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, DataTable, Static

from flowjudge_tui.judging.rubric import short_scale_label
from flowjudge_tui.tui.messages import RunsListed
from flowjudge_tui.tui.model_choice import ModelStatus
from flowjudge_tui.tui.plain import cell, escape
from flowjudge_tui.tui.screens.base import FlowScreen
from flowjudge_tui.tui.widgets.problem_line import ProblemLine

RECENT_RUNS = 10
STATE_TEXT = {
    "choosing": "Looking for a model…",
    "none": "Set one up to start judging:",
    "unloaded": "Not loaded: it loads when you judge, or now with L.",
    "loading": "Loading…",
    "loaded": "Loaded and ready.",
}


def next_steps(status: ModelStatus, rubric_count: int, run_count: int) -> str:
    """What to do next, as a short list (Textual markup), given how far the user has come."""
    if status.state in ("none", "choosing") and not status.has_judge:
        return (
            "1. [b]Get a model[/b]: download Flow-Judge-v0.1 (Q4_K_M, about 2.4 GB) or point to "
            "a GGUF file you already have.\n"
            "2. Try a [b]spot check[/b] (F5): pick a rubric, paste an output, judge it.\n"
            "3. Judge a whole file in [b]Runs[/b] (F6), then [b]Review[/b] (F7) the verdicts."
        )
    if run_count == 0:
        return (
            "• [b]Spot check[/b] (F5): judge one output against one of the "
            f"{rubric_count} rubrics.\n"
            "• [b]Runs[/b] (F6): judge a CSV or JSONL file, then [b]Review[/b] (F7) the verdicts.\n"
            "• [b]Rubrics[/b] (F4): write your own rubric, or adapt a built-in one."
        )
    return (
        "• [b]Review[/b] (F7) the latest run: label a few verdicts to measure agreement.\n"
        "• [b]Runs[/b] (F6): start another run, or resume one that stopped."
    )


class HomeScreen(FlowScreen):
    SECTION = "home"
    AUTO_FOCUS = "#home-rubrics"
    HELP = (
        "The model in use and how it will be loaded on this machine, the rubric library and "
        "the latest runs. Select a rubric to spot-check with it, or a run to review it."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "load_model", "Load model", id="home.load_model"),
        Binding("m", "app.switch_mode('models')", "Models", id="home.models"),
        Binding("a", "add_local_model", "Add GGUF", id="home.add_local"),
    ]

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="home-top"):
            with Vertical(id="home-model", classes="panel") as model_panel:
                model_panel.border_title = "Model"
                yield Static("", id="model-name")
                yield Static("", id="model-state")
                yield Static("", id="model-plan")
                yield ProblemLine(id="model-problem")
                with Horizontal(id="model-actions", classes="buttons"):
                    yield Button("Load model", id="load-model", variant="primary")
                    yield Button("Download Flow-Judge", id="download-model", variant="primary")
                    yield Button("Add a local GGUF…", id="add-local-model")
            with Vertical(id="home-next", classes="panel") as next_panel:
                next_panel.border_title = "What next"
                yield Static("", id="next-steps")
        with Horizontal(id="home-bottom"):
            rubrics: DataTable[str] = DataTable(
                id="home-rubrics", classes="panel", cursor_type="row"
            )
            rubrics.border_title = "Rubrics"
            yield rubrics
            runs: DataTable[str] = DataTable(id="home-runs", classes="panel", cursor_type="row")
            runs.border_title = "Recent runs"
            yield runs

    def on_mount(self) -> None:
        self.watch(self.flow, "model_status", self.show_model_status)
        rubrics = self.query_one("#home-rubrics", DataTable)
        rubrics.add_columns("Name", "Scale", "Title")
        runs = self.query_one("#home-runs", DataTable)
        runs.add_columns("Run", "Rubric", "Dataset", "State", "Done")

    def on_screen_resume(self) -> None:
        self.refresh_lists()
        self.list_runs()

    @work(thread=True, exclusive=True, group="list-runs", exit_on_error=False)
    def list_runs(self) -> None:
        self.post_message(RunsListed(self.flow.store.list_runs(limit=RECENT_RUNS)))

    def on_runs_listed(self, message: RunsListed) -> None:
        table = self.query_one("#home-runs", DataTable)
        table.clear()
        for run in message.runs:
            title = str(run.id) if run.name is None else cell(f"{run.id}{run.quoted_name}")
            table.add_row(title, run.rubric_name, cell(run.dataset_name), run.state,
                          f"{run.done}/{run.total_items}", key=str(run.id))
        self.show_next_steps()

    def refresh_lists(self) -> None:
        table = self.query_one("#home-rubrics", DataTable)
        table.clear()
        entries = self.flow.library.entries()
        for entry in entries:
            rubric = entry.rubric
            table.add_row(rubric.name, short_scale_label(rubric.score_values), cell(rubric.title),
                          key=rubric.name)
        table.border_title = f"Rubrics ({len(entries)})"
        self.show_next_steps()

    def show_next_steps(self) -> None:
        rubric_count = self.query_one("#home-rubrics", DataTable).row_count
        run_count = self.query_one("#home-runs", DataTable).row_count
        self.query_one("#next-steps", Static).update(
            next_steps(self.flow.model_status, rubric_count, run_count)
        )

    def show_model_status(self, status: ModelStatus) -> None:
        source = status.describe_source()
        origin = f"  [dim]({source})[/dim]" if source else ""
        self.query_one("#model-name", Static).update(f"[b]{escape(status.name)}[/b]{origin}")
        self.query_one("#model-state", Static).update(STATE_TEXT[status.state])
        if status.server is not None:
            plan = f"Judged on a server: {status.plan}" if status.plan else ""
        else:
            plan = f"Memory plan: {status.plan}" if status.plan else ""
        self.query_one("#model-plan", Static).update(Content(plan))
        self.query_one("#model-problem", Static).update(Content(status.problem))
        has_model = status.has_judge
        self.query_one("#load-model", Button).display = has_model and status.state == "unloaded"
        self.query_one("#download-model", Button).display = not has_model
        self.query_one("#add-local-model", Button).display = not has_model
        self.show_next_steps()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "load_model":
            status = self.flow.model_status
            return status.has_judge and status.state == "unloaded"
        return True

    def action_load_model(self) -> None:
        self.flow.load_model()

    def action_add_local_model(self) -> None:
        self.flow.ask_for_local_model()

    @on(Button.Pressed, "#load-model")
    def _load_pressed(self) -> None:
        self.action_load_model()

    @on(Button.Pressed, "#download-model")
    async def _download_pressed(self) -> None:
        await self.flow.download_default_model()

    @on(Button.Pressed, "#add-local-model")
    def _add_local_pressed(self) -> None:
        self.action_add_local_model()

    @on(DataTable.RowSelected, "#home-runs")
    def _run_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.flow.open_review(int(event.row_key.value))

    @on(DataTable.RowSelected, "#home-rubrics")
    def _rubric_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.flow.open_spot_check(event.row_key.value)
