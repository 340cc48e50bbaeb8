"""A server as the judge in use: added on Models, judging a spot check over HTTP against a real
llama.cpp server on loopback (xllamacpp), remembered for next time; a served run's progress
shows its judgments in flight and the server's throughput."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Label, Static

from flowjudge_tui.models.in_use import load_preferences
from flowjudge_tui.models.servers import load_servers
from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.dialogs import TextPrompt
from flowjudge_tui.tui.screens.spot_check import SpotCheckScreen
from flowjudge_tui.tui.widgets.runs_table import STATE_COLUMN
from tests.run_helpers import rubric, write_csv
from tests.served_server import LlamaServer
from tests.tui.pilot_helpers import SIZE, SPOT_INPUTS, SPOT_OUTPUT, notifications, shown, wait_for


async def test_a_server_added_on_models_judges_a_spot_check(llama_server: LlamaServer) -> None:
    app = create_app(section="models")
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#models-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0, what="the catalog")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the prompt")
        app.screen.query_one(Input).value = f"tiny {llama_server.url}"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "server:tiny" in table.rows, what="the server row")
        assert [s.name for s in load_servers()] == ["tiny"]
        table.move_cursor(row=table.get_row_index("server:tiny"))
        await pilot.pause()
        detail = shown(app.screen.query_one("#model-detail-text", Static))
        assert llama_server.url in detail and "FLOWJUDGE_API_KEY" in detail
        await pilot.press("u")
        await wait_for(pilot, lambda: app.model_status.server is not None, what="in use")
        assert app.model_status.name == "tiny (server)"
        assert load_preferences(app_paths()).model == "server:tiny"
        assert "The server tiny is now the judge in use." in notifications(app)

        await app.switch_mode("spot")
        screen = app.screen
        assert isinstance(screen, SpotCheckScreen)
        screen.select_rubric("faithfulness-context-5")
        await wait_for(pilot, lambda: screen.rubric is not None, what="the rubric")
        screen.fill(SPOT_INPUTS, SPOT_OUTPUT)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.last is not None, what="the verdict")
        assert screen.last is not None and screen.last.verdict.score == 4
        assert app.model_status.state == "loaded" and app.model_status.n_ctx == 4096
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: screen.kept_run_id is not None, what="keeping")
        with open_store(app_paths().database) as store:
            kept = store.get_run(screen.kept_run_id)
        assert kept.server_url == llama_server.url


async def test_the_server_in_use_is_remembered_and_a_bad_address_is_refused(
    llama_server: LlamaServer,
) -> None:
    from flowjudge_tui.models.in_use import save_preferences
    from flowjudge_tui.models.servers import add_server

    add_server("gpu", llama_server.url)
    save_preferences(app_paths(), load_preferences(app_paths()).with_model("server:gpu"))
    app = create_app(section="models")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model_status.state == "unloaded", what="the choice")
        assert app.model_status.server is not None and app.model_status.source == "remembered"
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="the prompt")
        app.screen.query_one(Input).value = "bad ftp://nowhere"
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("is not a server address" in n
                                          for n in notifications(app)), what="the refusal")
        assert [s.name for s in load_servers()] == ["gpu"]


async def test_a_served_run_shows_its_judgments_in_flight_and_the_servers_throughput(
    llama_server: LlamaServer, tiny_model_path: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The third verdict waits until the panel has shown the run's activity, so the run is
    still going when it is read."""
    import flowjudge_tui.runs.execute
    from flowjudge_tui.datasets import import_dataset
    from flowjudge_tui.runs.work import ServedModel
    from flowjudge_tui.runs.workflow import create_run
    from flowjudge_tui.tui.screens.runs import RunsScreen
    from flowjudge_tui.tui.widgets.progress_panel import ProgressPanel

    seen, made = threading.Event(), []
    real = flowjudge_tui.runs.execute.verdict_from_result

    def held_at_the_third(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        if len(made) == 3:
            seen.wait(timeout=30)
        return real(*args, **kwargs)

    monkeypatch.setattr(flowjudge_tui.runs.execute, "verdict_from_result", held_at_the_third)
    rub = rubric("relevance-query-binary")
    data = write_csv(tmp_path / "q.csv", ["Question", "Answer"],
                     [[f"Question {n}?", f"Answer {n}."] for n in range(6)])
    with open_store(app_paths().database) as store:
        dataset = import_dataset(store, data, rub).dataset.id
        run_id = create_run(store, dataset, rub, ServedModel(llama_server.url,
                                                              str(tiny_model_path))).id
    app = create_app(section="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        runs = screen.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: runs.row_count == 1, what="the list")
        runs.focus()
        await pilot.press("r")
        activity = screen.query_one(ProgressPanel).query_one(".progress-activity", Label)
        pattern = re.compile(r"^\d in flight of concurrency 4  ·  "
                             r"server: \d+ items/h, [\d.]+ tok/s generated$")
        try:
            await wait_for(pilot, lambda: bool(pattern.match(shown(activity)))
                           and activity.display, what="the run's activity")
        finally:
            seen.set()
        await wait_for(pilot, lambda: runs.get_row_at(
            runs.get_row_index(str(run_id)))[STATE_COLUMN]
                       == "done", what="the run's end")
        assert not activity.display  # a finished run shows no activity
