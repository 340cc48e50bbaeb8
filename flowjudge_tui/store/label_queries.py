"""Reviewers' labels and comments: one per (item content, rubric name), saved at once."""

from __future__ import annotations

import sqlite3

from flowjudge_tui.errors import StoreError
from flowjudge_tui.judging.rubric import parse_rubric
from flowjudge_tui.store.connection import Database, utc_now
from flowjudge_tui.store.records import LabelRecord


class LabelQueries:
    db: Database

    def set_human_score(self, item_id: int, rubric_hash: str, score: int | None) -> LabelRecord:
        """Record (or clear, with None) a reviewer's score; the comment is kept, and so is
        the label imported with the dataset (which this never touches)."""
        with self.db.transaction() as conn:
            name = _rubric_name(conn, rubric_hash)
            if score is not None:
                _check_scale(conn, rubric_hash, score)
            conn.execute(
                "INSERT INTO reviews (content_hash, rubric_name, score, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (content_hash, rubric_name)"
                " DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at",
                (_content_hash(conn, item_id), name, score, utc_now()),
            )
        return self._label_or_raise(item_id, rubric_hash)

    def set_comment(self, item_id: int, rubric_hash: str, comment: str) -> LabelRecord:
        """Record a reviewer's comment; the score is kept."""
        with self.db.transaction() as conn:
            name = _rubric_name(conn, rubric_hash)
            conn.execute(
                "INSERT INTO reviews (content_hash, rubric_name, comment, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (content_hash, rubric_name)"
                " DO UPDATE SET comment = excluded.comment, updated_at = excluded.updated_at",
                (_content_hash(conn, item_id), name, comment, utc_now()),
            )
        return self._label_or_raise(item_id, rubric_hash)

    def get_label(self, item_id: int, rubric_hash: str) -> LabelRecord | None:
        """The reviewer's label and comment for this item's content under this rubric."""
        row = self.db.conn().execute(
            "SELECT rv.score, rv.comment, rv.updated_at FROM reviews rv"
            " JOIN items i ON i.content_hash = rv.content_hash"
            " JOIN rubrics rb ON rb.name = rv.rubric_name"
            " WHERE i.id = ? AND rb.hash = ?",
            (item_id, rubric_hash),
        ).fetchone()
        if row is None:
            return None
        return LabelRecord(
            item_id=item_id,
            rubric_hash=rubric_hash,
            score=row["score"],
            comment=row["comment"],
            updated_at=row["updated_at"],
        )

    def _label_or_raise(self, item_id: int, rubric_hash: str) -> LabelRecord:
        label = self.get_label(item_id, rubric_hash)
        if label is None:
            raise StoreError(f"The label for item {item_id} was not saved.")
        return label


def _content_hash(conn: sqlite3.Connection, item_id: int) -> str:
    row = conn.execute("SELECT content_hash FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise StoreError(f"No item {item_id} in the database.")
    return str(row["content_hash"])


def _rubric_name(conn: sqlite3.Connection, rubric_hash: str) -> str:
    _check_rubric(conn, rubric_hash)
    row = conn.execute("SELECT name FROM rubrics WHERE hash = ?", (rubric_hash,)).fetchone()
    return str(row["name"])


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
