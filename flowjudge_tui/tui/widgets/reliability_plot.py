"""A small reliability plot in text: agreement with people for each band of the judge's
probability of its score, with the band's mean probability marked on the same bar.

A calibrated judge's bar ends at its marker; a bar shorter than its marker is a band where the
judge was surer than it was right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

if TYPE_CHECKING:
    from flowjudge_tui.reports.calibration import Calibration

BAR_WIDTH = 12


class CalibrationReady(Message, bubble=False):
    """A run's calibration was computed (None: no labelled verdicts), with its threshold."""

    def __init__(self, run_id: int, calibration: Calibration | None,
                 review_below: float | None) -> None:
        super().__init__()
        self.run_id = run_id
        self.calibration = calibration
        self.review_below = review_below


def plot_text(calibration: Calibration | None, review_below: float | None = None) -> Text:
    if calibration is None:
        return Text("Calibration: label some verdicts to see whether the judge's probability "
                    "predicts its agreement with people.", style="dim")
    text = Text()
    text.append(f"{calibration.n} labelled · ECE {calibration.ece:.2f}\n", style="bold")
    for band in calibration.bins:
        if not band.count:
            continue
        agreement = band.agreement.estimate
        filled = round(agreement * BAR_WIDTH)
        marker = min(BAR_WIDTH - 1, max(0, round(band.mean_confidence * BAR_WIDTH) - 1))
        text.append(f"{band.low:.1f}-{band.high:.1f} ")
        for position in range(BAR_WIDTH):
            if position == marker:
                text.append("┃", style="bold yellow")
            elif position < filled:
                text.append("█", style="blue")
            else:
                text.append("·", style="dim")
        text.append(f" {agreement:.2f}  n={band.count}\n")
    text.append("█ agreement ┃ mean probability", style="dim")
    if review_below is not None:
        text.append(f"\nBelow {review_below:.2f}: needs review", style="italic")
    return text


class ReliabilityPlot(Static):
    """Shows ``plot_text`` for a run's calibration (or a hint when nothing is labelled)."""

    DEFAULT_CSS = """
    ReliabilityPlot { height: auto; }
    """

    def show(self, calibration: Calibration | None, review_below: float | None = None) -> None:
        self.update(plot_text(calibration, review_below))
