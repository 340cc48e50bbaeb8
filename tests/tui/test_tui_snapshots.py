"""SVG snapshots of the main screens at a fixed size, with nothing machine- or time-dependent
on screen (the timing line of a verdict is masked)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Static, TextArea

from flowjudge_tui.tui.app import FlowJudgeApp, create_app
from flowjudge_tui.tui.screens.review import ReviewScreen
from flowjudge_tui.tui.screens.rubric_editor import RubricEditorScreen
from flowjudge_tui.tui.screens.spot_check import SpotCheckScreen
from tests.tui.pilot_helpers import SIZE, SPOT_INPUTS, SPOT_OUTPUT, wait_for

Snap = Callable[..., bool]


def app_of(pilot: Pilot[Any]) -> FlowJudgeApp:
    assert isinstance(pilot.app, FlowJudgeApp)
    return pilot.app


async def settled(pilot: Pilot[Any]) -> None:
    app = app_of(pilot)
    await wait_for(pilot, lambda: app.model_status.state not in ("choosing",), what="model")
    await pilot.pause(0.2)
    app.clear_notifications()


def steady(run_before: Callable[[Pilot[Any]], Awaitable[None]]
           ) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Run ``run_before``, then stop cursors blinking so a snapshot never catches one mid-blink."""

    async def run(pilot: Pilot[Any]) -> None:
        await run_before(pilot)
        for widget in pilot.app.screen.query("Input, TextArea"):
            widget.cursor_blink = False  # type: ignore[attr-defined]
        await pilot.pause()

    return run


def test_home_with_nothing_set_up(snap_compare: Snap) -> None:
    assert snap_compare(create_app(), terminal_size=SIZE, run_before=steady(settled))


def test_rubric_library(snap_compare: Snap) -> None:
    assert snap_compare(create_app(section="rubrics"), terminal_size=SIZE,
                        run_before=steady(settled))


def test_rubric_editor_on_a_duplicate(snap_compare: Snap) -> None:
    async def duplicate(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        table = pilot.app.screen.query_one("#rubric-table", DataTable)
        table.move_cursor(row=table.get_row_index("faithfulness-context-5"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RubricEditorScreen))
        editor = pilot.app.screen
        preview = editor.query_one("#prompt-preview", TextArea)
        await wait_for(pilot, lambda: editor.valid is not None and preview.scroll_y > 0,
                       what="the preview")
        await pilot.pause(0.3)
        await wait_for(pilot, lambda: preview.scroll_y > 0, what="the preview to settle")
        pilot.app.clear_notifications()

    assert snap_compare(create_app(section="rubrics"), terminal_size=SIZE,
                        run_before=steady(duplicate))


def test_spot_check_after_a_judgment(snap_compare: Snap, tiny_model_path: Path) -> None:
    async def judge(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, SpotCheckScreen)
        screen.select_rubric("faithfulness-context-5")
        await wait_for(pilot, lambda: screen.rubric is not None)
        screen.fill(SPOT_INPUTS, SPOT_OUTPUT)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.last is not None, what="the verdict")
        screen.query_one("#verdict-timing", Static).update("(timing hidden)")
        screen.query_one("#spot-judge").focus()
        await pilot.pause(0.3)
        pilot.app.clear_notifications()

    app = create_app(model=str(tiny_model_path), section="spot")
    assert snap_compare(app, terminal_size=SIZE, run_before=steady(judge))


def test_review_of_a_run(snap_compare: Snap, stored_runs: tuple[int, int]) -> None:
    async def review(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        app = app_of(pilot)
        app.open_review(stored_runs[0])
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen)
                       and app.screen.run is not None)
        table = app.screen.query_one("#verdicts", DataTable)
        table.focus()
        table.move_cursor(row=1)
        await pilot.pause(0.3)

    assert snap_compare(create_app(), terminal_size=SIZE, run_before=steady(review))


def test_runs_at_80_columns_keep_the_list_on_screen(
    snap_compare: Snap, stored_runs: tuple[int, int]
) -> None:
    async def runs_listed(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        table = pilot.app.screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="the runs")
        assert table.region.bottom <= 24 and table.region.height >= 6
        await pilot.pause(0.2)

    assert snap_compare(create_app(section="runs"), terminal_size=(80, 24),
                        run_before=steady(runs_listed))


def test_review_at_80_columns_stacks_the_table_and_the_verdict(
    snap_compare: Snap, stored_runs: tuple[int, int]
) -> None:
    async def review(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        app_of(pilot).open_review(stored_runs[0])
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen)
                       and pilot.app.screen.run is not None, what="the run")
        table = pilot.app.screen.query_one("#verdicts", DataTable)
        await wait_for(pilot, lambda: table.row_count == 5, what="the verdicts")
        assert table.region.width >= 70 and table.region.height >= 6
        await pilot.pause(0.2)

    assert snap_compare(create_app(), terminal_size=(80, 30), run_before=steady(review))
