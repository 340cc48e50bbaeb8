"""Runs: a run's items too long for its context are judged again with a larger one (l, or the
palette), and an import's labels off the scale are reported in its notice."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Static

from flowjudge_tui.judging.backend import LoadSettings
from flowjudge_tui.runs.workflow import create_run, resume_run
from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import RunSettings, open_store
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.dialogs import TextPrompt
from flowjudge_tui.tui.screens.runs import RunsScreen
from tests.run_helpers import add_dataset, rubric, write_csv
from tests.tui.pilot_helpers import SIZE, notifications, preview_file, wait_for

LONG = "word " * 600  # over a 2048-token context with the test vocabulary


def run_with_a_too_long_item(model: Path) -> int:
    rub = rubric("relevance-query-binary")
    with open_store(app_paths().database) as store:
        dataset_id = add_dataset(store, rub, ["Short.", LONG])
        run = create_run(store, dataset_id, rub, model,
                         RunSettings(load=LoadSettings(n_ctx=2048)))
        summary = resume_run(store, run.id)
        assert summary.too_long == 1
        return run.id


async def test_l_asks_for_a_larger_context_and_judges_just_the_too_long_items(
    tiny_model_path: Path,
) -> None:
    run_id = run_with_a_too_long_item(tiny_model_path)
    app = create_app(model=str(tiny_model_path), section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        runs = screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: runs.row_count == 1, what="the run")
        runs.focus()
        await wait_for(pilot, lambda: screen.check_action("retry_too_long", ()) is True,
                       what="the retry key")
        assert any(verb.title == f"Retry run {run_id}'s too-long items with a larger context"
                   for verb in app.palette_verbs(screen.runs))
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the question")
        dialog = app.screen
        field = dialog.query_one(Input)
        assert field.value == "8192"
        field.value = "2048"
        await pilot.press("enter")
        error = dialog.query_one("#dialog-error", Static)
        await wait_for(pilot, lambda: "would skip them again" in str(error.render()),
                       what="the refusal")
        assert app.screen is dialog and field.value == "2048"
        field.value = "8192"
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(n.startswith(f"Run {run_id} is done")
                                          for n in notifications(app)), what="the retry")
        shown = notifications(app)
        assert f"Run {run_id} is done: 1 judged, 0 reused, 0 skipped." in shown
        assert sum("long-context RoPE factors" in n for n in shown) == 1
        await wait_for(pilot, lambda: screen.check_action("retry_too_long", ()) is False,
                       what="the key to go away")
    with open_store(app_paths().database) as store:
        run = store.get_run(run_id)
        assert (run.judged, run.skipped, run.skipped_too_long) == (2, 0, 0)


async def test_a_run_with_too_long_items_says_so_when_it_ends(tiny_model_path: Path,
                                                              tmp_path: Path) -> None:
    rows = [("Q1?", "Short.", "7"), ("Q2?", LONG, "1"), ("Q3?", "Fine.", "")]
    data = write_csv(tmp_path / "rows.csv", ["query", "response", "human_label"], rows)
    app = create_app(model=str(tiny_model_path), section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await preview_file(pilot, screen, data, rubric="relevance-query-binary")
        screen.query_one("#set-n-ctx", Input).value = "2048"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: any(n.startswith("Run 1 is done")
                                          for n in notifications(app)), what="the run")
        shown = notifications(app)
        assert any(n.endswith("1 row had a label off the 0-1 scale (line 2: '7'); it is "
                              "judged without a label.") for n in shown)
        assert ("Run 1 is done: 2 judged, 0 reused, 1 skipped; 1 too long for its context: "
                "press l to judge it with a larger one.") in shown


async def test_l_offers_the_runs_started_together_and_retries_them_together(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    from flowjudge_tui.cli.main import main
    from flowjudge_tui.tui.screens.dialogs import Confirm

    data = write_csv(tmp_path / "rows.csv", ["query", "response"],
                     [("Q1?", "Short."), ("Q2?", LONG)])
    assert main(["run", "--model", str(tiny_model_path), "--rubric", "relevance-query-binary",
                 "--rubric", "relevance-query-3", "--data", str(data), "--n-ctx", "2048"]) == 0
    app = create_app(model=str(tiny_model_path), section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        runs = screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: runs.row_count == 2, what="the runs")
        runs.focus()
        await wait_for(pilot, lambda: screen.check_action("retry_too_long", ()) is True,
                       what="the retry key")
        selected = screen.selected_run()
        assert selected is not None
        other = 1 if selected.id == 2 else 2
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the question")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="the offer")
        offer = str(app.screen.query_one(".dialog-explanation", Static).render())
        assert f"Run {other}, started together with run {selected.id}, skipped 1 more item" \
            in offer
        await pilot.press("y")
        await wait_for(pilot, lambda: any(n.startswith("Runs ") and "done" in n
                                          for n in notifications(app)), what="the retry")
    with open_store(app_paths().database) as store:
        assert [store.get_run(run_id).skipped_too_long for run_id in (1, 2)] == [0, 0]
