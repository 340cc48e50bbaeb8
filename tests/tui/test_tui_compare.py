"""Compare: each run's agreement with people, every paired item with the human label and
both scores, the highlighted item's two verdicts side by side; filters (several at once),
sorting both ways and search from the keyboard, kept across the help and section switches."""

from __future__ import annotations

from typing import Any

from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, SelectionList, Static

from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.compare import CompareScreen
from flowjudge_tui.tui.screens.dialogs import TextPrompt
from flowjudge_tui.tui.screens.filter_choice import FilterChoice
from flowjudge_tui.tui.screens.review import ReviewScreen
from tests.tui.pilot_helpers import SIZE, picker_ready, shown, wait_for
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
        await wait_for(pilot, lambda: picker_ready(app), what="the picker's runs")
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
        assert column(table, 4) == ["≠ 1", "≠ 1", "", ""]
        assert column(table, 5) == ["0.90 / 0.70", "0.30 / 0.60", "0.80 / 0.90", "0.20 / 0.40"]
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
        assert shown(screen.query_one("#compare-shown")).startswith(
            "4 of 4 items shown · all items · by item ↑")
        keys = {b.binding.key: b.binding.description for b in screen.active_bindings.values()}
        assert (keys["f"], keys["o"], keys["slash"], keys["escape"]) == (
            "Filter", "Sort", "Search", "Back")
        await pilot.press("ctrl+p")  # the filters are in the palette too
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"show only items: A")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.row_count == 2, what="the filter from the palette")
        assert shown(screen.query_one("#compare-shown")).startswith("2 of 4 items shown · A ≠ B")


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


async def open_compare(pilot: Pilot[Any], app: Any, runs: tuple[int, int]) -> CompareScreen:
    """Review's first run compared with the second, as a person gets there (v, enter)."""
    await open_review(pilot, app, runs[0])
    await pilot.press("v")
    await wait_for(pilot, lambda: picker_ready(app), what="the picker's runs")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                   and app.screen.query_one("#compare-items", DataTable).row_count == 4,
                   what="the paired items")
    return app.screen


async def tick_filters(pilot: Pilot[Any], app: Any, *rows: int, close: str = "escape",
                       first: str = "") -> None:
    """Open the filter list (f), press ``first`` if given, tick the filters at ``rows`` (0:
    A ≠ B, 1: ≠ person, 2: low confidence, 3: labelled), then close it with ``close``."""
    await pilot.press("f")
    await wait_for(pilot, lambda: isinstance(app.screen, FilterChoice),
                   what="the filters")
    if first:
        await pilot.press(first)
    options = app.screen.query_one(SelectionList)
    for row in rows:
        options.highlighted = row
        await pilot.press("space")
    await pilot.press(close)
    await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen),
                   what="compare again")


async def search(pilot: Pilot[Any], app: Any, text: str) -> None:
    await pilot.press("slash")
    await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt),
                   what="the search")
    app.screen.query_one(Input).value = text
    await pilot.press("enter")


async def test_combined_filters_sorting_both_ways_and_search(
    stored_runs: tuple[int, int]
) -> None:
    # Rows 2-5: A 5 2 4 3 (confidence .9 .3 .8 .2), B 4 1 4 3 (.7 .6 .9 .4), labels 5 1 4 -.
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, app, stored_runs)
        table = screen.query_one("#compare-items", DataTable)
        line = screen.query_one("#compare-shown", Static)
        await tick_filters(pilot, app, 0, 2)  # A ≠ B, and low confidence in either run
        await wait_for(pilot, lambda: table.row_count == 1, what="both filters")
        assert column(table, 0) == ["row 3"]
        assert shown(line).startswith("1 of 4 items shown · A ≠ B + low confidence")
        await tick_filters(pilot, app, 0, 3)  # A ≠ B off, labelled on: low and labelled
        await wait_for(pilot, lambda: shown(line).startswith("1 of 4 items shown · low "
                                                             "confidence + labelled"),
                       what="the filters changed")
        await tick_filters(pilot, app, close="f", first="backspace")  # unticks them all
        await wait_for(pilot, lambda: table.row_count == 4, what="every item again")
        assert "all items" in shown(line)

        await pilot.press("o")  # |A−B|, largest first, then reversed
        await wait_for(pilot, lambda: "by difference ↓" in shown(line), what="the sort")
        assert column(table, 0) == ["row 3", "row 2", "row 5", "row 4"]
        await pilot.press("O")
        await wait_for(pilot, lambda: "by difference ↑" in shown(line), what="the reverse")
        assert column(table, 0) == ["row 4", "row 5", "row 2", "row 3"]
        await pilot.press("o")  # the lower of the two confidences, highest first
        await wait_for(pilot, lambda: "by confidence ↓" in shown(line), what="confidence")
        assert column(table, 0) == ["row 4", "row 2", "row 3", "row 5"]
        await pilot.click("#compare-items", offset=(3, 1))  # the Item column's title
        await wait_for(pilot, lambda: "by item ↑" in shown(line), what="the header click")
        assert column(table, 0) == ["row 2", "row 3", "row 4", "row 5"]

        await search(pilot, app, "FEEDBACK FOR 1")  # B's feedback on row 3
        await wait_for(pilot, lambda: table.row_count == 1, what="the search")
        assert column(table, 0) == ["row 3"] and shown(line).endswith("“FEEDBACK FOR 1”")
        keys = {b.binding.key: b.binding.description for b in screen.active_bindings.values()}
        assert keys["escape"] == "Clear search"
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 4, what="the search cleared")
        assert app.screen is screen and "“" not in shown(line)
        await search(pilot, app, "marlowe")  # the judged output of row 3
        await wait_for(pilot, lambda: table.row_count == 1, what="the second search")
        await search(pilot, app, "nothing like this")
        await wait_for(pilot, lambda: table.row_count == 0, what="no match")
        assert "No item matches" in shown(screen.query_one("#compare-verdict-a", Static))
        await tick_filters(pilot, app, 1)  # ≠ person, with a search on: no row still
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"show every compared")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.row_count == 4, what="every item from the palette")
        assert "all items" in shown(line) and "“" not in shown(line)
        await search(pilot, app, "marlowe")
        await wait_for(pilot, lambda: table.row_count == 1, what="the third search")
        await pilot.press("escape", "escape")  # clears the search, then goes back
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="Review")


