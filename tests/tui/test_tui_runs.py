"""Runs: a file's columns mapped with a preview, a run with progress, the list, resume."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.markup import escape
from textual.widgets import DataTable, Input, Select, SelectionList, Static

from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.dialogs import TextPrompt
from flowjudge_tui.tui.screens.review import ReviewScreen
from flowjudge_tui.tui.screens.runs import RunsScreen
from flowjudge_tui.tui.screens.spot_check import SpotCheckScreen
from flowjudge_tui.tui.widgets.progress_panel import ProgressPanel
from flowjudge_tui.tui.widgets.runs_table import DONE_COLUMN, STATE_COLUMN
from tests.run_helpers import write_csv
from tests.tui.pilot_helpers import SIZE, notifications, preview_file, shown, wait_for

ROWS = [
    ("What is the capital of France?", "Paris is the capital of France.", "Paris.", 5),
    ("Who wrote Hamlet?", "Hamlet is a play by Shakespeare.", "Marlowe.", 1),
]


@pytest.fixture
def slow_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scripted model judges in milliseconds: slow each item down so a run is still
    going when the test presses its keys."""
    import flowjudge_tui.runs.execute

    real = flowjudge_tui.runs.execute.verdict_from_result

    def judge_slowly(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.15)
        return real(*args, **kwargs)

    monkeypatch.setattr(flowjudge_tui.runs.execute, "verdict_from_result", judge_slowly)


def judged(panel: ProgressPanel) -> float:
    """Verdicts made so far by the run the panel shows."""
    last = panel.last
    return last.done if last is not None and last.task.startswith("Run") else 0


@pytest.fixture
def items_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "items.csv", ["question", "context", "answer", "human_label"],
                     ROWS)


async def test_a_file_is_previewed_mapped_and_judged(
    tiny_model_path: Path, items_csv: Path
) -> None:
    app = create_app(model=str(tiny_model_path), section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        screen.query_one("#run-rubric", Select).value = "faithfulness-context-5"
        path = screen.query_one("#run-path", Input)
        path.value = str(items_csv)
        path.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.preview is not None, what="the preview")
        preview = screen.query_one("#preview-table", DataTable)
        assert preview.row_count == 2
        assert screen.query_one("#map-0", Select).value == "question"
        assert screen.query_one("#map-2", Select).value == "answer"
        assert screen.query_one("#map-label", Select).value == "human_label"

        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: bool(notifications(app)), what="the run")
        assert not screen.running
        assert notifications(app)[-1] == "Run 1 is done: 2 judged, 0 reused, 0 skipped."
        bar = screen.query_one(ProgressPanel)
        assert bar.has_class("-active")
        assert "2 of 2 verdicts" in str(bar.query_one(".progress-detail").render())
        runs = screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: runs.row_count == 1, what="the list")
        assert runs.get_row_at(0)[STATE_COLUMN] == "done"

        runs.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")


async def test_a_bad_file_is_reported_in_one_sentence(tmp_path: Path) -> None:
    app = create_app(section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen.query_one("#run-rubric", Select).value = "coherence-5"
        path = screen.query_one("#run-path", Input)
        path.value = str(tmp_path / "missing.csv")
        path.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(notifications(app)), what="the error")
        assert "missing.csv" in notifications(app)[0]
        assert "Traceback" not in notifications(app)[0]


def row_of(table: DataTable[Any], run_id: int) -> list[Any]:
    return list(table.get_row(str(run_id))) if str(run_id) in table.rows else []


def state_of(table: DataTable[Any], run_id: int) -> list[Any]:
    """The run's state and count ("done", "8/8"), or [] while it is not listed."""
    return row_of(table, run_id)[STATE_COLUMN:DONE_COLUMN + 1]


