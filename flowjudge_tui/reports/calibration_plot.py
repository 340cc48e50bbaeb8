"""The HTML report's calibration: a small reliability diagram as inline SVG (no script, no
fonts) and the coverage table."""

from __future__ import annotations

from collections.abc import Sequence

from flowjudge_tui.format import count_of, format_figure
from flowjudge_tui.reports.calibration import BASIS, Calibration, ReliabilityBin

SIZE = 200
MARGIN = 34


def reliability_svg(bins: Sequence[ReliabilityBin], size: int = SIZE) -> str:
    """Bars of agreement per certainty bin against the diagonal of a calibrated judge.

    A bar below the diagonal is a bin where the judge was surer than it was right.
    """
    inner = size - 2 * MARGIN + MARGIN // 2
    left, top = MARGIN, MARGIN // 2

    def x(value: float) -> float:
        return left + value * inner

    def y(value: float) -> float:
        return top + (1.0 - value) * inner

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="reliability" width="{size}" '
        f'height="{size}" viewBox="0 0 {size} {size}" font-family="sans-serif" role="img" '
        'aria-label="Reliability diagram: agreement with people by the judge\'s probability">',
        f'<rect x="{left}" y="{top}" width="{inner}" height="{inner}" fill="none" '
        'stroke="#999" stroke-width="1"/>',
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#999" '
        'stroke-dasharray="4 3"/>',
    ]
    for b in bins:
        if not b.count:
            continue
        agreement = b.agreement.estimate
        width = max(1.0, x(b.high) - x(b.low) - 2)
        height = max(1.0, y(0) - y(agreement))
        parts.append(
            f'<rect x="{x(b.low) + 1:.1f}" y="{y(0) - height:.1f}" width="{width:.1f}" '
            f'height="{height:.1f}" fill="#4a7bd0" fill-opacity="0.75">'
            f'<title>{b.low:.1f}-{b.high:.1f}: {count_of(b.count, "verdict")}, mean probability '
            f'{b.mean_confidence:.2f}, agreement {agreement:.2f}</title></rect>'
        )
    for tick in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{x(tick):.1f}" y="{y(0) + 12:.1f}" font-size="9" '
                     f'text-anchor="middle">{tick:g}</text>')
        parts.append(f'<text x="{left - 4}" y="{y(tick) + 3:.1f}" font-size="9" '
                     f'text-anchor="end">{tick:g}</text>')
    parts.append(f'<text x="{x(0.5):.1f}" y="{size - 4}" font-size="10" '
                 'text-anchor="middle">probability of its score</text>')
    parts.append(f'<text x="10" y="{y(0.5):.1f}" font-size="10" text-anchor="middle" '
                 f'transform="rotate(-90 10 {y(0.5):.1f})">agreement</text>')
    parts.append("</svg>")
    return "".join(parts)


def calibration_html(calibration: Calibration | None) -> str:
    """The report's calibration section: the plot, the ECE and the coverage table."""
    if calibration is None:
        return "<p>No labelled verdicts: label some to see when the judge can be trusted.</p>"
    rows = "".join(
        f'<tr><td class="num">{row.threshold:g}</td><td class="num">{row.accepted}</td>'
        f'<td class="num">{row.share.describe()}</td>'
        f'<td class="num">{row.agreement.describe()}</td></tr>'
        for row in calibration.coverage
    )
    return (
        f"{reliability_svg(calibration.bins)}"
        f"<p>Agreement with people by {BASIS}, over {calibration.n} labelled verdicts "
        f"(bars; the dashed line is a perfectly calibrated judge). Expected calibration "
        f"error {format_figure(calibration.ece)}.</p>"
        "<table><tr><th>accept if probability &ge;</th><th>accepted</th><th>share</th>"
        f"<th>agreement of accepted (95% interval)</th></tr>{rows}</table>"
    )
