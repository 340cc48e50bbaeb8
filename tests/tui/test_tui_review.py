"""Review: the verdict table, filters and sorting, labels and comments saved at once,
agreement, two runs compared, and a run exported."""

from __future__ import annotations

import csv
from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import DataTable, Input, Select, Static

from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.compare import CompareScreen
from flowjudge_tui.tui.screens.dialogs import TextPrompt
from flowjudge_tui.tui.screens.export_dialog import ExportDialog
from flowjudge_tui.tui.screens.review import ReviewScreen
from flowjudge_tui.tui.widgets.score_bars import ScoreBars
from tests.tui.pilot_helpers import SIZE, notifications, picker_ready, shown, wait_for


def column(table: DataTable[str], index: int) -> list[str]:
    return [str(table.get_row_at(row)[index]) for row in range(table.row_count)]


async def open_review(pilot: object, app: object, run_id: int) -> ReviewScreen:
    app.open_review(run_id)  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen)  # type: ignore[attr-defined]
                   and app.screen.run is not None and app.screen.run.id == run_id,
                   what="the run")
    return app.screen  # type: ignore[attr-defined, no-any-return]


async def test_filters_and_sorting(stored_runs: tuple[int, int]) -> None:
    first, _ = stored_runs
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, app, first)
        table = screen.query_one("#verdicts", DataTable)
        assert column(table, 1) == ["5", "2", "4", "3", "skip"]
        assert column(table, 3) == ["5 imp.", "1 imp.", "4 imp.", "", ""]
        assert column(table, 4)[4] == "Blue [/] whales [b]."
        filters = screen.query_one("#review-filter", Select)
        filters.value = "low"
        await pilot.pause()
        assert column(table, 2) == ["0.30", "0.20"]
        filters.value = "disagree"
        await pilot.pause()
        assert column(table, 1) == ["2"]
        filters.value = "all"
        await pilot.pause()
        await pilot.click("#verdicts", offset=(8, 1))
        await pilot.pause()
        assert column(table, 1)[0] == "5" and screen.sort == "score" and screen.descending
        histogram = screen.query_one("#review-histogram", ScoreBars)
        assert histogram.values == {1: 0.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}


async def test_digits_and_comments_are_saved_at_once(stored_runs: tuple[int, int]) -> None:
    first, _ = stored_runs
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, app, first)
        table = screen.query_one("#verdicts", DataTable)
        table.focus()
        table.move_cursor(row=3)
        agreement = screen.query_one("#review-agreement", Static)
        assert "3 labelled" in shown(agreement)
        await pilot.press("3")
        await wait_for(pilot, lambda: "4 labelled" in shown(agreement), what="agreement")
        assert column(table, 3)[3] == "3"
        await pilot.press("9")
        assert column(table, 3)[3] == "3"
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the prompt")
        app.screen.query_one(Input).value = "Water is right but terse."
        await pilot.press("enter")
        await pilot.pause()
        with open_store(app_paths().database) as store:
            entry = store.judged_items(first)[3]
        assert entry.label is not None
        assert (entry.label.score, entry.label.comment) == (3, "Water is right but terse.")
        # Shown literally: the full stop escaped in the detail's Markdown.
        assert "Water is right but terse\\." in screen.query_one("#verdict-detail").source


async def test_a_label_sits_beside_the_imported_one_and_undo_puts_it_back(
    stored_runs: tuple[int, int],
) -> None:
    first, second = stored_runs
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, app, first)
        table = screen.query_one("#verdicts", DataTable)
        table.focus()
        table.move_cursor(row=1)  # imported label 1
        await pilot.press("2")
        await wait_for(pilot, lambda: column(table, 3)[1] == "2 (imp. 1)", what="the label")
        assert table.columns["Human"].content_width >= len("2 (imp. 1)")  # not cut to "2 (imp"
        assert "your label 2 · imported label 1" in screen.query_one("#verdict-detail").source
        await pilot.press("backspace")
        await wait_for(pilot, lambda: column(table, 3)[1] == "1 imp.", what="the clear")
        assert notifications(app)[-1].startswith("Your label is cleared; the imported label 1")
        await pilot.press("u")
        await wait_for(pilot, lambda: column(table, 3)[1] == "2 (imp. 1)", what="the undo")
        await pilot.press("u")
        await wait_for(pilot, lambda: column(table, 3)[1] == "1 imp.", what="the second undo")
        await pilot.press("4")
        await wait_for(pilot, lambda: column(table, 3)[1] == "4 (imp. 1)", what="the label")
        # The same item in another run (another model) shows the reviewer's label too.
        screen = await open_review(pilot, app, second)
        await wait_for(pilot, lambda: column(table, 3)[1:2] == ["4 (imp. 1)"], what="run 2")
    with open_store(app_paths().database) as store:
        items = store.judged_items(first)
        assert [entry.item.human_label for entry in items] == [5, 1, 4, None, None]
        assert items[1].reviewer_score == 4 and items[1].human_score == 4


