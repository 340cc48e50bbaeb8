"""Datasets, their items, and rubric versions."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from flowjudge_tui.errors import StoreError
from flowjudge_tui.judging.rubric import Rubric, parse_rubric
from flowjudge_tui.store.connection import Database, utc_now
from flowjudge_tui.store.owner import current_owner, owner_alive
from flowjudge_tui.store.records import DatasetRecord, ItemRecord, NewItem, item_content_hash
from flowjudge_tui.store.rows import ITEM_COLUMNS, item_from_row, save_rubric_version

INSERT_CHUNK = 5000

def _dataset_from_row(row: sqlite3.Row) -> DatasetRecord:
    return DatasetRecord(
        id=row["id"],
        name=row["name"],
        source_path=row["source_path"],
        format=row["format"],
        columns=json.loads(row["columns"]),
        mapping=json.loads(row["mapping"]),
        label_column=row["label_column"],
        id_column=row["id_column"],
        input_fields=json.loads(row["input_fields"]),
        output_field=row["output_field"],
        rubric_hash=row["rubric_hash"],
        item_count=row["item_count"],
        created_at=row["created_at"],
        source_hash=row["source_hash"],
    )


class DatasetQueries:
    db: Database

    def save_rubric(self, rubric: Rubric) -> str:
        """Keep this rubric version (its TOML) and return its hash; storing twice is a no-op."""
        with self.db.transaction() as conn:
            save_rubric_version(conn, rubric)
        return rubric.content_hash

    def get_rubric(self, rubric_hash: str) -> Rubric:
        row = self.db.conn().execute(
            "SELECT toml, name FROM rubrics WHERE hash = ?", (rubric_hash,)
        ).fetchone()
        if row is None:
            raise StoreError(f"No rubric version {rubric_hash[:12]} in the database.")
        return parse_rubric(row["toml"], f"stored rubric '{row['name']}'")

    def add_dataset(
        self,
        *,
        name: str,
        source_path: str,
        format: str,
        columns: Sequence[str],
        mapping: dict[str, str],
        rubric: Rubric,
        items: Iterable[NewItem],
        label_column: str | None = None,
        id_column: str | None = None,
        source_hash: str | None = None,
    ) -> DatasetRecord:
        """Store a dataset and all its items: all or nothing, in short transactions.

        ``items`` may be a generator: it is consumed in chunks, so memory stays flat for large
        files, and each chunk is its own short write so that a run judging meanwhile is never
        locked out. Until the last chunk the dataset is marked as importing and hidden; if
        ``items`` raises (or the process dies) the partial dataset is deleted.
        """
        with self.db.transaction() as conn:
            _drop_abandoned_imports(conn)
            save_rubric_version(conn, rubric)
            cursor = conn.execute(
                "INSERT INTO datasets (name, source_path, format, columns, mapping, label_column,"
                " id_column, input_fields, output_field, rubric_hash, created_at, import_owner,"
                " source_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name, source_path, format, json.dumps(list(columns), ensure_ascii=False),
                    json.dumps(mapping, ensure_ascii=False), label_column, id_column,
                    json.dumps(list(rubric.inputs), ensure_ascii=False), rubric.output,
                    rubric.content_hash, utc_now(), _import_owner(), source_hash,
                ),
            )
        dataset_id = int(cursor.lastrowid or 0)
        try:
            count = 0
            for chunk in _chunks(items, INSERT_CHUNK):
                with self.db.transaction() as conn:
                    conn.executemany(
                        "INSERT INTO items (dataset_id, row_number, source_key, inputs, output,"
                        " human_label, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [_item_params(dataset_id, item) for item in chunk],
                    )
                    conn.execute("UPDATE datasets SET import_owner = ? WHERE id = ?",
                                 (_import_owner(), dataset_id))
                count += len(chunk)
            with self.db.transaction() as conn:
                conn.execute("UPDATE datasets SET item_count = ?, import_owner = NULL"
                             " WHERE id = ?", (count, dataset_id))
        except BaseException:
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
            raise
        return self.get_dataset(dataset_id)

    def get_dataset(self, dataset_id: int) -> DatasetRecord:
        row = self.db.conn().execute(
            "SELECT * FROM datasets WHERE id = ? AND import_owner IS NULL", (dataset_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"No dataset {dataset_id}; run 'flowjudge runs list' to see them.")
        return _dataset_from_row(row)

    def list_datasets(self) -> list[DatasetRecord]:
        rows = self.db.conn().execute(
            "SELECT * FROM datasets WHERE import_owner IS NULL ORDER BY id DESC"
        ).fetchall()
        return [_dataset_from_row(row) for row in rows]

    def find_dataset(self, source_hash: str) -> DatasetRecord | None:
        """The newest dataset imported from exactly this source (see ``source_hash``)."""
        row = self.db.conn().execute(
            "SELECT * FROM datasets WHERE source_hash = ? AND item_count > 0"
            " AND import_owner IS NULL"
            " ORDER BY id DESC LIMIT 1", (source_hash,)
        ).fetchone()
        return None if row is None else _dataset_from_row(row)

    def delete_dataset_if_unused(self, dataset_id: int) -> bool:
        """Delete a dataset no run refers to (an import whose run never started)."""
        with self.db.transaction() as conn:
            used = conn.execute("SELECT 1 FROM runs WHERE dataset_id = ? LIMIT 1",
                                (dataset_id,)).fetchone()
            if used is not None:
                return False
            conn.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
        return True

    def delete_dataset(self, dataset_id: int) -> None:
        """Delete a dataset with its items, runs, verdicts and labels."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))

    def items(
        self, dataset_id: int, limit: int | None = None, offset: int = 0
    ) -> list[ItemRecord]:
        """Items in file order."""
        rows = self.db.conn().execute(
            f"SELECT {ITEM_COLUMNS} FROM items WHERE dataset_id = ? ORDER BY row_number"
            " LIMIT ? OFFSET ?",
            (dataset_id, -1 if limit is None else limit, offset),
        ).fetchall()
        return [item_from_row(row) for row in rows]

    def get_item(self, item_id: int) -> ItemRecord:
        row = self.db.conn().execute(
            f"SELECT {ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"No item {item_id} in the database.")
        return item_from_row(row)


def _import_owner() -> str:
    """Who is importing a dataset, with a heartbeat refreshed at every chunk."""
    pid, host, token = current_owner()
    return json.dumps({"pid": pid, "host": host, "token": token, "heartbeat": utc_now()})


def _drop_abandoned_imports(conn: sqlite3.Connection) -> None:
    """Delete datasets whose import was killed midway (their importer is gone)."""
    rows = conn.execute(
        "SELECT id, import_owner FROM datasets WHERE import_owner IS NOT NULL"
    ).fetchall()
    for row in rows:
        try:
            owner = json.loads(row["import_owner"])
            alive = owner_alive(owner["pid"], owner["host"], owner["token"], owner["heartbeat"])
        except (ValueError, KeyError, TypeError):
            alive = False
        if not alive:
            conn.execute("DELETE FROM datasets WHERE id = ?", (row["id"],))


def _item_params(dataset_id: int, item: NewItem) -> tuple[object, ...]:
    return (
        dataset_id,
        item.row_number,
        item.source_key,
        json.dumps(item.inputs, ensure_ascii=False),
        item.output,
        item.human_label,
        item_content_hash(item.inputs, item.output),
    )


def _chunks(items: Iterable[NewItem], size: int) -> Iterator[list[NewItem]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
