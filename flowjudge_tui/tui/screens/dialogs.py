"""Small modal dialogs that return what the user typed (or None when they cancel)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text: a file path, a comment, a name."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
    ]

    def __init__(
        self, title: str, explanation: str = "", value: str = "", placeholder: str = ""
    ) -> None:
        super().__init__(classes="dialog-screen")
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
            yield Label("", id="dialog-error", classes="problem")
            with Horizontal(classes="buttons"):
                yield Button("OK", id="dialog-ok", variant="primary")
                yield Button("Cancel", id="dialog-cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#dialog-ok")
    def _submit(self) -> None:
        self.dismiss(self.query_one(Input).value)

    @on(Button.Pressed, "#dialog-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
