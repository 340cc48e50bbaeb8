"""Keeping a spot-check verdict: it becomes a one-item dataset with a finished run of its own,
so it can be reviewed, labelled, compared and exported like any run.

Composed from the core's public calls only. The core has no call for "store this verdict I
already have" yet; when it does (runs.py), this module should shrink to that one call.
"""

from __future__ import annotations

from pathlib import Path

from flowjudge_tui.engine.base import SamplingSettings
from flowjudge_tui.rubric import Item, Rubric
from flowjudge_tui.runs import create_run, work_key
from flowjudge_tui.store import NewItem, NewVerdict, RunRecord, Store, item_content_hash
from flowjudge_tui.verdict import Verdict

SPOT_CHECK_SOURCE = "spot check"


def keep_spot_check(
    store: Store,
    rubric: Rubric,
    item: Item,
    verdict: Verdict,
    model_path: Path,
    sampling: SamplingSettings,
) -> RunRecord:
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
    run = create_run(store, dataset.id, rubric, model_path)
    stored_item = store.items(dataset.id)[0]
    store.claim_run(run.id)
    key = work_key(run.model_fingerprint, rubric.content_hash,
                   item_content_hash(item.inputs, item.output), sampling)
    store.add_verdict(run.id, stored_item.id, NewVerdict(
        status="judged",
        work_key=key,
        score=verdict.score,
        feedback=verdict.feedback,
        distribution=verdict.distribution,
        expected_score=verdict.expected_score,
        confidence=verdict.confidence,
        score_mass=verdict.score_mass,
        prompt_tokens=verdict.prompt_tokens,
        completion_tokens=verdict.completion_tokens,
        seconds=verdict.seconds,
        raw_text=verdict.raw_text,
        stop_reason=verdict.stop_reason,
    ))
    return store.finish_run(run.id, "done")