async def test_a_run_stopped_with_escape_resumes_with_r_at_once(
    tiny_model_path: Path, tmp_path: Path, slow_judge: None, stored_runs: tuple[int, int]
) -> None:
    rows = [(f"Question {n}?", f"Context {n}.", f"Answer {n}.", "") for n in range(8)]
    items = write_csv(tmp_path / "many.csv", ["question", "context", "answer", "label"], rows)
    app = create_app(model=str(tiny_model_path), section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        runs = screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: runs.row_count == 2, what="the stored runs")
        screen.select_run(stored_runs[0])  # the cursor starts on another run
        await preview_file(pilot, screen, items)
        await pilot.press("ctrl+r")
        panel = screen.query_one(ProgressPanel)
        await wait_for(pilot, lambda: judged(panel) >= 1, what="the first verdict")
        # The table follows the run live: running, with its count, and the cursor on it.
        # The count follows the progress: never "queued 0/8" while it runs.
        await wait_for(pilot, lambda: state_of(runs, 3) not in ([], ["running", "0/8"])
                       and state_of(runs, 3)[0] == "running", what="the live row")
        await wait_for(pilot, lambda: screen.selected_run_id() == 3, what="the cursor")
        await pilot.press("f5")
        assert isinstance(app.screen, SpotCheckScreen)
        await pilot.press("f6")
        assert app.screen is screen and screen.running
        await pilot.press("escape")
        await wait_for(pilot, lambda: bool(notifications(app)), what="the stop")
        assert notifications(app)[-1].startswith("Run 3 stopped after ")
        assert notifications(app)[-1].endswith("press r to resume it.")
        assert "r resumes it" in str(panel.query_one(".progress-hint").render())
        await wait_for(pilot, lambda: state_of(runs, 3)[:1] == ["cancelled"], what="the list")
        assert screen.selected_run_id() == 3
        await pilot.press("r")  # no click, no selecting: r resumes the run just stopped
        await wait_for(pilot, lambda: state_of(runs, 3)[:1] == ["done"], what="resumed run")
        assert state_of(runs, 3)[1] == "8/8"
        with open_store(app_paths().database) as store:
            assert len(store.verdicts(3)) == 8


