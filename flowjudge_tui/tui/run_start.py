"""What the Runs screen's start worker does: import the file, load the judge, create one run
per rubric and judge them together (``runs.workflow.start_runs``, as ``flowjudge run`` does),
telling the screen through messages. Runs in a thread worker; touches no widget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from flowjudge_tui.errors import ModelError
from flowjudge_tui.format import count_of
from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.progress import Progress
from flowjudge_tui.tui.messages import (
    ProgressChanged,
    RunCounted,
    RunEnded,
    RunsEnded,
    RunsListed,
    RunStarted,
    TaskFinished,
)
from flowjudge_tui.tui.plain import escape
from flowjudge_tui.tui.widgets.judge_settings import JudgeSettings

if TYPE_CHECKING:
    from flowjudge_tui.datasets import ImportResult
    from flowjudge_tui.runs.execute import VerdictEvent
    from flowjudge_tui.store import RunRecord
    from flowjudge_tui.tui.app import FlowJudgeApp


@dataclass(frozen=True)
class RunRequest:
    """A new run as the form gives it: the file, its mapping, the rubrics, a name, settings."""

    path: Path
    rubrics: list[Rubric]
    settings: JudgeSettings
    name: str | None
    column_map: dict[str, str]
    label: str | None
    id_column: str | None


def import_and_judge(flow: FlowJudgeApp, post: Callable[[Message], object],
                     request: RunRequest, stop: Callable[[], bool]) -> None:
    """Start the runs of ``request`` and judge them to the end (or until ``stop``)."""
    from flowjudge_tui.runs.workflow import DatasetSource, start_runs

    if not flow.model_status.has_judge:
        raise ModelError("No model is set up yet; choose one on the Models screen (F3).")
    store = flow.store
    settings = request.settings

    def progress(event: Progress) -> None:
        post(ProgressChanged(event))

    def started(run: RunRecord) -> None:
        post(RunStarted(run))
        post(RunsListed(store.list_runs()))

    def counted(event: VerdictEvent) -> None:
        post(RunCounted(event.run_id, event.done, event.total))

    summaries = start_runs(
        store, DatasetSource(request.path, request.column_map, request.label,
                             request.id_column, settings.limit),
        request.rubrics, lambda: flow.engine_for_worker(settings.n_ctx), settings.sampling,
        on_import_progress=progress, on_imported=lambda result: report_import(post, result),
        on_created=started, on_progress=progress, on_verdict=counted, stop=stop,
        on_hash_progress=progress, name=request.name,
    )
    post(RunEnded(summaries[0]) if len(summaries) == 1 else RunsEnded(summaries))


def report_import(post: Callable[[Message], object], imported: ImportResult) -> None:
    if imported.reused:
        post(TaskFinished("import", (
            f"{Path(imported.dataset.source_path).name} is unchanged since it was "
            f"imported; its {count_of(imported.imported, 'row')} (and their labels) are reused."
        )))
    elif imported.problems or imported.labels_off_scale is not None:
        skipped = (f"; skipped {len(imported.problems)} ({imported.problems[0]})"
                   if imported.problems else "")
        off_scale = (f" {imported.labels_off_scale.sentence()}"
                     if imported.labels_off_scale is not None else "")
        post(TaskFinished("import", escape(
            f"Imported {count_of(imported.imported, 'row')} of {imported.dataset.source_path}"
            f"{skipped}.{off_scale}"
        )))