async def test_two_runs_side_by_side(stored_runs: tuple[int, int]) -> None:
    first, second = stored_runs
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_review(pilot, app, first)
        await pilot.press("v")
        await wait_for(pilot, lambda: picker_ready(app), what="the picker's runs")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        figures = app.screen.query_one("#compare-figures", Static)
        await wait_for(pilot, lambda: bool(shown(figures)), what="the comparison")
        assert shown(figures).startswith("4 items paired by item")
        assert "Agreement of B with A" in shown(figures)
        assert app.screen.query_one("#compare-bars-b", ScoreBars).values[4] == 2.0
        await pilot.press("escape")
        assert isinstance(app.screen, ReviewScreen)
        assert second != first


async def open_export(pilot: object, app: object, run_id: int, fmt: str) -> Input:
    """Press x on Review and pick ``fmt``; returns the path field."""
    await open_review(pilot, app, run_id)
    await pilot.press("x")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog),  # type: ignore[attr-defined]
                   what="the export dialog")
    path = app.screen.query_one("#export-path", Input)  # type: ignore[attr-defined]
    # An absolute path (it was relative to wherever the app was started), named after the run.
    assert path.value == str(Path.cwd() / f"run-{run_id}.jsonl")
    await pilot.click(f"#export-{fmt}")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert path.value == str(Path.cwd() / f"run-{run_id}.{fmt}")
    return path


async def test_a_folder_given_to_export_gets_the_runs_file_in_the_chosen_format(
    stored_runs: tuple[int, int], tmp_path: Path
) -> None:
    first, _ = stored_runs
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        path = await open_export(pilot, app, first, "csv")
        dialog = app.screen
        path.value = str(tmp_path)
        await pilot.click("#export-ok")
        expected = tmp_path / f"run-{first}.csv"
        await wait_for(pilot, lambda: path.value == str(expected), what="the file in the folder")
        error = dialog.query_one("#export-error", Static)
        assert f"the export goes into it as run-{first}.csv" in shown(error)
        assert app.screen is dialog
        path.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: expected.exists(), what="the export")
    assert expected.read_text(encoding="utf-8").startswith("item_id,")


async def test_export_as_html(stored_runs: tuple[int, int], tmp_path: Path) -> None:
    first, _ = stored_runs
    out = tmp_path / "reports" / "first.html"
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        path = await open_export(pilot, app, first, "html")
        path.value = str(out)
        await pilot.click("#export-ok")
        await wait_for(pilot, lambda: any(n.startswith("Wrote") for n in notifications(app)),
                       what="the export")
        assert isinstance(app.screen, ReviewScreen)
        assert f"Wrote {out}." in notifications(app)
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for text in ["Feedback for 5.", "Feedback for 2.", "Marlowe wrote Hamlet.", "too long",
                 "judge-a.gguf"]:
        assert text in page


async def test_export_as_csv_and_a_path_that_cannot_be_written(
    stored_runs: tuple[int, int], tmp_path: Path
) -> None:
    _, second = stored_runs
    out = tmp_path / "second.csv"
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        path = await open_export(pilot, app, second, "csv")
        path.value = str(blocker / "second.csv")
        await pilot.click("#export-path")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(n.startswith("Cannot write") for n in notifications(app)),
                       what="the error")
        assert not any(n.startswith("Wrote") for n in notifications(app))
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog), what="the dialog")
        await pilot.click("#export-csv")
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(out)
        await pilot.click("#export-ok")
        await wait_for(pilot, lambda: out.exists(), what="the export")
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["score"] for row in rows] == ["4", "1", "4", "3", "2"]
    assert [row["human_label"] for row in rows] == ["5", "1", "4", "", ""]
    assert rows[1]["feedback"] == "Feedback for 1."


