"""``flowjudge rubrics try | history | compare``: the rubric lab on the command line."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from flowjudge_tui.cli.model_args import add_model_arguments, load_from_args, settle_judge
from flowjudge_tui.cli.output import print_json, print_table
from flowjudge_tui.format import count_of

PREVIEW_CHARS = 160
PROBLEMS_SHOWN = 3


def register(verbs: argparse._SubParsersAction[Any]) -> None:
    """Add the lab's verbs to ``flowjudge rubrics``."""
    from flowjudge_tui.judging.backend import SamplingSettings

    trial = verbs.add_parser(
        "try", help="judge a rubric version on a labelled sample and measure its agreement",
        description="Judge this exact version of the rubric on a sample of labelled rows "
        "(stratified by label, the same sample for every version) and show how well it agrees "
        "with the people who labelled them. Verdicts are kept: trying a version again costs "
        "nothing.",
    )
    trial.add_argument("rubric", metavar="RUBRIC", help="a rubric name or a .toml file")
    trial.add_argument("--data", required=True, metavar="FILE|DATASET",
                       help="a labelled .csv/.tsv/.jsonl file, or a stored dataset's id or name")
    trial.add_argument("--label", metavar="COLUMN", help="the file's column of human scores")
    trial.add_argument("--map", action="append", default=[], metavar="COLUMN=field",
                       help="read a rubric field from this column (repeat; others are guessed)")
    trial.add_argument("--id", metavar="COLUMN", help="a column that names each row")
    trial.add_argument("--sample", type=int, default=20, metavar="N",
                       help="labelled rows to judge (default %(default)s)")
    trial.add_argument("--seed", type=int, default=0, metavar="S",
                       help="which sample (default %(default)s; the same for every version)")
    trial.add_argument("--max-tokens", type=int, default=SamplingSettings.max_feedback_tokens,
                       help="most tokens of feedback (default %(default)s)")
    add_model_arguments(trial)
    trial.add_argument("--json", action="store_true", help="print JSON")
    trial.set_defaults(handler=_try)

    history = verbs.add_parser("history", help="every tried version of a rubric, with figures")
    history.add_argument("name", metavar="NAME")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(handler=_history)

    compare = verbs.add_parser(
        "compare", help="two tried versions item by item, with a paired test",
    )
    compare.add_argument("name", metavar="NAME")
    compare.add_argument("version_a", metavar="V1", help="a version hash (or its first chars)")
    compare.add_argument("version_b", metavar="V2")
    compare.add_argument("--json", action="store_true", help="print JSON")
    compare.set_defaults(handler=_compare)


def terminal_safe(text: str) -> str:
    """User text with control characters (escape sequences included) made visible."""
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


