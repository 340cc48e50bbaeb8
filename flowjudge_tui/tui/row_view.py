"""What Review's verdict table and Compare's item table share: the tests behind their filters,
the search, the sort rules and the line that says what is shown.

Sorting follows one rule in both: a column's natural order (the file's) sorts ascending when
first chosen, any other column descending (the highest score, difference or confidence on
top), and choosing the column it is sorted by again reverses it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from flowjudge_tui.judging.verdict import LOW_CONFIDENCE
from flowjudge_tui.store import JudgedItem

Row = TypeVar("Row")


def disagrees_with_human(entry: JudgedItem) -> bool:
    """A scored verdict whose score is not the human label (yours, else the imported one)."""
    human = entry.human_score
    return human is not None and entry.verdict.score is not None and human != entry.verdict.score


def low_confidence(entry: JudgedItem) -> bool:
    confidence = entry.verdict.confidence
    return confidence is not None and confidence < LOW_CONFIDENCE


def matches(entry: JudgedItem, text: str) -> bool:
    """Whether the search text (any case) is in the item's fields, output or feedback."""
    needle = text.casefold()
    haystack = [*entry.item.inputs.values(), entry.item.output, entry.verdict.feedback]
    if entry.label is not None:
        haystack.append(entry.label.comment)
    return any(needle in value.casefold() for value in haystack)


def sorted_rows(
    rows: Iterable[Row], keep: Callable[[Row], bool], key: Callable[[Row], Any],
    descending: bool,
) -> list[Row]:
    """The rows ``keep`` accepts, sorted by ``key`` (which breaks ties by file order)."""
    shown = [row for row in rows if keep(row)]
    shown.sort(key=key, reverse=descending)
    return shown


def sort_on_column(sort: str, descending: bool, chosen: str, natural: str) -> tuple[str, bool]:
    """The sort after a click on ``chosen``'s column title: the same column reverses."""
    if chosen == sort:
        return chosen, not descending
    return chosen, chosen != natural


def next_sort(order: Sequence[str], sort: str) -> tuple[str, bool]:
    """The sort after **o**: the next column in ``order`` (``order[0]`` is the natural one)."""
    chosen = order[(list(order).index(sort) + 1) % len(order)]
    return chosen, chosen != order[0]


def view_summary(
    shown: int, total: int, sort: str, descending: bool, search: str, *,
    noun: str = "", filters: Sequence[str] = (),
) -> str:
    """'3 of 5 · by score ↓ · “whales”', or with a noun and filters '1 of 4 items shown ·
    A ≠ B + low confidence · by item ↑'."""
    text = f"{shown} of {total}" + (f" {noun} shown" if noun else "")
    if filters:
        text += " · " + " + ".join(filters)
    text += f" · by {sort}" + (" ↓" if descending else " ↑")
    return text + (f" · “{search}”" if search else "")
