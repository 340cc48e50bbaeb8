"""SQLite connections that fail in sentences and can be closed from any thread.

A damaged file, a read-only file or folder, a full disk, a lock held too long by another
process, or a number too large for SQLite's 64-bit integers: every connection of the store is
a ``GuardedConnection`` whose cursors translate these into ``StoreError``. Integrity errors
(a second verdict for an item, say) and programming errors pass through unchanged.

The store closes every thread's connection when it closes (the app quitting while workers
still query). Closing a connection in the middle of another thread's query crashes the
process, so each statement and fetch holds the connection's ``in_use`` lock and ``close``
takes it too: it waits for the query in flight, and a later use is a ``StoreError``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flowjudge_tui.errors import StoreError

T = TypeVar("T")
LARGEST_INTEGER = 2**63 - 1


def store_error(path: Path, exc: BaseException) -> StoreError | None:
    """The sentence for ``exc`` raised on the database at ``path``, or None to let it through."""
    if isinstance(exc, OverflowError):
        return StoreError(
            f"A number is too large for the database (the largest is {LARGEST_INTEGER}); "
            "check the ids, scores and labels you gave."
        )
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc).lower():
        return StoreError(
            f"The database {path} was closed while this was still using it (flowjudge is "
            "quitting); nothing already saved is lost."
        )
    if isinstance(exc, sqlite3.IntegrityError) or not isinstance(exc, sqlite3.DatabaseError):
        return None
    text = str(exc).lower()
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return StoreError(
            f"The database {path} is damaged ({exc}); restore a backup, or move it aside to "
            "start a new one ('flowjudge doctor' checks it)."
        )
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return StoreError(
            f"The database {path} cannot be written ({exc}); check the permissions of the "
            "file and its folder, or set FLOWJUDGE_HOME to a writable folder."
        )
    if "locked" in text or "busy" in text:
        return StoreError(
            f"The database {path} stayed locked by another flowjudge process ({exc}); try "
            "again when it has finished."
        )
    if "disk" in text or "full" in text or "i/o" in text:
        return StoreError(
            f"The database {path} cannot be written ({exc}); free some disk space or check "
            "the drive."
        )
    return None


def _guarded(connection: Any, call: Callable[..., T], *args: Any) -> T:
    path = getattr(connection, "path", Path("the database"))
    lock = getattr(connection, "in_use", None)
    try:
        if lock is None:
            return call(*args)
        with lock:
            return call(*args)
    except (sqlite3.DatabaseError, OverflowError) as exc:
        error = store_error(path, exc)
        if error is None:
            raise
        raise error from None


class GuardedCursor(sqlite3.Cursor):
    """A cursor whose failures a user can cause are ``StoreError`` sentences."""

    def execute(self, sql: str, parameters: Any = (), /) -> GuardedCursor:
        return _guarded(self.connection, super().execute, sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> GuardedCursor:
        return _guarded(self.connection, super().executemany, sql, parameters)

    def fetchone(self) -> Any:
        return _guarded(self.connection, super().fetchone)

    def fetchall(self) -> list[Any]:
        return _guarded(self.connection, super().fetchall)

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        return _guarded(self.connection, super().fetchmany, size)

    def __next__(self) -> Any:
        return _guarded(self.connection, super().__next__)


class GuardedConnection(sqlite3.Connection):
    """A connection whose cursors are ``GuardedCursor``s; ``path`` names the file."""

    path: Path = Path("the database")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_use = threading.RLock()

    def close(self) -> None:
        """Close once no other thread is in the middle of a statement or a fetch."""
        with self.in_use:
            super().close()

    def cursor(self, factory: Any = GuardedCursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> GuardedCursor:
        cursor: GuardedCursor = self.cursor()
        return cursor.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> GuardedCursor:
        cursor: GuardedCursor = self.cursor()
        return cursor.executemany(sql, parameters)
