"""The rubric editor: a form with inline validation and a live preview of the exact prompt.

Validation is the core's own (``parse_rubric``), so the sentence shown here is the one the
command line would print for the same rubric in a file.
"""

from __future__ import annotations

from typing import ClassVar

import tomli_w
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, Select, Static, TextArea
from textual.worker import get_current_worker

from flowjudge_tui.errors import RubricError
from flowjudge_tui.judging.backend import JudgeEngine
from flowjudge_tui.judging.prompt import build_prompt
from flowjudge_tui.judging.rubric import STANDARD_SCALES, Item, Rubric, parse_rubric, scale_label
from flowjudge_tui.tui.messages import TokensCounted
from flowjudge_tui.tui.plain import escape
from flowjudge_tui.tui.screens.base import flow_app
from flowjudge_tui.tui.screens.dialogs import Confirm
from flowjudge_tui.tui.screens.lab_dialogs import LabCompareScreen, TrialDialog, TrialRequest
from flowjudge_tui.tui.widgets.lab_panel import LabCompared, LabPanel
from flowjudge_tui.tui.worker_errors import WorkerErrorHandler

VALIDATION_DELAY = 0.25
CRITERIA_HEADING = "# EVALUATION CRITERIA AND SCORING RUBRIC"
FORM_ORIGIN = "This rubric"


def placeholder_item(rubric: Rubric) -> Item:
    """An item whose values name their fields, so the preview shows where each one goes."""
    return Item(
        inputs={name: f"{{{name}}}" for name in rubric.inputs}, output=f"{{{rubric.output}}}"
    )