async def test_quitting_during_a_run_leaves_it_resumable(
    tiny_model_path: Path, tmp_path: Path, slow_judge: None
) -> None:
    rows = [(f"Question {n}?", f"Context {n}.", f"Answer {n}.", "") for n in range(5)]
    items = write_csv(tmp_path / "many.csv", ["question", "context", "answer", "label"], rows)
    app = create_app(model=str(tiny_model_path), section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await preview_file(pilot, screen, items)
        await pilot.press("ctrl+r")
        panel = screen.query_one(ProgressPanel)
        await wait_for(pilot, lambda: judged(panel) >= 1, what="the first verdict")
        await pilot.press("ctrl+q")
    with open_store(app_paths().database) as store:
        run = store.get_run(1)
    assert run.state == "cancelled" and run.resumable


async def test_the_app_and_the_command_line_resume_a_run_the_same_way(
    tiny_model_path: Path, random_model_path: Path, items_csv: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Both resume with the run's own model and settings (runs.workflow.resume_run), whatever
    model the app has in use, and make the same verdicts."""
    from flowjudge_tui.cli.main import main
    from flowjudge_tui.datasets import import_dataset
    from flowjudge_tui.judging.backend import LoadSettings
    from flowjudge_tui.runs.workflow import create_run
    from flowjudge_tui.store import RunSettings
    from tests.run_helpers import rubric

    rub = rubric("faithfulness-context-5")
    with open_store(app_paths().database) as store:
        dataset = import_dataset(store, items_csv, rub).dataset.id
        for_cli, for_app = (create_run(store, dataset, rub, tiny_model_path,
                                       RunSettings(load=LoadSettings())).id for _ in range(2))
    assert main(["runs", "resume", str(for_cli)]) == 0
    capsys.readouterr()
    app = create_app(model=str(random_model_path), section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        runs = screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: runs.row_count == 2, what="the list")
        runs.focus()
        runs.move_cursor(row=runs.get_row_index(str(for_app)))
        await pilot.press("r")
        await wait_for(pilot, lambda: runs.get_row_at(
            runs.get_row_index(str(for_app)))[STATE_COLUMN]
                       == "done", what="the resumed run")
        assert app.model_status.path == tiny_model_path
        assert app.model_status.source == "run"
    with open_store(app_paths().database) as store:
        by_cli = [(v.score, v.feedback, v.distribution) for v in store.verdicts(for_cli)]
        by_app = [(v.score, v.feedback, v.distribution) for v in store.verdicts(for_app)]
    assert len(by_cli) == len(ROWS) and by_app == by_cli


async def test_delete_asks_first_and_no_keeps_the_run(stored_runs: tuple[int, int]) -> None:
    from flowjudge_tui.tui.screens.dialogs import Confirm

    first, second = stored_runs
    with open_store(app_paths().database) as store:
        store.rename_run(first, "sweep [b]1")  # named, with what would be markup
    app = create_app(section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        runs = screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: runs.row_count == 2, what="the stored runs")
        runs.focus()
        screen.select_run(first)
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        question = shown(app.screen.query_one(".dialog-explanation", Static))
        assert question.startswith(f'Delete run {first} "sweep [b]1" (faithfulness-context-5')
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen and runs.row_count == 2
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: runs.row_count == 1, what="the deletion")
        assert row_of(runs, second) and not row_of(runs, first)
        assert notifications(app)[-1] == escape(f'Deleted run {first} "sweep [b]1".')
    with open_store(app_paths().database) as store:
        assert [run.id for run in store.list_runs()] == [second]


async def test_a_new_run_takes_the_settings_typed_beside_it(
    tiny_model_path: Path, items_csv: Path
) -> None:
    app = create_app(model=str(tiny_model_path), section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await preview_file(pilot, screen, items_csv)
        screen.query_one("#set-limit", Input).value = "0"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert not screen.running
        assert "First N rows must be from 1 up" in str(
            screen.query_one("#settings-problem").render())
        screen.query_one("#set-limit", Input).value = "1"
        screen.query_one("#set-max-tokens", Input).value = "7"
        screen.query_one("#set-seed", Input).value = "3"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: bool(notifications(app)), what="the run")
        assert notifications(app)[-1] == "Run 1 is done: 1 judged, 0 reused, 0 skipped."
    with open_store(app_paths().database) as store:
        run = store.get_run(1)
    assert run.total_items == 1
    assert (run.settings.sampling.max_feedback_tokens, run.settings.sampling.seed) == (7, 3)


async def test_space_ticks_a_rubric_as_soon_as_tab_reaches_the_list() -> None:
    app = create_app(section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        screen.query_one("#run-rubric", Select).value = "faithfulness-context-5"
        more = screen.query_one("#run-more-rubrics", SelectionList)
        await wait_for(pilot, lambda: more.option_count == 2, what="the rubrics offered")
        screen.query_one("#run-name", Input).focus()
        await pilot.press("tab")
        await wait_for(pilot, lambda: more.has_focus, what="the rubric list")
        await pilot.press("space")
        await wait_for(pilot, lambda: more.selected == ["faithfulness-context-3"],
                       what="the first rubric ticked")


async def test_several_rubrics_named_start_together_and_the_cursor_follows_them(
    tiny_model_path: Path, items_csv: Path
) -> None:
    app = create_app(model=str(tiny_model_path), section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        screen.query_one("#run-rubric", Select).value = "faithfulness-context-5"
        more = screen.query_one("#run-more-rubrics", SelectionList)
        await wait_for(pilot, lambda: more.option_count == 2, what="the rubrics offered")
        offered = [str(more.get_option_at_index(n).value) for n in range(more.option_count)]
        assert offered == ["faithfulness-context-3", "faithfulness-context-binary"]
        more.focus()
        await pilot.press("down", "space")  # tick the binary one by keyboard
        assert more.selected == ["faithfulness-context-binary"]
        await preview_file(pilot, screen, items_csv, rubric=None)

        name = screen.query_one("#run-name", Input)
        name.value = "bad\x1b[2Jname"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert not screen.running and "control characters" in notifications(app)[-1]
        assert name.has_focus and name.value == "bad\x1b[2Jname"  # kept, to be fixed
        name.value = "first try [b]"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "are done" in (notifications(app) or [""])[-1],
                       what="the runs")
        assert notifications(app)[-1] == "Runs 1, 2 are done: 4 judged, 0 reused, 0 skipped."
        panel = screen.query_one(ProgressPanel)  # one bar for both runs
        assert panel.last is not None and panel.last.task == "Run 1, 2"
        assert (panel.last.done, panel.last.total) == (4, 4)
        runs = screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: runs.row_count == 2, what="the list")
        assert str(row_of(runs, 1)[0]) == '1 "first try [b]"'
        assert [state_of(runs, run) for run in (1, 2)] == [["done", "2/2"]] * 2
        assert screen.selected_run_id() == 1  # the first of the runs just started
    with open_store(app_paths().database) as store:
        made = {run.id: (run.rubric_name, run.name) for run in store.list_runs()}
    assert made == {1: ("faithfulness-context-5", "first try [b]"),
                    2: ("faithfulness-context-binary", "first try [b]")}


async def test_rename_asks_for_the_name_keeps_a_bad_one_to_fix_and_shows_it(
    stored_runs: tuple[int, int]
) -> None:
    first, second = stored_runs
    app = create_app(section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        runs = screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: runs.row_count == 2, what="the runs")
        runs.focus()
        screen.select_run(first)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the dialog")
        field = app.screen.query_one("#dialog-input", Input)
        field.value = "x" * 81
        await pilot.press("enter")
        error = app.screen.query_one("#dialog-error", Static)
        await wait_for(pilot, lambda: "at most 80" in str(error.render()), what="the problem")
        assert isinstance(app.screen, TextPrompt) and field.value == "x" * 81
        field.value = "judge [/]A"
        await pilot.press("enter")
        await wait_for(pilot, lambda: str(row_of(runs, first)[0]) == f'{first} "judge [/]A"',
                       what="the new name")
        assert notifications(app)[-1] == f'Renamed: Run {first} "judge [/]A".'
        assert str(row_of(runs, second)[0]) == str(second)
        # The palette renames too: the dialog opens with the name to edit.
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"rename the selected")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the dialog")
        assert app.screen.query_one("#dialog-input", Input).value == "judge [/]A"
        await pilot.press("escape")
    with open_store(app_paths().database) as store:
        assert store.get_run(first).name == "judge [/]A"


async def test_escape_stops_runs_started_together_and_each_resumes(
    tiny_model_path: Path, tmp_path: Path, slow_judge: None
) -> None:
    rows = [(f"Question {n}?", f"Context {n}.", f"Answer {n}.", "") for n in range(4)]
    items = write_csv(tmp_path / "four.csv", ["question", "context", "answer", "label"], rows)
    app = create_app(model=str(tiny_model_path), section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        screen.query_one("#run-rubric", Select).value = "faithfulness-context-5"
        more = screen.query_one("#run-more-rubrics", SelectionList)
        await wait_for(pilot, lambda: more.option_count == 2, what="the rubrics offered")
        more.select("faithfulness-context-3")
        await preview_file(pilot, screen, items, rubric=None)
        await pilot.press("ctrl+r")
        panel = screen.query_one(ProgressPanel)
        await wait_for(pilot, lambda: judged(panel) >= 1, what="the first verdict")
        runs = screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: [state_of(runs, run)[:1] for run in (1, 2)]
                       == [["running"], ["running"]], what="both runs running")
        await pilot.press("escape")
        await wait_for(pilot, lambda: "stopped after" in (notifications(app) or [""])[-1],
                       what="the stop")
        assert notifications(app)[-1].startswith("Runs 1, 2 stopped after ")
        await wait_for(pilot, lambda: state_of(runs, 1)[:1] == ["cancelled"], what="the list")
        assert screen.selected_run_id() == 1
        await pilot.press("r")
        await wait_for(pilot, lambda: state_of(runs, 1)[:1] == ["running"], what="resuming")
        assert state_of(runs, 2)[:1] == ["cancelled"]  # only the run resumed is running
        await wait_for(pilot, lambda: state_of(runs, 1) == ["done", "4/4"], what="run 1")
    with open_store(app_paths().database) as store:
        second = store.get_run(2)
    assert second.rubric_name == "faithfulness-context-3" and second.resumable
