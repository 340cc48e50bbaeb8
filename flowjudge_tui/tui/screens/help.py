"""The help screen (F1 or ?): what this screen is for, and every key that works on it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Markdown, Static

GENERAL_HELP = """\
**flowjudge** judges outputs with Flow-Judge-v0.1, on this machine, offline.

F2–F7 (or a click on the bar at the top) move between sections. **ctrl+p** opens the
command palette with every verb, **ctrl+q** quits. Long work (loading a model, judging,
downloads, runs) goes on in the background: the keys keep working meanwhile.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,question_mark,q", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, title: str, about: str, keys: list[tuple[str, str]]) -> None:
        super().__init__(id="help-screen")
        self.screen_title = title
        self.about = about
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(f"[b]{self.screen_title}[/b]", classes="help-title")
            yield Markdown(self.about or "", id="help-about")
            table: DataTable[str] = DataTable(
                id="help-keys", cursor_type="none", zebra_stripes=True
            )
            table.add_columns("Key", "Does")
            for key, description in self.keys:
                table.add_row(key, description)
            yield table
            yield Markdown(GENERAL_HELP, id="help-general")
            yield Static("[dim]escape to close[/dim]")
