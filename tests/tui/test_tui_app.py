"""Start-up, navigation, help, the command palette, and quitting."""

from __future__ import annotations

import sys
import time

from textual import events
from textual.command import CommandPalette
from textual.message import Message
from textual.widgets import DataTable, Static

from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.help import HelpScreen
from flowjudge_tui.tui.screens.home import HomeScreen
from flowjudge_tui.tui.screens.models import ModelsScreen
from flowjudge_tui.tui.screens.review import ReviewScreen
from flowjudge_tui.tui.screens.rubrics import RubricsScreen
from flowjudge_tui.tui.screens.runs import RunsScreen
from flowjudge_tui.tui.screens.spot_check import SpotCheckScreen
from tests.tui.pilot_helpers import SIZE, notifications, wait_for


async def test_first_paint_is_fast_and_offers_a_model_when_there_is_none() -> None:
    ready_after: list[float] = []

    def note_ready(message: Message) -> None:
        if isinstance(message, events.Ready):
            ready_after.append(time.monotonic() - started)

    started = time.monotonic()
    app = create_app()
    async with app.run_test(size=SIZE, message_hook=note_ready) as pilot:
        await pilot.pause()
        assert ready_after and ready_after[0] < 1.0
        assert isinstance(app.screen, HomeScreen)
        await wait_for(pilot, lambda: app.model_status.state == "none", what="model choice")
        assert app.screen.query_one("#download-model").display
        assert app.screen.query_one("#add-local-model").display
        assert not app.screen.query_one("#load-model").display
        assert "llama_cpp" not in sys.modules or app.engine is None


async def test_function_keys_and_the_bar_reach_every_section() -> None:
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        for key, screen in (("f3", ModelsScreen), ("f4", RubricsScreen),
                            ("f5", SpotCheckScreen), ("f6", RunsScreen), ("f7", ReviewScreen),
                            ("f2", HomeScreen)):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen)
        bar = app.screen.query_one("#nav-bar", Static)
        await pilot.click("#nav-bar", offset=(1 + str(bar.content).index("F4 Rubrics"), 0))
        await pilot.pause()
        assert isinstance(app.screen, RubricsScreen)


async def test_help_lists_the_keys_of_the_screen_it_opened_on() -> None:
    app = create_app(section="rubrics")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        assert keys["n"] == "New"
        assert "Duplicate" in keys.values()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RubricsScreen)


async def test_the_palette_offers_the_apps_verbs() -> None:
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"spot check with coherence")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SpotCheckScreen), what="spot")
        await wait_for(pilot, lambda: app.screen.rubric is not None, what="rubric")
        assert app.screen.rubric is not None and app.screen.rubric.name == "coherence-5"


async def test_the_palette_has_every_verb_and_new_rubric_opens_the_editor(
    stored_runs: tuple[int, int],
) -> None:
    from flowjudge_tui.tui.screens.rubric_editor import RubricEditorScreen

    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        titles = [verb.title for verb in app.palette_verbs(app.store.list_runs())]
        for wanted in ("Load the model", "Unload the model", "New rubric", "Start a run",
                       "Stop the run", "Compare two runs", "Export the run in Review",
                       f"Review run {stored_runs[0]}: faithfulness-context-5 on "):
            assert any(title.startswith(wanted) for title in titles), wanted
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"new rubric")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RubricEditorScreen),
                       what="the editor")


async def test_loading_without_a_model_says_what_to_do() -> None:
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model_status.state == "none", what="model choice")
        app.load_model()
        await wait_for(pilot, lambda: bool(notifications(app)), what="the error")
        assert notifications(app) == [
            "No model is set up yet; download Flow-Judge or add a local GGUF file on the "
            "Models screen (F3)."
        ]


async def test_ctrl_q_quits() -> None:
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


async def test_home_names_a_named_run_beside_its_id(stored_runs: tuple[int, int]) -> None:
    first, second = stored_runs
    with open_store(app_paths().database) as store:
        store.rename_run(second, "judge [b]B")
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#home-runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="the recent runs")
        assert [str(table.get_row_at(row)[0]) for row in range(2)] == [
            f'{second} "judge [b]B"', str(first)]
