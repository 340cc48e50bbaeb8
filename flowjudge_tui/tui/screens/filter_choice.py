"""Tick several filters at once (Compare's ``f``): each tick applies at once, behind the dialog,
and the rows shown are those that pass every filter ticked."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import SelectionList, Static


class FilterChoice(ModalScreen[frozenset[str]]):
    """``choices`` are (label, key); ``changed`` receives the keys ticked after each change.
    Closes with the keys ticked."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f", "close", "Close", id="filters.close"),
        Binding("backspace", "clear", "Untick all", id="filters.clear"),
    ]

    def __init__(self, title: str, choices: list[tuple[str, str]], ticked: frozenset[str],
                 changed: Callable[[frozenset[str]], None]) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.choices = choices
        self.ticked = ticked
        self.changed = changed

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="filter-choice") as dialog:
            dialog.border_title = self.title_text
            yield Static("Space or enter ticks a filter; the rows shown pass every filter "
                         "ticked. Backspace unticks all; escape closes.",
                         classes="dialog-explanation")
            yield SelectionList[str](
                *((label, key, key in self.ticked) for label, key in self.choices),
                id="filter-options",
            )

    def selected(self) -> frozenset[str]:
        return frozenset(self.query_one("#filter-options", SelectionList).selected)

    @on(SelectionList.SelectedChanged)
    def _changed(self) -> None:
        self.changed(self.selected())

    def action_clear(self) -> None:
        self.query_one("#filter-options", SelectionList).deselect_all()

    def action_close(self) -> None:
        self.dismiss(self.selected())
