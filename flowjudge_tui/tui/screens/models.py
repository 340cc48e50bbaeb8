"""Models: the catalog and local files, downloads with progress and stop, and the plan for
this machine."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, DataTable, Static
from textual.worker import get_current_worker

from flowjudge_tui.errors import ModelError
from flowjudge_tui.models.in_use import SERVER_PREFIX
from flowjudge_tui.progress import Progress
from flowjudge_tui.tui.messages import (
    ModelRemoved,
    ModelsScanned,
    ProgressChanged,
    RemovalFound,
    TaskFinished,
)
from flowjudge_tui.tui.model_choice import ModelStatus
from flowjudge_tui.tui.model_scan import ModelRow, scan_models
from flowjudge_tui.tui.plain import cell, escape
from flowjudge_tui.tui.screens.base import FlowScreen
from flowjudge_tui.tui.screens.dialogs import Confirm, TextPrompt
from flowjudge_tui.tui.widgets.progress_panel import ProgressPanel

if TYPE_CHECKING:
    from flowjudge_tui.models.removal import Removable

DOWNLOAD_TASK = "download"


class ModelsScreen(FlowScreen):
    SECTION = "models"
    HELP = (
        "Every Flow-Judge file flowjudge knows, the GGUF files you added, and the servers you "
        "added (**s**: a name and the base URL of an OpenAI-compatible server such as "
        "llama.cpp's server or vLLM). Any of them can be the judge in use (**u**). "
        "**delete** (after asking) forgets a GGUF you added (the file stays), deletes a "
        "downloaded model's file, or removes a server; the model in use is unloaded first. "
        "A download "
        "shows its progress and can be stopped (**escape**): the part already fetched is kept "
        "and the next download resumes it. Every file is checked against the sha256 the hub "
        "gives before it is used. The plan says how the model would be loaded on this "
        "machine (GPU layers, KV cache, memory)."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "use_model", "Use", id="models.use"),
        Binding("d", "download", "Download", id="models.download"),
        Binding("escape", "stop_download", "Stop download", id="models.stop"),
        Binding("a", "add_local_model", "Add GGUF", id="models.add_local"),
        Binding("s", "add_server", "Add server", id="models.add_server"),
        Binding("delete", "delete_model", "Delete", id="models.delete"),
        Binding("x", "delete_model", "Delete", show=False, id="models.remove_server"),
        Binding("r", "rescan", "Refresh", id="models.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, ModelRow] = {}
        self.downloading: str | None = None

    def compose_body(self) -> Iterable[Widget]:
        yield Static("Looking at this machine…", id="machine", classes="hint")
        with Horizontal(id="models-body"):
            table: DataTable[str] = DataTable(id="models-table", cursor_type="row",
                                              classes="panel")
            table.border_title = "Models"
            yield table
            with Vertical(id="model-detail", classes="panel") as detail:
                detail.border_title = "Model"
                yield Static("", id="model-detail-text")
                with Horizontal(classes="buttons"):
                    yield Button("Use this model", id="use-model", variant="primary")
                    yield Button("Download", id="download-model")
                    yield Button("Stop", id="stop-download", variant="error")
        yield ProgressPanel(id="download-progress")

    def on_mount(self) -> None:
        table = self.query_one("#models-table", DataTable)
        table.add_columns("Name", "Kind", "Quant.", "Size", "State")
        self.watch(self.flow, "model_status", self._model_status_changed, init=False)
        self.action_rescan()

    def _model_status_changed(self, old: ModelStatus, new: ModelStatus) -> None:
        if old.path != new.path or old.server != new.server:
            self.action_rescan()

    def in_use(self, row: ModelRow) -> bool:
        status = self.flow.model_status
        if row.server is not None:
            return status.server is not None and status.server.name == row.server.name
        return row.path is not None and row.path == status.path

    def on_screen_resume(self) -> None:
        self.show_selected()

    def action_rescan(self) -> None:
        self.scan_in_background()

    @work(thread=True, exclusive=True, group="scan-models", exit_on_error=False)
    def scan_in_background(self) -> None:
        self.post_message(ModelsScanned(scan_models(self.flow.paths)))

    def on_models_scanned(self, message: ModelsScanned) -> None:
        scan = message.scan
        self.query_one("#machine", Static).update(Content(f"This machine: {scan.machine}"))
        self.rows = {row.key: row for row in scan.rows}
        table = self.query_one("#models-table", DataTable)
        selected = self.selected_row()
        table.clear()
        for row in scan.rows:
            in_use = self.in_use(row)
            table.add_row(cell(row.name + (" ●" if in_use else "")), row.kind,
                          cell(row.quantization), row.size, cell(row.state), key=row.key)
        if selected is not None and selected.key in table.rows:
            table.move_cursor(row=table.get_row_index(selected.key))
        for problem in scan.problems:
            self.notify(problem, title="Models", severity="warning")
        self.show_selected()

    def selected_row(self) -> ModelRow | None:
        table = self.query_one("#models-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(key) if key is not None else None

    @on(DataTable.RowHighlighted, "#models-table")
    def show_selected(self) -> None:
        row = self.selected_row()
        text = ""
        if row is not None:
            in_use = self.in_use(row)
            text = "\n".join(part for part in (
                f"[b]{escape(row.name)}[/b] · {escape(row.quantization)} · {row.size}",
                f"State: {escape(row.state)}" + (" · [b]in use[/b]" if in_use else ""),
                "",
                escape(row.notes),
                "",
                f"Plan for this machine: {escape(row.plan)}" if row.plan else "",
            ))
        self.query_one("#model-detail-text", Static).update(text)
        self.show_buttons()

    def can_use(self, row: ModelRow | None) -> bool:
        """A model on disk (or a saved server) that is not already the one in use."""
        return row is not None and row.usable and not self.in_use(row)

    def show_buttons(self) -> None:
        row = self.selected_row()
        downloading = self.downloading is not None
        self.query_one("#use-model", Button).display = self.can_use(row)
        self.query_one("#download-model", Button).display = (
            row is not None and row.kind == "catalog" and not row.on_disk and not downloading
        )
        self.query_one("#stop-download", Button).display = downloading
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        row = self.selected_row()
        if action == "use_model":
            return self.can_use(row)
        if action == "delete_model":
            return self.can_delete(row)
        if action == "download":
            return row is not None and row.kind == "catalog" and self.downloading is None
        if action == "stop_download":
            return self.downloading is not None
        return True

    def action_use_model(self) -> None:
        row = self.selected_row()
        if row is not None and row.server is not None:
            self.flow.use_server(row.server)
            self.notify(f"The server {row.name} is now the judge in use.", title="Models")
        elif row is not None and row.path is not None:
            self.flow.use_model(row.path)
            self.notify(f"{row.name} is now the model in use.", title="Models")

    def action_add_local_model(self) -> None:
        self.flow.ask_for_local_model()

    def action_add_server(self) -> None:
        prompt = TextPrompt(
            "Add a server",
            "A name and the base URL of an OpenAI-compatible server (llama.cpp's server, "
            "vLLM), e.g. [b]gpu-box http://gpu-box:8080/v1[/b]. Its API key, if it needs one, "
            "comes from FLOWJUDGE_API_KEY or OPENAI_API_KEY and is never saved.",
            placeholder="gpu-box http://gpu-box:8080/v1",
        )
        self.app.push_screen(prompt, self._server_answered)

    def _server_answered(self, answer: str | None) -> None:
        if answer and answer.strip():
            self.add_server_in_background(answer.strip())

    @work(thread=True, exclusive=True, group="add-server", exit_on_error=False)
    def add_server_in_background(self, answer: str) -> None:
        from flowjudge_tui.models.servers import add_server

        name, _, url = answer.partition(" ")
        if not url.strip():
            raise ModelError("Give a name and a URL, e.g. gpu-box http://gpu-box:8080/v1.")
        server = add_server(name, url.strip(), self.flow.paths)
        self.post_message(TaskFinished("add-server", f"Added the server {server.name} "
                                       f"({server.url}); press u to judge with it."))

    @staticmethod
    def can_delete(row: ModelRow | None) -> bool:
        """A GGUF the user added, a downloaded catalog file, or a saved server."""
        return row is not None and (row.kind in ("local", "server") or row.on_disk)

    def action_delete_model(self) -> None:
        row = self.selected_row()
        if row is None or not self.can_delete(row):
            return
        at_work = self.flow.model_status.state == "loading" or self.flow.model_busy
        if self.in_use(row) and at_work:
            self.notify(f"{row.name} is at work now; stop the judgment or the run (or let the "
                        "model load), then delete it.", title="Models", severity="warning")
            return
        key = SERVER_PREFIX + row.name if row.server is not None else row.name
        self.find_removal_in_background(key)

    @work(thread=True, exclusive=True, group="remove-model", exit_on_error=False)
    def find_removal_in_background(self, key: str) -> None:
        from flowjudge_tui.models.removal import find_removable

        self.post_message(RemovalFound(find_removable(key, self.flow.paths)))

    def on_removal_found(self, message: RemovalFound) -> None:
        target = message.target
        question = target.question()
        if self.flow.model_status.state == "loaded" and self._is_judge(target):
            question += " It is unloaded first."

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            if self._is_judge(target):
                if self.flow.model_busy:
                    self.notify(f"{target.name} is at work now; stop the judgment or the run "
                                "first.", title="Models", severity="warning")
                    return
                self.flow.release_judge()
            self.remove_in_background(target)

        verb = {"local": "Forget", "server": "Remove", "catalog": "Delete"}[target.kind]
        self.app.push_screen(Confirm(f"{verb} {target.name}", question, yes=verb), answered)

    def _is_judge(self, target: Removable) -> bool:
        """Whether ``target`` is the judge the app holds (chosen, loaded, or a run's)."""
        status = self.flow.model_status
        if target.server is not None:
            return status.server is not None and status.server.name == target.name
        return (status.path is not None and target.path is not None
                and os.path.realpath(status.path) == os.path.realpath(target.path))

    @work(thread=True, exclusive=True, group="remove-model", exit_on_error=False)
    def remove_in_background(self, target: Removable) -> None:
        from flowjudge_tui.models.removal import remove_model

        self.post_message(ModelRemoved(remove_model(target, self.flow.paths)))

    def on_model_removed(self, message: ModelRemoved) -> None:
        removal = message.removal
        self.notify(removal.sentence(), title="Models")
        if removal.was_in_use or self._is_judge(removal.removed):
            self.flow.judge_removed()
        self.action_rescan()

    def action_download(self, name: str | None = None) -> None:
        row = self.selected_row()
        target = name or (row.name if row is not None and row.kind == "catalog" else None)
        if target is None or self.downloading is not None:
            return
        self.downloading = target
        self.show_buttons()
        self.download_in_background(target)

    @work(thread=True, exclusive=True, group=DOWNLOAD_TASK, exit_on_error=False)
    def download_in_background(self, name: str) -> None:
        from flowjudge_tui.models.download import DownloadCancelled, pull_model

        worker = get_current_worker()
        try:
            result = pull_model(name, on_progress=self.post_progress,
                                should_stop=lambda: worker.is_cancelled)
        except DownloadCancelled:
            self.post_message(TaskFinished(
                DOWNLOAD_TASK, f"The download of {name} stopped; what was fetched is kept "
                "and the next download resumes it.", cancelled=True))
            return
        verb = "Downloaded and verified" if result.downloaded else "Already here and verified:"
        self.post_message(TaskFinished(DOWNLOAD_TASK, f"{verb} {result.entry.name}.",
                                       path=result.path))

    def post_progress(self, progress: Progress) -> None:
        self.post_message(ProgressChanged(progress))

    def on_progress_changed(self, message: ProgressChanged) -> None:
        self.query_one(ProgressPanel).show_progress(message.progress)

    def on_task_finished(self, message: TaskFinished) -> None:
        if message.task == "add-server":
            self.notify(message.outcome, title="Models")
            self.action_rescan()
            return
        self.downloading = None
        self.notify(message.outcome, title="Models")
        if message.path is not None and self.flow.model_status.path is None:
            self.flow.use_model(message.path)
        self.action_rescan()

    def on_worker_failed(self, worker: object) -> None:
        self.downloading = None
        self.show_buttons()

    def action_stop_download(self) -> None:
        if self.downloading is not None:
            self.workers.cancel_group(self, DOWNLOAD_TASK)

    @on(Button.Pressed, "#use-model")
    def _use_pressed(self) -> None:
        self.action_use_model()

    @on(Button.Pressed, "#download-model")
    def _download_pressed(self) -> None:
        self.action_download()

    @on(Button.Pressed, "#stop-download")
    def _stop_pressed(self) -> None:
        self.action_stop_download()
