"""Two runs side by side: their score histograms, means, wins and losses, agreement with each
other and with people, and every paired item with both verdicts, to filter (several filters
at once), sort and search with Review's keys."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker

from flowjudge_tui.format import count_of, format_figure
from flowjudge_tui.store import RunRecord
from flowjudge_tui.tui.commands import Verb
from flowjudge_tui.tui.messages import ComparableRuns, ComparisonReady
from flowjudge_tui.tui.pair_rows import PAIR_FILTERS
from flowjudge_tui.tui.screens.base import flow_app
from flowjudge_tui.tui.screens.dialogs import TextPrompt
from flowjudge_tui.tui.screens.filter_choice import FilterChoice
from flowjudge_tui.tui.widgets.paired_items import PairedItems
from flowjudge_tui.tui.widgets.score_bars import ScoreBars
from flowjudge_tui.tui.worker_errors import WorkerErrorHandler

if TYPE_CHECKING:
    from flowjudge_tui.reports.agreement import Comparison


class RunPicker(ModalScreen[int | None], WorkerErrorHandler):
    """Choose a run to compare with ``run_id``; returns its id. Only runs that compare with it
    are offered (the rules of ``reports.agreement.comparison_problem``, checked off the UI
    thread), and a line says which were left out and why."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
    ]

    def __init__(self, run_id: int, runs: list[RunRecord], title: str) -> None:
        super().__init__(classes="dialog-screen")
        self.run_id = run_id
        self.runs = runs
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = Content(self.title_text)
            yield Static("Finding the runs over the same items…", id="run-options-note",
                         classes="dialog-explanation")
            yield OptionList(id="run-options")

    def on_mount(self) -> None:
        self.sort_runs()

    @work(thread=True, exclusive=True, group="picker", exit_on_error=False)
    def sort_runs(self) -> None:
        from flowjudge_tui.reports.agreement import comparable_runs

        fits, misfits = comparable_runs(flow_app(self).store, self.run_id, self.runs)
        self.post_message(ComparableRuns(fits, misfits))

    def on_comparable_runs(self, message: ComparableRuns) -> None:
        options = self.query_one("#run-options", OptionList)
        options.add_options([
            Option(Content(f"{r.title} · {r.rubric_name} · {r.dataset_name} · {r.model_name}"),
                   id=str(r.id)) for r in message.fits
        ])
        self.query_one("#run-options-note", Static).update(
            Content(picker_note(message.fits, message.misfits)))
        options.display = bool(message.fits)
        if message.fits:
            options.highlighted = 0
            options.focus()

    def on_worker_failed(self, worker: Worker[object]) -> None:
        self.query_one("#run-options-note", Static).update(
            "The runs could not be read; press escape and try again.")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))

    def action_cancel(self) -> None:
        self.dismiss(None)


def picker_note(fits: list[RunRecord], misfits: list[RunRecord]) -> str:
    """What the picker says over its list: which runs are absent, and why."""
    if not misfits:
        return "Runs over the same items:"
    absent = ", ".join(str(r.id) for r in misfits[:8]) + (", …" if len(misfits) > 8 else "")
    why = (f"{count_of(len(misfits), 'run')} left out ({absent}): a comparison needs runs "
           "over the same items (the same dataset, or the same inputs), judged with the same "
           "rubric, or with rubrics of the same scale when the outputs are the same too.")
    if not fits:
        return f"No run can be compared with this one. {why}"
    return f"{why}\nRuns over the same items:"


