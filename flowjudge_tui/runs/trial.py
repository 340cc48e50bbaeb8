"""Try a rubric version on labelled examples: sample, judge, keep the trial.

The sample is stratified by label and depends only on the labelled source, its size and the
seed, never on the rubric: every version of a rubric is measured on the same items unless the
user asks for another sample. Judging goes through an ordinary run over a dataset holding just
the sample, so verdicts are reused by work key: trying the same version again judges nothing,
and an edit judges only the work that changed (every item, when the prompt changed; none when
only the description did).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flowjudge_tui.datasets import OffScaleLabels, import_dataset
from flowjudge_tui.datasets.files import RowProblem
from flowjudge_tui.errors import DatasetError, ModelError, StoreError
from flowjudge_tui.judging.backend import JudgeEngine, LoadSettings, SamplingSettings
from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.progress import ProgressCallback
from flowjudge_tui.runs.execute import ItemFeedback, Stop, VerdictCallback, execute_run
from flowjudge_tui.runs.work import model_fingerprint
from flowjudge_tui.runs.workflow import create_run
from flowjudge_tui.store import DatasetRecord, ItemRecord, NewItem, RunSettings, Store, TrialRecord

DEFAULT_SAMPLE = 20
DEFAULT_SEED = 0
SAMPLER = "stratified-v1"
TRIAL_FORMAT = "trial"
OFF_SCALE_OUTCOME = "left out of the sample as unlabelled"


@dataclass(frozen=True)
class LabelledSource:
    """Labelled items to sample from: a dataset already stored, or a file just imported."""

    name: str
    dataset: DatasetRecord
    items: list[ItemRecord]
    digest: str
    imported: bool
    """True when the file was imported for this trial only (it is dropped after sampling)."""
    problems: list[RowProblem] = field(default_factory=list)
    """Rows of the file that could not be used (a missing field, broken quoting, ...)."""
    labels_off_scale: OffScaleLabels | None = None
    """Rows whose label is off the rubric's scale: unlabelled, so left out of the sample."""

    def off_scale_sentence(self) -> str | None:
        """One line about labels off the scale, or None when there were none."""
        if self.labels_off_scale is None:
            return None
        return self.labels_off_scale.sentence(OFF_SCALE_OUTCOME)


def _digest(items: Sequence[ItemRecord]) -> str:
    canonical = json.dumps([[i.row_number, i.content_hash, i.human_label] for i in items])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _labelled(
    store: Store, dataset: DatasetRecord, name: str, imported: bool,
    problems: list[RowProblem] | None = None, off_scale: OffScaleLabels | None = None,
) -> LabelledSource:
    items = [i for i in store.items(dataset.id) if i.human_label is not None]
    if not items:
        if imported:
            store.delete_dataset(dataset.id)
        if off_scale is not None:
            first = (f" ({off_scale.count:,} had a label off the rubric's {off_scale.scale} "
                     f"scale, e.g. '{off_scale.examples[0][1]}' on line "
                     f"{off_scale.examples[0][0]})")
        else:
            first = f" ({problems[0]})" if problems else ""
        raise DatasetError(
            f"{name} has no labelled rows{first}; name the column of human scores on the "
            "rubric's scale with --label COLUMN."
        )
    return LabelledSource(name, dataset, items, _digest(items), imported, problems or [],
                          off_scale)


