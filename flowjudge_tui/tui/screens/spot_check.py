"""Spot check: pick a rubric, fill its fields, judge, and watch the feedback stream in."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, Label, Markdown, Select, TextArea
from textual.worker import get_current_worker

from flowjudge_tui.judging.backend import JudgmentCancelled
from flowjudge_tui.judging.judge import judge_item
from flowjudge_tui.judging.rubric import Item, Rubric
from flowjudge_tui.runs.work import ServedModel
from flowjudge_tui.runs.workflow import keep_verdict
from flowjudge_tui.store import RunSettings
from flowjudge_tui.tui.feedback_buffer import FeedbackBuffer, FeedbackUpdate
from flowjudge_tui.tui.messages import (
    FeedbackStreamed,
    ModelMismatchRead,
    SpotCheckRequested,
    VerdictKept,
    VerdictReady,
)
from flowjudge_tui.tui.screens.base import FlowScreen
from flowjudge_tui.tui.widgets.feedback_tail import FeedbackTail
from flowjudge_tui.tui.widgets.judge_settings import JudgeSettings, JudgeSettingsForm
from flowjudge_tui.tui.widgets.problem_line import ProblemLine
from flowjudge_tui.tui.widgets.verdict_panel import VerdictPanel


class SpotCheckScreen(FlowScreen):
    SECTION = "spot"
    HELP = (
        "Judge one output. Choose a rubric, fill in its input fields and the output, then "
        "**ctrl+r** judges it: the feedback appears as the model writes it, then the score "
        "with the model's probability for every score. Judging again replaces the verdict; "
        "**escape** stops a judgment."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: they work while typing in a field (ctrl+k would delete to the line's end).
        Binding("ctrl+r", "judge", "Judge", priority=True, id="spot.judge"),
        Binding("escape", "stop", "Stop", id="spot.stop"),
        Binding("ctrl+k", "keep", "Keep", priority=True, id="spot.keep"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rubric: Rubric | None = None
        self.field_texts: dict[str, str] = {}
        self.job = 0
        self.judging = False
        self.last: VerdictReady | None = None
        self.kept_run_id: int | None = None
        self.checked_model: Path | None = None

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="spot-body"):
            with Vertical(id="spot-form", classes="panel") as form:
                form.border_title = "Item"
                yield Select[str]([], prompt="Choose a rubric", id="spot-rubric")
                # Not focusable itself: tab goes from the rubric straight to the first field.
                yield VerticalScroll(id="spot-fields", can_focus=False)
                yield JudgeSettingsForm(id="spot-settings")
                with Horizontal(classes="buttons"):
                    yield Button("Judge", id="spot-judge", variant="primary")
                    yield Button("Keep in a run", id="spot-keep", disabled=True)
            with Vertical(id="spot-result"):
                with VerticalScroll(id="spot-feedback", classes="panel") as feedback:
                    feedback.border_title = "Feedback"
                    yield FeedbackTail(id="feedback-stream")
                    yield Markdown("", id="feedback")
                with Vertical(id="spot-verdict", classes="panel") as verdict:
                    verdict.border_title = "Verdict"
                    yield ProblemLine(id="spot-model-warning")
                    yield VerdictPanel(id="verdict")

    def on_mount(self) -> None:
        entries = self.flow.library.entries()
        select = self.query_one("#spot-rubric", Select)
        select.set_options([(f"{e.rubric.name}  ({e.rubric.scale_label})", e.rubric.name)
                            for e in entries])
        self.watch(self.app, "model_status", lambda _status: self.check_model(), init=False)

    def on_screen_resume(self) -> None:
        self.show_rubric(self.flow.preferences.rubric)
        self.check_model()

    def check_model(self) -> None:
        """Warn, beside the verdict, when the model in use is not Flow-Judge's kind (read from
        its header in a worker: a large vocabulary takes a moment)."""
        path = self.flow.model_status.path
        if self.flow.model_status.server is not None or path is None:
            self.query_one("#spot-model-warning", ProblemLine).update("")
        elif path != self.checked_model:
            self.checked_model = path
            self.read_model_header(path)

    @work(thread=True, exclusive=True, group="model-header", exit_on_error=False)
    def read_model_header(self, path: Path) -> None:
        from flowjudge_tui.errors import FlowJudgeError
        from flowjudge_tui.models.gguf_file import read_gguf

        try:
            text = read_gguf(path, require_runnable=False).flow_judge_mismatch
        except (FlowJudgeError, OSError):
            text = ""  # loading it says what is wrong
        self.post_message(ModelMismatchRead(path, text))

    def on_model_mismatch_read(self, message: ModelMismatchRead) -> None:
        if message.path == self.flow.model_status.path:
            self.query_one("#spot-model-warning", ProblemLine).update(
                Content(f"⚠ {message.text}") if message.text else "")

    def on_spot_check_requested(self, message: SpotCheckRequested) -> None:
        self.show_rubric(message.rubric_name)

    def show_rubric(self, wanted: str) -> None:
        select = self.query_one("#spot-rubric", Select)
        known = {entry.rubric.name for entry in self.flow.library.entries()}
        if wanted in known and wanted != select.value:
            select.value = wanted

    def select_rubric(self, name: str) -> None:
        self.query_one("#spot-rubric", Select).value = name

    @on(Select.Changed, "#spot-rubric")
    async def _rubric_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str):
            return
        self.collect_field_texts()
        self.rubric = self.flow.library.get(event.value).rubric
        if self.flow.preferences.rubric != event.value:
            self.flow.remember(self.flow.preferences.with_rubric(event.value))
        await self.show_fields(self.rubric)

    async def show_fields(self, rubric: Rubric) -> None:
        container = self.query_one("#spot-fields", VerticalScroll)
        await container.remove_children()
        widgets: list[Widget] = []
        for name, area_id in self.field_ids(rubric).items():
            role = "output to judge" if name == rubric.output else "input"
            widgets.append(Label(Content.assemble(name, (f"  ({role})", "dim")),
                                 classes="field-label"))
            classes = "item-field -output" if name == rubric.output else "item-field"
            widgets.append(TextArea(self.field_texts.get(name, ""), id=area_id,
                                    classes=classes, soft_wrap=True, compact=True))
        await container.mount_all(widgets)

    @staticmethod
    def field_ids(rubric: Rubric) -> dict[str, str]:
        """Each field's text area id (field names may hold characters an id cannot)."""
        return {name: f"field-{index}"
                for index, name in enumerate([*rubric.inputs, rubric.output])}

    def collect_field_texts(self) -> None:
        if self.rubric is None:
            return
        for name, area_id in self.field_ids(self.rubric).items():
            for area in self.query(f"#{area_id}").results(TextArea):
                self.field_texts[name] = area.text

    def current_item(self, rubric: Rubric) -> Item:
        self.collect_field_texts()
        return Item(
            inputs={name: self.field_texts.get(name, "") for name in rubric.inputs},
            output=self.field_texts.get(rubric.output, ""),
        )

    def fill(self, inputs: dict[str, str], output: str) -> None:
        """Put values into the form (used by tests and by 'judge again' from a review)."""
        if self.rubric is None:
            return
        ids = self.field_ids(self.rubric)
        for name, value in [*inputs.items(), (self.rubric.output, output)]:
            self.field_texts[name] = value
            for area in self.query(f"#{ids.get(name, 'unknown-field')}").results(TextArea):
                area.load_text(value)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.judging
        return True

    async def action_judge(self) -> None:
        if self.rubric is None:
            self.notify("Choose a rubric first.", title="Spot check", severity="warning")
            return
        item = self.current_item(self.rubric)
        if not item.output.strip():
            self.notify(f"Write the {self.rubric.output} to judge first.", title="Spot check",
                        severity="warning")
            return
        settings = self.query_one(JudgeSettingsForm).settings()
        if settings is None:
            return
        self.job += 1
        self.set_judging(True)
        self.last = None
        await self.show_streaming()
        loaded = self.flow.model_status.state == "loaded"
        self.query_one(VerdictPanel).show_waiting(
            "Judging: reading the prompt…" if loaded else "Loading the model…"
        )
        self.judge_in_background(self.job, self.rubric, item, settings)

    @work(thread=True, exclusive=True, group="judge", exit_on_error=False)
    def judge_in_background(self, job: int, rubric: Rubric, item: Item,
                            settings: JudgeSettings) -> None:
        worker = get_current_worker()
        engine = self.flow.engine_for_worker(settings.n_ctx)

        def post(update: FeedbackUpdate) -> None:
            self.post_message(FeedbackStreamed(update.text, job, update.tokens,
                                               update.tokens_per_second))

        buffer = FeedbackBuffer(post)
        buffer.flush()

        def should_stop() -> bool:
            buffer.token()
            return worker.is_cancelled

        try:
            verdict = judge_item(engine, rubric, item, settings.sampling,
                                 on_feedback=buffer.add, should_stop=should_stop)
        except JudgmentCancelled:
            return
        buffer.flush()
        self.post_message(VerdictReady(rubric, item, verdict, job, engine.load,
                                       settings.sampling))

    async def show_streaming(self) -> None:
        """Plain text while the feedback streams: Markdown is rendered once, at the end."""
        stream = self.query_one("#feedback-stream", FeedbackTail)
        stream.clear()
        stream.display = True
        markdown = self.query_one("#feedback", Markdown)
        markdown.display = False
        await markdown.update("")

    def on_feedback_streamed(self, message: FeedbackStreamed) -> None:
        if message.job != self.job or not self.judging:
            return
        self.query_one("#feedback-stream", FeedbackTail).append(message.text)
        panel = self.query_one(VerdictPanel)
        if message.tokens == 0:
            panel.show_progress("Judging: reading the prompt…")
        else:
            panel.show_progress(f"Judging: {message.tokens:,} tokens, "
                                f"{message.tokens_per_second:.1f} tokens/s")

    async def on_verdict_ready(self, message: VerdictReady) -> None:
        if message.job != self.job:
            return
        self.query_one(VerdictPanel).show_verdict(message.verdict, message.rubric)
        # The feedback as Markdown, rendered once now that it is complete.
        markdown = self.query_one("#feedback", Markdown)
        await markdown.update(message.verdict.feedback)
        self.query_one("#feedback-stream", FeedbackTail).display = False
        markdown.display = True
        self.last = message
        self.set_judging(False)

    @property
    def can_keep(self) -> bool:
        return self.last is not None and not self.judging and self.kept_run_id is None

    def set_judging(self, judging: bool) -> None:
        self.judging = judging
        if judging:
            self.kept_run_id = None
        self.query_one("#spot-judge", Button).label = "Judging…" if judging else "Judge"
        self.query_one("#spot-keep", Button).disabled = not self.can_keep
        self.refresh_bindings()

    def action_stop(self) -> None:
        if self.judging:
            self.workers.cancel_group(self, "judge")
            self.set_judging(False)
            self.query_one(VerdictPanel).show_waiting("Stopped.")

    def action_keep(self) -> None:
        last = self.last
        status = self.flow.model_status
        if self.judging:
            self.notify("Wait for the verdict (or stop the judgment) to keep it.",
                        title="Spot check")
            return
        if self.kept_run_id is not None:
            self.notify(f"This verdict is kept already, as run {self.kept_run_id}.",
                        title="Spot check")
            return
        judge: Path | ServedModel | None = status.path
        if status.server is not None and last is not None:
            judge = ServedModel(status.server.url, last.verdict.model)
        if last is None or judge is None:
            self.notify("Judge an item first (ctrl+r); ctrl+k then keeps its verdict.",
                        title="Spot check")
            return
        self.query_one("#spot-keep", Button).disabled = True
        self.keep_in_background(last, judge)

    @work(thread=True, exclusive=True, group="keep", exit_on_error=False)
    def keep_in_background(self, judged: VerdictReady, model_path: Path | ServedModel) -> None:
        with self.flow.jobs.job():
            run = keep_verdict(self.flow.store, judged.rubric, judged.item, judged.verdict,
                               model_path, RunSettings(judged.sampling, judged.load))
        self.post_message(VerdictKept(run))

    def on_verdict_kept(self, message: VerdictKept) -> None:
        self.kept_run_id = message.run.id
        self.refresh_bindings()
        self.notify(f"Kept as run {message.run.id}; open it in Review (F7).",
                    title="Spot check")

    def on_worker_failed(self, worker: object) -> None:
        self.set_judging(False)
        self.query_one(VerdictPanel).show_waiting("No verdict: see the message.")

    @on(Button.Pressed, "#spot-judge")
    async def _judge_pressed(self) -> None:
        await self.action_judge()

    @on(Button.Pressed, "#spot-keep")
    def _keep_pressed(self) -> None:
        self.action_keep()