class CompareScreen(Screen[None], WorkerErrorHandler):
    HELP = (
        "Two runs over the same items. When both judged the same outputs (another model, "
        "quantization or setting), read how far the judges agree. When they judged different "
        "outputs for the same inputs (two systems), read the means, wins and losses and the "
        "sign test. Agreement with people is measured on the paired items with a human label "
        "(your label where you gave one, else the imported one). The list holds every paired "
        "item, and the highlighted item's two verdicts show side by side below it. **f** "
        "ticks filters, several at once (A ≠ B, A or B ≠ the person, low confidence in either "
        "run, labelled: an item shows when it passes every one); **o** sorts by item, by the "
        "difference |A−B| or by confidence (the lower of the two), **O** reverses (or click a "
        "column title); **/** searches the items' text and both feedbacks, and **escape** "
        "clears the search before it goes back. The line over the list says how many items "
        "are shown and which filters are on."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        # The first escape that applies wins: clear the search if there is one, else go back.
        Binding("escape", "clear_search", "Clear search", id="compare.clear_search"),
        Binding("escape", "app.pop_screen", "Back", id="compare.back"),
        Binding("f", "filter", "Filter", id="compare.filter"),
        Binding("o", "next_sort", "Sort", id="compare.sort"),
        Binding("O", "reverse_sort", "Reverse", show=False, id="compare.reverse"),
        Binding("slash", "search", "Search", id="compare.search"),
    ]

    def __init__(self, run_a: int, run_b: int) -> None:
        super().__init__()
        self.run_a = run_a
        self.run_b = run_b

    def compose(self) -> ComposeResult:
        yield Static(Content.assemble((f"Run {self.run_a}", "bold"), " (A) against ",
                                      (f"Run {self.run_b}", "bold"), " (B)"),
                     id="compare-heading")
        with Horizontal(id="compare-sides"):
            for side, run_id in (("a", self.run_a), ("b", self.run_b)):
                with Vertical(classes="panel compare-side", id=f"compare-side-{side}") as panel:
                    panel.border_title = f"Run {run_id} (A)" if side == "a" else f"Run {run_id} (B)"
                    yield Static("Loading…", id=f"compare-summary-{side}")
                    yield ScoreBars(as_counts=True, id=f"compare-bars-{side}")
            with Vertical(classes="panel compare-side", id="compare-people-panel") as people:
                people.border_title = "Agreement with people"
                yield Static("", id="compare-people")
        with Vertical(id="compare-result", classes="panel") as result:
            result.border_title = "Comparison"
            yield Static("", id="compare-figures")
        yield PairedItems(id="compare-paired")
        yield Footer()

    def on_mount(self) -> None:
        self.compare_in_background()

    @property
    def paired(self) -> PairedItems:
        return self.query_one(PairedItems)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_search":
            return bool(self.paired.search)
        return True

    def action_filter(self) -> None:
        items = self.paired
        self.app.push_screen(FilterChoice(
            "Show the items that are…", [(f.label, f.key) for f in PAIR_FILTERS],
            items.filters, items.set_filters,
        ))

    def toggle_filter(self, key: str) -> None:
        self.paired.set_filters(self.paired.filters ^ {key})

    def action_next_sort(self) -> None:
        self.paired.next_sort()

    def action_reverse_sort(self) -> None:
        self.paired.reverse_sort()

    def action_search(self) -> None:
        def search_for(text: str | None) -> None:
            if text is not None:
                self.set_search(text)

        self.app.push_screen(TextPrompt("Search the compared items",
                                        "Items whose name, inputs, outputs, either feedback "
                                        "or comment contain this (any case); empty shows "
                                        "every item.", value=self.paired.search), search_for)

    def action_clear_search(self) -> None:
        self.set_search("")

    def set_search(self, text: str) -> None:
        self.paired.set_search(text)
        self.refresh_bindings()  # escape clears the search, or goes back

    def show_everything(self) -> None:
        self.paired.set_filters(frozenset())
        self.set_search("")

    def palette_verbs(self) -> list[Verb]:
        """This screen's verbs in the command palette (``tui/commands.py``)."""
        ticked = self.paired.filters
        return [
            Verb("Filter the compared items", "Tick several: A ≠ B, A or B ≠ the person, low "
                 "confidence, labelled (f)", self.action_filter),
            *(Verb(f"{'Stop showing only' if f.key in ticked else 'Show only'} items: {f.short}",
                   "Combines with the other filters on", partial(self.toggle_filter, f.key))
              for f in PAIR_FILTERS),
            Verb("Sort the compared items", "By item, |A−B| or confidence (o; O reverses)",
                 self.action_next_sort),
            Verb("Reverse the compared items' order", "Ascending or descending (O)",
                 self.action_reverse_sort),
            Verb("Search the compared items", "Their text and both feedbacks (/)",
                 self.action_search),
            Verb("Show every compared item", "Untick the filters and clear the search",
                 self.show_everything),
            Verb("Back from Compare", "Return to Review (escape)", self.app.pop_screen),
        ]

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def compare_in_background(self) -> None:
        from flowjudge_tui.reports.agreement import compare_runs_with_items, run_stats

        store = flow_app(self).store
        comparison, items = compare_runs_with_items(store, self.run_a, self.run_b)
        self.post_message(ComparisonReady(
            comparison, run_stats(store, self.run_a), run_stats(store, self.run_b),
            (store.get_run(self.run_a), store.get_run(self.run_b)), items,
        ))

    def on_worker_failed(self, worker: Worker[object]) -> None:
        """The comparison's sentence in place of "Loading…" (the toast may be gone)."""
        from flowjudge_tui.tui.worker_errors import describe_error

        error = worker.error
        sentence = describe_error(error) if error is not None else "The comparison failed."
        for side in ("a", "b"):
            self.query_one(f"#compare-summary-{side}", Static).update("Not compared.")
        self.query_one("#compare-figures", Static).update(Content(sentence))

    def on_comparison_ready(self, message: ComparisonReady) -> None:
        comparison = message.comparison
        run_a, run_b = message.runs
        self.query_one("#compare-heading", Static).update(Content.assemble(
            (run_a.title, "bold"), " (A) against ", (run_b.title, "bold"), " (B)"))
        self.query_one("#compare-side-a").border_title = Content(f"{run_a.title} (A)")
        self.query_one("#compare-side-b").border_title = Content(f"{run_b.title} (B)")
        self.query_one("#compare-people", Static).update(describe_people(comparison))
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
            f"{count_of(comparison.paired, 'item')} paired by {comparison.paired_by}"
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
        self.query_one(PairedItems).show_pairs(message.items, (run_a.title, run_b.title),
                                               comparison.kind == "judges")
        self.query_one("#compare-items", DataTable).focus()


def describe_people(comparison: Comparison) -> str:
    """A's and B's agreement with people, figure by figure, with how many labels each."""
    from flowjudge_tui.reports.agreement import FIGURE_LABELS

    sides = [side for side in (comparison.human_a, comparison.human_b) if side is not None]
    if not sides:
        return ("No human labels on these items yet: label verdicts in Review (a digit), or "
                "import a label column.")
    a, b = comparison.human_a, comparison.human_b
    lines = [f"{'':24} {'A':>5} {'B':>5}",
             f"{'labelled (n)':24} {a.n if a else 0:>5} {b.n if b else 0:>5}"]
    for key in sides[0].figures:
        values = [format_figure(side.figures[key], 2) if side else "–" for side in (a, b)]
        lines.append(f"{FIGURE_LABELS.get(key, key):24} {values[0]:>5} {values[1]:>5}")
    return "\n".join(lines)
