"""``flowjudge doctor``'s look at the store: can it be opened, is it intact, can it be written.

Read-only: nothing here changes the file (the write test is a transaction rolled back).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from flowjudge_tui.store.schema import SCHEMA_VERSION, schema_version

INTEGRITY_MESSAGES_SHOWN = 3


@dataclass
class StoreHealth:
    """What the doctor found; ``problems`` are sentences with their fix."""

    path: Path
    exists: bool = False
    schema: int | None = None
    intact: bool | None = None
    writable: bool | None = None
    flagged_models: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_store(path: Path) -> StoreHealth:
    health = StoreHealth(path=path, exists=path.is_file())
    if not health.exists:
        if not _can_create(path.parent):
            health.problems.append(
                f"The data folder {path.parent} cannot be written, so no database can be "
                "created there; fix its permissions or set FLOWJUDGE_HOME."
            )
        return health
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        health.problems.append(f"The database {path} cannot be opened ({exc}); move it aside "
                               "to start a new one.")
        return health
    try:
        health.schema = schema_version(conn)
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        messages = [str(row[0]) for row in rows]
        health.intact = messages == ["ok"]
        if not health.intact:
            shown = "; ".join(messages[:INTEGRITY_MESSAGES_SHOWN])
            health.problems.append(
                f"The database {path} is damaged ({shown}); restore a backup, or move it aside "
                "to start a new one (the sqlite3 '.recover' command can save what is left)."
            )
        if health.schema > SCHEMA_VERSION:
            health.problems.append(f"The database {path} was written by a newer flowjudge "
                                   f"(schema {health.schema}); upgrade flowjudge.")
        health.flagged_models = _flagged(conn)
    except sqlite3.DatabaseError as exc:
        health.intact = False
        health.problems.append(f"The database {path} is damaged ({exc}); restore a backup, or "
                               "move it aside to start a new one.")
    finally:
        conn.close()
    health.writable = _can_write(path)
    if not health.writable:
        health.problems.append(
            f"The database {path} cannot be written; check the permissions of the file and of "
            f"{path.parent}, or set FLOWJUDGE_HOME to a writable folder."
        )
    return health


def _flagged(conn: sqlite3.Connection) -> list[str]:
    try:
        rows = conn.execute("SELECT model_name, reason FROM model_flags ORDER BY flagged_at")
        return [f"{name}: {reason}" for name, reason in rows.fetchall()]
    except sqlite3.OperationalError:  # a schema from before model flags
        return []


def _can_write(path: Path) -> bool:
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        return False
    try:
        conn = sqlite3.connect(path, timeout=5, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    return True


def _can_create(folder: Path) -> bool:
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
    return False


def folder_problem(label: str, folder: Path) -> str | None:
    """A sentence if ``folder`` (the data or config folder) is not a writable folder."""
    if folder.exists() and not folder.is_dir():
        return (f"The {label} folder {folder} is a file, not a folder; move it aside or set "
                "FLOWJUDGE_HOME.")
    writable = os.access(folder, os.W_OK) if folder.exists() else _can_create(folder)
    if not writable:
        return (f"The {label} folder {folder} cannot be written; fix its permissions or set "
                "FLOWJUDGE_HOME to a writable folder.")
    return None
