"""Two runs item by item: one row per paired item (the human label, A's and B's score, the
rows where they differ marked), and the highlighted item's two verdicts side by side."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static

from flowjudge_tui.judging.verdict import confidence_level
from flowjudge_tui.tui.plain import cell
from flowjudge_tui.tui.review_rows import describe_labels, human_cell

if TYPE_CHECKING:
    from flowjudge_tui.reports.agreement import ItemPair
    from flowjudge_tui.store import JudgedItem


@dataclass(frozen=True)
class PairFilter:
    key: str
    label: str
    keep: Callable[[ItemPair], bool]


def _off_label(pair: ItemPair) -> bool:
    return any(side.human_score is not None and side.human_score != side.verdict.score
               for side in (pair.a, pair.b))


PAIR_FILTERS = [
    PairFilter("all", "all items", lambda pair: True),
    PairFilter("disagree", "A ≠ B", lambda pair: pair.disagree),
    PairFilter("off-label", "A or B ≠ person", _off_label),
    PairFilter("labelled", "with a human label",
               lambda pair: pair.a.human_score is not None or pair.b.human_score is not None),
]


def human_of_pair(pair: ItemPair) -> str:
    """The Human column: one label when both sides share it, else A's / B's."""
    a, b = human_cell(pair.a), human_cell(pair.b)
    return a if a == b else f"{a or '—'} / {b or '—'}"


def describe_side(name: str, title: str, entry: JudgedItem, show_output: bool) -> Content:
    """One side's verdict: score, confidence, the labels and feedback (and the output it
    judged, when the two runs judged different outputs)."""
    verdict = entry.verdict
    if verdict.score is None:
        headline = f"skipped: {verdict.skip_reason or 'no score'}"
    else:
        confidence = verdict.confidence if verdict.confidence is not None else 0.0
        headline = (f"score {verdict.score} · confidence {confidence:.2f} "
                    f"({confidence_level(confidence)})")
    parts: list[Content | str] = [Content.styled(f"{name} · {title}", "bold"), "\n", headline,
                                  "\n", describe_labels(entry)]
    if show_output:
        parts += ["\n\n", Content.styled("output", "bold"), "\n", entry.item.output]
    parts += ["\n\n", Content.styled("feedback", "bold"), "\n", verdict.feedback or "—"]
    return Content.assemble(*parts)


class PairedItems(Vertical):
    """The paired items table (``f`` filters it) over the two verdicts of the row chosen."""

    DEFAULT_CSS = """
    PairedItems { height: 1fr; }
    PairedItems #compare-items { height: 1fr; }
    PairedItems #compare-verdicts { height: 12; }
    PairedItems .compare-verdict { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pairs: list[ItemPair] = []
        self.shown: list[ItemPair] = []
        self.filter = PAIR_FILTERS[0]
        self.titles = ("A", "B")
        self.same_outputs = True

    def compose(self) -> ComposeResult:
        table: DataTable[str] = DataTable(id="compare-items", cursor_type="row",
                                          classes="panel")
        table.border_title = "Items"
        yield table
        with Horizontal(id="compare-verdicts"):
            for side in ("a", "b"):
                with VerticalScroll(classes="panel compare-verdict") as panel:
                    panel.border_title = f"Verdict {side.upper()}"
                    yield Static("", id=f"compare-verdict-{side}")

    def on_mount(self) -> None:
        table = self.query_one("#compare-items", DataTable)
        table.add_columns("Item", "Human", "A", "B", "A≠B")

    def show_pairs(self, pairs: list[ItemPair], titles: tuple[str, str],
                   same_outputs: bool) -> None:
        self.pairs, self.titles, self.same_outputs = pairs, titles, same_outputs
        self.show_rows()

    def next_filter(self) -> None:
        index = PAIR_FILTERS.index(self.filter)
        self.filter = PAIR_FILTERS[(index + 1) % len(PAIR_FILTERS)]
        self.show_rows()

    def show_rows(self) -> None:
        table = self.query_one("#compare-items", DataTable)
        self.shown = [pair for pair in self.pairs if self.filter.keep(pair)]
        table.clear()
        for index, pair in enumerate(self.shown):
            mark = Text("≠", style="bold red") if pair.disagree else ""
            style = "bold" if pair.disagree else ""
            table.add_row(cell(pair.key), human_of_pair(pair),
                          Text(_score(pair.a), style=style), Text(_score(pair.b), style=style),
                          mark, key=str(index))
        table.border_title = f"Items · {self.filter.label} ({len(self.shown)} of {len(self.pairs)})"
        table.border_subtitle = "f filter"
        self.show_verdicts(self.shown[0] if self.shown else None)

    @on(DataTable.RowHighlighted, "#compare-items")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is not None and int(key) < len(self.shown):
            self.show_verdicts(self.shown[int(key)])

    def show_verdicts(self, pair: ItemPair | None) -> None:
        for side, name, title in (("a", "A", self.titles[0]), ("b", "B", self.titles[1])):
            text: Content | str = "No item matches this filter."
            if pair is not None:
                entry = pair.a if side == "a" else pair.b
                text = describe_side(name, title, entry, not self.same_outputs)
            self.query_one(f"#compare-verdict-{side}", Static).update(text)


def _score(entry: JudgedItem) -> str:
    return "–" if entry.verdict.score is None else str(entry.verdict.score)
