"""Compare: each run's agreement with people, every paired item with the human label and
both scores, the highlighted item's two verdicts side by side, filters from the keyboard."""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import DataTable, Static

from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.compare import CompareScreen, RunPicker
from tests.tui.pilot_helpers import SIZE, shown, wait_for
from tests.tui.test_tui_review import column, open_review


async def test_compare_lists_items_with_the_human_label_and_both_verdicts(
    stored_runs: tuple[int, int]
) -> None:
    first, second = stored_runs
    with open_store(app_paths().database) as store:
        store.rename_run(second, "judge [/]B")
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_review(pilot, app, first)
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, RunPicker), what="the picker")
        assert f'Run {second} "judge [/]B"' in str(
            app.screen.query_one("#run-options").get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        screen = app.screen
        table = screen.query_one("#compare-items", DataTable)
        await wait_for(pilot, lambda: table.row_count == 4, what="the paired items")
        assert f'Run {second} "judge [/]B" (B)' in shown(screen.query_one("#compare-heading"))
        # Items 1-4 (the fifth is skipped by A); labels 5, 1, 4 came with the file.
        assert column(table, 1) == ["5 imp.", "1 imp.", "4 imp.", ""]
        assert (column(table, 2), column(table, 3)) == (["5", "2", "4", "3"], ["4", "1", "4", "3"])
        assert column(table, 4) == ["≠", "≠", "", ""]
        people = shown(screen.query_one("#compare-people", Static)).splitlines()
        assert people[1].split() == ["labelled", "(n)", "3", "3"]
        assert next(line for line in people if line.startswith("exact agreement")).split()[-2:] \
            == ["0.67", "0.67"]
        verdict_a = screen.query_one("#compare-verdict-a", Static)
        verdict_b = screen.query_one("#compare-verdict-b", Static)
        assert "score 5 · confidence 0.90" in shown(verdict_a)
        assert "your label — · imported label 5" in shown(verdict_a)
        assert "Feedback for 4." in shown(verdict_b)

        assert table.has_focus
        await pilot.press("down")
        await wait_for(pilot, lambda: "Feedback for 1." in shown(verdict_b), what="row 2")
        assert "Feedback for 2." in shown(verdict_a)
        await pilot.press("f")  # A ≠ B
        await wait_for(pilot, lambda: table.row_count == 2, what="the filter")
        assert str(table.border_title).startswith("Items · A ≠ B (2 of 4)")
        await pilot.press("f", "f")  # A or B ≠ person, then labelled
        await wait_for(pilot, lambda: table.row_count == 3, what="the labelled items")
        await pilot.press("f")
        await wait_for(pilot, lambda: table.row_count == 4, what="all items again")
        assert any(b.binding.key == "f" for b in screen.active_bindings.values())
        await pilot.press("ctrl+p")  # the filter is in the palette too
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"filter the compared")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.row_count == 2, what="the filter from the palette")


async def test_compare_without_labels_says_how_to_get_them(
    stored_runs: tuple[int, int]
) -> None:
    first, second = stored_runs
    with open_store(app_paths().database) as store:
        store.db.conn().execute("UPDATE items SET human_label = NULL")
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(CompareScreen(first, second))
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        people = app.screen.query_one("#compare-people", Static)
        await wait_for(pilot, lambda: bool(shown(people)), what="the figures")
        assert shown(people).startswith("No human labels on these items yet")
