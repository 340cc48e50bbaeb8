"""Build datasets, runs and verdicts straight in a real store, for tests that need no model."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from flowjudge_tui.judging.rubric import Rubric, RubricLibrary
from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import NewItem, NewVerdict, RunRecord, RunSettings, Store


def rubric(name: str) -> Rubric:
    return RubricLibrary(app_paths()).get(name).rubric


def add_dataset(
    store: Store,
    rub: Rubric,
    outputs: Sequence[str],
    labels: Sequence[int | None] | None = None,
    keys: Sequence[str | None] | None = None,
    name: str = "data",
) -> int:
    """A dataset whose item n has every input 'input n' and the given output."""
    items = [
        NewItem(
            row_number=n + 2,
            inputs={field: f"{field} {n}" for field in rub.inputs},
            output=output,
            human_label=labels[n] if labels else None,
            source_key=keys[n] if keys else None,
        )
        for n, output in enumerate(outputs)
    ]
    dataset = store.add_dataset(
        name=name, source_path=f"/data/{name}.csv", format="csv",
        columns=[*rub.inputs, rub.output], mapping={f: f for f in [*rub.inputs, rub.output]},
        rubric=rub, items=items, label_column="label" if labels else None,
    )
    return dataset.id


def add_run(store: Store, dataset_id: int, rub: Rubric, model: str = "model.gguf") -> RunRecord:
    count = store.get_dataset(dataset_id).item_count
    return store.create_run(
        dataset_id=dataset_id, rubric=rub, model_name=model, model_path=f"/models/{model}",
        model_fingerprint=f"quick-v1:{model}", fingerprint_kind="quick-v1",
        settings=RunSettings(), total_items=count,
    )


def scored(score: int, scale: Sequence[int], confidence: float = 0.5, key: str = "k") -> NewVerdict:
    others = [s for s in scale if s != score]
    distribution = {s: (1 - confidence) / len(others) for s in others}
    distribution[score] = confidence
    return NewVerdict(
        status="judged", work_key=key, score=score, feedback=f"Feedback for {score}.",
        distribution=distribution, expected_score=sum(s * p for s, p in distribution.items()),
        confidence=confidence, score_mass=0.9, prompt_tokens=100, completion_tokens=10,
        seconds=0.5, raw_text="<feedback>x</feedback><score>", stop_reason="score",
    )


def judge_all(
    store: Store, run: RunRecord, scores: Sequence[int | None], scale: Sequence[int],
    confidences: Sequence[float] | None = None,
) -> None:
    """Store one verdict per item in file order (None: a skipped item)."""
    items = store.items(run.dataset_id)
    for n, (item, score) in enumerate(zip(items, scores, strict=True)):
        if score is None:
            verdict = NewVerdict(status="skipped", work_key=f"w{run.id}-{n}",
                                 skip_reason="too long")
        else:
            confidence = confidences[n] if confidences else 0.5
            verdict = scored(score, scale, confidence, key=f"w{run.id}-{n}")
        store.add_verdict(run.id, item.id, verdict)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path
