"""Models: the catalog offline, a download with progress and stop, adding a local file."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from flowjudge_tui.models import download as hub
from flowjudge_tui.models.in_use import load_preferences
from flowjudge_tui.progress import ProgressCallback, RateMeter
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.dialogs import TextPrompt
from flowjudge_tui.tui.screens.models import ModelsScreen
from flowjudge_tui.tui.widgets.progress_panel import ProgressPanel
from tests.tui.pilot_helpers import SIZE, notifications, shown, wait_for


async def test_the_catalog_is_listed_with_a_plan_for_this_machine() -> None:
    app = create_app(section="models")
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#models-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0, what="the catalog")
        first = table.get_row_at(0)
        assert [str(first[0]), str(first[4])] == ["Q4_K_M", "not downloaded · default"]
        detail = shown(app.screen.query_one("#model-detail-text", Static))
        assert "Plan for this machine:" in detail
        assert app.screen.query_one("#download-model").display


async def test_downloading_offline_says_why_in_one_sentence() -> None:
    app = create_app(section="models")
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#models-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0, what="the catalog")
        await pilot.press("d")
        await wait_for(pilot, lambda: bool(notifications(app)), what="the error")
        assert notifications(app)[0].startswith("HF_HUB_OFFLINE is set, so Q4_K_M cannot")
        assert app.screen.downloading is None


async def test_a_download_shows_progress_and_stops_on_escape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def slow_pull(name: str | None = None, on_progress: ProgressCallback | None = None,
                  should_stop: Callable[[], bool] | None = None) -> object:
        meter = RateMeter(f"Downloading {name}", 2_390_000_000, unit="bytes")
        done = 0
        while should_stop is None or not should_stop():
            done += 10_000_000
            if on_progress is not None:
                on_progress(meter.event(done))
            time.sleep(0.02)
        raise hub.DownloadCancelled

    monkeypatch.setattr(hub, "pull_model", slow_pull)
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model_status.state == "none", what="model choice")
        await pilot.click("#download-model")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen), what="Models")
        screen = app.screen
        panel = screen.query_one(ProgressPanel)
        await wait_for(pilot, lambda: panel.has_class("-active"), what="progress")
        assert shown(panel.query_one(".progress-task", Static)) == "Downloading Q4_K_M"
        assert " of 2.39 GB" in shown(panel.query_one(".progress-detail", Static))
        await pilot.press("escape")
        await wait_for(pilot, lambda: bool(notifications(app)), what="the stop")
        assert notifications(app)[-1].startswith("The download of Q4_K_M stopped;")
        assert screen.downloading is None


async def test_a_local_gguf_becomes_the_model_in_use(tiny_model_path: Path) -> None:
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model_status.state == "none", what="model choice")
        await pilot.click("#add-local-model")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the dialog")
        app.screen.query_one(Input).value = str(tiny_model_path)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.model_status.path is not None, what="the model")
        assert app.model_status.path == tiny_model_path
        assert Path(load_preferences(app.paths).model) == tiny_model_path
        await pilot.press("f3")
        table = app.screen.query_one("#models-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 7, what="the local model")
        local = table.get_row_at(table.row_count - 1)
        assert [str(local[i]) for i in (0, 1, 4)] == ["tiny-scripted-phi3 ●", "local",
                                                      "registered"]
        screen = app.screen
        table.move_cursor(row=table.row_count - 1)
        await pilot.pause()
        assert not screen.query_one("#use-model").display  # it is the model in use already
        assert not screen.check_action("use_model", ())

    again = create_app()
    async with again.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: again.model_status.state == "unloaded", what="choice")
        assert again.model_status.path == tiny_model_path
        assert again.model_status.source == "remembered"


async def test_a_typo_keeps_the_dialog_open_and_another_architecture_is_a_clear_warning(
    tmp_path: Path,
) -> None:
    from flowjudge_tui.tui.screens.dialogs import Notice
    from tests.model_files import write_small_gguf

    llama = write_small_gguf(tmp_path / "other.gguf", arch="llama")
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model_status.state == "none", what="model choice")
        app.ask_for_local_model()
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the dialog")
        dialog = app.screen
        typo = str(tmp_path / "nothing.gguf")
        dialog.query_one(Input).value = typo
        await pilot.press("enter")
        error = dialog.query_one("#dialog-error", Static)
        await wait_for(pilot, lambda: "nothing.gguf" in shown(error), what="the problem")
        assert app.screen is dialog and dialog.query_one(Input).value == typo
        assert error.display and error.region.height >= 1  # on screen, not only in the widget
        assert app.model_status.path is None
        dialog.query_one(Input).value = str(llama)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, Notice), what="the warning")
        text = shown(app.screen.query_one("#notice-text", Static))
        assert "its architecture is llama, not Flow-Judge's phi3" in text
        assert app.model_status.path == llama.resolve()
        await pilot.press("enter")
        assert not isinstance(app.screen, Notice | TextPrompt)


def footer_keys(app: object) -> dict[str, str]:
    from textual.widgets._footer import FooterKey

    screen = app.screen  # type: ignore[attr-defined]
    return {key.key: key.description for key in screen.query(FooterKey)}


async def test_the_loaded_model_is_unloaded_then_forgotten_after_a_confirmation(
    tiny_model_path: Path,
) -> None:
    from flowjudge_tui.models.catalog import load_local_models, register_local_model
    from flowjudge_tui.tui.screens.dialogs import Confirm

    register_local_model(tiny_model_path, name="tiny")
    app = create_app(section="models")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model_status.state == "unloaded", what="the choice")
        app.load_model()
        await wait_for(pilot, lambda: app.model_status.state == "loaded", what="the load")
        screen = app.screen
        table = screen.query_one("#models-table", DataTable)
        await wait_for(pilot, lambda: "local:tiny" in table.rows, what="the local model")
        table.move_cursor(row=table.get_row_index("catalog:Q4_K_M"))
        await pilot.pause()
        assert "delete" not in footer_keys(app)  # nothing downloaded to delete
        table.move_cursor(row=table.get_row_index("local:tiny"))
        await wait_for(pilot, lambda: footer_keys(app).get("delete") == "Delete",
                       what="the key in the footer")
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        question = shown(app.screen.query_one(".dialog-explanation", Static))
        assert question.startswith("Forget the local model 'tiny'? Its file stays")
        assert "It is unloaded first." in question
        await pilot.press("n")
        await pilot.pause()
        assert app.model_status.state == "loaded" and load_local_models()

        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.model_status.state == "none", what="no model left")
        assert app.engine is None and load_local_models() == []
        assert tiny_model_path.is_file()
        await wait_for(pilot, lambda: "local:tiny" not in table.rows, what="the row gone")
        assert any(n.startswith("Forgot the local model 'tiny'; its file stays at")
                   for n in notifications(app))


async def test_a_saved_server_is_removed_from_the_command_palette() -> None:
    from flowjudge_tui.models.servers import add_server, load_servers
    from flowjudge_tui.tui.screens.dialogs import Confirm

    add_server("gpu", "http://127.0.0.1:9/v1")
    app = create_app(section="models")
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#models-table", DataTable)
        await wait_for(pilot, lambda: "server:gpu" in table.rows, what="the server row")
        table.move_cursor(row=table.get_row_index("server:gpu"))
        await pilot.pause()
        verbs = {verb.title: verb for verb in app.palette_verbs([])}
        await verbs["Remove the selected model"].run()
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: "server:gpu" not in table.rows, what="the row gone")
    assert load_servers() == []


async def test_a_on_models_opens_the_add_gguf_dialog() -> None:
    """The footer's 'a Add GGUF' once named an app action that did not exist: the key did
    nothing."""
    app = create_app(section="models")
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#models-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0, what="the catalog")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the dialog")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen), what="Models again")
