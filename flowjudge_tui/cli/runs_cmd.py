"""``flowjudge run | runs list/show/resume/delete | stats | compare | export``."""

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

from flowjudge_tui.cli import arg_types, calibration_report
from flowjudge_tui.cli.model_args import (
    add_concurrency_argument,
    add_model_arguments,
    add_server_arguments,
    concurrency_from_args,
    load_from_args,
    print_notice,
    server_timeout,
    settle_judge,
)
from flowjudge_tui.cli.output import print_json, print_table, refusal_to_confirm
from flowjudge_tui.cli.progress_bar import ProgressPrinter
from flowjudge_tui.datasets import ImportResult, parse_map_args
from flowjudge_tui.errors import ModelError, ServerUnreachableError
from flowjudge_tui.format import count_of
from flowjudge_tui.judging.backend import JudgeEngine, SamplingSettings
from flowjudge_tui.judging.rubric import RubricLibrary
from flowjudge_tui.reports.export import FORMATS, export_run
from flowjudge_tui.runs.execute import RunSummary
from flowjudge_tui.runs.workflow import DatasetSource, resume_run, resume_runs, start_runs
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
    run.add_argument("--rubric", required=True, action="append",
                     help="a rubric name or a .toml file; repeat it to judge every item "
                     "against each rubric (one run per rubric, judged together)")
    run.add_argument("--data", required=True, type=Path, help="a .csv, .tsv or .jsonl file")
    run.add_argument("--map", action="append", default=[], metavar="COLUMN=field",
                     help="read a rubric field from this column (repeat; others are guessed)")
    run.add_argument("--label", metavar="COLUMN", help="a column of human scores on the scale")
    run.add_argument("--id", metavar="COLUMN", help="a column that names each row")
    run.add_argument("--limit", type=arg_types.positive, help="judge only the first N rows")
    run.add_argument("--name", type=arg_types.run_name, metavar="TEXT",
                     help="a name for the run, shown beside its id (each rubric's run gets it)")
    run.add_argument("--max-tokens", type=arg_types.positive,
                     default=SamplingSettings.max_feedback_tokens,
                     help="most tokens of feedback (default %(default)s)")
    run.add_argument("--temperature", type=arg_types.temperature,
                     default=SamplingSettings.temperature)
    run.add_argument("--seed", type=arg_types.seed, default=SamplingSettings.seed)
    _parallel_argument(run)
    run.add_argument("--json", action="store_true",
                     help="end with a JSON summary on stdout (a list with several rubrics)")
    add_concurrency_argument(run)
    run.set_defaults(handler=_run)

    runs = commands.add_parser("runs", help="list, show, rename, resume and delete runs")
    verbs = runs.add_subparsers(dest="runs_command", metavar="VERB")
    listing = verbs.add_parser("list", help="all runs, newest first")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)
    show = verbs.add_parser("show", help="one run's settings, progress and timing")
    show.add_argument("run_id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=_show)
    resume = verbs.add_parser("resume", help="judge the items a run has not judged yet")
    resume.add_argument("run_ids", type=int, nargs="+", metavar="ID",
                        help="one run, or several of one model file to judge together")
    resume.add_argument("--n-ctx", type=arg_types.context_size, default=None,
                        help="judge with this context size instead of the run's own")
    resume.add_argument("--retry-skipped", action="store_true",
                        help="judge again the items skipped as too long for the run's context, "
                        "with the larger --n-ctx (not those skipped for NaN logits)")
    resume.add_argument("--gpu-layers", type=arg_types.gpu_layers, default=None,
                        help="offload this many layers instead of the run's own plan")
    resume.add_argument("--force", action="store_true",
                        help="take the run over even if its owner still looks alive (e.g. a "
                        "re-created container); only when that process is surely gone")
    _parallel_argument(resume)
    resume.add_argument("--json", action="store_true",
                        help="end with a JSON summary on stdout (a list with several runs)")
    add_server_arguments(resume)
    add_concurrency_argument(resume)
    resume.set_defaults(handler=_resume)

    rename = verbs.add_parser("rename", help="give a run a name (\"\" takes it away)",
                              description="Give a run a name, shown beside its id in lists, "
                              "Review, Compare and reports. An empty name takes it away.")
    rename.add_argument("run_id", type=int, metavar="ID")
    rename.add_argument("name", metavar="NAME")
    rename.set_defaults(handler=_rename)

    delete = verbs.add_parser("delete", help="delete a run and its verdicts",
                              description="Delete a run, its verdicts, and its imported "
                              "dataset when no other run uses it. Your labels and comments "
                              "are kept: they belong to the items, not to the run.")
    delete.add_argument("run_id", type=int, metavar="ID")
    delete.add_argument("--yes", action="store_true", help="do not ask first")
    delete.set_defaults(handler=_delete)

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


def _parallel_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parallel", type=_at_least_one, default=None, metavar="N",
                        help="sequences decoded together (default: as many as the memory "
                        "plan fits, see 'flowjudge models plan'; verdicts do not change)")


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


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
    print(f"flowjudge: imported {count_of(result.imported, 'row')} from "
          f"{result.dataset.source_path} as dataset {result.dataset.id}", file=sys.stderr)
    for problem in result.problems[:MAX_PROBLEMS_SHOWN]:
        print(f"flowjudge: skipped {problem}", file=sys.stderr)
    if len(result.problems) > MAX_PROBLEMS_SHOWN:
        print(f"flowjudge: ... and {len(result.problems) - MAX_PROBLEMS_SHOWN} more bad rows",
              file=sys.stderr)
    if result.labels_off_scale is not None:
        print(f"flowjudge: {result.labels_off_scale.sentence()}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    library = RubricLibrary(app_paths())
    rubrics = list({r.content_hash: r for r in (library.get(name).rubric
                                                  for name in args.rubric)}.values())
    for rubric in rubrics:
        for warning in rubric.warnings():
            print(f"flowjudge: warning: {rubric.name}: {warning}", file=sys.stderr)
    source = DatasetSource(args.data, parse_map_args(args.map), args.label, args.id, args.limit)
    sampling = SamplingSettings(temperature=args.temperature,
                                max_feedback_tokens=args.max_tokens, seed=args.seed).check()
    settle_judge(args)
    imported: dict[int, ImportResult] = {}

    def report_import(result: ImportResult) -> None:
        imported[result.dataset.id] = result
        _report_import(result)

    created: list[RunRecord] = []
    one_at_a_time: list[bool] = []

    def report_run(run: RunRecord) -> None:
        created.append(run)
        where = ""
        if run.server_url and one_at_a_time:
            where = f" at {run.server_url}, 1 in flight (the server serves one at a time)"
        elif run.server_url:
            where = f" at {run.server_url}, {concurrency_from_args(args, True)} in flight"
        print(f"flowjudge: run {run.id}{run.quoted_name}: {count_of(run.total_items, 'item')}, "
              f"{run.rubric_name}, {run.model_name}{where}", file=sys.stderr)

    def load() -> JudgeEngine:
        engine = load_from_args(args, n_parallel=args.parallel)
        if engine.load.n_parallel > 1:
            print(f"flowjudge: judging {engine.load.n_parallel} sequences at a time",
                  file=sys.stderr)
        if getattr(engine, "n_parallel", 1) < getattr(engine, "concurrency", 1):
            one_at_a_time.append(True)
        return engine

    with _store() as store:
        stop = threading.Event()
        with _ctrl_c_stops(stop), _server_stops_run(store, created):
            summaries = start_runs(
                store, source, rubrics, load, sampling,
                on_import_progress=ProgressPrinter(), on_imported=report_import,
                on_created=report_run, on_progress=ProgressPrinter(), stop=stop,
                on_hash_progress=ProgressPrinter(), name=args.name,
            )
        extras = []
        for summary in summaries:
            result = imported[summary.run.dataset_id]
            off_scale = result.labels_off_scale
            extras.append({"dataset_id": result.dataset.id, "imported": result.imported,
                           "bad_rows": [{"line": p.line, "reason": p.reason}
                                        for p in result.problems],
                           "labels_off_scale": None if off_scale is None
                           else off_scale.to_json()})
        return _finish_all(summaries, args.json, extras)


def _finish_all(summaries: list[RunSummary], as_json: bool,
                extras: list[dict[str, Any]] | None = None, retry_ctx: int | None = None) -> int:
    """Report each run; JSON is one object for one run and a list for several.
    ``retry_ctx``: the context a retry of too-long items used (to continue it the same way)."""
    single = len(summaries) == 1
    codes = [_finish(summary, as_json and single, extras[index] if extras else None,
                     retry_ctx)
             for index, summary in enumerate(summaries)]
    stopped = [str(summary.run.id) for summary in summaries if summary.run.pending]
    if not single and len(stopped) > 1:
        retry = f" --retry-skipped --n-ctx {retry_ctx}" if retry_ctx else ""
        print(f"flowjudge: continue them together with 'flowjudge runs resume "
              f"{' '.join(stopped)}{retry}'.", file=sys.stderr)
    if as_json and not single:
        print_json([_summary_json(summary, extras[index] if extras else None)
                    for index, summary in enumerate(summaries)])
    return max(codes)


def _finish(summary: RunSummary, as_json: bool, extra: dict[str, Any] | None = None,
            retry_ctx: int | None = None) -> int:
    from flowjudge_tui.runs.retry import retry_command, too_long_hint

    run = summary.run
    resume = (retry_command(run, retry_ctx) if retry_ctx
              else f"flowjudge runs resume {run.id}")
    if summary.stopped:
        print(f"flowjudge: run {run.id} stopped with {run.done} of "
              f"{count_of(run.total_items, 'verdict')} "
              f"saved; continue it with '{resume}'.", file=sys.stderr)
    else:
        too_long = f" ({summary.too_long} too long)" if summary.too_long else ""
        print(f"flowjudge: run {run.id} {run.state}: {summary.judged} judged, {summary.reused} "
              f"reused, {summary.skipped} skipped{too_long} in {summary.seconds:.1f} s; see "
              f"'flowjudge stats {run.id}'.", file=sys.stderr)
        hint = too_long_hint(run, retry_ctx)
        if hint is not None:
            print(f"flowjudge: {hint}", file=sys.stderr)
    if as_json:
        print_json(_summary_json(summary, extra))
    return 130 if summary.stopped else 0


def _summary_json(summary: RunSummary, extra: dict[str, Any] | None) -> dict[str, Any]:
    from flowjudge_tui.cli import runs_report as report

    run = summary.run
    resume = f"flowjudge runs resume {run.id}"
    return {
        "run_id": run.id,
        **report.run_json(run),
        "judged_now": summary.judged,
        "reused_now": summary.reused,
        "skipped_now": summary.skipped,
        "too_long_now": summary.too_long,
        "stopped": summary.stopped,
        "seconds": summary.seconds,
        "resume_command": resume if run.pending else None,
        **(extra or {}),
    }


def _list(args: argparse.Namespace) -> int:
    with _store() as store:
        runs = store.list_runs()
    if args.json:
        from flowjudge_tui.cli.runs_report import run_json

        print_json([run_json(run) for run in runs])
        return 0
    print_table(
        ["ID", "NAME", "STATUS", "DONE", "TOTAL", "SKIPPED", "RUBRIC", "MODEL", "DATASET",
         "CREATED"],
        [(r.id, r.name or "", r.state, r.done, r.total_items, _skipped(r), r.rubric_name,
          r.model_name, r.dataset_name, r.created_at[:19].replace("T", " ")) for r in runs],
    )
    from flowjudge_tui.runs.retry import suggested_context

    retry = [r for r in runs if r.skipped_too_long and r.server_url is None]
    if retry:
        ids = ", ".join(str(r.id) for r in retry)
        print(f"\nRun{'s' if len(retry) > 1 else ''} {ids} skipped items as too long for the "
              "context; judge them with a larger one: 'flowjudge runs resume ID "
              f"--retry-skipped --n-ctx {max(suggested_context(r) for r in retry)}'.")
    return 0


def _skipped(run: RunRecord) -> str:
    """'3', or '3 (2 too long)' when some were too long for the context."""
    if run.skipped_too_long:
        return f"{run.skipped} ({run.skipped_too_long} too long)"
    return str(run.skipped)


def _rename(args: argparse.Namespace) -> int:
    from flowjudge_tui.store import check_run_name

    name = check_run_name(args.name) if args.name.strip() else None
    with _store() as store:
        run = store.rename_run(args.run_id, name)
    print(f"{run.title} is now unnamed." if name is None else f"Renamed: {run.title}.")
    return 0


def _delete(args: argparse.Namespace) -> int:
    from flowjudge_tui.runs.workflow import delete_run

    with _store() as store:
        run = store.get_run(args.run_id)
        what = (f"run {run.id}{run.quoted_name} ({run.rubric_name} on {run.dataset_name}, "
                f"{run.done} of {run.total_items} judged)")
        refused = refusal_to_confirm(args.yes, f"delete {what}", f"Delete {what}?",
                                     "Nothing deleted.")
        if refused is not None:
            return refused
        delete_run(store, run.id)
    print(f"Deleted run {run.id}.")
    return 0


def _show(args: argparse.Namespace) -> int:
    from flowjudge_tui.cli.runs_report import run_json

    with _store() as store:
        run = store.get_run(args.run_id)
    data = run_json(run, detailed=True)
    if args.json:
        print_json(data)
        return 0
    from flowjudge_tui.runs.retry import too_long_hint

    for key, value in data.items():
        print(f"{key:>18}: {value}")
    if run.resumable:
        print(f"\nContinue it with 'flowjudge runs resume {run.id}'.")
    hint = too_long_hint(run)
    if hint is not None:
        print(f"\n{hint[0].upper()}{hint[1:]}")
    return 0


def _resume(args: argparse.Namespace) -> int:
    with _store() as store:
        if args.force:
            for run_id in args.run_ids:
                _warn_takeover(store.get_run(run_id))
        runs = [store.get_run(run_id) for run_id in args.run_ids]
        if args.retry_skipped and args.server is not None:
            raise ModelError("--retry-skipped judges with a larger context in-process, which "
                             "a server sets itself; drop --server.")
        served = not args.retry_skipped and (
            args.server is not None or any(run.server_url for run in runs))
        if served and len(runs) > 1:
            raise ModelError("Resume runs judged on a server one at a time.")
        stop = threading.Event()
        with _ctrl_c_stops(stop), _server_stops_run(store, runs):
            if served:
                summaries = [resume_run(
                    store, runs[0].id, n_ctx=args.n_ctx, gpu_layers=args.gpu_layers,
                    n_parallel=concurrency_from_args(args, True), on_notice=print_notice,
                    on_progress=ProgressPrinter(), stop=stop, force=args.force,
                    server=args.server, server_model=args.server_model,
                    unreachable_after=server_timeout(args))]
            else:
                if args.retry_skipped and args.n_ctx is not None:
                    _offer_companions(store, runs, args.n_ctx)
                summaries = resume_runs(store, args.run_ids, retry_too_long=args.retry_skipped,
                                        n_ctx=args.n_ctx, gpu_layers=args.gpu_layers,
                                        n_parallel=args.parallel, on_notice=print_notice,
                                        on_progress=ProgressPrinter(), stop=stop,
                                        force=args.force)
        return _finish_all(summaries, args.json,
                           retry_ctx=args.n_ctx if args.retry_skipped else None)


def _offer_companions(store: Store, runs: list[RunRecord], n_ctx: int) -> None:
    """Say which runs started together with those named have too-long items as well."""
    from flowjudge_tui.runs.retry import companions_hint, retry_companions

    companions = {other.id: other for run in runs for other in retry_companions(store, run)}
    hint = companions_hint([run.id for run in runs], list(companions.values()), n_ctx)
    if hint is not None:
        print(f"flowjudge: {hint}", file=sys.stderr)


class RunStoppedByServer(ServerUnreachableError):
    """A run stopped because its server stayed unreachable; its verdicts are kept."""


@contextmanager
def _server_stops_run(store: Store, runs: list[RunRecord]) -> Iterator[None]:
    """One sentence when the server goes away: which server, what is kept, how to go on
    (``runs`` holds the run once it exists)."""
    try:
        yield
    except ServerUnreachableError as exc:
        if not runs:
            raise
        run = store.get_run(runs[0].id)
        error = RunStoppedByServer(exc.server, exc.waited, exc.problem)
        error.args = (
            f"run {run.id} stopped with {run.done} of {count_of(run.total_items, 'verdict')} "
            "saved: the "
            f"server at {exc.server} has been unreachable for {exc.waited:.0f} s "
            f"({exc.problem}); start it again and continue with "
            f"'flowjudge runs resume {run.id}' (or move it with --server URL).",
        )
        raise error from None


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
    from flowjudge_tui.runs.retry import too_long_hint

    with _store() as store:
        stats = run_stats(store, args.run_id)
        calibration = calibration_report.calibration_section(store, args.run_id, args)
        run = store.get_run(args.run_id)
        hint = too_long_hint(run)
    if args.json:
        print_json({**stats_json(stats), "run_name": run.name, **calibration})
    else:
        print_stats(stats, run.title)
        calibration_report.print_calibration(calibration)
        if hint is not None:
            print(f"\n{hint[0].upper()}{hint[1:]}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from flowjudge_tui.cli.runs_report import comparison_json, print_comparison
    from flowjudge_tui.reports.agreement import compare_runs

    with _store() as store:
        comparison = compare_runs(store, args.run_a, args.run_b)
        runs = store.get_run(args.run_a), store.get_run(args.run_b)
    if args.json:
        print_json(comparison_json(comparison, (runs[0].name, runs[1].name)))
    else:
        print_comparison(comparison, (runs[0].title, runs[1].title))
    return 0


def _export(args: argparse.Namespace) -> int:
    with _store() as store:
        written = export_run(store, args.run_id, args.format, args.out)
    for path in written:
        print(f"flowjudge: wrote {path}", file=sys.stderr)
    return 0
