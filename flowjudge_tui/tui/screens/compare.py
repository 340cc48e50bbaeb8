"""Two runs side by side: their score histograms, means, wins and losses, and agreement."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, OptionList, Static
from textual.widgets.option_list import Option

from flowjudge_tui.format import format_figure
from flowjudge_tui.store import RunRecord
from flowjudge_tui.tui.messages import ComparisonReady
from flowjudge_tui.tui.plain import cell
from flowjudge_tui.tui.screens.base import flow_app
from flowjudge_tui.tui.widgets.score_bars import ScoreBars
from flowjudge_tui.tui.worker_errors import WorkerErrorHandler


class RunPicker(ModalScreen[int | None]):
    """Choose one run from a list; returns its id."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
    ]

    def __init__(self, runs: list[RunRecord], title: str) -> None:
        super().__init__(classes="dialog-screen")
        self.runs = runs
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.title_text
            yield OptionList(
                *(Option(Content(f"Run {r.id} · {r.rubric_name} · {r.dataset_name} · "
                                 f"{r.model_name}"), id=str(r.id)) for r in self.runs),
                id="run-options",
            )

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))

    def action_cancel(self) -> None:
        self.dismiss(None)


class CompareScreen(Screen[None], WorkerErrorHandler):
    HELP = (
        "Two runs over the same items. When both judged the same outputs (another model, "
        "quantization or setting), read how far the judges agree. When they judged different "
        "outputs for the same inputs (two systems), read the means, wins and losses and the "
        "sign test."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="compare.back"),
    ]

    def __init__(self, run_a: int, run_b: int) -> None:
        super().__init__()
        self.run_a = run_a
        self.run_b = run_b

    def compose(self) -> ComposeResult:
        yield Static(f"[b]Run {self.run_a}[/b] (A) against [b]run {self.run_b}[/b] (B)",
                     id="compare-heading")
        with Horizontal(id="compare-sides"):
            for side, run_id in (("a", self.run_a), ("b", self.run_b)):
                with Vertical(classes="panel compare-side") as panel:
                    panel.border_title = f"Run {run_id}"
                    yield Static("Loading…", id=f"compare-summary-{side}")
                    yield ScoreBars(as_counts=True, id=f"compare-bars-{side}")
        with Vertical(id="compare-result", classes="panel") as result:
            result.border_title = "Comparison"
            yield Static("", id="compare-figures")
            yield DataTable(id="compare-differences", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#compare-differences", DataTable)
        table.add_columns("Item", "A", "B", "Expected A", "Expected B")
        self.compare_in_background()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def compare_in_background(self) -> None:
        from flowjudge_tui.reports.agreement import compare_runs, run_stats

        store = flow_app(self).store
        comparison = compare_runs(store, self.run_a, self.run_b)
        self.post_message(ComparisonReady(
            comparison, run_stats(store, self.run_a), run_stats(store, self.run_b)
        ))

    def on_comparison_ready(self, message: ComparisonReady) -> None:
        comparison = message.comparison
        for side, stats, summary in (("a", message.left, comparison.a),
                                     ("b", message.right, comparison.b)):
            self.query_one(f"#compare-summary-{side}", Static).update(Content(
                f"{stats.rubric_name} · {stats.scored} scored\n"
                f"mean {format_figure(summary.mean, 2)} (95% CI {format_figure(summary.ci_low, 2)}–"
                f"{format_figure(summary.ci_high, 2)})"
            ))
            self.query_one(f"#compare-bars-{side}", ScoreBars).show(
                {score: float(count) for score, count in stats.histogram.items()}
            )
        lines = [
            f"{comparison.paired} items paired by {comparison.paired_by}"
            + (f" ({comparison.unpaired_a} only in A, {comparison.unpaired_b} only in B)"
               if comparison.unpaired_a or comparison.unpaired_b else ""),
        ]
        if comparison.kind == "systems":
            lines.append(
                f"B against A: {comparison.wins} wins, {comparison.ties} ties, "
                f"{comparison.losses} losses · sign test p = "
                f"{format_figure(comparison.sign_test_p, 3)}"
            )
        if comparison.agreement is not None:
            from flowjudge_tui.reports.agreement import FIGURE_LABELS

            figures = comparison.agreement.figures
            lines.append("Agreement of B with A: " + " · ".join(
                f"{FIGURE_LABELS.get(k, k)} {format_figure(v, 2)}" for k, v in figures.items()
            ))
        self.query_one("#compare-figures", Static).update(Content("\n".join(lines)))
        table = self.query_one("#compare-differences", DataTable)
        for difference in comparison.differences:
            table.add_row(cell(difference.key), str(difference.score_a), str(difference.score_b),
                          format_figure(difference.expected_a, 2),
                          format_figure(difference.expected_b, 2))
