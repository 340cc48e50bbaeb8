"""Which paired items Compare's table shows, and in what order: its filters (several can be on
at once: an item is shown when it passes every one), its sort keys and its search. The row
tests and sort rules it shares with Review are in ``row_view``."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowjudge_tui.judging.verdict import LOW_CONFIDENCE
from flowjudge_tui.tui.review_rows import human_cell
from flowjudge_tui.tui.row_view import disagrees_with_human, low_confidence, matches, sorted_rows

if TYPE_CHECKING:
    from flowjudge_tui.reports.agreement import ItemPair


@dataclass(frozen=True)
class PairFilter:
    key: str
    label: str
    """As the filter list shows it."""
    short: str
    """As the line over the table names it when it is on."""
    keep: Callable[[ItemPair], bool]


PAIR_FILTERS = [
    PairFilter("disagree", "A ≠ B: the runs gave different scores", "A ≠ B",
               lambda pair: pair.disagree),
    PairFilter("off-label", "A or B ≠ the person's label", "A or B ≠ person",
               lambda pair: disagrees_with_human(pair.a) or disagrees_with_human(pair.b)),
    PairFilter("low", f"Low confidence in A or B (< {LOW_CONFIDENCE})", "low confidence",
               lambda pair: low_confidence(pair.a) or low_confidence(pair.b)),
    PairFilter("labelled", "With a human label", "labelled",
               lambda pair: pair.a.human_score is not None or pair.b.human_score is not None),
]
FILTERS_BY_KEY = {f.key: f for f in PAIR_FILTERS}


def lower_confidence(pair: ItemPair) -> float:
    """The less confident of the two verdicts (-1 where neither has a confidence)."""
    known = [c for c in (pair.a.verdict.confidence, pair.b.verdict.confidence) if c is not None]
    return min(known, default=-1.0)


PAIR_SORT_KEYS: dict[str, Callable[[ItemPair], tuple[float, int]]] = {
    "item": lambda pair: (0.0, pair.a.item.row_number),
    "difference": lambda pair: (float(pair.difference), pair.a.item.row_number),
    "confidence": lambda pair: (lower_confidence(pair), pair.a.item.row_number),
}
PAIR_SORT_COLUMNS = {"Item": "item", "|A−B|": "difference", "Conf. A/B": "confidence"}
"""Column titles that sort when clicked; the first is the natural (file) order."""


def pair_matches(pair: ItemPair, text: str) -> bool:
    """The search: the item's name, its inputs and outputs, both feedbacks and comments."""
    return (text.casefold() in pair.key.casefold() or matches(pair.a, text)
            or matches(pair.b, text))


def visible_pairs(
    pairs: list[ItemPair], filters: Collection[str], search: str, sort: str, descending: bool
) -> list[ItemPair]:
    """The pairs passing every filter in ``filters`` and the search, in the order asked."""
    active = [FILTERS_BY_KEY[key] for key in filters if key in FILTERS_BY_KEY]

    def keep(pair: ItemPair) -> bool:
        return (all(f.keep(pair) for f in active)
                and (not search or pair_matches(pair, search)))

    return sorted_rows(pairs, keep, PAIR_SORT_KEYS[sort], descending)


def filter_names(filters: Collection[str]) -> list[str]:
    """The short names of the filters on, in the list's order."""
    return [f.short for f in PAIR_FILTERS if f.key in filters]


def human_of_pair(pair: ItemPair) -> str:
    """The Human column: one label when both sides share it, else A's / B's."""
    a, b = human_cell(pair.a), human_cell(pair.b)
    return a if a == b else f"{a or '—'} / {b or '—'}"


def confidence_cell(pair: ItemPair) -> str:
    """'0.90 / 0.70': A's confidence, then B's."""
    return " / ".join("–" if c is None else f"{c:.2f}"
                      for c in (pair.a.verdict.confidence, pair.b.verdict.confidence))
