"""Human labels and comments: one per (item, rubric version), saved the moment they change."""

from __future__ import annotations

import sqlite3

from flowjudge_tui.errors import StoreError
from flowjudge_tui.judging.rubric import parse_rubric
from flowjudge_tui.store.connection import Database, utc_now
from flowjudge_tui.store.records import LabelRecord


class LabelQueries:
    db: Database

    def set_human_score(self, item_id: int, rubric_hash: str, score: int | None) -> LabelRecord:
        """Record (or clear, with None) a person's score; the comment is kept."""
        with self.db.transaction() as conn:
            if score is not None:
                _check_scale(conn, rubric_hash, score)
            conn.execute(
                "INSERT INTO labels (item_id, rubric_hash, score, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (item_id, rubric_hash)"
                " DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at",
                (item_id, rubric_hash, score, utc_now()),
            )
        return self._label_or_raise(item_id, rubric_hash)

    def set_comment(self, item_id: int, rubric_hash: str, comment: str) -> LabelRecord:
        """Record a person's comment; the score is kept."""
        with self.db.transaction() as conn:
            _check_rubric(conn, rubric_hash)
            conn.execute(
                "INSERT INTO labels (item_id, rubric_hash, comment, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (item_id, rubric_hash)"
                " DO UPDATE SET comment = excluded.comment, updated_at = excluded.updated_at",
                (item_id, rubric_hash, comment, utc_now()),
            )
        return self._label_or_raise(item_id, rubric_hash)

    def get_label(self, item_id: int, rubric_hash: str) -> LabelRecord | None:
        row = self.db.conn().execute(
            "SELECT item_id, rubric_hash, score, comment, updated_at FROM labels"
            " WHERE item_id = ? AND rubric_hash = ?",
            (item_id, rubric_hash),
        ).fetchone()
        if row is None:
            return None
        return LabelRecord(
            item_id=row["item_id"],
            rubric_hash=row["rubric_hash"],
            score=row["score"],
            comment=row["comment"],
            updated_at=row["updated_at"],
        )

    def _label_or_raise(self, item_id: int, rubric_hash: str) -> LabelRecord:
        label = self.get_label(item_id, rubric_hash)
        if label is None:
            raise StoreError(f"The label for item {item_id} was not saved.")
        return label


def _check_rubric(conn: sqlite3.Connection, rubric_hash: str) -> str:
    row = conn.execute("SELECT toml, name FROM rubrics WHERE hash = ?", (rubric_hash,)).fetchone()
    if row is None:
        raise StoreError(
            f"No rubric version {rubric_hash[:12]} in the database; labels belong to a stored "
            "rubric (save it first)."
        )
    return str(row["toml"])


def _check_scale(conn: sqlite3.Connection, rubric_hash: str, score: int) -> None:
    rubric = parse_rubric(_check_rubric(conn, rubric_hash), "stored rubric")
    if score not in rubric.scores:
        raise StoreError(
            f"{score} is not on rubric '{rubric.name}''s scale; give one of "
            f"{', '.join(str(s) for s in rubric.score_values)}."
        )