def split_fields(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def describe_token_count(tokens: int, n_ctx: int) -> str:
    room = n_ctx - tokens
    return (
        f"The prompt around the fields is {tokens:,} tokens of the {n_ctx:,}-token context: "
        f"{room:,} are left for the item's text and the feedback."
    )


class RubricEditorScreen(Screen[Rubric | None], WorkerErrorHandler):
    """Returns the saved rubric, or None when the user leaves without saving."""

    HELP = (
        "Edit a rubric. Every change is checked at once: the line under the title says what "
        "to fix, in the same words `flowjudge rubrics validate` uses. The right side shows "
        "the exact prompt Flow-Judge will see, with each field's value shown as `{field}`. "
        "**ctrl+t** tries the draft on labelled rows and shows how well it agrees with people; "
        "the lab panel lists every version tried, and **ctrl+o** compares the highlighted "
        "version with the one before it, item by item."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="editor.save"),
        Binding("ctrl+t", "try_draft", "Try on labels", priority=True, id="editor.try"),
        Binding("ctrl+o", "compare_versions", "Compare versions", id="editor.compare"),
        Binding("escape", "close", "Close", id="editor.close"),
    ]

    def __init__(self, rubric: Rubric | None, is_new: bool, existing: set[str]) -> None:
        super().__init__(id="rubric-editor")
        self.initial = rubric
        self.is_new = is_new
        self.existing = existing
        scores = rubric.scores if rubric else {}
        self.scale: tuple[int, ...] = tuple(sorted(scores)) or STANDARD_SCALES["5-point (1-5)"]
        # What each score means belongs to its scale ("3" is the middle of 1-5 but the top of
        # 1-3): each scale keeps its own texts, so switching scales never carries a meaning
        # over, and switching back restores what was written for that scale.
        self.texts_by_scale: dict[tuple[int, ...], dict[int, str]] = {self.scale: dict(scores)}
        self.valid: Rubric | None = None
        self.problem = ""
        self.validation_timer: Timer | None = None
        self.last_request: TrialRequest | None = None
        self.saved_values: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        rubric = self.initial
        yield Static(self.heading(), id="editor-heading")
        yield Static("", id="editor-status")
        with Horizontal(id="editor-body"):
            with VerticalScroll(id="editor-form", classes="panel") as form:
                form.border_title = "Rubric"
                yield Label("Name (lower-case letters, digits and '-')")
                yield Input(rubric.name if rubric else "", id="field-name",
                            placeholder="my-rubric-5", compact=True)
                yield Label("Title")
                yield Input(rubric.title if rubric else "", id="field-title", compact=True)
                yield Label("Description (shown in the library, not sent to the model)")
                yield Input(rubric.description if rubric else "", id="field-description",
                            compact=True)
                yield Label("Criteria: one clear question")
                yield TextArea(rubric.criteria if rubric else "", id="field-criteria",
                               classes="field-text", soft_wrap=True, compact=True)
                yield Label("Scale")
                yield Select(self.scale_options(), value=self.scale, allow_blank=False,
                             id="field-scale", compact=True)
                yield Vertical(id="score-fields")
                yield Label("Input fields, in prompt order (comma-separated; empty for none)")
                yield Input(", ".join(rubric.inputs) if rubric else "query", id="field-inputs",
                            compact=True)
                yield Label("Output field (the text being judged)")
                yield Input(rubric.output if rubric else "response", id="field-output",
                            compact=True)
            with Vertical(id="editor-right"):
                with Vertical(id="editor-preview", classes="panel") as preview:
                    preview.border_title = "Prompt preview"
                    yield TextArea("", id="prompt-preview", read_only=True, soft_wrap=True)
                    yield Static("", id="token-count", classes="hint")
                yield LabPanel()
        yield Footer()

    def heading(self) -> str:
        if self.initial is None:
            return "[b]New rubric[/b]"
        verb = "New rubric from" if self.is_new else "Edit"
        return f"[b]{verb} {self.initial.title}[/b]"

    def scale_options(self) -> list[tuple[str, tuple[int, ...]]]:
        options = list(STANDARD_SCALES.items())
        if self.scale not in STANDARD_SCALES.values():
            label = f"{scale_label(self.scale)}, not trained on"
            options.append((label, self.scale))
        return [(label, scale) for label, scale in options]

    async def on_mount(self) -> None:
        await self.show_score_fields()
        self.query_one("#field-name", Input).focus()
        self.validate_form()
        self.saved_values = self.form_values()

    async def show_score_fields(self) -> None:
        container = self.query_one("#score-fields", Vertical)
        await container.remove_children()
        widgets: list[Widget] = []
        for score in self.scale:
            widgets.append(Label(f"Score {score}: what earns it"))
            widgets.append(TextArea(self.score_texts.get(score, ""), id=f"score-{score}",
                                    classes="field-text score-text", soft_wrap=True,
                                    compact=True))
        await container.mount_all(widgets)

    @on(Select.Changed, "#field-scale")
    async def _scale_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, tuple) or event.value == self.scale:
            return
        self.collect_score_texts()
        self.scale = event.value
        await self.show_score_fields()
        self.schedule_validation()

    @property
    def score_texts(self) -> dict[int, str]:
        """The descriptions written for the scale now chosen."""
        return self.texts_by_scale.setdefault(self.scale, {})

    def collect_score_texts(self) -> None:
        for area in self.query(".score-text").results(TextArea):
            score = int((area.id or "score-0").removeprefix("score-"))
            self.score_texts[score] = area.text

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _field_changed(self, event: Input.Changed | TextArea.Changed) -> None:
        if event.control.id != "prompt-preview":
            self.schedule_validation()

    def schedule_validation(self) -> None:
        if self.validation_timer is not None:
            self.validation_timer.stop()
        self.validation_timer = self.set_timer(VALIDATION_DELAY, self.validate_form)

    def form_toml(self) -> str:
        self.collect_score_texts()
        data = {
            "name": self.query_one("#field-name", Input).value.strip(),
            "title": self.query_one("#field-title", Input).value.strip(),
            "description": self.query_one("#field-description", Input).value.strip(),
            "criteria": self.query_one("#field-criteria", TextArea).text.strip(),
            "inputs": split_fields(self.query_one("#field-inputs", Input).value),
            "output": self.query_one("#field-output", Input).value.strip(),
            "scores": {str(s): self.score_texts.get(s, "").strip() for s in self.scale},
        }
        return tomli_w.dumps(data)

    def validate_form(self) -> Rubric | None:
        status = self.query_one("#editor-status", Static)
        try:
            rubric = parse_rubric(self.form_toml(), FORM_ORIGIN)
        except RubricError as exc:
            self.valid = None
            self.problem = str(exc)
            status.update(f"[b $text-error]✗[/] {escape(str(exc))}")
            status.set_class(True, "-invalid")
            return None
        self.valid = rubric
        notes = [*rubric.warnings(), *self.name_notes(rubric.name)]
        status.update(
            f"[b $text-success]✓[/] Valid: {rubric.scale_label}, version "
            f"{rubric.content_hash[:12]}. " + escape(" ".join(notes))
        )
        status.set_class(False, "-invalid")
        self.query_one(LabPanel).show_rubric(rubric.name)
        prompt = build_prompt(rubric, placeholder_item(rubric))
        preview = self.query_one("#prompt-preview", TextArea)
        if preview.text != prompt:
            preview.load_text(prompt)
            self.call_after_refresh(
                self.show_rubric_part, prompt[: prompt.index(CRITERIA_HEADING)].count("\n")
            )
            self.count_tokens(prompt)
        return rubric

    def show_rubric_part(self, line: int) -> None:
        """Scroll the preview to the criteria and scores: the part this form changes."""
        preview = self.query_one("#prompt-preview", TextArea)
        offset = preview.wrapped_document.location_to_offset((line, 0))
        preview.scroll_to(y=offset.y, animate=False)

    def name_notes(self, name: str) -> list[str]:
        """Tell the user when saving would replace a rubric of the same name."""
        original = self.initial.name if self.initial and not self.is_new else None
        if name in self.existing and name != original:
            return [f"Saving replaces the rubric '{name}' (yours is used in its place)."]
        return []

    def count_tokens(self, prompt: str) -> None:
        label = self.query_one("#token-count", Static)
        engine = flow_app(self).engine
        if engine is None:
            label.update("Token count: load a model (Home, L) to count this prompt's tokens.")
            return
        label.update("Counting tokens…")
        self.count_tokens_in_background(engine, prompt)

    @work(thread=True, exclusive=True, group="count-tokens", exit_on_error=False)
    def count_tokens_in_background(self, engine: JudgeEngine, prompt: str) -> None:
        tokens = engine.count_tokens(prompt)
        if not get_current_worker().is_cancelled:
            self.post_message(TokensCounted(tokens, engine.n_ctx))

    def on_tokens_counted(self, message: TokensCounted) -> None:
        self.query_one("#token-count", Static).update(
            describe_token_count(message.tokens, message.n_ctx)
        )

    def action_save(self) -> None:
        rubric = self.validate_form()
        if rubric is None:
            self.notify(f"Not saved: {self.problem}", title="Rubrics", severity="error")
            return
        try:
            path = flow_app(self).library.save_user_rubric(rubric)
        except RubricError as exc:
            self.notify(f"Not saved: {exc}", title="Rubrics", severity="error")
            return
        self.notify(f"Saved '{rubric.name}' to your rubrics ({path.name}).", title="Rubrics")
        self.dismiss(rubric)

    def form_values(self) -> tuple[object, ...]:
        """Everything the user can change, to tell whether anything was changed."""
        fields = [(f.id, f.value) for f in self.query("#editor-form Input").results(Input)]
        texts = [(a.id, a.text) for a in self.query("#editor-form TextArea").results(TextArea)]
        return (tuple(fields), tuple(texts), self.scale)

    def action_close(self) -> None:
        if self.query_one(LabPanel).stop_trial():
            return
        if self.saved_values is None or self.form_values() == self.saved_values:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(Confirm("Discard your changes?",
                                     "This rubric has changes that are not saved. Discard "
                                     "them (y), or go back to the editor (n) and save with "
                                     "ctrl+s?", yes="Discard"), answered)

    def action_try_draft(self) -> None:
        rubric = self.validate_form()
        if rubric is None:
            self.notify(f"Fix the draft first: {self.problem}", title="Rubric lab",
                        severity="error")
            return

        def start(request: TrialRequest | None) -> None:
            if request is not None:
                self.last_request = request
                self.query_one(LabPanel).start_trial(rubric, request)

        self.app.push_screen(TrialDialog(self.last_request), start)

    def action_compare_versions(self) -> None:
        self.query_one(LabPanel).compare_selected()

    def on_lab_compared(self, message: LabCompared) -> None:
        self.app.push_screen(LabCompareScreen(message.comparison))
