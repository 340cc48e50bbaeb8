"""How runs, statistics and comparisons look on the command line (text and JSON)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from flowjudge_tui.cli.output import print_table
from flowjudge_tui.format import count_of, format_figure
from flowjudge_tui.judging.verdict import HIGH_CONFIDENCE, LOW_CONFIDENCE
from flowjudge_tui.reports.agreement import FIGURE_LABELS, Agreement, Comparison, RunStats
from flowjudge_tui.store import RunRecord

HISTOGRAM_WIDTH = 40


def jsonable(value: Any) -> Any:
    """JSON-safe: nan becomes null and dict keys become strings."""
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def run_json(run: RunRecord, detailed: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "status": run.state,
        "total": run.total_items,
        "done": run.done,
        "judged": run.judged,
        "reused": run.reused,
        "skipped": run.skipped,
        "skipped_too_long": run.skipped_too_long,
        "n_ctx": run.n_ctx,
        "rubric": run.rubric_name,
        "model": run.model_name,
        "server": run.server_url,
        "dataset": run.dataset_name,
        "dataset_id": run.dataset_id,
        "created_at": run.created_at,
    }
    if detailed:
        seconds = run.judge_seconds
        data.update({
            "rubric_hash": run.rubric_hash,
            "model_path": run.model_path,
            "model_fingerprint": run.model_fingerprint,
            "fingerprint_kind": run.fingerprint_kind,
            "settings": run.settings.to_json_dict(),
            "retry_n_ctx": run.retry_n_ctx,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "judge_seconds": round(seconds, 3),
            "seconds_per_verdict": round(seconds / run.judged, 3) if run.judged else None,
            "prompt_tokens": run.prompt_tokens,
            "completion_tokens": run.completion_tokens,
            "completion_tokens_per_second":
                round(run.completion_tokens / seconds, 2) if seconds else None,
            "resumable": run.resumable,
            "error": run.error,
        })
    return data


def stats_json(stats: RunStats) -> dict[str, Any]:
    return dict(jsonable(asdict(stats)))


def comparison_json(
    comparison: Comparison, names: tuple[str | None, str | None] = (None, None)
) -> dict[str, Any]:
    """The comparison as JSON; ``names`` are the runs' names (None when unnamed), given
    beside each side's figures."""
    data = jsonable(asdict(comparison))
    data["a"]["run_name"], data["b"]["run_name"] = names
    for entry, difference in zip(data["differences"], comparison.differences, strict=True):
        entry["difference"] = difference.difference
    return dict(data)


def _agreement_rows(columns: list[Agreement]) -> list[tuple[str, ...]]:
    return [
        (FIGURE_LABELS.get(key, key), *(format_figure(a.figures[key]) for a in columns))
        for key in columns[0].figures
    ]


def describe_levels(levels: dict[str, int]) -> str:
    """'3 high, 1 medium, 2 low' (confidence at or above 0.8, between, below 0.5)."""
    return (f"{levels['high']} high (>= {HIGH_CONFIDENCE}), {levels['medium']} medium, "
            f"{levels['low']} low (< {LOW_CONFIDENCE})")


def print_stats(stats: RunStats, title: str = "") -> None:
    """``title`` names the run ('Run 3 "baseline"'; 'Run 3' when not given)."""
    too_long = (f" ({stats.skipped_too_long} too long for the context)"
                if stats.skipped_too_long else "")
    name = title or f"Run {stats.run_id}"
    print(f"{name} · {stats.rubric_name} · {stats.scored} of {stats.total_items} "
          f"scored, {stats.skipped} skipped{too_long}")
    top = max(stats.histogram.values(), default=0) or 1
    for score, count in stats.histogram.items():
        bar = "#" * round(HISTOGRAM_WIDTH * count / top)
        print(f"  {score:>3}  {bar:<{HISTOGRAM_WIDTH}}  {count}")
    print(f"mean score {format_figure(stats.mean_score, 2)}, "
          f"mean confidence {format_figure(stats.mean_confidence)}")
    print(f"confidence: {describe_levels(stats.confidence_levels)}")
    if stats.all_labelled is None:
        print("No human labels for this rubric version (import them with --label COLUMN).")
        return
    columns = [stats.all_labelled]
    headers = ["FIGURE", f"ALL LABELLED ({stats.all_labelled.n})"]
    if stats.confident_half is not None:
        columns.append(stats.confident_half)
        headers.append(f"CONFIDENT HALF ({stats.confident_half.n}, confidence >= "
                       f"{format_figure(stats.confidence_cutoff or 0.0)})")
    print()
    print_table(headers, _agreement_rows(columns))


def print_comparison(c: Comparison, titles: tuple[str, str] | None = None) -> None:
    """``titles`` name the runs ('Run 3 "baseline"'; 'Run 3' when not given)."""
    a, b = titles or (f"Run {c.a.run_id}", f"Run {c.b.run_id}")
    what = "two systems' outputs" if c.kind == "systems" else "the same outputs judged twice"
    print(f"{a} (A) and {b} (B): {what}, {count_of(c.paired, 'item')} paired by {c.paired_by}")
    if c.unpaired_a or c.unpaired_b:
        print(f"({count_of(c.unpaired_a, 'item')} of A and {c.unpaired_b} of B have no partner)")
    for name, side in (("A", c.a), ("B", c.b)):
        print(f"  mean score {name}: {format_figure(side.mean, 3)}  95% interval "
              f"[{format_figure(side.ci_low, 3)}, {format_figure(side.ci_high, 3)}]")
    print(f"  B against A: {c.wins} higher, {c.ties} equal, {c.losses} lower; "
          f"sign test p = {format_figure(c.sign_test_p, 4)}")
    if c.agreement is not None:
        print()
        print_table(["AGREEMENT OF B WITH A", f"n={c.agreement.n}"],
                    _agreement_rows([c.agreement]))
    print()
    if c.human_a is None and c.human_b is None:
        print("No human labels on the paired items (import them with --label COLUMN, or "
              "label verdicts in Review).")
    else:
        columns = [side for side in (c.human_a, c.human_b) if side is not None]
        headers = ["AGREEMENT WITH PEOPLE",
                   *(f"{name} (n={side.n})" for name, side in (("A", c.human_a),
                                                             ("B", c.human_b))
                     if side is not None)]
        print_table(headers, _agreement_rows(columns))
    if c.differences:
        print("\nItems that differ most:")
        print_table(
            ["ITEM", "SCORE A", "SCORE B", "EXPECTED A", "EXPECTED B"],
            [(d.key, d.score_a, d.score_b, f"{d.expected_a:.2f}", f"{d.expected_b:.2f}")
             for d in c.differences],
        )
