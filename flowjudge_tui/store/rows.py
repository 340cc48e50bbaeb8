"""Row shapes shared by the store's query modules: item columns, items, rubric versions."""

from __future__ import annotations

import json
import sqlite3

from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.store.connection import utc_now
from flowjudge_tui.store.records import ItemRecord

ITEM_COLUMNS = "id, dataset_id, row_number, source_key, inputs, output, human_label, content_hash"


def item_from_row(row: sqlite3.Row, prefix: str = "") -> ItemRecord:
    return ItemRecord(
        id=row[f"{prefix}id"],
        dataset_id=row[f"{prefix}dataset_id"],
        row_number=row[f"{prefix}row_number"],
        source_key=row[f"{prefix}source_key"],
        inputs=json.loads(row[f"{prefix}inputs"]),
        output=row[f"{prefix}output"],
        human_label=row[f"{prefix}human_label"],
        content_hash=row[f"{prefix}content_hash"],
    )


def save_rubric_version(conn: sqlite3.Connection, rubric: Rubric) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO rubrics (hash, name, toml, created_at) VALUES (?, ?, ?, ?)",
        (rubric.content_hash, rubric.name, rubric.to_toml(), utc_now()),
    )
