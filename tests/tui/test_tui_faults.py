"""The app survives what the disk refuses: a rubric that cannot be saved is one notification."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from flowjudge_tui.settings import app_paths
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.rubric_editor import RubricEditorScreen
from tests.tui.pilot_helpers import SIZE, wait_for


async def test_the_app_survives_a_rubric_that_cannot_be_saved() -> None:
    rubrics_dir = app_paths().rubrics_dir
    rubrics_dir.parent.mkdir(parents=True, exist_ok=True)
    rubrics_dir.write_text("a file where the rubrics folder should be")
    app = create_app(section="rubrics")
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#rubric-table", DataTable)
        table.move_cursor(row=table.get_row_index("faithfulness-context-5"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, RubricEditorScreen), what="editor")
        editor = app.screen
        editor.query_one("#field-name", Input).value = "my-copy"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("Not saved" in n.message
                                          for n in app._notifications), what="the notice")
        assert app.screen is editor and app.is_running
        notice = next(n.message for n in app._notifications if "Not saved" in n.message)
        assert "Cannot save rubric 'my-copy'" in notice and "writable" in notice
