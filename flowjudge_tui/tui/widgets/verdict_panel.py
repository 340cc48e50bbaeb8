"""The verdict of one judgment: score, its distribution as bars, confidence and cost."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.judging.verdict import Verdict, confidence_level, unreliable_reason
from flowjudge_tui.tui.widgets.problem_line import ProblemLine
from flowjudge_tui.tui.widgets.score_bars import ScoreBars


def describe_verdict(verdict: Verdict, rubric: Rubric) -> str:
    values = rubric.score_values
    return (
        f"[b]Score {verdict.score}[/b] ({values[0]}-{values[-1]}) · confidence "
        f"{verdict.confidence:.2f} ({confidence_level(verdict.confidence)}) · expected "
        f"{verdict.expected_score:.2f}"
    )


def describe_cost(verdict: Verdict) -> str:
    """Token counts and where the feedback stopped: the same for the same input."""
    return (
        f"{verdict.prompt_tokens:,} prompt tokens · {verdict.completion_tokens:,} generated · "
        f"stopped at {verdict.stop_reason} · score mass {verdict.score_mass:.0%}"
    )


class VerdictPanel(Vertical):
    """Empty until ``show_verdict``; the timing sits in its own line (``#verdict-timing``)."""

    DEFAULT_CSS = """
    VerdictPanel { height: auto; }
    VerdictPanel > ScoreBars { margin: 1 0; }
    """

    def compose(self) -> ComposeResult:
        yield Static("No verdict yet.", id="verdict-headline")
        yield ScoreBars(id="verdict-bars", empty_text="")
        yield ProblemLine(id="verdict-warning")
        yield Static("", id="verdict-meaning")
        yield Static("", id="verdict-cost", classes="hint")
        yield Static("", id="verdict-timing", classes="hint")

    def show_verdict(self, verdict: Verdict, rubric: Rubric) -> None:
        self.query_one("#verdict-headline", Static).update(describe_verdict(verdict, rubric))
        self.query_one(ScoreBars).show(verdict.distribution, verdict.score)
        reason = unreliable_reason(verdict.score_mass, verdict.stop_reason)
        self.query_one("#verdict-warning", Static).update(
            Content(f"⚠ Unreliable: {reason}.") if reason else ""
        )
        meaning = rubric.scores.get(verdict.score, "")
        self.query_one("#verdict-meaning", Static).update(Content(f"{verdict.score}: {meaning}"))
        self.query_one("#verdict-cost", Static).update(describe_cost(verdict))
        rate = verdict.completion_tokens / verdict.seconds if verdict.seconds else 0.0
        self.query_one("#verdict-timing", Static).update(
            f"{verdict.seconds:.1f} s · {rate:.1f} tokens/s"
        )

    def show_progress(self, text: str) -> None:
        """Only the headline changes while feedback streams (several times a second): one line
        replacing one line, so no new layout is asked for."""
        self.query_one("#verdict-headline", Static).update(text, layout=False)

    def show_waiting(self, text: str) -> None:
        self.query_one("#verdict-headline", Static).update(text)
        self.query_one(ScoreBars).clear()
        for selector in ("#verdict-warning", "#verdict-meaning", "#verdict-cost",
                         "#verdict-timing"):
            self.query_one(selector, Static).update("")
