"""The Runs screen at the sizes people use: the runs list keeps the screen at 120x40, the
columns that say how a run stands stay on screen at 80, the column mapping never overlaps."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label, Select

from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.runs import RunsScreen
from flowjudge_tui.tui.widgets.new_run_form import FoldedForm
from flowjudge_tui.tui.widgets.runs_table import COLUMNS, cut, fit_widths
from tests.run_helpers import add_dataset, add_run, judge_all, rubric, write_csv
from tests.tui.pilot_helpers import preview_file, shown, wait_for

RUNS = 24


@pytest.fixture
def many_runs() -> None:
    """RUNS finished runs, every third one named, with long model names."""
    rub = rubric("faithfulness-context-5")
    with open_store(app_paths().database) as store:
        dataset = add_dataset(store, rub, ["Paris.", "Water."], labels=[5, 1],
                              name="halueval_qa_sample")
        for n in range(RUNS):
            run = add_run(store, dataset, rub, model=("Flow-Judge-v0.1-Q4_K_M.gguf" if n % 2
                                                     else "gemma-3-270m-q4_k_m.gguf"))
            judge_all(store, run, [5, 2], rub.score_values)
            store.finish_run(run.id, "done")
            if n % 3 == 0:
                store.rename_run(run.id, f"baseline sweep {n}")


@pytest.fixture
def items_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "items.csv", ["query", "context", "response", "human score"],
                     [["Capital of France?", "Paris is the capital.", "Paris.", 5]])


def visible_rows(table: DataTable[Any]) -> int:
    return table.scrollable_content_region.height - table.header_height


def column_right(table: DataTable[Any], name: str) -> int:
    """The screen column just after ``name``'s cells (the table scrolled fully left)."""
    columns = list(table.columns.values())
    upto = [str(column.label) for column in columns].index(name) + 1
    return table.content_region.x + sum(c.get_render_width(table) for c in columns[:upto])


async def listed(pilot: Pilot[Any], count: int) -> tuple[RunsScreen, DataTable[Any]]:
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    table = screen.query_one("#runs-table", DataTable)
    await wait_for(pilot, lambda: table.row_count == count, what="the runs")
    return screen, table


async def previewed(pilot: Pilot[Any], screen: RunsScreen, path: Path) -> None:
    await preview_file(pilot, screen, path)
    await pilot.pause(0.1)


def test_names_are_cut_in_the_middle_so_their_distinguishing_ends_stay() -> None:
    assert cut("faithfulness-context-binary", 15) == "faithfu…-binary"
    assert cut("7 \"baseline sweep 6\"", 12, middle=False) == "7 \"baseline…"
    assert cut("short", 10) == "short"


def test_model_and_dataset_give_up_width_before_run_and_rubric() -> None:
    natural = [22, 22, 7, 4, 18, 27, 16]  # Run, Rubric, State, Done, Dataset, Model, Started
    assert fit_widths(natural, 200) == natural
    fitted = fit_widths(natural, 100)
    assert sum(fitted) <= 100 and fitted[:4] == natural[:4] and fitted[6] == 16
    # Too narrow for every column: the first four fit, the rest follow off to the right.
    narrow = fit_widths(natural, 48)
    assert sum(narrow[:4]) <= 48 and narrow[2:4] == [7, 4] and narrow[4:] == natural[4:]
    assert COLUMNS[:4] == ("Run", "Rubric", "State", "Done")


@pytest.mark.parametrize("size", [(80, 24), (80, 30), (100, 30)])
async def test_state_and_done_stay_on_screen_below_100_columns(
    many_runs: None, size: tuple[int, int]
) -> None:
    app = create_app(section="runs")
    async with app.run_test(size=size) as pilot:
        _, table = await listed(pilot, RUNS)
        table.focus()
        await pilot.pause(0.1)
        for name in ("Run", "Rubric", "State", "Done"):
            assert column_right(table, name) <= table.content_region.right <= size[0], name
        # Bars, borders, the folded form's line, the header and (at 80) a scrollbar aside,
        # every row of the screen lists a run.
        assert visible_rows(table) >= size[1] - 9
        assert str(table.get_row_at(0)[COLUMNS.index("State")]) == "done"


