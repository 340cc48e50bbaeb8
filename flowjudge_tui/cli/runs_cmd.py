"""``flowjudge run | runs list/show/resume | stats | compare | export``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from flowjudge_tui.cli import calibration_report
from flowjudge_tui.cli.model_args import add_model_arguments, load_from_args, print_notice
from flowjudge_tui.cli.output import print_json, print_table
from flowjudge_tui.cli.progress_bar import ProgressPrinter
from flowjudge_tui.datasets import ImportResult, parse_map_args
from flowjudge_tui.judging.backend import SamplingSettings
from flowjudge_tui.judging.rubric import RubricLibrary
from flowjudge_tui.reports.export import FORMATS, export_run
from flowjudge_tui.runs.execute import RunSummary
from flowjudge_tui.runs.workflow import DatasetSource, resume_run, start_run
from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import RunRecord, Store, open_store

MAX_PROBLEMS_SHOWN = 20


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this module's verbs to the flowjudge parser."""
    run = commands.add_parser(
        "run", help="judge every row of a CSV/JSONL file and store the verdicts",
        description="Import a dataset and judge it. Verdicts are saved one by one: Ctrl-C "
        "stops cleanly and 'flowjudge runs resume ID' carries on.",
    )
    add_model_arguments(run)
    run.add_argument("--rubric", required=True, help="a rubric name or a .toml file")
    run.add_argument("--data", required=True, type=Path, help="a .csv, .tsv or .jsonl file")
    run.add_argument("--map", action="append", default=[], metavar="COLUMN=field",
                     help="read a rubric field from this column (repeat; others are guessed)")
    run.add_argument("--label", metavar="COLUMN", help="a column of human scores on the scale")
    run.add_argument("--id", metavar="COLUMN", help="a column that names each row")
    run.add_argument("--limit", type=int, help="judge only the first N rows")
    run.add_argument("--max-tokens", type=int, default=SamplingSettings.max_feedback_tokens,
                     help="most tokens of feedback (default %(default)s)")
    run.add_argument("--temperature", type=float, default=SamplingSettings.temperature)
    run.add_argument("--seed", type=int, default=SamplingSettings.seed)
    run.add_argument("--json", action="store_true", help="end with a JSON summary on stdout")
    run.set_defaults(handler=_run)

    runs = commands.add_parser("runs", help="list, show and resume runs")
    verbs = runs.add_subparsers(dest="runs_command", metavar="VERB")
    listing = verbs.add_parser("list", help="all runs, newest first")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)
    show = verbs.add_parser("show", help="one run's settings, progress and timing")
    show.add_argument("run_id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=_show)
    resume = verbs.add_parser("resume", help="judge the items a run has not judged yet")
    resume.add_argument("run_id", type=int, metavar="ID")
    resume.add_argument("--n-ctx", type=int, default=None,
                        help="judge with this context size instead of the run's own")
    resume.add_argument("--gpu-layers", type=int, default=None,
                        help="offload this many layers instead of the run's own plan")
    resume.add_argument("--force", action="store_true",
                        help="take the run over even if its owner still looks alive (e.g. a "
                        "re-created container); only when that process is surely gone")
    resume.add_argument("--json", action="store_true", help="end with a JSON summary on stdout")
    resume.set_defaults(handler=_resume)

    stats = commands.add_parser("stats", help="a run's scores and agreement with human labels")
    stats.add_argument("run_id", type=int, metavar="ID")
    stats.add_argument("--json", action="store_true", help="print JSON")
    calibration_report.add_arguments(stats)
    stats.set_defaults(handler=_stats)

    compare = commands.add_parser("compare", help="compare two runs over the same items")
    compare.add_argument("run_a", type=int, metavar="A")
    compare.add_argument("run_b", type=int, metavar="B")
    compare.add_argument("--json", action="store_true", help="print JSON")
    compare.set_defaults(handler=_compare)

    export = commands.add_parser("export", help="write a run as JSONL, CSV or an HTML report")
    export.add_argument("run_id", type=int, metavar="ID")
    export.add_argument("--format", choices=FORMATS, required=True)
    export.add_argument("--out", type=Path, required=True, help="the file to write")
    export.set_defaults(handler=_export)


@contextmanager
def _store() -> Iterator[Store]:
    store = open_store()
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C asks the run to stop (the judgment in flight is dropped); a second
    one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nflowjudge: stopping (Ctrl-C again to quit at once)...", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _report_import(result: ImportResult) -> None:
    print(f"flowjudge: imported {result.imported:,} rows from {result.dataset.source_path} "
          f"as dataset {result.dataset.id}", file=sys.stderr)
    for problem in result.problems[:MAX_PROBLEMS_SHOWN]:
        print(f"flowjudge: skipped {problem}", file=sys.stderr)
    if len(result.problems) > MAX_PROBLEMS_SHOWN:
        print(f"flowjudge: ... and {len(result.problems) - MAX_PROBLEMS_SHOWN} more bad rows",
              file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    rubric = RubricLibrary(app_paths()).get(args.rubric).rubric
    for warning in rubric.warnings():
        print(f"flowjudge: warning: {warning}", file=sys.stderr)
    source = DatasetSource(args.data, parse_map_args(args.map), args.label, args.id, args.limit)
    sampling = SamplingSettings(temperature=args.temperature,
                                max_feedback_tokens=args.max_tokens, seed=args.seed).check()
    imported: list[ImportResult] = []

    def report_import(result: ImportResult) -> None:
        imported.append(result)
        _report_import(result)

    def report_run(run: RunRecord) -> None:
        print(f"flowjudge: run {run.id}: {run.total_items} items, {run.rubric_name}, "
              f"{run.model_name}", file=sys.stderr)

    with _store() as store:
        stop = threading.Event()
        with _ctrl_c_stops(stop):
            summary = start_run(
                store, source, rubric, lambda: load_from_args(args), sampling,
                on_import_progress=ProgressPrinter(), on_imported=report_import,
                on_created=report_run, on_progress=ProgressPrinter(), stop=stop,
                on_hash_progress=ProgressPrinter(),
            )
        result = imported[0]
        extra = {"dataset_id": result.dataset.id, "imported": result.imported,
                 "bad_rows": [{"line": p.line, "reason": p.reason} for p in result.problems]}
        return _finish(summary, args.json, extra)


def _finish(summary: RunSummary, as_json: bool, extra: dict[str, Any] | None = None) -> int:
    run = summary.run
    resume = f"flowjudge runs resume {run.id}"
    if summary.stopped:
        print(f"flowjudge: run {run.id} stopped with {run.done} of {run.total_items} verdicts "
              f"saved; continue it with '{resume}'.", file=sys.stderr)
    else:
        print(f"flowjudge: run {run.id} {run.state}: {summary.judged} judged, {summary.reused} "
              f"reused, {summary.skipped} skipped in {summary.seconds:.1f} s; see "
              f"'flowjudge stats {run.id}'.", file=sys.stderr)
    if as_json:
        from flowjudge_tui.cli import runs_report as report

        print_json({
            "run_id": run.id,
            **report.run_json(run),
            "judged_now": summary.judged,
            "reused_now": summary.reused,
            "skipped_now": summary.skipped,
            "stopped": summary.stopped,
            "seconds": summary.seconds,
            "resume_command": resume if run.pending else None,
            **(extra or {}),
        })
    return 130 if summary.stopped else 0


def _list(args: argparse.Namespace) -> int:
    with _store() as store:
        runs = store.list_runs()
    if args.json:
        from flowjudge_tui.cli.runs_report import run_json

        print_json([run_json(run) for run in runs])
        return 0
    print_table(
        ["ID", "STATUS", "DONE", "TOTAL", "RUBRIC", "MODEL", "DATASET", "CREATED"],
        [(r.id, r.state, r.done, r.total_items, r.rubric_name, r.model_name, r.dataset_name,
          r.created_at[:19].replace("T", " ")) for r in runs],
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from flowjudge_tui.cli.runs_report import run_json

    with _store() as store:
        run = store.get_run(args.run_id)
    data = run_json(run, detailed=True)
    if args.json:
        print_json(data)
        return 0
    for key, value in data.items():
        print(f"{key:>18}: {value}")
    if run.resumable:
        print(f"\nContinue it with 'flowjudge runs resume {run.id}'.")
    return 0


def _resume(args: argparse.Namespace) -> int:
    with _store() as store:
        if args.force:
            _warn_takeover(store.get_run(args.run_id))
        stop = threading.Event()
        with _ctrl_c_stops(stop):
            summary = resume_run(store, args.run_id, n_ctx=args.n_ctx,
                                 gpu_layers=args.gpu_layers, on_notice=print_notice,
                                 on_progress=ProgressPrinter(), stop=stop, force=args.force)
        return _finish(summary, args.json)


def _warn_takeover(run: RunRecord) -> None:
    if run.state != "running":
        return
    print(f"flowjudge: warning: taking run {run.id} over from process {run.owner_pid} on "
          f"{run.owner_host}, which still looks alive; if it is in fact judging, both will "
          "work on the run (no verdict is stored twice, but work is wasted). Stop it first "
          "if you can.", file=sys.stderr)


def _stats(args: argparse.Namespace) -> int:
    from flowjudge_tui.cli.runs_report import print_stats, stats_json
    from flowjudge_tui.reports.agreement import run_stats

    with _store() as store:
        stats = run_stats(store, args.run_id)
        calibration = calibration_report.calibration_section(store, args.run_id, args)
    if args.json:
        print_json({**stats_json(stats), **calibration})
    else:
        print_stats(stats)
        calibration_report.print_calibration(calibration)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from flowjudge_tui.cli.runs_report import comparison_json, print_comparison
    from flowjudge_tui.reports.agreement import compare_runs

    with _store() as store:
        comparison = compare_runs(store, args.run_a, args.run_b)
    if args.json:
        print_json(comparison_json(comparison))
    else:
        print_comparison(comparison)
    return 0


def _export(args: argparse.Namespace) -> int:
    with _store() as store:
        written = export_run(store, args.run_id, args.format, args.out)
    for path in written:
        print(f"flowjudge: wrote {path}", file=sys.stderr)
    return 0