def open_source(
    store: Store,
    data: str,
    rubric: Rubric,
    column_map: dict[str, str] | None = None,
    label: str | None = None,
    id_column: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> LabelledSource:
    """``data`` is a CSV/TSV/JSONL file, a dataset id, or a dataset name (the newest)."""
    path = Path(data).expanduser()
    if path.is_file():
        if label is None:
            raise DatasetError(
                f"Say which column of {path.name} holds the human scores with --label COLUMN."
            )
        imported = import_dataset(store, path, rubric, column_map, label=label,
                                  id_column=id_column, on_progress=on_progress)
        return _labelled(store, imported.dataset, str(path), True, imported.problems,
                         imported.labels_off_scale)
    if data.isdigit():
        dataset = store.get_dataset(int(data))
        return _labelled(store, dataset, f"dataset {dataset.id}", False)
    named = [d for d in store.list_datasets() if d.name == data and d.format != TRIAL_FORMAT]
    if not named:
        raise DatasetError(
            f"'{data}' is neither a file nor a dataset; give a CSV/TSV/JSONL file or a dataset "
            "id from 'flowjudge runs list'."
        )
    return _labelled(store, named[0], f"dataset {named[0].id}", False)


def stratified_sample(items: Sequence[ItemRecord], size: int, seed: int) -> list[ItemRecord]:
    """``size`` items with each label in proportion to its share (every label at least once
    when there is room), drawn with ``seed``; in file order. All items when size >= len."""
    if size < 1:
        raise DatasetError("--sample must be at least 1.")
    if size >= len(items):
        return sorted(items, key=lambda i: i.row_number)
    groups: dict[int, list[ItemRecord]] = {}
    for item in sorted(items, key=lambda i: i.row_number):
        groups.setdefault(item.human_label or 0, []).append(item)
    labels = sorted(groups)
    shares = {label: size * len(groups[label]) / len(items) for label in labels}
    quotas = {label: int(shares[label]) for label in labels}
    by_remainder = sorted(labels, key=lambda lab: (-(shares[lab] - quotas[lab]), lab))
    for label in by_remainder[: size - sum(quotas.values())]:
        quotas[label] += 1
    if size >= len(labels):
        for label in labels:
            if quotas[label] == 0:
                quotas[max(labels, key=lambda lab: (quotas[lab], -lab))] -= 1
                quotas[label] = 1
    rng = random.Random(seed)
    chosen = [item for label in labels for item in rng.sample(groups[label], quotas[label])]
    return sorted(chosen, key=lambda i: i.row_number)


def sample_key(source_digest: str, size: int, seed: int) -> str:
    canonical = json.dumps({"source": source_digest, "size": size, "seed": seed,
                            "sampler": SAMPLER}, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TrialOutcome:
    trial: TrialRecord
    judged: int
    reused: int
    skipped: int
    stopped: bool
    cached: bool
    """True when this exact trial existed already: nothing was judged or stored."""


def _sample_dataset(
    store: Store, source: LabelledSource, rubric: Rubric, sample: list[ItemRecord], key: str
) -> DatasetRecord:
    for dataset_id in store.sample_datasets(key):
        try:
            dataset = store.get_dataset(dataset_id)
        except StoreError:
            continue
        if dataset.input_fields == list(rubric.inputs):
            return dataset
    origin = source.dataset
    return store.add_dataset(
        name=f"trial sample · {Path(source.name).name}",
        source_path=origin.source_path,
        format=TRIAL_FORMAT,
        columns=origin.columns,
        mapping=origin.mapping,
        rubric=rubric,
        items=[NewItem(i.row_number, i.inputs, i.output, i.human_label, i.source_key)
               for i in sample],
        label_column=origin.label_column,
        id_column=origin.id_column,
    )


def _finished_trial(
    store: Store, rubric: Rubric, key: str, model_path: Path, settings: RunSettings
) -> TrialRecord | None:
    found = store.find_trial(rubric.content_hash, key, model_fingerprint(model_path)[0],
                             settings)
    if found is None or store.get_run(found.run_id).pending:
        return None
    return found


def try_rubric(
    store: Store,
    rubric: Rubric,
    source: LabelledSource,
    engine: Callable[[], JudgeEngine],
    *,
    sample_size: int = DEFAULT_SAMPLE,
    seed: int = DEFAULT_SEED,
    sampling: SamplingSettings | None = None,
    planned: tuple[Path, LoadSettings] | None = None,
    on_progress: ProgressCallback | None = None,
    on_verdict: VerdictCallback | None = None,
    on_feedback: ItemFeedback | None = None,
    stop: Stop | None = None,
) -> TrialOutcome:
    """Judge ``rubric`` (this exact version) on the stratified sample of ``source``.

    ``engine`` is called once the sample is drawn (a bad file is reported before a slow model
    load). An identical finished trial (same version, sample, model file and settings) is
    returned as it is; an unfinished one is resumed. With ``planned`` (the model file and the
    load settings it would be loaded with), a finished trial is found before any model is
    loaded: trying a version again then costs nothing at all. Blocking: call it from a worker
    thread.
    """
    sampling = sampling or SamplingSettings()
    try:
        sample = stratified_sample(source.items, sample_size, seed)
        key = sample_key(source.digest, sample_size, seed)
        if planned is not None:
            done = _finished_trial(store, rubric, key, planned[0],
                                   RunSettings(sampling=sampling, load=planned[1]))
            if done is not None:
                return TrialOutcome(done, 0, 0, 0, False, True)
        judge = engine()
        model_path = judge.path
        if model_path is None:
            raise ModelError(f"{judge.model_name} has no model file on this machine to try "
                             "the rubric with.")
        settings = RunSettings(sampling=sampling, load=judge.load)
        fingerprint, _ = model_fingerprint(model_path)
        found = store.find_trial(rubric.content_hash, key, fingerprint, settings)
        if found is None:
            dataset = _sample_dataset(store, source, rubric, sample, key)
        else:
            dataset = store.get_dataset(store.get_run(found.run_id).dataset_id)
    finally:
        if source.imported:
            store.delete_dataset(source.dataset.id)
    if found is not None and store.get_run(found.run_id).pending == 0:
        return TrialOutcome(found, 0, 0, 0, False, True)
    if found is None:
        run = create_run(store, dataset.id, rubric, model_path, settings)
        labels = {i.row_number: i.human_label or 0 for i in sample}
        found = store.add_trial(
            rubric_name=rubric.name, rubric_hash=rubric.content_hash, run_id=run.id,
            source=source.name, source_digest=source.digest,
            label_column=source.dataset.label_column, sample_key=key, sample_size=sample_size,
            seed=seed, model_fingerprint=fingerprint, settings=settings,
            labels={i.id: labels[i.row_number] for i in store.items(dataset.id)},
        )
    summary = execute_run(store, found.run_id, judge, on_progress=on_progress,
                          on_verdict=on_verdict, on_feedback=on_feedback, stop=stop)
    return TrialOutcome(found, summary.judged, summary.reused, summary.skipped, summary.stopped,
                        False)
