"""Rubric trials: a rubric version judged on a labelled sample, and run review thresholds.

A trial is a run over a dataset that holds only the sample, plus what makes it comparable with
other versions' trials: the sample's identity (``sample_key``: the labelled source, the size
and the seed), the model's fingerprint, the settings, and the human labels it was measured
against (kept per item in ``trial_items``, so a later relabelling does not rewrite history).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from flowjudge_tui.errors import StoreError
from flowjudge_tui.store.connection import Database, utc_now
from flowjudge_tui.store.records import RunSettings


@dataclass(frozen=True)
class TrialRecord:
    id: int
    rubric_name: str
    rubric_hash: str
    run_id: int
    source: str
    """What the sample was drawn from, as the user named it (a file or a dataset)."""
    source_digest: str
    label_column: str | None
    sample_key: str
    sample_size: int
    seed: int
    model_fingerprint: str
    settings: RunSettings
    created_at: str
    labels: dict[int, int]
    """Item id (in the run's dataset) -> the human label the trial is measured against."""


def _trial_from_row(row: sqlite3.Row, labels: dict[int, int]) -> TrialRecord:
    return TrialRecord(
        id=row["id"],
        rubric_name=row["rubric_name"],
        rubric_hash=row["rubric_hash"],
        run_id=row["run_id"],
        source=row["source"],
        source_digest=row["source_digest"],
        label_column=row["label_column"],
        sample_key=row["sample_key"],
        sample_size=row["sample_size"],
        seed=row["seed"],
        model_fingerprint=row["model_fingerprint"],
        settings=RunSettings.from_json_dict(json.loads(row["settings"])),
        created_at=row["created_at"],
        labels=labels,
    )


class TrialQueries:
    db: Database

    def add_trial(
        self,
        *,
        rubric_name: str,
        rubric_hash: str,
        run_id: int,
        source: str,
        source_digest: str,
        label_column: str | None,
        sample_key: str,
        sample_size: int,
        seed: int,
        model_fingerprint: str,
        settings: RunSettings,
        labels: Mapping[int, int],
    ) -> TrialRecord:
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO trials (rubric_name, rubric_hash, run_id, source, source_digest,"
                " label_column, sample_key, sample_size, seed, model_fingerprint, settings,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rubric_name, rubric_hash, run_id, source, source_digest, label_column,
                 sample_key, sample_size, seed, model_fingerprint,
                 json.dumps(settings.to_json_dict(), sort_keys=True), utc_now()),
            )
            trial_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO trial_items (trial_id, item_id, label) VALUES (?, ?, ?)",
                [(trial_id, item_id, label) for item_id, label in labels.items()],
            )
        return self.get_trial(trial_id)

    def get_trial(self, trial_id: int) -> TrialRecord:
        row = self.db.conn().execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()
        if row is None:
            raise StoreError(f"No trial {trial_id} in the database.")
        return _trial_from_row(row, self._trial_labels(trial_id))

    def _trial_labels(self, trial_id: int) -> dict[int, int]:
        rows = self.db.conn().execute(
            "SELECT item_id, label FROM trial_items WHERE trial_id = ?", (trial_id,)
        ).fetchall()
        return {row["item_id"]: row["label"] for row in rows}

    def trials(self, rubric_name: str) -> list[TrialRecord]:
        """Every trial of a rubric name (all its versions), oldest first."""
        rows = self.db.conn().execute(
            "SELECT * FROM trials WHERE rubric_name = ? ORDER BY id", (rubric_name,)
        ).fetchall()
        return [_trial_from_row(row, self._trial_labels(row["id"])) for row in rows]

    def find_trial(
        self, rubric_hash: str, sample_key: str, model_fingerprint: str, settings: RunSettings
    ) -> TrialRecord | None:
        """The newest trial of exactly this version, sample, model and settings."""
        row = self.db.conn().execute(
            "SELECT * FROM trials WHERE rubric_hash = ? AND sample_key = ?"
            " AND model_fingerprint = ? AND settings = ? ORDER BY id DESC LIMIT 1",
            (rubric_hash, sample_key, model_fingerprint,
             json.dumps(settings.to_json_dict(), sort_keys=True)),
        ).fetchone()
        return None if row is None else _trial_from_row(row, self._trial_labels(row["id"]))

    def sample_datasets(self, sample_key: str) -> list[int]:
        """Datasets already holding this sample (from earlier trials), newest first."""
        rows = self.db.conn().execute(
            "SELECT DISTINCT r.dataset_id FROM trials t JOIN runs r ON r.id = t.run_id"
            " WHERE t.sample_key = ? ORDER BY t.id DESC",
            (sample_key,),
        ).fetchall()
        return [row["dataset_id"] for row in rows]

    def set_review_threshold(self, run_id: int, below: float | None) -> None:
        """Verdicts of the run whose certainty is below ``below`` need a person (None: none)."""
        with self.db.transaction() as conn:
            found = conn.execute("UPDATE runs SET review_below = ? WHERE id = ?",
                                 (below, run_id)).rowcount
        if not found:
            raise StoreError(f"No run {run_id}; run 'flowjudge runs list' to see the runs.")

    def review_threshold(self, run_id: int) -> float | None:
        row = self.db.conn().execute(
            "SELECT review_below FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"No run {run_id}; run 'flowjudge runs list' to see the runs.")
        return None if row["review_below"] is None else float(row["review_below"])
