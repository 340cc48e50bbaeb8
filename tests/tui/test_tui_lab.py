"""The rubric lab in the editor, judged by the real scripted phi3 GGUF: try a draft on
labelled rows, see each version in the history, compare two versions; and Review's
calibration plot and needs-review filter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input, Select, Static, TextArea

from flowjudge_tui.reports.calibration import calibration
from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from flowjudge_tui.tui.app import create_app
from flowjudge_tui.tui.screens.lab_dialogs import LabCompareScreen, TrialDialog
from flowjudge_tui.tui.screens.review import ReviewScreen
from flowjudge_tui.tui.screens.rubric_editor import RubricEditorScreen
from flowjudge_tui.tui.widgets.lab_panel import LabPanel
from flowjudge_tui.tui.widgets.reliability_plot import ReliabilityPlot, plot_text
from tests.run_helpers import write_csv
from tests.tui.pilot_helpers import SIZE, notifications, shown, wait_for


def labelled_file(tmp_path: Path) -> Path:
    rows = [(f"Question {n}?", f"Context {n}.", f"Answer {n}.", n % 2) for n in range(8)]
    return write_csv(tmp_path / "labelled.csv", ["query", "context", "response", "human_label"],
                     rows)


async def test_try_a_draft_twice_then_compare_the_versions(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    data = labelled_file(tmp_path)
    app = create_app(model=str(tiny_model_path), section="rubrics")
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#rubric-table", DataTable)
        table.move_cursor(row=table.get_row_index("faithfulness-context-binary"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, RubricEditorScreen), what="editor")
        editor = app.screen
        assert isinstance(editor, RubricEditorScreen)
        await wait_for(pilot, lambda: editor.valid is not None, what="a valid draft")
        panel = editor.query_one(LabPanel)
        status = panel.query_one("#lab-status", Static)
        await wait_for(pilot, lambda: "No version" in shown(status), what="an empty history")

        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, TrialDialog), what="the dialog")
        app.screen.query_one("#lab-data", Input).value = str(data)
        app.screen.query_one("#lab-sample", Input).value = "4"
        await pilot.click("#lab-ok")
        await wait_for(pilot, lambda: len(panel.results) == 1 and not panel.trying,
                       timeout=60, what="the first trial")
        first = shown(status)
        assert "4 judged, 0 reused" in first
        assert "accuracy 0.50" in first and "2 disagreements of 4" in first

        criteria = editor.query_one("#field-criteria", TextArea)
        criteria.load_text(criteria.text + " Any unsupported detail makes it unfaithful.")
        old = panel.results[0].trial.rubric_hash
        await wait_for(pilot, lambda: editor.valid is not None
                       and editor.valid.content_hash != old, what="the edited draft")
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, TrialDialog), what="the dialog")
        assert app.screen.query_one("#lab-data", Input).value == str(data)
        await pilot.click("#lab-ok")
        await wait_for(pilot, lambda: len(panel.results) == 2 and not panel.trying,
                       timeout=60, what="the second trial")
        history = panel.query_one("#lab-history", DataTable)
        assert history.row_count == 2 and history.cursor_row == 1

        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, LabCompareScreen),
                       what="the comparison")
        sentence = shown(app.screen.query_one("#lab-compare-sentence", Static))
        assert "not distinguishable on these 4 items" in sentence
        assert "McNemar exact p = 1.000" in sentence
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RubricEditorScreen), what="back")
    with open_store(app_paths().database) as store:
        assert len(store.trials("faithfulness-context-binary-copy")) == 2


async def test_trying_without_a_file_says_what_to_give() -> None:
    app = create_app(section="rubrics")
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#rubric-table", DataTable)
        table.move_cursor(row=table.get_row_index("faithfulness-context-binary"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, RubricEditorScreen), what="editor")
        await wait_for(pilot, lambda: app.screen.valid is not None,  # type: ignore[attr-defined]
                       what="a valid draft")
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, TrialDialog), what="the dialog")
        await pilot.click("#lab-ok")
        assert shown(app.screen.query_one("#lab-error", Static)) == (
            "Give a labelled file (or a dataset id) to try the draft on.")
        path = app.screen.query_one("#lab-data", Input)
        path.value = "missing.csv"
        path.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(notifications(app)), what="the error")
        assert "neither a file nor a dataset" in notifications(app)[0]
        panel = app.screen.query_one(LabPanel)
        assert not panel.trying


async def test_review_plots_calibration_and_filters_verdicts_needing_review(
    stored_runs: tuple[int, int],
) -> None:
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_review(stored_runs[0])
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen)
                       and app.screen.run is not None, what="the run")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        plot = screen.query_one(ReliabilityPlot)
        await wait_for(pilot, lambda: "labelled" in shown(plot), what="the plot")
        assert shown(plot).startswith("3 labelled · ECE ")
        await pilot.press("t")
        await wait_for(pilot, lambda: app.screen is not screen, what="the threshold prompt")
        app.screen.query_one(Input).value = "0.5"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.review_below == 0.5, what="the threshold")
        select = screen.query_one("#review-filter", Select)
        select.value = "needs-review"
        await pilot.pause()
        # Scripted verdicts put 0.9, 0.3, 0.8, 0.2 on their scores (one is skipped).
        assert screen.query_one("#verdicts", DataTable).row_count == 2
    with open_store(app_paths().database) as store:
        assert store.review_threshold(stored_runs[0]) == 0.5


def test_plot_text_marks_each_band() -> None:
    # Gaps |0.5 - 0.55| and |1.0 - 0.95|, each over half the verdicts: ECE 0.05.
    text = plot_text(calibration([0.55, 0.55, 0.95, 0.95], [True, False, True, True]), 0.8)
    lines = text.plain.splitlines()
    assert lines[0] == "4 labelled · ECE 0.05"
    assert lines[1] == "0.5-0.6 ██████┃····· 0.50  n=2"
    assert lines[2].startswith("0.9-1.0 ") and lines[2].endswith(" 1.00  n=2")
    assert lines[-1] == "Below 0.80: needs review"
    assert "label some verdicts" in plot_text(None).plain


class PlotApp(App[None]):
    """Just the reliability plot, on a fixed calibration."""

    def compose(self) -> ComposeResult:
        yield ReliabilityPlot(id="plot")

    def on_mount(self) -> None:
        probabilities = [0.52, 0.58, 0.61, 0.66, 0.74, 0.77, 0.79, 0.86, 0.88, 0.93, 0.97, 0.99]
        agrees = [False, True, False, True, True, False, True, True, True, True, True, True]
        self.query_one(ReliabilityPlot).show(calibration(probabilities, agrees), 0.75)


def test_calibration_plot_snapshot(snap_compare: Callable[..., bool]) -> None:
    assert snap_compare(PlotApp(), terminal_size=(44, 10))
