"""SVG snapshots of the Runs form with several rubrics and a name, and of Compare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, SelectionList

from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.compare import CompareScreen
from flowjudge_tui.tui.screens.runs import RunsScreen
from tests.run_helpers import write_csv
from tests.tui.pilot_helpers import SIZE, preview_file, wait_for
from tests.tui.test_tui_snapshots import Snap, settled, steady


def test_runs_with_a_name_and_two_rubrics(snap_compare: Snap,
                                          stored_runs: tuple[int, int]) -> None:
    with open_store(app_paths().database) as store:
        store.rename_run(stored_runs[1], "judge B")

    async def filled(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        screen = pilot.app.screen
        table = screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="the runs")
        screen.query_one("#run-rubric", Select).value = "faithfulness-context-5"
        more = screen.query_one("#run-more-rubrics", SelectionList)
        await wait_for(pilot, lambda: more.option_count == 2, what="the rubrics offered")
        more.select("faithfulness-context-binary")
        name = screen.query_one("#run-name", Input)
        name.value = "baseline"
        name.focus()  # the form open (it folds to one line while the list has the focus)
        await pilot.pause(0.2)

    assert snap_compare(create_app(section="runs"), terminal_size=SIZE,
                        run_before=steady(filled))


def test_runs_at_80_columns_map_each_field_on_a_line_of_its_own(
    snap_compare: Snap, stored_runs: tuple[int, int], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the path shown is the same on every machine
    items = write_csv(Path("items.csv"), ["query", "context", "response", "human score"],
                      [["Capital of France?", "Paris is the capital.", "Paris.", 5]])

    async def mapped(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, RunsScreen)
        table = screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="the runs")
        await preview_file(pilot, screen, items)
        screen.query_one("#map-2", Select).focus()
        await pilot.pause(0.2)

    assert snap_compare(create_app(section="runs"), terminal_size=(80, 30),
                        run_before=steady(mapped))


def test_compare_two_runs_item_by_item(snap_compare: Snap,
                                       stored_runs: tuple[int, int]) -> None:
    async def compared(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        pilot.app.push_screen(CompareScreen(*stored_runs))
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen))
        table = pilot.app.screen.query_one("#compare-items", DataTable)
        await wait_for(pilot, lambda: table.row_count == 4, what="the items")
        table.move_cursor(row=1)
        await pilot.pause(0.3)

    assert snap_compare(create_app(), terminal_size=SIZE, run_before=steady(compared))


def test_compare_at_80_columns_keeps_the_items_on_screen(
    snap_compare: Snap, stored_runs: tuple[int, int]
) -> None:
    async def compared(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        pilot.app.push_screen(CompareScreen(*stored_runs))
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen))
        table = pilot.app.screen.query_one("#compare-items", DataTable)
        await wait_for(pilot, lambda: table.row_count == 4, what="the items")
        assert table.region.bottom <= 30 and table.region.height >= 6
        await pilot.pause(0.3)

    assert snap_compare(create_app(), terminal_size=(80, 30), run_before=steady(compared))
