"""The HTML report of a run: one self-contained file (inline CSS and SVG, no script, no network).

Every piece of user text (inputs, outputs, feedback, comments, names) goes through ``escape``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from flowjudge_tui.format import count_of, format_figure
from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.judging.verdict import confidence_level, unreliable_reason
from flowjudge_tui.reports.agreement import FIGURE_LABELS, Agreement, RunStats
from flowjudge_tui.reports.calibration import run_calibration
from flowjudge_tui.reports.calibration_plot import calibration_html
from flowjudge_tui.store import JudgedItem, RunRecord

FOLD_FEEDBACK_CHARS = 600
"""Longer feedback is folded (one click opens it) so the report stays scannable."""
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;
color:#1d1d1f;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;text-align:left;
vertical-align:top;border-bottom:1px solid #eee}th{background:#f6f6f6}
.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;margin:.7rem 0}
.verdict header{display:flex;gap:1rem;flex-wrap:wrap;font-weight:600}
.score{display:inline-block;min-width:1.6rem;text-align:center;border-radius:4px;
background:#1f6feb;color:#fff;padding:0 .3rem}.skipped .score{background:#999}
.feedback{white-space:pre-wrap;margin:.4rem 0}.field{white-space:pre-wrap;background:#f7f7f7;
padding:.3rem .5rem;border-radius:4px;margin:.2rem 0 .5rem}.muted{color:#666;font-weight:400}
.dist{display:inline-flex;gap:2px;align-items:flex-end;height:1.1rem;vertical-align:middle}
.dist span{display:inline-block;width:.6rem;background:#1f6feb}
.unreliable{color:#b3261e;font-weight:600;margin:.3rem 0}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _histogram_svg(histogram: dict[int, int]) -> str:
    width, bar, gap, height = 40 + 60 * len(histogram), 44, 16, 160
    top = max(histogram.values(), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" '
             'role="img" aria-label="score histogram">']
    for index, (score, count) in enumerate(sorted(histogram.items())):
        x = 20 + index * (bar + gap)
        h = round(height * count / top)
        parts.append(f'<rect x="{x}" y="{height - h + 10}" width="{bar}" height="{h}" '
                     'fill="#1f6feb"/>')
        parts.append(f'<text x="{x + bar / 2}" y="{height - h + 5}" text-anchor="middle" '
                     f'font-size="12">{count}</text>')
        parts.append(f'<text x="{x + bar / 2}" y="{height + 28}" text-anchor="middle" '
                     f'font-size="13">{score}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _agreement_table(stats: RunStats) -> str:
    if stats.all_labelled is None:
        return "<p>No human labels for this rubric version: no agreement to show.</p>"
    columns: list[tuple[str, Agreement | None]] = [
        (f"all labelled (n={stats.all_labelled.n})", stats.all_labelled),
    ]
    if stats.confident_half is not None:
        cutoff = format_figure(stats.confidence_cutoff or 0.0)
        columns.append((f"most confident half (n={stats.confident_half.n}, "
                        f"confidence &ge; {cutoff})", stats.confident_half))
    rows = ["<table><tr><th>figure</th>"
            + "".join(f"<th>{title}</th>" for title, _ in columns) + "</tr>"]
    for key in stats.all_labelled.figures:
        cells = "".join(
            f'<td class="num">{format_figure(a.figures[key]) if a else "n/a"}</td>'
            for _, a in columns
        )
        rows.append(f"<tr><td>{_e(FIGURE_LABELS.get(key, key))}</td>{cells}</tr>")
    rows.append("</table>")
    return "".join(rows)


def _distribution(dist: dict[int, float], scale: Sequence[int]) -> str:
    shares = {s: p if math.isfinite(p) else 0.0 for s, p in dist.items()}
    bars = "".join(
        f'<span style="height:{max(1, round(100 * shares.get(s, 0.0)))}%" '
        f'title="{s}: {shares.get(s, 0.0):.3f}"></span>'
        for s in scale
    )
    return f'<span class="dist">{bars}</span>'


def _verdict(entry: JudgedItem, rubric: Rubric) -> str:
    item, verdict = entry.item, entry.verdict
    label = "" if entry.human_score is None else f" · human {entry.human_score}"
    header = (
        f'<header><span>row {item.row_number}'
        f'{" · " + _e(item.source_key) if item.source_key else ""}</span>'
        f'<span class="score">{_e(verdict.score if verdict.score is not None else "–")}</span>'
    )
    if verdict.status == "skipped":
        header += f'<span class="muted">skipped: {_e(verdict.skip_reason or "")}</span></header>'
    else:
        header += (
            f'<span class="muted">confidence {format_figure(verdict.confidence or 0.0)}'
            f' ({confidence_level(verdict.confidence or 0.0)})'
            f' · expected {format_figure(verdict.expected_score or 0.0, 2)}{label}'
            f"{' · reused' if verdict.status == 'reused' else ''}</span>"
            f"{_distribution(verdict.distribution, rubric.score_values)}</header>"
        )
    reason = unreliable_reason(verdict.score_mass, verdict.stop_reason)
    if reason and verdict.status != "skipped":
        header += f'<p class="unreliable">⚠ Unreliable: {_e(reason)}.</p>'
    fields = "".join(
        f'<div class="muted">{_e(name)}</div><div class="field">{_e(value)}</div>'
        for name, value in [*item.inputs.items(), (rubric.output, item.output)]
    )
    comment = ""
    if entry.label is not None and entry.label.comment:
        comment = f'<p class="muted">comment: {_e(entry.label.comment)}</p>'
    css = "verdict skipped" if verdict.status == "skipped" else "verdict"
    feedback = f'<div class="feedback">{_e(verdict.feedback)}</div>'
    if len(verdict.feedback) > FOLD_FEEDBACK_CHARS:
        feedback = (f"<details><summary>feedback ({len(verdict.feedback):,} characters)"
                    f"</summary>{feedback}</details>")
    # The judged item first: the feedback is read against it.
    return f'<section class="{css}">{header}{fields}{feedback}{comment}</section>'



def render_html(
    run: RunRecord, rubric: Rubric, entries: Sequence[JudgedItem], stats: RunStats
) -> str:
    facts = [
        ("rubric", f"{rubric.name} — {rubric.title} (version {rubric.content_hash[:12]})"),
        ("model", run.model_name + (f" at {run.server_url}" if run.server_url else "")),
        ("dataset", run.dataset_name),
        ("status", f"{run.state}: {run.done} of {count_of(run.total_items, 'verdict')} "
                   f"({run.judged} judged, {run.reused} reused, {run.skipped} skipped"
                   + (f", {run.skipped_too_long} of them too long for the context"
                      if run.skipped_too_long else "") + ")"),
        ("mean score", format_figure(stats.mean_score, 2)),
        ("mean confidence", format_figure(stats.mean_confidence)),
        ("confidence", ", ".join(f"{n} {level}" for level, n in stats.confidence_levels.items())),
        ("created", run.created_at),
        ("finished", run.finished_at or "–"),
    ]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    verdicts = "\n".join(_verdict(entry, rubric) for entry in entries)
    calibrated = run_calibration(entries, rubric.score_values)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>flowjudge · {_e(run.title)}: {_e(rubric.name)}"
        f"</title><style>{CSS}</style></head>"
        f"<body><h1>{_e(run.title)}: {_e(rubric.title)}</h1><table>{rows}</table>"
        f"<h2>Scores</h2>{_histogram_svg(stats.histogram)}"
        f"<h2>Agreement with human labels</h2>{_agreement_table(stats)}"
        f"<h2>When to trust a verdict</h2>{calibration_html(calibrated)}"
        f"<h2>Verdicts</h2>\n{verdicts}\n"
        f'<p class="muted">Written by flowjudge-tui.</p></body></html>\n'
    )