def _one_line(text: str, limit: int = PREVIEW_CHARS) -> str:
    flat = " ".join(terminal_safe(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _try(args: argparse.Namespace) -> int:
    from flowjudge_tui.cli.progress_bar import ProgressPrinter
    from flowjudge_tui.cli.runs_cmd import _ctrl_c_stops, _store
    from flowjudge_tui.datasets import parse_map_args
    from flowjudge_tui.judging.backend import JudgeEngine, SamplingSettings
    from flowjudge_tui.judging.rubric import RubricLibrary
    from flowjudge_tui.reports.lab import trial_json, trial_result
    from flowjudge_tui.runs.trial import open_source, try_rubric
    from flowjudge_tui.settings import app_paths

    rubric = RubricLibrary(app_paths()).get(args.rubric).rubric
    settle_judge(args)
    with _store() as store:
        source = open_source(store, args.data, rubric, parse_map_args(args.map),
                             label=args.label, id_column=args.id)
        _report_problems(source.problems)
        off_scale = source.off_scale_sentence()
        if off_scale is not None:
            print(f"flowjudge: {off_scale}", file=sys.stderr)
        engines: list[JudgeEngine] = []

        def open_judge() -> JudgeEngine:
            # The seam for other judges (a server): anything that gives a JudgeEngine.
            engines.append(load_from_args(args))
            return engines[0]

        stop = threading.Event()
        with _ctrl_c_stops(stop):
            outcome = try_rubric(
                store, rubric, source, open_judge, sample_size=args.sample, seed=args.seed,
                planned=_planned(args),
                sampling=SamplingSettings(max_feedback_tokens=args.max_tokens),
                on_progress=ProgressPrinter(), stop=stop,
            )
        result = trial_result(store, outcome.trial)
    model_name = (engines[0].model_name if engines
                  else Path(args.model).name if args.model else args.server)
    if outcome.stopped:
        print(f"flowjudge: stopped; 'flowjudge rubrics try {args.rubric}' with the same "
              "options carries on where it stopped.", file=sys.stderr)
    if args.json:
        print_json({**trial_json(result), "judged_now": outcome.judged,
                    "reused_now": outcome.reused, "cached": outcome.cached,
                    "stopped": outcome.stopped, "labelled_rows": len(source.items),
                    "unusable_rows": [{"line": p.line, "reason": p.reason}
                                      for p in source.problems],
                    "labels_off_scale": None if source.labels_off_scale is None
                    else source.labels_off_scale.to_json()})
        return 130 if outcome.stopped else 0
    done = ("already tried: nothing judged" if outcome.cached else
            f"{outcome.judged} judged, {outcome.reused} reused, {outcome.skipped} skipped")
    print(f"Rubric {rubric.name}, version {result.version} ({done})")
    print(f"Sample: {len(result.entries)} of {len(source.items)} labelled rows of "
          f"{terminal_safe(source.name)} (seed {args.seed}), "
          f"model {terminal_safe(model_name)}")
    _print_result(result)
    return 130 if outcome.stopped else 0


def _planned(args: argparse.Namespace) -> tuple[Path, Any] | None:
    """The model file and the load settings it would get, to find a finished trial without
    loading the model (None when the file cannot be read yet: loading will say why)."""
    from flowjudge_tui.engine.plans import load_settings_for
    from flowjudge_tui.errors import FlowJudgeError
    from flowjudge_tui.models.installed import resolve_model_path

    if not args.model:
        return None  # a server: its trial is found once it is connected
    try:
        path = resolve_model_path(args.model)
        return path, load_settings_for(path, n_ctx=args.n_ctx, n_gpu_layers=args.gpu_layers)[0]
    except (FlowJudgeError, OSError):
        return None


def _report_problems(problems: list[Any]) -> None:
    """Rows left out of the sample, so a label column on another scale does not go unseen."""
    if not problems:
        return
    print(f"flowjudge: {count_of(len(problems), 'row')} could not be used and are left out of the "
          "sample:",
          file=sys.stderr)
    for problem in problems[:PROBLEMS_SHOWN]:
        print(f"flowjudge:   {terminal_safe(str(problem))}", file=sys.stderr)
    if len(problems) > PROBLEMS_SHOWN:
        print(f"flowjudge:   ... and {len(problems) - PROBLEMS_SHOWN} more", file=sys.stderr)


def _print_result(result: Any) -> None:
    from flowjudge_tui.reports.lab import FIGURE_NAMES

    print()
    print_table(["FIGURE", f"n={len(result.scored)}", "95% INTERVAL"],
                [(FIGURE_NAMES[name], _estimate(i), _bounds(i))
                 for name, i in result.figures.items()])
    scale = result.rubric.score_values
    print("\nConfusion (rows: people, columns: judge)")
    print_table(["PEOPLE \\ JUDGE", *[str(s) for s in scale]],
                [(str(s), *row) for s, row in zip(scale, result.confusion, strict=True)])
    if result.skipped:
        print(f"\n{result.skipped} sampled rows were skipped (too long for the context).")
    disagreements = result.disagreements
    print(f"\nDisagreements: {len(disagreements)}")
    for entry in disagreements:
        print(f"  {terminal_safe(entry.key)}: people {entry.label}, judge {entry.score}")
        print(f"    output:   {_one_line(entry.output)}")
        print(f"    feedback: {_one_line(entry.feedback)}")


def _estimate(interval: Any) -> str:
    from flowjudge_tui.format import format_figure

    return str(format_figure(interval.estimate, 2))


def _bounds(interval: Any) -> str:
    from flowjudge_tui.format import format_figure

    if interval.low != interval.low:
        return "n/a"
    return f"[{format_figure(interval.low, 2)}, {format_figure(interval.high, 2)}]"


def _history(args: argparse.Namespace) -> int:
    from flowjudge_tui.cli.runs_cmd import _store
    from flowjudge_tui.reports.lab import FIGURE_NAMES, trial_json, trial_result

    with _store() as store:
        results = [trial_result(store, t) for t in store.trials(args.name)]
    if args.json:
        print_json([trial_json(r, disagreements=False) for r in results])
        return 0
    if not results:
        print(f"No version of '{terminal_safe(args.name)}' has been tried yet; try one with "
              f"'flowjudge rubrics try {terminal_safe(args.name)} --data FILE --label COLUMN'.")
        return 0
    names = list(results[0].figures)
    print_table(
        ["TRIAL", "VERSION", "TRIED", "N", *[FIGURE_NAMES[n].upper() for n in names], "SAMPLE"],
        [(r.trial.id, r.version, r.trial.created_at[:19].replace("T", " "), len(r.scored),
          *[r.figures[n].describe() if n in r.figures else "-" for n in names],
          f"{r.trial.sample_size} of {terminal_safe(Path(r.trial.source).name)}, "
          f"seed {r.trial.seed}")
         for r in results],
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
    from flowjudge_tui.cli.runs_cmd import _store
    from flowjudge_tui.reports.lab import (
        compare_results,
        comparison_json,
        find_version,
        pair_trials,
        trial_result,
    )

    with _store() as store:
        trials = store.trials(args.name)
        a, b = pair_trials(find_version(trials, args.version_a, args.name),
                           find_version(trials, args.version_b, args.name))
        comparison = compare_results(trial_result(store, a), trial_result(store, b))
    if args.json:
        print_json(comparison_json(comparison))
        return 0
    print(comparison.sentence)
    if comparison.sign_test is not None:
        print(f"(sign test p = {comparison.sign_test.p_value:.3f}: "
              f"{count_of(comparison.sign_test.b_better, 'item')} closer with "
              f"{comparison.b.version}, "
              f"{comparison.sign_test.a_better} with {comparison.a.version})")
    print(f"\n{len(comparison.changed)} of {count_of(comparison.paired, 'item')} changed score")
    for item in comparison.changed:
        print(f"\n  {terminal_safe(item.key)}: people {item.label}, "
              f"{comparison.a.version} {item.score_a} -> {comparison.b.version} {item.score_b}")
        print(f"    {comparison.a.version}: {_one_line(item.feedback_a)}")
        print(f"    {comparison.b.version}: {_one_line(item.feedback_b)}")
    return 0