async def test_exporting_over_the_database_is_refused_with_the_dialog_still_open(
    stored_runs: tuple[int, int],
) -> None:
    """The dialog once closed and the refusal came as a toast, the typed path lost."""
    first, _ = stored_runs
    database = str(app_paths().database)
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        path = await open_export(pilot, app, first, "csv")
        dialog = app.screen
        path.value = database
        await pilot.click("#export-ok")
        error = dialog.query_one("#export-error", Static)
        await wait_for(pilot, lambda: "own database" in shown(error), what="the refusal")
        assert app.screen is dialog and path.value == database
        assert error.display and error.region.height >= 1


async def test_export_from_the_command_palette(stored_runs: tuple[int, int]) -> None:
    _, second = stored_runs
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_review(pilot, app, second)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"export run")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog), what="the dialog")
        assert app.screen.run_id == second
        await pilot.press("escape")
        assert isinstance(app.screen, ReviewScreen)


async def test_combined_filter_search_and_sorting_both_ways(
    stored_runs: tuple[int, int],
) -> None:
    first, _ = stored_runs
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, app, first)
        table = screen.query_one("#verdicts", DataTable)
        filters = screen.query_one("#review-filter", Select)
        filters.value = "disagree-low"  # row 3: score 2, human 1, confidence 0.30
        await pilot.pause()
        assert column(table, 1) == ["2"]
        filters.value = "all"
        await pilot.pause()
        table.focus()
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the search")
        app.screen.query_one(Input).value = "WHALES"
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.row_count == 1, what="the search result")
        assert column(table, 4) == ["Blue [/] whales [b]."]
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the search")
        app.screen.query_one(Input).value = ""
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.row_count == 5, what="every row again")
        assert column(table, 0) == ["2", "3", "4", "5", "6"]
        await pilot.press("O")
        await pilot.pause()
        assert column(table, 0) == ["6", "5", "4", "3", "2"]
        assert "↓" in shown(screen.query_one("#review-count", Static))


async def test_the_filter_and_the_row_are_kept_across_the_help_screen(
    stored_runs: tuple[int, int],
) -> None:
    first, _ = stored_runs
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, app, first)
        table = screen.query_one("#verdicts", DataTable)
        filters = screen.query_one("#review-filter", Select)
        filters.value = "low"
        await pilot.pause()
        table.focus()
        table.move_cursor(row=1)
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen is not screen, what="the help")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="back to Review")
        await pilot.pause(0.3)
        assert filters.value == "low"
        assert column(table, 2) == ["0.30", "0.20"] and table.cursor_row == 1


async def test_the_judged_text_and_a_comment_are_shown_as_they_are() -> None:
    """The detail is Markdown, but the item's text and the comment are not: a '<b>' was
    swallowed as HTML, 'a*b*c' turned italic and the text's line breaks were lost."""
    from markdown_it import MarkdownIt

    from tests.run_helpers import add_dataset, add_run, judge_all, rubric

    rub = rubric("relevance-query-binary")
    with open_store(app_paths().database) as store:
        dataset = add_dataset(store, rub, ["Use <b>bold</b>, a*b*c and # not a heading\n"
                                           "second line"])
        run = add_run(store, dataset, rub)
        judge_all(store, run, [1], rub.score_values)
        store.set_comment(store.items(dataset)[0].id, rub.content_hash, "<i>x</i> _y_")
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, app, run.id)
        detail = screen.query_one("#verdict-detail")
        await wait_for(pilot, lambda: "second" in detail.source, what="the verdict")
        html = MarkdownIt("gfm-like").render(detail.source)  # the parser Textual uses
        assert ("Use &lt;b&gt;bold&lt;/b&gt;, a*b*c and # not a heading<br />\n"
                "second line") in html
        assert "<em>&lt;i&gt;x&lt;/i&gt; _y_</em>" in html


async def test_escape_clears_the_search_before_anything_else(
    stored_runs: tuple[int, int],
) -> None:
    first, _ = stored_runs
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, app, first)
        table = screen.query_one("#verdicts", DataTable)
        count = screen.query_one("#review-count", Static)
        table.focus()

        def escape_says() -> str | None:
            keys = {b.binding.key: b.binding.description
                    for b in screen.active_bindings.values()}
            return keys.get("escape")

        assert escape_says() is None
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the search")
        app.screen.query_one(Input).value = "whales"
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.row_count == 1, what="the search result")
        await wait_for(pilot, lambda: escape_says() == "Clear search", what="the footer")
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 5, what="the search cleared")
        assert app.screen is screen and screen.search == "" and "“" not in shown(count)
        await wait_for(pilot, lambda: escape_says() is None, what="the footer without it")
        await pilot.press("escape")  # nothing left to clear: Review stays as it was
        await pilot.pause()
        assert app.screen is screen and table.row_count == 5
