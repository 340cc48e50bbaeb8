"""The workflows both front ends call: open a judge, start a run, resume a run, keep a spot check.

The command line and the app only parse, present and pass callbacks; what happens, and in
which order, is decided here once. Resuming follows one policy everywhere: a run continues with
its own model file and its own load settings, and only what the user overrides explicitly (the
context size, the GPU layers) changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from flowjudge_tui.datasets import ImportResult, import_dataset
from flowjudge_tui.errors import DatasetError, ModelError, StoreError
from flowjudge_tui.judging.backend import JudgeEngine, LoadSettings, SamplingSettings
from flowjudge_tui.judging.rubric import Item, Rubric
from flowjudge_tui.judging.verdict import Verdict
from flowjudge_tui.progress import ProgressCallback
from flowjudge_tui.runs.execute import (
    ItemFeedback,
    RunSummary,
    Stop,
    VerdictCallback,
    execute_runs,
    verdict_to_store,
)
from flowjudge_tui.runs.retry import forget_too_long, rope_notice
from flowjudge_tui.runs.work import (
    ServedModel,
    model_fingerprint,
    served_fingerprint,
    served_model_of,
    work_key,
)
from flowjudge_tui.store import NewItem, RunRecord, RunSettings, Store, check_run_name

SPOT_CHECK_SOURCE = "spot check"
DEFAULT_SERVER_CONCURRENCY = 4
"""Items in flight at once when a server judges a run (in-process: see --parallel)."""

Notice = Callable[[str], None]
EngineOpener = Callable[[Path, Sequence[LoadSettings]], JudgeEngine]
"""Loads a model file with the first of these settings that works (the app's keeps its own
idea of which model is in memory up to date; the default is ``engine.loader.load_engine``)."""


def _default_opener(notice: Notice | None) -> EngineOpener:
    def open_with(path: Path, plans: Sequence[LoadSettings]) -> JudgeEngine:
        from flowjudge_tui.engine.loader import load_engine

        return load_engine(path, plans, on_notice=notice)

    return open_with


def open_engine(
    model: str | Path,
    *,
    n_ctx: int | None = None,
    gpu_layers: int | None = None,
    n_parallel: int | None = 1,
    on_notice: Notice | None = None,
    opener: EngineOpener | None = None,
) -> JudgeEngine:
    """The judge for ``model`` (a catalog name, a registered name or a .gguf path), loaded with
    this machine's memory plan and the user's explicit overrides; ``n_parallel`` sequences
    decode together (None: as many as the plan fits)."""
    from flowjudge_tui.engine.plans import load_settings_for
    from flowjudge_tui.models.installed import resolve_model_path

    path = resolve_model_path(str(model))
    plans = load_settings_for(path, n_ctx=n_ctx, n_gpu_layers=gpu_layers,
                              n_parallel=n_parallel)
    return (opener or _default_opener(on_notice))(path, plans)


def open_served(
    server: str,
    model: str | None = None,
    *,
    unreachable_after: float | None = None,
    concurrency: int = DEFAULT_SERVER_CONCURRENCY,
) -> JudgeEngine:
    """The judge behind ``server`` (an OpenAI-compatible base URL): ``model``, or its only one,
    with ``concurrency`` judgments in flight in a run. ``unreachable_after``: seconds to keep
    retrying a server that does not answer."""
    from flowjudge_tui.engine.served import ServedEngine
    from flowjudge_tui.engine.served_http import ServerOptions

    options = ServerOptions() if unreachable_after is None else ServerOptions(
        unreachable_after=unreachable_after)
    return ServedEngine(server, model, options, concurrency=concurrency)


def create_run(
    store: Store,
    dataset_id: int,
    rubric: Rubric,
    model_path: Path | ServedModel,
    settings: RunSettings | None = None,
    on_progress: ProgressCallback | None = None,
    name: str | None = None,
) -> RunRecord:
    """A queued run of ``rubric`` over the dataset (its first ``settings.limit`` items), judged
    by a model file in-process or by a server (``ServedModel``), called ``name`` if given.

    ``on_progress`` follows the model file's hashing, the first time the file is seen.
    """
    settings = settings or RunSettings()
    dataset = store.get_dataset(dataset_id)
    if sorted(dataset.input_fields) != sorted(rubric.inputs):
        fields = ", ".join(repr(f) for f in dataset.input_fields) or "no inputs"
        needed = ", ".join(repr(f) for f in rubric.inputs) or "no inputs"
        raise DatasetError(
            f"Dataset {dataset_id} ('{dataset.name}') gives {fields} but rubric '{rubric.name}' "
            f"needs {needed}; import the file again for this rubric."
        )
    if settings.limit is not None and settings.limit < 1:
        raise DatasetError("--limit must be at least 1.")
    total = dataset.item_count if settings.limit is None else min(settings.limit,
                                                                   dataset.item_count)
    if isinstance(model_path, ServedModel):
        served, kind = served_fingerprint(model_path)
        return store.create_run(
            dataset_id=dataset_id, rubric=rubric, model_name=model_path.model,
            model_path=model_path.server, model_fingerprint=served, fingerprint_kind=kind,
            settings=settings, total_items=total, server_url=model_path.server, name=name,
        )
    fingerprint, kind = model_fingerprint(model_path, on_progress)
    return store.create_run(
        dataset_id=dataset_id,
        rubric=rubric,
        model_name=model_path.name,
        model_path=str(model_path.resolve()),
        model_fingerprint=fingerprint,
        fingerprint_kind=kind,
        settings=settings,
        total_items=total,
        name=name,
    )


@dataclass(frozen=True)
class DatasetSource:
    """A file to judge and how its columns feed the rubric (``import_dataset``'s arguments)."""

    path: Path
    column_map: Mapping[str, str] | None = None
    label: str | None = None
    id_column: str | None = None
    limit: int | None = None


def start_run(
    store: Store,
    source: DatasetSource,
    rubric: Rubric,
    engine: Callable[[], JudgeEngine],
    sampling: SamplingSettings | None = None,
    *,
    on_import_progress: ProgressCallback | None = None,
    on_imported: Callable[[ImportResult], None] | None = None,
    on_created: Callable[[RunRecord], None] | None = None,
    on_progress: ProgressCallback | None = None,
    on_verdict: VerdictCallback | None = None,
    on_feedback: ItemFeedback | None = None,
    stop: Stop | None = None,
    on_hash_progress: ProgressCallback | None = None,
    name: str | None = None,
) -> RunSummary:
    """Import ``source``, load the judge (``engine`` is called only once the file is in, so a
    bad file is reported before a slow model load), create the run and judge it.

    The settings are checked before anything is imported; if the judge cannot be loaded or
    the run cannot be created, the dataset just imported is deleted again (no run refers to
    it, so it would stay behind unseen). ``on_hash_progress`` follows the model file's first
    hashing; ``name`` names the run."""
    [summary] = start_runs(
        store, source, [rubric], engine, sampling, on_import_progress=on_import_progress,
        on_imported=on_imported, on_created=on_created, on_progress=on_progress,
        on_verdict=on_verdict, on_feedback=on_feedback, stop=stop,
        on_hash_progress=on_hash_progress, name=name)
    return summary


def start_runs(
    store: Store,
    source: DatasetSource,
    rubrics: Sequence[Rubric],
    engine: Callable[[], JudgeEngine],
    sampling: SamplingSettings | None = None,
    *,
    on_import_progress: ProgressCallback | None = None,
    on_imported: Callable[[ImportResult], None] | None = None,
    on_created: Callable[[RunRecord], None] | None = None,
    on_progress: ProgressCallback | None = None,
    on_verdict: VerdictCallback | None = None,
    on_feedback: ItemFeedback | None = None,
    stop: Stop | None = None,
    on_hash_progress: ProgressCallback | None = None,
    name: str | None = None,
) -> list[RunSummary]:
    """``start_run`` for several rubrics: one run per rubric, created together and judged
    together (``execute_runs``). The file is imported once per set of fields the rubrics
    read (and, with a label column, per scale: a label is checked against its rubric's
    scale, so a 0 is kept for a pass/fail rubric and dropped as off the scale for a 1-5
    one); on a failure before judging, every dataset imported here is deleted again. Each
    run is called ``name`` as it is (checked before anything is imported): the rubric beside
    it tells them apart."""
    sampling = (sampling or SamplingSettings()).check()
    name = None if name is None else check_run_name(name)
    imports: dict[_ImportKey, ImportResult] = {}
    runs: list[RunRecord] = []
    try:
        for rubric in rubrics:
            fields = _import_key(rubric, source)
            if fields not in imports:
                imports[fields] = import_dataset(
                    store, source.path, rubric, source.column_map, source.label,
                    source.id_column, limit=source.limit, on_progress=on_import_progress,
                )
                if on_imported is not None:
                    on_imported(imports[fields])
        judge = engine()
        identity = judge.path or served_model_of(judge)
        if identity is None:
            raise ModelError(
                f"{judge.model_name} has no model file on this machine to run with."
            )
        settings = RunSettings(sampling=sampling, load=judge.load, limit=source.limit)
        for rubric in rubrics:
            imported = imports[_import_key(rubric, source)]
            runs.append(create_run(store, imported.dataset.id, rubric, identity, settings,
                                   on_hash_progress, name=name))
    except BaseException:
        for run in runs:
            store.delete_run(run.id)
        # No run was made: an import made just for it is not left behind (a reused dataset
        # stays, and so does one another run uses).
        for imported in imports.values():
            if not imported.reused:
                store.delete_dataset_if_unused(imported.dataset.id)
        raise
    store.mark_started_together([run.id for run in runs])
    runs = [store.get_run(run.id) for run in runs]
    for run in runs:
        if on_created is not None:
            on_created(run)
    return execute_runs(store, [run.id for run in runs], judge, on_progress=on_progress,
                        on_verdict=on_verdict, on_feedback=on_feedback, stop=stop)


_ImportKey = tuple[tuple[str, ...], str, tuple[int, ...]]


def _import_key(rubric: Rubric, source: DatasetSource) -> _ImportKey:
    """What an import for ``rubric`` depends on besides the file: the fields it reads, and its
    scale when the file's labels are read (they are checked against it)."""
    scale = tuple(rubric.score_values) if source.label is not None else ()
    return tuple(sorted(rubric.inputs)), rubric.output, scale


def resume_settings(
    run: RunRecord, n_ctx: int | None = None, gpu_layers: int | None = None
) -> LoadSettings:
    """The run's own load settings with the user's explicit overrides."""
    load = run.settings.load
    if n_ctx is not None:
        load = replace(load, n_ctx=n_ctx)
    if gpu_layers is not None:
        load = replace(load, n_gpu_layers=gpu_layers)
    return load


def resume_run(
    store: Store,
    run_id: int,
    *,
    retry_too_long: bool = False,
    n_ctx: int | None = None,
    gpu_layers: int | None = None,
    n_parallel: int | None = None,
    opener: EngineOpener | None = None,
    on_notice: Notice | None = None,
    on_progress: ProgressCallback | None = None,
    on_verdict: VerdictCallback | None = None,
    on_feedback: ItemFeedback | None = None,
    stop: Stop | None = None,
    force: bool = False,
    server: str | None = None,
    server_model: str | None = None,
    unreachable_after: float | None = None,
) -> RunSummary:
    """Judge the items of run ``run_id`` that have no verdict yet, with the run's own model file
    and load settings (``n_ctx``, ``gpu_layers`` and ``n_parallel`` override them), or on the
    run's own server (``server`` moves it to another one serving the same model, or
    ``server_model``; ``n_parallel`` is then the items in flight). ``force`` takes the run over
    from an owner that still looks alive (see ``Store.claim_run``). ``retry_too_long`` first
    makes the items skipped as too long pending again, to judge them with the larger
    ``n_ctx`` (see ``runs.retry``)."""
    run = store.get_run(run_id)
    if not retry_too_long and (server is not None or run.server_url is not None) and (
            run.pending > 0 or run.state == "running"):
        return _resume_served(store, run, server, server_model, unreachable_after,
                              n_parallel, n_ctx, gpu_layers, on_progress, on_verdict,
                              on_feedback, stop, force)
    [summary] = resume_runs(
        store, [run_id], retry_too_long=retry_too_long, n_ctx=n_ctx, gpu_layers=gpu_layers,
        n_parallel=n_parallel, opener=opener, on_notice=on_notice, on_progress=on_progress,
        on_verdict=on_verdict, on_feedback=on_feedback, stop=stop, force=force)
    return summary


def _resume_served(
    store: Store, run: RunRecord, server: str | None, server_model: str | None,
    unreachable_after: float | None, concurrency: int | None, n_ctx: int | None,
    gpu_layers: int | None, on_progress: ProgressCallback | None,
    on_verdict: VerdictCallback | None, on_feedback: ItemFeedback | None, stop: Stop | None,
    force: bool,
) -> RunSummary:
    if run.server_url is None:
        raise ModelError(
            f"Run {run.id} is judged in-process by {run.model_name}; a server cannot continue "
            "it (its verdicts would come from another judge)."
        )
    if n_ctx is not None or gpu_layers is not None:
        raise ModelError("--n-ctx and --gpu-layers are the server's to set; drop them.")
    engine = open_served(server or run.server_url, server_model or run.model_name,
                         unreachable_after=unreachable_after,
                         concurrency=concurrency or DEFAULT_SERVER_CONCURRENCY)
    try:
        [summary] = execute_runs(store, [run.id], engine, on_progress=on_progress,
                                 on_verdict=on_verdict, on_feedback=on_feedback, stop=stop,
                                 force=force)
    finally:
        engine.close()
    return summary


def resume_runs(
    store: Store,
    run_ids: Sequence[int],
    *,
    retry_too_long: bool = False,
    n_ctx: int | None = None,
    gpu_layers: int | None = None,
    n_parallel: int | None = None,
    opener: EngineOpener | None = None,
    on_notice: Notice | None = None,
    on_progress: ProgressCallback | None = None,
    on_verdict: VerdictCallback | None = None,
    on_feedback: ItemFeedback | None = None,
    stop: Stop | None = None,
    force: bool = False,
) -> list[RunSummary]:
    """``resume_run`` for several runs of one model file, judged together (``execute_runs``):
    e.g. the runs of one ``flowjudge run --rubric A --rubric B`` after a crash. Runs with
    nothing left are only marked done. A load that fails steps down to fewer sequences.
    ``retry_too_long``: judge the items skipped as too long again, with the larger ``n_ctx``
    (``runs.retry.forget_too_long`` says when that is refused)."""
    ids = list(dict.fromkeys(run_ids))
    served = [run for run in (store.get_run(run_id) for run_id in ids)
              if run.server_url is not None]
    if served and not retry_too_long:
        if len(ids) > 1:
            raise ModelError("Runs " + ", ".join(str(run_id) for run_id in ids) + " include "
                             "runs judged on a server; resume them one at a time.")
        run = served[0]
        if run.pending > 0 or run.state == "running":
            return [_resume_served(store, run, None, None, None, n_parallel, n_ctx,
                                   gpu_layers, on_progress, on_verdict, on_feedback, stop,
                                   force)]
    if retry_too_long:
        for run in [store.get_run(run_id) for run_id in ids]:
            if run.server_url is None:
                _model_file(run)  # before anything is deleted
        forget_too_long(store, ids, n_ctx, force)
    summaries: dict[int, RunSummary] = {}
    todo: list[RunRecord] = []
    for run_id in ids:
        run = store.get_run(run_id)
        if run.pending == 0 and run.state != "running":
            if run.status != "done":
                run = store.finish_run(run_id, "done")
            summaries[run_id] = RunSummary(run, 0, 0, 0, False, 0.0)
        else:
            todo.append(run)
    if todo:
        if len({run.model_fingerprint for run in todo}) > 1:
            raise ModelError("Runs " + ", ".join(str(run.id) for run in todo) + " were judged "
                             "by different model files; resume them one at a time.")
        path = _model_file(todo[0])
        load = resume_settings(todo[0], n_ctx, gpu_layers)
        own_ctx = min(run.settings.load.n_ctx for run in todo)
        notice = rope_notice(path, own_ctx, load.n_ctx) if n_ctx is not None else None
        if notice is not None and on_notice is not None:
            on_notice(notice)
        # A retry's larger context per sequence would multiply the memory the run's plan
        # fitted: its few items are judged one at a time unless asked otherwise.
        sequences = n_parallel or (1 if retry_too_long else load.n_parallel)
        from flowjudge_tui.engine.fit import sequence_counts

        plans = [replace(load, n_parallel=count) for count in sequence_counts(sequences)]
        engine = (opener or _default_opener(on_notice))(path, plans)
        try:
            done = execute_runs(store, [run.id for run in todo], engine,
                                on_progress=on_progress, on_verdict=on_verdict,
                                on_feedback=on_feedback, stop=stop, force=force)
        finally:
            if retry_too_long:  # what the items were tried with, even when stopped
                for run in todo:
                    store.record_retry_context(run.id, load.n_ctx)
        if retry_too_long:
            done = [replace(summary, run=store.get_run(summary.run.id)) for summary in done]
        summaries.update({summary.run.id: summary for summary in done})
    return [summaries[run_id] for run_id in ids]


def _model_file(run: RunRecord) -> Path:
    path = Path(run.model_path)
    if not path.is_file():
        raise ModelError(f"Run {run.id} was judged with {path}, which is gone; put the file "
                         "back to resume.")
    return path


def keep_verdict(
    store: Store,
    rubric: Rubric,
    item: Item,
    verdict: Verdict,
    model_path: Path | ServedModel,
    settings: RunSettings,
) -> RunRecord:
    """Store a verdict made outside a run (a spot check) as a finished one-item run.

    It can then be reviewed, labelled, compared and exported like any run, and a run of the
    same item later reuses it.
    """
    item = rubric.check_item(item)
    fields = [*rubric.inputs, rubric.output]
    dataset = store.add_dataset(
        name=f"spot check · {rubric.name}",
        source_path=SPOT_CHECK_SOURCE,
        format="spot",
        columns=fields,
        mapping={name: name for name in fields},
        rubric=rubric,
        items=[NewItem(row_number=1, inputs=dict(item.inputs), output=item.output)],
    )
    run = create_run(store, dataset.id, rubric, model_path, settings)
    stored = store.items(dataset.id)[0]
    store.claim_run(run.id)
    key = work_key(run.model_fingerprint, rubric.content_hash, stored.content_hash,
                   settings.sampling, settings.load)
    store.add_verdict(run.id, stored.id, verdict_to_store(verdict, key))
    return store.finish_run(run.id, "done")


def delete_run(store: Store, run_id: int) -> RunRecord:
    """Delete a run with its verdicts, and its dataset when no other run uses it. Reviewers'
    labels and comments stay (they belong to the items' content, not to a run)."""
    run = store.get_run(run_id)
    if run.state == "running":
        raise StoreError(
            f"Run {run.id} is running; stop it first (escape in the app, Ctrl-C in the "
            "terminal that runs it), then delete it."
        )
    store.delete_run(run.id)
    store.delete_dataset_if_unused(run.dataset_id)
    return run