async def test_filters_sort_and_search_are_kept_across_help_and_sections(
    stored_runs: tuple[int, int]
) -> None:
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, app, stored_runs)
        table = screen.query_one("#compare-items", DataTable)
        await tick_filters(pilot, app, 3)  # labelled: rows 2-4
        await pilot.press("o")
        await search(pilot, app, "feedback for")
        await wait_for(pilot, lambda: column(table, 0) == ["row 3", "row 2", "row 4"],
                       what="filtered, sorted and searched")
        table.move_cursor(row=1)
        before = shown(screen.query_one("#compare-shown", Static))
        for leave, come_back in (("f1", "escape"), ("f6", "f7")):
            await pilot.press(leave)
            await wait_for(pilot, lambda: app.screen is not screen, what=f"away ({leave})")
            await pilot.press(come_back)
            await wait_for(pilot, lambda: app.screen is screen, what=f"back ({come_back})")
            await pilot.pause(0.2)
            assert column(table, 0) == ["row 3", "row 2", "row 4"] and table.cursor_row == 1
            assert shown(screen.query_one("#compare-shown", Static)) == before
        assert "Feedback for 5." in shown(screen.query_one("#compare-verdict-a", Static))


async def test_the_picker_offers_only_runs_over_the_same_items_and_says_why(
    stored_runs: tuple[int, int]
) -> None:
    """Runs of another scale or other items are not offered (Compare used to stay on
    "Loading…" after picking one); the picker says which were left out and why."""
    from tests.run_helpers import add_dataset, add_run, judge_all, rubric

    first, second = stored_runs
    binary = rubric("faithfulness-context-binary")
    with open_store(app_paths().database) as store:
        other = add_run(store, store.get_run(first).dataset_id, binary, model="judge-c.gguf")
        judge_all(store, other, [1, 0, 1, 1, 0], binary.score_values)
        elsewhere = add_run(store, add_dataset(store, binary, ["x"], name="other"), binary)
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_review(pilot, app, first)
        await pilot.press("v")
        await wait_for(pilot, lambda: picker_ready(app), what="the picker's runs")
        options = app.screen.query_one("#run-options", OptionList)
        assert [options.get_option_at_index(i).id for i in range(options.option_count)] == [
            str(second)]
        note = shown(app.screen.query_one("#run-options-note", Static))
        assert note.startswith(f"2 runs left out ({elsewhere.id}, {other.id}): a comparison "
                               "needs runs over the same items")
        await pilot.press("escape")
        await open_review(pilot, app, other.id)
        await pilot.press("v")
        await wait_for(pilot, lambda: picker_ready(app), what="the picker's runs")
        assert shown(app.screen.query_one("#run-options-note", Static)).startswith(
            "No run can be compared with this one. 3 runs left out")
        assert not app.screen.query_one("#run-options", OptionList).display


async def test_a_comparison_that_fails_says_why_in_the_screen(
    stored_runs: tuple[int, int]
) -> None:
    first, _ = stored_runs
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(CompareScreen(first, first))
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        figures = app.screen.query_one("#compare-figures", Static)
        await wait_for(pilot, lambda: bool(shown(figures)), what="the sentence")
        assert shown(figures) == (f"Run {first} would be compared with itself; give two "
                                  "different runs.")
        assert shown(app.screen.query_one("#compare-summary-a", Static)) == "Not compared."
