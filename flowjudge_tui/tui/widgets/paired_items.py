"""Two runs item by item: one row per paired item (the human label, A's and B's score, how far
apart they are, both confidences), filtered, searched and sorted as the screen asks
(``pair_rows``), and the highlighted item's two verdicts side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static

from flowjudge_tui.judging.verdict import confidence_level
from flowjudge_tui.tui.pair_rows import (
    PAIR_SORT_COLUMNS,
    confidence_cell,
    filter_names,
    human_of_pair,
    visible_pairs,
)
from flowjudge_tui.tui.plain import cell
from flowjudge_tui.tui.review_rows import describe_labels
from flowjudge_tui.tui.row_view import next_sort, sort_on_column, view_summary

if TYPE_CHECKING:
    from flowjudge_tui.reports.agreement import ItemPair
    from flowjudge_tui.store import JudgedItem


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
    """The paired items table over the two verdicts of the row chosen. The screen's keys set
    the filters (several at once), the sort and the search; they stay while the screen does."""

    DEFAULT_CSS = """
    PairedItems { height: 1fr; }
    PairedItems #compare-shown { height: 1; padding: 0 1; }
    PairedItems #compare-items { height: 1fr; }
    PairedItems #compare-verdicts { height: 12; }
    PairedItems .compare-verdict { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pairs: list[ItemPair] = []
        self.shown: list[ItemPair] = []
        self.filters: frozenset[str] = frozenset()
        self.sort = "item"
        self.descending = False
        self.search = ""
        self.row_keys: dict[int, str] = {}
        """Each pair's row key (its place in ``pairs``), by the pair's identity."""
        self.titles = ("A", "B")
        self.same_outputs = True

    def compose(self) -> ComposeResult:
        yield Static("", id="compare-shown", classes="hint")
        table: DataTable[str] = DataTable(id="compare-items", cursor_type="row",
                                          classes="panel")
        table.border_title = "Items"
        table.border_subtitle = "f filter · o sort · / search"
        yield table
        with Horizontal(id="compare-verdicts"):
            for side in ("a", "b"):
                with VerticalScroll(classes="panel compare-verdict") as panel:
                    panel.border_title = f"Verdict {side.upper()}"
                    yield Static("", id=f"compare-verdict-{side}")

    def on_mount(self) -> None:
        table = self.query_one("#compare-items", DataTable)
        table.add_columns("Item", "Human", "A", "B", "|A−B|", "Conf. A/B")

    def show_pairs(self, pairs: list[ItemPair], titles: tuple[str, str],
                   same_outputs: bool) -> None:
        self.pairs, self.titles, self.same_outputs = pairs, titles, same_outputs
        self.row_keys = {id(pair): str(index) for index, pair in enumerate(pairs)}
        self.show_rows()

    def set_filters(self, filters: frozenset[str]) -> None:
        self.filters = filters
        self.show_rows()

    def set_search(self, text: str) -> None:
        self.search = text.strip()
        self.show_rows()

    def next_sort(self) -> None:
        self.sort, self.descending = next_sort(list(PAIR_SORT_COLUMNS.values()), self.sort)
        self.show_rows()

    def reverse_sort(self) -> None:
        self.descending = not self.descending
        self.show_rows()

    @on(DataTable.HeaderSelected, "#compare-items")
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        sort = PAIR_SORT_COLUMNS.get(str(event.label))
        if sort is not None:
            self.sort, self.descending = sort_on_column(self.sort, self.descending, sort, "item")
            self.show_rows()

    def show_rows(self) -> None:
        table = self.query_one("#compare-items", DataTable)
        chosen = self.selected_pair()
        self.shown = visible_pairs(self.pairs, self.filters, self.search, self.sort,
                                   self.descending)
        table.clear()
        for pair in self.shown:
            style = "bold" if pair.disagree else ""
            mark = Text(f"≠ {pair.difference}", style="bold red") if pair.disagree else ""
            table.add_row(cell(pair.key), human_of_pair(pair),
                          Text(_score(pair.a), style=style), Text(_score(pair.b), style=style),
                          mark, confidence_cell(pair), key=self.row_keys[id(pair)])
        if chosen is not None and self.row_keys[id(chosen)] in table.rows:
            table.move_cursor(row=table.get_row_index(self.row_keys[id(chosen)]))
        self.query_one("#compare-shown", Static).update(Content(view_summary(
            len(self.shown), len(self.pairs), self.sort, self.descending, self.search,
            noun="items", filters=filter_names(self.filters) or ["all items"])))
        self.show_verdicts(self.selected_pair())

    def selected_pair(self) -> ItemPair | None:
        table = self.query_one("#compare-items", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.pairs[int(key)] if key is not None and int(key) < len(self.pairs) else None

    @on(DataTable.RowHighlighted, "#compare-items")
    def _highlighted(self) -> None:
        self.show_verdicts(self.selected_pair())

    def show_verdicts(self, pair: ItemPair | None) -> None:
        for side, name, title in (("a", "A", self.titles[0]), ("b", "B", self.titles[1])):
            text: Content | str = "No item matches these filters and search."
            if pair is not None:
                entry = pair.a if side == "a" else pair.b
                text = describe_side(name, title, entry, not self.same_outputs)
            self.query_one(f"#compare-verdict-{side}", Static).update(text)


def _score(entry: JudgedItem) -> str:
    return "–" if entry.verdict.score is None else str(entry.verdict.score)
