"""The export dialog of Review: a format and a file to write a run to.

``flowjudge_tui.reports.export`` is imported only when a path is submitted (its
``export_target`` refuses the database or a device while the dialog is still open, with the
path kept) and by the worker that writes the file, so opening the app stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from flowjudge_tui.errors import StoreError
from flowjudge_tui.files import export_file_name
from flowjudge_tui.tui.widgets.problem_line import ProblemLine

if TYPE_CHECKING:
    from flowjudge_tui.reports.export import ExportFormat

FORMAT_LABELS: tuple[tuple[ExportFormat, str], ...] = (
    ("jsonl", "JSONL: flow-judge's result layout, plus a metadata file"),
    ("csv", "CSV: one row per verdict, for a spreadsheet"),
    ("html", "HTML: one report page with the figures and every verdict"),
)


@dataclass(frozen=True)
class ExportChoice:
    """What the dialog returns: the format, and the file as an absolute path."""

    fmt: ExportFormat
    path: Path


class ExportDialog(ModalScreen[ExportChoice | None]):
    """Choose a format and a file; the file name follows the format until it is edited.

    The file is suggested as an absolute path in the folder the app was started from, named
    after the run (``files.export_file_name``), so where it goes is never a guess; a folder
    given instead gets that name inside it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="export.cancel"),
    ]

    def __init__(self, run_id: int, fmt: ExportFormat = "jsonl",
                 store_path: Path | None = None, run_name: str | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.run_id = run_id
        self.run_name = run_name
        self.store_path = store_path
        self.fmt: ExportFormat = fmt
        self.suggested = str(Path.cwd() / self.file_name())

    def file_name(self) -> str:
        return export_file_name(self.run_id, self.fmt, self.run_name)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = f"Export run {self.run_id}"
            with RadioSet(id="export-format"):
                for fmt, label in FORMAT_LABELS:
                    yield RadioButton(label, value=fmt == self.fmt, id=f"export-{fmt}")
            yield Static(Content(f"The file to write (a relative path is taken from "
                                 f"{Path.cwd()}; a folder gets the file name above)."),
                         classes="dialog-explanation")
            yield Input(self.suggested, id="export-path")
            yield ProblemLine(id="export-error")
            with Horizontal(classes="buttons"):
                yield Button("Export", id="export-ok", variant="primary")
                yield Button("Cancel", id="export-cancel")

    @on(RadioSet.Changed, "#export-format")
    def _format_changed(self, event: RadioSet.Changed) -> None:
        self.fmt = FORMAT_LABELS[event.index][0]
        path = self.query_one("#export-path", Input)
        if path.value.strip() == self.suggested:
            self.suggested = str(Path.cwd() / self.file_name())
            path.value = self.suggested

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-ok")
    def _submit(self) -> None:
        text = self.query_one("#export-path", Input).value.strip()
        problem = self.query_one("#export-error", ProblemLine)
        if not text:
            problem.update("Give the file to write.")
            return
        path = Path.cwd() / Path(text).expanduser()
        if path.is_dir():  # the run's file in it, in the chosen format, shown to confirm
            field = self.query_one("#export-path", Input)
            field.value = self.suggested = str(path / self.file_name())
            problem.update(Content(f"{path} is a folder: the export goes into it as "
                                   f"{self.file_name()}; press enter to write it."))
            return
        from flowjudge_tui.reports.export import export_target

        try:  # the database, a device: refused here, with the path kept to be corrected
            export_target(path, self.store_path, self.file_name())
        except StoreError as exc:
            problem.update(Content(str(exc)))
            return
        self.dismiss(ExportChoice(self.fmt, path))

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ExportWritten(Message, bubble=False):
    """Posted by Review's export worker with the files it wrote."""

    def __init__(self, run_id: int, paths: list[Path]) -> None:
        super().__init__()
        self.run_id = run_id
        self.paths = paths