async def test_at_120x40_the_list_keeps_the_screen_while_the_form_is_open_or_folded(
    many_runs: None, items_csv: Path
) -> None:
    app = create_app(section="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        screen, table = await listed(pilot, RUNS)
        await previewed(pilot, screen, items_csv)
        screen.query_one("#run-path", Input).focus()
        await pilot.pause(0.1)
        assert visible_rows(table) >= 16  # the form open, a preview shown
        for name in COLUMNS:  # every column whole at 120
            assert column_right(table, name) <= table.content_region.right, name

        await pilot.press("shift+tab")  # from the path back to the runs list
        await wait_for(pilot, lambda: table.has_focus, what="the list")
        folded = screen.query_one(FoldedForm)
        await wait_for(pilot, lambda: folded.display, what="the form folded")
        assert visible_rows(table) >= 30
        assert shown(folded).startswith("▸ items.csv · faithfulness-context-5")

        await pilot.press("tab")  # the folded line hands the focus on to the form
        path = screen.query_one("#run-path", Input)
        await wait_for(pilot, lambda: path.has_focus, what="the form")
        assert not folded.display and path.region.height == 1


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_mapping_names_and_columns_never_share_a_cell(
    items_csv: Path, size: tuple[int, int]
) -> None:
    app = create_app(section="runs")
    async with app.run_test(size=size) as pilot:
        screen, _ = await listed(pilot, 0)
        await previewed(pilot, screen, items_csv)
        fields = list(screen.query(".mapping-field"))
        assert len(fields) == 5
        labels = [field.query_one(Label) for field in fields]
        selects = [field.query_one(Select) for field in fields]
        for label, select in zip(labels, selects, strict=True):
            assert label.region.height == 1 and select.region.height == 1
            assert not label.region.overlaps(select.region)
        for one, other in pairwise(labels):
            assert not one.region.overlaps(other.region)
        assert "response" in shown(selects[2].query_one("#label"))  # whole, not "respons e"


async def test_review_shows_the_longest_filter_name_whole_at_120_columns(
    stored_runs: tuple[int, int]
) -> None:
    from flowjudge_tui.tui.screens.review import ReviewScreen

    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        app.open_review(stored_runs[0])
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="Review")
        screen = app.screen
        await wait_for(pilot, lambda: screen.run is not None, what="the run")
        filters = screen.query_one("#review-filter", Select)
        filters.value = "unreliable"
        await pilot.pause(0.1)
        label = filters.query_one("#label")
        assert shown(label) == "Unreliable (little score mass, or cut off)"
        assert label.region.height == 1 and label.region.width >= len(shown(label))


async def test_the_progress_panel_leaves_no_empty_row_for_a_hint_it_does_not_have() -> None:
    from flowjudge_tui.progress import Progress
    from flowjudge_tui.tui.widgets.progress_panel import ProgressPanel

    app = create_app(section="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        panel = screen.query_one(ProgressPanel)
        hint = panel.query_one(".progress-hint", Label)
        panel.show_progress(Progress("Judging", 2, 8))
        # Task name, bar and amount: three rows, none left blank under them.
        await wait_for(pilot, lambda: panel.size.height > 0, what="the panel")
        assert panel.size.height == 3 and not hint.display
        panel.show_hint("Run 3 stopped: [b]r[/b] resumes it.")
        await wait_for(pilot, lambda: panel.size.height == 4, what="the hint's row")
        assert hint.display and shown(hint) == "Run 3 stopped: r resumes it."
        panel.show_progress(Progress("Judging", 3, 8))  # a new event clears the hint
        await wait_for(pilot, lambda: panel.size.height == 3, what="the hint gone")
        assert not hint.display
