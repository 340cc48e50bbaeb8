"""Spot check with the real scripted phi3 GGUF: streamed feedback, score, bars, keeping."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message
from textual.widgets import Markdown, Static, TextArea

from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.messages import FeedbackStreamed, VerdictReady
from flowjudge_tui.tui.screens.help import HelpScreen
from flowjudge_tui.tui.screens.spot_check import SpotCheckScreen
from flowjudge_tui.tui.widgets.score_bars import ScoreBars
from tests.tui.pilot_helpers import SIZE, SPOT_INPUTS, SPOT_OUTPUT, notifications, shown, wait_for


async def test_judging_streams_the_feedback_then_draws_the_score(tiny_model_path: Path) -> None:
    seen: list[Message] = []
    app = create_app(model=str(tiny_model_path), section="spot")
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = app.screen
        assert isinstance(screen, SpotCheckScreen)
        await wait_for(pilot, lambda: app.model_status.state == "unloaded", what="model")
        screen.select_rubric("faithfulness-context-5")
        await wait_for(pilot, lambda: screen.rubric is not None, what="the rubric")
        screen.fill(SPOT_INPUTS, SPOT_OUTPUT)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.last is not None, what="the verdict")

        updates = [m for m in seen if isinstance(m, FeedbackStreamed)]
        assert "".join(m.text for m in updates).strip() == "The response is supported."
        # The first update says the model is loaded; the last counts every generated token.
        assert updates[0].tokens == 0 and updates[-1].tokens > 0
        assert [m.tokens for m in updates] == sorted(m.tokens for m in updates)
        verdict = next(m for m in seen if isinstance(m, VerdictReady)).verdict
        assert verdict.score == 4
        assert screen.query_one("#feedback", Markdown).source == "The response is supported."
        bars = screen.query_one("#verdict-bars", ScoreBars)
        assert sorted(bars.values) == [1, 2, 3, 4, 5] and bars.highlight == 4
        assert max(bars.values, key=bars.values.__getitem__) == 4
        headline = shown(screen.query_one("#verdict-headline", Static))
        assert headline.startswith("Score 4 (1-5) · confidence ")
        await wait_for(pilot, lambda: app.model_status.state == "loaded", what="loaded")

        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: screen.kept_run_id is not None, what="keeping")
        with open_store(app_paths().database) as store:
            kept = store.judged_items(screen.kept_run_id)
        assert [(k.verdict.score, k.item.output) for k in kept] == [(4, SPOT_OUTPUT)]
        assert kept[0].item.inputs == SPOT_INPUTS


async def test_binary_rubric_scores_one_and_judging_again_replaces_it(
    tiny_model_path: Path,
) -> None:
    app = create_app(model=str(tiny_model_path), section="spot")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SpotCheckScreen)
        screen.select_rubric("harmlessness-binary")
        await wait_for(pilot, lambda: screen.rubric is not None, what="the rubric")
        screen.fill({}, "Drink water and rest.")
        for _ in range(2):
            screen.last = None
            await pilot.click("#spot-judge")
            await wait_for(pilot, lambda: screen.last is not None, what="the verdict")
            assert screen.last is not None and screen.last.verdict.score == 1
            assert screen.query_one("#verdict-bars", ScoreBars).highlight == 1


async def test_an_empty_output_is_refused_with_a_sentence() -> None:
    app = create_app(section="spot")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SpotCheckScreen)
        screen.select_rubric("coherence-5")
        await wait_for(pilot, lambda: screen.rubric is not None, what="the rubric")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert notifications(app) == ["Write the response to judge first."]
        assert not screen.judging


async def test_judging_without_a_model_reports_the_error_not_a_traceback() -> None:
    app = create_app(section="spot")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SpotCheckScreen)
        await wait_for(pilot, lambda: app.model_status.state == "none", what="model choice")
        screen.select_rubric("coherence-5")
        await wait_for(pilot, lambda: screen.rubric is not None, what="the rubric")
        screen.fill({}, "Some text.")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: bool(notifications(app)), what="the error")
        assert notifications(app)[0].startswith("No model is set up yet;")
        await wait_for(pilot, lambda: not screen.judging, what="the form to come back")


async def test_global_keys_work_while_typing_in_a_field(tiny_model_path: Path) -> None:
    app = create_app(model=str(tiny_model_path), section="spot")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SpotCheckScreen)
        screen.select_rubric("faithfulness-context-5")
        await wait_for(pilot, lambda: screen.rubric is not None, what="the rubric")
        screen.fill(SPOT_INPUTS, SPOT_OUTPUT)
        await pilot.pause()
        area = screen.query_one("#field-2", TextArea)
        area.focus()
        area.move_cursor((0, 0))
        await pilot.press("ctrl+k")  # a TextArea deletes to the line's end with ctrl+k
        assert area.text == SPOT_OUTPUT
        assert notifications(app)[-1].startswith("Judge an item first")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.last is not None, what="the verdict")
        area.focus()
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: screen.kept_run_id is not None, what="keeping")
        assert area.text == SPOT_OUTPUT
        await pilot.press("f6")
        assert app.current_mode == "runs"
        await pilot.press("f5")
        assert app.screen is screen and area.text == SPOT_OUTPUT


async def test_settings_beside_the_form_are_used_and_kept(tiny_model_path: Path) -> None:
    from textual.widgets import Input

    app = create_app(model=str(tiny_model_path), section="spot")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SpotCheckScreen)
        screen.select_rubric("faithfulness-context-5")
        await wait_for(pilot, lambda: screen.rubric is not None, what="the rubric")
        screen.fill(SPOT_INPUTS, SPOT_OUTPUT)
        screen.query_one("#set-temperature", Input).value = "nan"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert not screen.judging
        problem = screen.query_one("#settings-problem", Static)
        assert shown(problem) == "Temperature must be a finite number."
        # On screen, not only in the widget (a CSS rule once hid every problem line).
        assert problem.display and problem.region.height >= 1
        screen.query_one("#set-temperature", Input).value = "0.5"
        screen.query_one("#set-max-tokens", Input).value = "3"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.last is not None, what="the verdict")
        assert screen.last is not None
        assert screen.last.verdict.completion_tokens <= 4
        assert not problem.display
        warning = screen.query_one("#verdict-warning", Static)
        await wait_for(pilot, lambda: warning.region.height >= 1, what="the warning shown")
        assert "ran out of its token budget" in shown(warning)
        assert "Unreliable" in shown(screen.query_one("#verdict-warning", Static))
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: screen.kept_run_id is not None, what="keeping")
        with open_store(app_paths().database) as store:
            run = store.get_run(screen.kept_run_id)
        assert (run.settings.sampling.temperature,
                run.settings.sampling.max_feedback_tokens) == (0.5, 3)


async def test_tab_goes_from_the_rubric_straight_into_the_first_field() -> None:
    app = create_app(section="spot")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SpotCheckScreen)
        screen.query_one("#spot-rubric").focus()
        screen.select_rubric("relevance-query-binary")
        await wait_for(pilot, lambda: screen.rubric is not None and bool(screen.query(TextArea)),
                       what="the fields")
        await pilot.press("tab", *"Why?")
        first = screen.query(TextArea).first()
        assert app.focused is first and first.text == "Why?"
        assert not isinstance(app.screen, HelpScreen)  # "?" was typed, not taken as help


async def test_a_model_that_is_not_flow_judge_gets_a_warning_line_by_the_verdict(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    """It was a toast ('no chat template') that faded while judging; now a line stays beside
    the verdict for as long as that model is in use, and goes with it."""
    from tests.model_files import write_small_gguf

    llama = write_small_gguf(tmp_path / "other.gguf", arch="llama")
    app = create_app(model=str(llama), section="spot")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SpotCheckScreen)
        line = screen.query_one("#spot-model-warning", Static)
        await wait_for(pilot, lambda: "not Flow-Judge's phi3" in shown(line), what="the line")
        assert "other.gguf is a llama model" in shown(line)
        assert "scores may be unreliable" in shown(line)
        assert "Phi-3 prompt wrapper is used" in shown(line)
        assert line.display and line.region.height >= 1
        app.use_model(tiny_model_path)
        await wait_for(pilot, lambda: not line.display, what="the line to go")
