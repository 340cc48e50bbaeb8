"""All state in one SQLite file: datasets, items, rubric versions, runs, verdicts, labels.

``Store`` is safe to share between threads (one connection per thread, see ``connection``).
Every write is its own short transaction; a verdict is committed the moment it is stored.
"""

from __future__ import annotations

from pathlib import Path

from flowjudge_tui.settings import app_paths
from flowjudge_tui.store.connection import Database
from flowjudge_tui.store.dataset_queries import DatasetQueries
from flowjudge_tui.store.label_queries import LabelQueries
from flowjudge_tui.store.records import (
    TOO_LONG,
    DatasetRecord,
    FingerprintKind,
    ItemRecord,
    JudgedItem,
    LabelRecord,
    NewItem,
    NewVerdict,
    RunRecord,
    RunSettings,
    RunState,
    RunStatus,
    VerdictRecord,
    VerdictStatus,
    check_run_name,
    item_content_hash,
)
from flowjudge_tui.store.run_queries import RunQueries
from flowjudge_tui.store.schema import SCHEMA_VERSION
from flowjudge_tui.store.trial_queries import TrialQueries, TrialRecord

__all__ = [
    "SCHEMA_VERSION",
    "TOO_LONG",
    "DatasetRecord",
    "FingerprintKind",
    "ItemRecord",
    "JudgedItem",
    "LabelRecord",
    "NewItem",
    "NewVerdict",
    "RunRecord",
    "RunSettings",
    "RunState",
    "RunStatus",
    "Store",
    "TrialRecord",
    "VerdictRecord",
    "VerdictStatus",
    "check_run_name",
    "item_content_hash",
    "open_store",
]


class Store(DatasetQueries, RunQueries, LabelQueries, TrialQueries):
    """The database. Open with ``open_store()``; share one instance across threads."""

    def __init__(self, path: Path) -> None:
        self.db = Database(path)

    @property
    def path(self) -> Path:
        return self.db.path

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(path: Path | None = None) -> Store:
    """The store at ``path``, or at ``app_paths().database`` (under ``$FLOWJUDGE_HOME``)."""
    return Store(path or app_paths().database)
