"""The sentence the Runs screen says when a run, or runs started together, end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowjudge_tui.store import RunRecord

if TYPE_CHECKING:
    from flowjudge_tui.runs.execute import RunSummary


def describe_run_end(summary_run: RunRecord, judged: int, reused: int, skipped: int,
                     stopped: bool) -> str:
    counts = f"{judged} judged, {reused} reused, {skipped} skipped"
    if stopped:
        return (f"Run {summary_run.id} stopped after {summary_run.done} of "
                f"{summary_run.total_items} ({counts}); press r to resume it.")
    too_long = summary_run.skipped_too_long
    if too_long and summary_run.server_url is None:
        them = "it" if too_long == 1 else "them"
        return (f"Run {summary_run.id} is done: {counts}; {too_long} too long for its "
                f"context: press l to judge {them} with a larger one.")
    return f"Run {summary_run.id} is done: {counts}."


def describe_runs_end(summaries: list[RunSummary]) -> str:
    """One sentence for runs started together (one per rubric)."""
    ids = ", ".join(str(summary.run.id) for summary in summaries)
    counts = (f"{sum(s.judged for s in summaries)} judged, "
              f"{sum(s.reused for s in summaries)} reused, "
              f"{sum(s.skipped for s in summaries)} skipped")
    if any(summary.stopped for summary in summaries):
        done = sum(summary.run.done for summary in summaries)
        total = sum(summary.run.total_items for summary in summaries)
        return (f"Runs {ids} stopped after {done} of {total} ({counts}); press r on each to "
                "resume it.")
    too_long = sum(s.run.skipped_too_long for s in summaries if s.run.server_url is None)
    if too_long:
        return (f"Runs {ids} are done: {counts}; {too_long} too long for their context: "
                "press l on a run to judge its own with a larger one.")
    return f"Runs {ids} are done: {counts}."
