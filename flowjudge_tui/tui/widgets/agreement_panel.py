"""How far a run's verdicts agree with the human labels: every figure, whole and confident half."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from textual.widgets import Static

from flowjudge_tui.format import format_figure

if TYPE_CHECKING:
    from flowjudge_tui.reports.agreement import Agreement, RunStats


def describe_agreement(stats: RunStats) -> str:
    from flowjudge_tui.reports.agreement import FIGURE_LABELS

    if stats.all_labelled is None or stats.labelled == 0:
        return (
            f"{stats.scored} scored · mean {format_figure(stats.mean_score, 2)} · mean confidence "
            f"{format_figure(stats.mean_confidence, 2)}\n\n"
            "No human labels yet: press a score's digit on a verdict to label it, and "
            "agreement appears here."
        )
    lines = [
        f"{stats.scored} scored · {stats.labelled} labelled · "
        f"mean {format_figure(stats.mean_score, 2)}",
        "",
        f"{'figure':26} {'all':>6} {'confident half':>15}",
    ]
    confident: Agreement | None = stats.confident_half
    for key, value in stats.all_labelled.figures.items():
        other = confident.figures.get(key, math.nan) if confident else math.nan
        label = FIGURE_LABELS.get(key, key)
        lines.append(f"{label:26} {format_figure(value, 2):>6} {format_figure(other, 2):>15}")
    if stats.confidence_cutoff is not None:
        lines.append(f"\nconfident half: confidence ≥ {stats.confidence_cutoff:.2f}")
    return "\n".join(lines)


class AgreementPanel(Static):
    def show_stats(self, stats: RunStats) -> None:
        self.update(describe_agreement(stats))
