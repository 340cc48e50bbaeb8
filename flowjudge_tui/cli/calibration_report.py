"""The calibration part of ``flowjudge stats``: reliability, ECE, coverage, review threshold."""

from __future__ import annotations

import argparse
from typing import Any

from flowjudge_tui.cli.output import print_table
from flowjudge_tui.errors import FlowJudgeError
from flowjudge_tui.format import count_of


def add_arguments(stats: argparse.ArgumentParser) -> None:
    stats.add_argument("--target", type=float, metavar="AGREEMENT",
                       help="suggest the lowest probability threshold whose accepted verdicts "
                       "agree with people at least this often (e.g. 0.9)")
    stats.add_argument("--flag-below", type=float, metavar="T",
                       help="mark the run's verdicts with a probability below T as 'needs "
                       "review' (Review filters on it; 0 clears it)")
    stats.add_argument("--flag", action="store_true",
                       help="with --target: mark the verdicts below the suggested threshold")


def check_arguments(args: argparse.Namespace) -> None:
    if args.target is not None and not 0.0 < args.target <= 1.0:
        raise FlowJudgeError("--target must be an agreement above 0 and at most 1, like 0.9.")
    if args.flag_below is not None and not 0.0 <= args.flag_below <= 1.0:
        raise FlowJudgeError("--flag-below must be a probability between 0 and 1, like 0.8.")
    if args.flag and args.target is None:
        raise FlowJudgeError("--flag marks the threshold --target suggests; add --target 0.9 "
                             "(or give the threshold with --flag-below T).")


def calibration_section(store: Any, run_id: int, args: argparse.Namespace) -> dict[str, Any]:
    """Compute the run's calibration, apply --flag/--flag-below, and return the keys that
    ``stats --json`` adds: ``reliability``, ``ece``, ``coverage``, ``suggested_threshold``..."""
    from flowjudge_tui.reports.calibration import BASIS, run_calibration

    check_arguments(args)
    scale = store.get_rubric(store.get_run(run_id).rubric_hash).score_values
    result = run_calibration(store.judged_items(run_id), scale, target=args.target)
    threshold: float | None = None
    changed = False
    if args.flag_below is not None:
        threshold, changed = (args.flag_below or None), True
    elif args.flag:
        if result is None or result.suggested is None:
            raise FlowJudgeError(
                f"No threshold reaches an agreement of {args.target:g} on run {run_id}'s "
                "labelled verdicts, so nothing was flagged; lower --target or use --flag-below."
            )
        threshold, changed = result.suggested.threshold, True
    if changed:
        store.set_review_threshold(run_id, threshold)
    empty = {"n": 0, "reliability": [], "ece": None, "coverage": [], "target": args.target,
             "suggested_threshold": None}
    figures = empty if result is None else result.to_json()
    return {
        "calibration_basis": BASIS,
        "calibration_n": figures.pop("n"),
        **figures,
        "review_below": store.review_threshold(run_id),
    }


def print_calibration(calibration: dict[str, Any]) -> None:
    review = calibration["review_below"]
    print()
    if not calibration["calibration_n"]:
        print("Calibration: no labelled verdicts to measure it on.")
    else:
        print(f"Calibration over {calibration['calibration_n']} labelled verdicts, by "
              f"{calibration['calibration_basis']}; expected calibration error "
              f"{_figure(calibration['ece'])}")
        print_table(
            ["PROBABILITY", "VERDICTS", "MEAN PROB.", "AGREEMENT (95% INTERVAL)"],
            [(f"{b['low']:.1f}-{b['high']:.1f}", b["count"], _figure(b["mean_confidence"]),
              _interval(b["agreement"])) for b in calibration["reliability"] if b["count"]],
        )
        print("\nAccept verdicts with probability >= t, send the rest to a person:")
        print_table(
            ["T", "ACCEPTED", "SHARE", "AGREEMENT OF ACCEPTED (95% INTERVAL)"],
            [(f"{r['threshold']:g}", r["accepted"], _figure(r["share"]["estimate"]),
              _interval(r["agreement"])) for r in calibration["coverage"]],
        )
        target, suggested = calibration["target"], calibration["suggested_threshold"]
        if target is not None and suggested is None:
            print(f"\nNo threshold reaches an agreement of {target:g} on these verdicts.")
        elif suggested is not None:
            print(f"\nLowest threshold reaching {target:g}: t = {suggested['threshold']:.3f} "
                  f"accepts {suggested['accepted']} of {count_of(suggested['total'], 'verdict')}"
                  ", agreement "
                  f"{_interval(suggested['agreement'])}.")
    if review is not None:
        print(f"Verdicts below {review:.3f} are marked 'needs review'.")


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _interval(interval: dict[str, Any]) -> str:
    if interval["estimate"] is None:
        return "n/a"
    if interval["low"] is None:
        return _figure(interval["estimate"])
    return (f"{interval['estimate']:.2f} [{interval['low']:.2f}, {interval['high']:.2f}]")
