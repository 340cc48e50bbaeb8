"""Connections to the one SQLite file, one per thread.

Thread-safety: a ``Store`` may be shared by every thread of the process. Each thread gets its
own ``sqlite3.Connection`` (created on first use and kept in a ``threading.local``), so no
connection is ever used by two threads at once. Writers in different threads or processes are
serialised by SQLite itself: WAL mode lets readers go on while one writer commits, and
``busy_timeout`` makes a second writer wait instead of failing. Every write is one short
transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), so a crash loses at most the write in flight.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from flowjudge_tui.errors import StoreError
from flowjudge_tui.store.schema import SCHEMA_VERSION, migrate
from flowjudge_tui.store.sqlite_errors import GuardedConnection, store_error

BUSY_TIMEOUT_MS = 30_000


def utc_now() -> str:
    """Timestamps are ISO 8601 in UTC with a 'Z', so text order is time order."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Database:
    """The file, its per-thread connections and the transaction helper."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the data folder {self.path.parent} ({exc}); "
                "check its permissions or set FLOWJUDGE_HOME to a writable folder."
            ) from None
        conn = self.conn()
        try:
            found = migrate(conn)
        except StoreError:
            raise
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"The database {self.path} cannot be opened ({exc}); move it aside to start "
                "a new one."
            ) from None
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"The database {self.path} was written by a newer flowjudge (schema {found}, "
                f"this one knows {SCHEMA_VERSION}); upgrade flowjudge."
            )

    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        if self._closed:
            raise StoreError(f"The database {self.path} is closed (flowjudge is quitting); "
                             "nothing already saved is lost.")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
                factory=GuardedConnection,
            )
            conn.path = self.path
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except StoreError:
            raise
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) or StoreError(
                f"The database {self.path} cannot be opened ({exc}); check its permissions, or "
                "move it aside to start a new one."
            ) from None
        with self._all_lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on any exception."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(sqlite3.Error, StoreError):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def release_thread_connection(self) -> None:
        """Close this thread's connection (a thread that ends before the store closes)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._all_lock:
            if conn in self._all:
                self._all.remove(conn)
        conn.close()

    def close(self) -> None:
        """Close every thread's connection. Call once no thread uses the store any more."""
        with self._all_lock:
            self._closed = True
            for conn in self._all:
                conn.close()  # waits for a statement in flight (see sqlite_errors)
            self._all.clear()
        self._local = threading.local()
