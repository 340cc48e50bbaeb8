"""The rubric library and the editor: search, duplicate, inline validation, preview, save."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Select, Static, TextArea

from flowjudge_tui.judging.rubric import RubricLibrary
from flowjudge_tui.settings import app_paths
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.dialogs import Confirm
from flowjudge_tui.tui.screens.rubric_editor import RubricEditorScreen
from flowjudge_tui.tui.screens.rubrics import RubricsScreen
from tests.tui.pilot_helpers import SIZE, shown, wait_for


async def test_search_filters_the_library() -> None:
    app = create_app(section="rubrics")
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#rubric-table", DataTable)
        assert table.row_count == 16
        await pilot.press("slash", *"bin")
        search = app.screen.query_one("#rubric-search", Input)
        assert search.has_focus and search.value == "bin"
        search.value = "context binary"
        await pilot.pause()
        assert [str(k.value) for k in table.rows] == ["faithfulness-context-binary"]
        assert "Faithfulness" in app.screen.query_one("#rubric-markdown").source


async def test_duplicate_validate_preview_and_save_a_user_rubric() -> None:
    app = create_app(section="rubrics")
    async with app.run_test(size=SIZE) as pilot:
        rubrics = app.screen
        assert isinstance(rubrics, RubricsScreen)
        table = rubrics.query_one("#rubric-table", DataTable)
        table.move_cursor(row=table.get_row_index("faithfulness-context-5"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, RubricEditorScreen), what="editor")
        editor = app.screen
        assert isinstance(editor, RubricEditorScreen)
        name = editor.query_one("#field-name", Input)
        assert name.value == "faithfulness-context-5-copy"
        status = editor.query_one("#editor-status", Static)

        name.value = "My Rubric"
        await wait_for(pilot, lambda: "✗" in shown(status), what="the error")
        assert shown(status) == (
            "✗ This rubric: key 'name' must use only lower-case letters, digits and '-', "
            "e.g. 'my-rubric'."
        )
        name.value = "grounded-binary"
        editor.query_one("#field-scale", Select).value = (0, 1)
        await wait_for(pilot, lambda: bool(editor.query("#score-0")), what="binary scores")
        assert not editor.query("#score-2")
        # The 5-point "1" (the worst) must not become the pass/fail "1" (a pass).
        assert editor.query_one("#score-1", TextArea).text == ""
        await wait_for(pilot, lambda: "scores" in shown(status), what="the missing score")
        editor.query_one("#score-0", TextArea).load_text("Not supported by the context.")
        editor.query_one("#score-1", TextArea).load_text("Fully supported by the context.")
        await wait_for(pilot, lambda: "✓" in shown(status), what="a valid rubric")
        five_point = editor.query_one("#field-scale", Select)
        five_point.value = (1, 2, 3, 4, 5)
        await wait_for(pilot, lambda: bool(editor.query("#score-5")), what="five scores again")
        assert editor.query_one("#score-5", TextArea).text.strip()  # its own texts come back
        five_point.value = (0, 1)
        await wait_for(pilot, lambda: not editor.query("#score-5"), what="binary again")
        assert editor.query_one("#score-1", TextArea).text == "Fully supported by the context."
        binary_scores = "- Score 0: Not supported by the context.\n- Score 1: Fully"
        await wait_for(pilot, lambda: binary_scores in editor.query_one(
            "#prompt-preview", TextArea).text, what="the preview of the binary rubric")

        preview = editor.query_one("#prompt-preview", TextArea).text
        assert "<query>\n{query}\n</query>" in preview
        assert "- Score 0: Not supported by the context.\n- Score 1: Fully" in preview
        assert "load a model" in shown(editor.query_one("#token-count", Static))

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is rubrics, what="back to the library")
        entry = RubricLibrary(app_paths()).get("grounded-binary")
        assert entry.source == "user" and entry.rubric.score_values == [0, 1]
        assert table.get_row_at(table.cursor_row)[0] == "grounded-binary"


async def test_escape_leaves_the_editor_without_saving() -> None:
    app = create_app(section="rubrics")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RubricEditorScreen), what="editor")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, RubricEditorScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RubricsScreen)
        assert not list(app_paths().rubrics_dir.glob("*.toml"))


async def test_escape_asks_before_discarding_edits() -> None:
    from textual.widgets import Input

    from flowjudge_tui.tui.screens.dialogs import Confirm

    app = create_app(section="rubrics")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RubricEditorScreen), what="editor")
        editor = app.screen
        await pilot.press(*"my-rubric")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is editor
        assert editor.query_one("#field-name", Input).value == "my-rubric"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, RubricsScreen), what="rubrics")


async def test_token_count_uses_the_loaded_models_tokenizer(tiny_model_path: Path) -> None:
    app = create_app(model=str(tiny_model_path), section="rubrics")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model_status.state == "unloaded", what="model")
        app.load_model()
        await wait_for(pilot, lambda: app.model_status.state == "loaded", what="loading")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, RubricEditorScreen), what="editor")
        label = app.screen.query_one("#token-count", Static)
        await wait_for(pilot, lambda: "tokens of the 4,096-token context" in shown(label),
                       what="the token count")


async def test_a_user_rubric_is_deleted_after_a_confirmation() -> None:
    library = RubricLibrary(app_paths())
    mine = library.get("coherence-5").rubric.model_copy(update={"name": "my-coherence"})
    library.save_user_rubric(mine)
    app = create_app(section="rubrics")
    async with app.run_test(size=SIZE) as pilot:
        rubrics = app.screen
        assert isinstance(rubrics, RubricsScreen)
        table = rubrics.query_one("#rubric-table", DataTable)
        await wait_for(pilot, lambda: "my-coherence" in table.rows, what="the user rubric")
        table.focus()
        table.move_cursor(row=table.get_row_index("coherence-5"))
        await pilot.press("delete")
        assert app.screen is rubrics  # a built-in is refused, with a sentence
        table.move_cursor(row=table.get_row_index("my-coherence"))
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("n")
        assert "my-coherence" in table.rows
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: "my-coherence" not in table.rows, what="the deletion")
    assert not (app_paths().rubrics_dir / "my-coherence.toml").exists()
    assert "coherence-5" in {e.rubric.name for e in RubricLibrary(app_paths()).entries()}
