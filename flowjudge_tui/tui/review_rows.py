"""Which verdicts the Review table shows, and in what order: filters and sort keys (the
row tests and sort rules it shares with Compare are in ``row_view``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from flowjudge_tui.judging.verdict import LOW_CONFIDENCE, confidence_level, unreliable_reason
from flowjudge_tui.reports.calibration import needs_review
from flowjudge_tui.store import TOO_LONG, JudgedItem
from flowjudge_tui.tui.row_view import disagrees_with_human, low_confidence, sorted_rows


@dataclass(frozen=True)
class RowFilter:
    key: str
    label: str
    keep: Callable[[JudgedItem], bool]


def row_filters(scale: list[int], review_below: float | None = None) -> list[RowFilter]:
    """The Review filters; ``review_below`` (the run's threshold) adds 'Needs review'."""
    filters = [
        RowFilter("all", "All verdicts", lambda e: True),
        RowFilter("low", f"Low confidence (< {LOW_CONFIDENCE})", low_confidence),
        RowFilter("disagree", "Disagrees with the human", disagrees_with_human),
        RowFilter("disagree-low", "Disagrees, and low confidence",
                  lambda e: disagrees_with_human(e) and low_confidence(e)),
        RowFilter("unreliable", "Unreliable (little score mass, or cut off)",
                  lambda e: bool(unreliable_reason(e.verdict.score_mass, e.verdict.stop_reason))),
        RowFilter("labelled", "Labelled", lambda e: e.human_score is not None),
        RowFilter("unlabelled", "Not labelled", lambda e: e.human_score is None),
        RowFilter("skipped", "Skipped", lambda e: e.verdict.score is None),
    ]
    if review_below is not None:
        filters.insert(1, RowFilter("needs-review", f"Needs review (p < {review_below:.2f})",
                                    lambda e: needs_review(e.verdict, review_below)))
    for score in scale:
        filters.append(RowFilter(f"score-{score}", f"Score {score}", _has_score(score)))
    return filters


def _has_score(score: int) -> Callable[[JudgedItem], bool]:
    return lambda entry: entry.verdict.score == score


SORT_KEYS: dict[str, Callable[[JudgedItem], tuple[float, int]]] = {
    "line": lambda e: (0.0, e.item.row_number),
    "score": lambda e: (float(e.verdict.score if e.verdict.score is not None else -1),
                        e.item.row_number),
    "confidence": lambda e: (e.verdict.confidence if e.verdict.confidence is not None else -1.0,
                             e.item.row_number),
    "human": lambda e: (float(e.human_score if e.human_score is not None else -1),
                        e.item.row_number),
}
SORT_COLUMNS = {"Line": "line", "Score": "score", "Conf.": "confidence", "Human": "human"}


def visible_rows(
    entries: list[JudgedItem], keep: Callable[[JudgedItem], bool], sort: str, descending: bool
) -> list[JudgedItem]:
    return sorted_rows(entries, keep, SORT_KEYS[sort], descending)


def preview_text(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def describe_entry(entry: JudgedItem, rubric_output: str) -> str:
    """One verdict in full, as Markdown: inputs, output, feedback, and the person's label."""
    verdict = entry.verdict
    where = f"Line {entry.item.row_number}"
    if entry.item.source_key:
        where += f" · id {_literal(entry.item.source_key)}"
    if verdict.score is None:
        judged = f"**skipped**: {verdict.skip_reason or 'no score'}"
        if verdict.stop_reason == TOO_LONG:
            judged += " Judge it with a larger context: `l` on the Runs screen (F6)."
    else:
        confidence = verdict.confidence if verdict.confidence is not None else 0.0
        judged = (f"**score {verdict.score}** · confidence {confidence:.2f} "
                  f"({confidence_level(confidence)})")
        if verdict.status == "reused":
            judged += " · copied from an earlier run"
        reason = unreliable_reason(verdict.score_mass, verdict.stop_reason)
        if reason:
            judged += f"\n\n**⚠ Unreliable**: {reason}."
    parts = [f"{where} · {judged} · {describe_labels(entry)}"]
    if entry.label and entry.label.comment:
        parts.append(f"*{_literal(entry.label.comment)}*")
    for name, value in entry.item.inputs.items():
        parts.append(f"**{name}**\n\n{_quote(value)}")
    parts.append(f"**{rubric_output}** (judged)\n\n{_quote(entry.item.output)}")
    if verdict.feedback:
        parts.append(f"**Feedback**\n\n{verdict.feedback}")
    return "\n\n".join(parts)


def human_cell(entry: JudgedItem) -> str:
    """The Human column: the reviewer's label, then the imported one where it differs."""
    yours, imported = entry.reviewer_score, entry.imported_label
    if yours is None:
        return "" if imported is None else f"{imported} imp."
    if imported is None or imported == yours:
        return str(yours)
    return f"{yours} (imp. {imported})"


def describe_labels(entry: JudgedItem) -> str:
    yours, imported = entry.reviewer_score, entry.imported_label
    mine = "—" if yours is None else str(yours)
    text = f"your label {mine}"
    if imported is not None:
        text += f" · imported label {imported}"
    return text


_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
"""Every ASCII punctuation character: CommonMark lets a backslash make any of them literal."""


def _literal(text: str) -> str:
    """``text`` as Markdown that shows it as it is: no emphasis, links, headings or HTML
    read into it (a judged '<b>' or 'a*b*c' is shown, not swallowed or styled)."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def _quote(text: str) -> str:
    """The judged text as a quote, literally, each of its lines on a line of its own (a
    backslash at the end of a line is a hard break; none before an empty line, where it
    would show)."""
    lines = text.splitlines() or [""]
    quoted = []
    for index, line in enumerate(lines):
        if not line.strip():
            quoted.append(">")
            continue
        last_of_paragraph = index + 1 == len(lines) or not lines[index + 1].strip()
        quoted.append(f"> {_literal(line)}" + ("" if last_of_paragraph else "\\"))
    return "\n".join(quoted)
