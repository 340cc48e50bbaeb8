"""Small modal dialogs that return what the user typed (or None when they cancel)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from flowjudge_tui.errors import FlowJudgeError
from flowjudge_tui.tui.widgets.problem_line import ProblemLine

Check = Callable[[str], str | None]
"""Runs in a thread when the user submits: None accepts the text, a sentence refuses it."""


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text: a file path, a comment, a name. With ``check``, the text is
    checked before the dialog closes: a problem is shown under the input, which keeps what
    was typed so a typo can be fixed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
    ]

    def __init__(
        self, title: str, explanation: str = "", value: str = "", placeholder: str = "",
        check: Check | None = None,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.check = check
        self.title_text = title
        self.explanation = explanation
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.title_text
            if self.explanation:
                yield Static(self.explanation, classes="dialog-explanation")
            yield Input(self.value, placeholder=self.placeholder, id="dialog-input")
            yield ProblemLine(id="dialog-error")
            with Horizontal(classes="buttons"):
                yield Button("OK", id="dialog-ok", variant="primary")
                yield Button("Cancel", id="dialog-cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#dialog-ok")
    def _submit(self) -> None:
        value = self.query_one(Input).value
        if self.check is None:
            self.dismiss(value)
            return
        self.query_one("#dialog-error", ProblemLine).update("Checking…")
        self.check_in_background(value, self.check)

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def check_in_background(self, value: str, check: Check) -> None:
        try:
            problem = check(value)
        except FlowJudgeError as exc:
            problem = str(exc)
        self.app.call_from_thread(self._checked, value, problem)

    def _checked(self, value: str, problem: str | None) -> None:
        if problem is None:
            self.dismiss(value)
        else:
            self.query_one("#dialog-error", ProblemLine).update(Content(problem))
            self.query_one(Input).focus()

    @on(Button.Pressed, "#dialog-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    """Ask yes or no before something that cannot be undone (y / enter on the button)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "answer(False)", "No", id="confirm.no"),
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
    ]

    def __init__(self, title: str, question: str, yes: str = "Delete", no: str = "Keep"
                 ) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.title_text
            yield Static(self.question, classes="dialog-explanation")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", id="confirm-yes", variant="error")
                yield Button(f"{self.no} (n)", id="confirm-no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed, "#confirm-yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def _no(self) -> None:
        self.dismiss(False)


class Notice(ModalScreen[None]):
    """Something the user must read before going on (not a toast that fades away)."""

    AUTO_FOCUS = "#notice-ok"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "OK", id="notice.close"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog notice") as dialog:
            dialog.border_title = self.title_text
            yield Static(Content(self.text), id="notice-text", classes="dialog-explanation")
            with Horizontal(classes="buttons"):
                yield Button("OK", id="notice-ok", variant="warning")

    @on(Button.Pressed, "#notice-ok")
    def action_close(self) -> None:
        self.dismiss(None)
