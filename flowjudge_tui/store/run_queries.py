"""Runs and their verdicts. Each verdict is committed in its own transaction."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from flowjudge_tui.errors import TOO_LONG_PREFIX, StoreError
from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.store.connection import Database, utc_now
from flowjudge_tui.store.owner import (
    HEARTBEAT_SECONDS,
    current_owner,
    heartbeat_age,
    owner_alive,
)
from flowjudge_tui.store.records import (
    TOO_LONG,
    FingerprintKind,
    ItemRecord,
    JudgedItem,
    LabelRecord,
    NewVerdict,
    RunRecord,
    RunSettings,
    RunState,
    RunStatus,
    VerdictRecord,
    check_run_name,
)
from flowjudge_tui.store.rows import ITEM_COLUMNS, item_from_row, save_rubric_version

_RUN_SELECT = """
SELECT r.*, d.name AS dataset_name, rb.name AS rubric_name,
       COALESCE(v.judged, 0) AS judged, COALESCE(v.reused, 0) AS reused,
       COALESCE(v.skipped, 0) AS skipped, COALESCE(v.too_long, 0) AS too_long,
       COALESCE(v.prompt_tokens, 0) AS sum_prompt_tokens,
       COALESCE(v.completion_tokens, 0) AS sum_completion_tokens,
       COALESCE(v.seconds, 0.0) AS sum_seconds
FROM runs r
JOIN datasets d ON d.id = r.dataset_id
JOIN rubrics rb ON rb.hash = r.rubric_hash
LEFT JOIN (
    SELECT run_id,
           SUM(status = 'judged') AS judged, SUM(status = 'reused') AS reused,
           SUM(status = 'skipped') AS skipped, SUM({too_long}) AS too_long,
           SUM(CASE WHEN status = 'judged' THEN prompt_tokens ELSE 0 END) AS prompt_tokens,
           SUM(CASE WHEN status = 'judged' THEN completion_tokens ELSE 0 END)
               AS completion_tokens,
           SUM(CASE WHEN status = 'judged' THEN seconds ELSE 0 END) AS seconds
    FROM verdicts {where} GROUP BY run_id
) v ON v.run_id = r.id
"""

# A verdict that is a skip for want of context: marked since too-long skips were retried;
# before that, known by the reason's first words.
_TOO_LONG_SKIP = (
    f"status = 'skipped' AND (stop_reason = '{TOO_LONG}' OR (stop_reason = '' AND "
    f"skip_reason LIKE '{TOO_LONG_PREFIX}%'))"
)

_VERDICT_COLUMNS = (
    "id, run_id, item_id, status, score, feedback, distribution, expected_score, confidence,"
    " score_mass, prompt_tokens, completion_tokens, seconds, raw_text, stop_reason, skip_reason,"
    " work_key, reused_from, created_at"
)


def _run_from_row(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        dataset_id=row["dataset_id"],
        dataset_name=row["dataset_name"],
        rubric_hash=row["rubric_hash"],
        rubric_name=row["rubric_name"],
        model_name=row["model_name"],
        model_path=row["model_path"],
        model_fingerprint=row["model_fingerprint"],
        fingerprint_kind=row["fingerprint_kind"],
        settings=RunSettings.from_json_dict(json.loads(row["settings"])),
        status=row["status"],
        state=_state(row["status"], row["owner_pid"], row["owner_host"], row["owner_token"],
                     row["owner_heartbeat"]),
        error=row["error"],
        owner_pid=row["owner_pid"],
        owner_host=row["owner_host"],
        owner_token=row["owner_token"],
        total_items=row["total_items"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        judged=row["judged"],
        reused=row["reused"],
        skipped=row["skipped"],
        prompt_tokens=row["sum_prompt_tokens"],
        completion_tokens=row["sum_completion_tokens"],
        judge_seconds=row["sum_seconds"],
        owner_heartbeat=row["owner_heartbeat"],
        server_url=row["server_url"],
        skipped_too_long=row["too_long"],
        name=row["name"],
        retry_n_ctx=row["retry_n_ctx"],
        started_with=row["started_with"],
    )


def _state(status: RunStatus, pid: int | None, host: str | None, token: str | None,
           heartbeat: str | None) -> RunState:
    """The status, except that a 'running' run whose process is gone is 'interrupted'.

    Worked out once, when the row is read (in a worker thread in the app), not on every look.
    """
    if status == "running" and not owner_alive(pid, host, token, heartbeat):
        return "interrupted"
    return status


def _last_seen(heartbeat: str | None) -> str:
    age = heartbeat_age(heartbeat)
    return "" if age is None else f" (last heard from {max(0, round(age))} s ago)"


def verdict_from_row(row: sqlite3.Row, prefix: str = "") -> VerdictRecord:
    def col(name: str) -> Any:
        return row[f"{prefix}{name}"]

    return VerdictRecord(
        id=col("id"),
        run_id=col("run_id"),
        item_id=col("item_id"),
        status=col("status"),
        score=col("score"),
        feedback=col("feedback"),
        distribution={int(k): float(p) for k, p in json.loads(col("distribution")).items()},
        expected_score=col("expected_score"),
        confidence=col("confidence"),
        score_mass=col("score_mass"),
        prompt_tokens=col("prompt_tokens"),
        completion_tokens=col("completion_tokens"),
        seconds=col("seconds"),
        raw_text=col("raw_text"),
        stop_reason=col("stop_reason"),
        skip_reason=col("skip_reason"),
        work_key=col("work_key"),
        reused_from=col("reused_from"),
        created_at=col("created_at"),
    )


class RunQueries:
    db: Database

    def create_run(
        self,
        *,
        dataset_id: int,
        rubric: Rubric,
        model_name: str,
        model_path: str,
        model_fingerprint: str,
        fingerprint_kind: FingerprintKind,
        settings: RunSettings,
        total_items: int,
        server_url: str | None = None,
        name: str | None = None,
    ) -> RunRecord:
        settings.sampling.check()
        name = None if name is None else check_run_name(name)
        with self.db.transaction() as conn:
            save_rubric_version(conn, rubric)
            cursor = conn.execute(
                "INSERT INTO runs (dataset_id, rubric_hash, model_name, model_path,"
                " model_fingerprint, fingerprint_kind, settings, status, total_items, created_at,"
                " server_url, name) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                (
                    dataset_id, rubric.content_hash, model_name, model_path, model_fingerprint,
                    fingerprint_kind, json.dumps(settings.to_json_dict()), total_items, utc_now(),
                    server_url, name,
                ),
            )
        return self.get_run(int(cursor.lastrowid or 0))

    def rename_run(self, run_id: int, name: str | None) -> RunRecord:
        """Give a run a name (checked, see ``check_run_name``), or take it away (None)."""
        name = None if name is None else check_run_name(name)
        with self.db.transaction() as conn:
            found = conn.execute("UPDATE runs SET name = ? WHERE id = ?", (name, run_id))
        if found.rowcount == 0:
            raise StoreError(f"No run {run_id}; run 'flowjudge runs list' to see the runs.")
        return self.get_run(run_id)

    def move_run_to_server(self, run_id: int, server_url: str, model_fingerprint: str,
                           ) -> RunRecord:
        """Judge the rest of a served run on another server (same model name)."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE runs SET server_url = ?, model_path = ?, model_fingerprint = ?"
                         " WHERE id = ?", (server_url, server_url, model_fingerprint, run_id))
        return self.get_run(run_id)

    def get_run(self, run_id: int) -> RunRecord:
        row = self.db.conn().execute(
            _RUN_SELECT.format(where="WHERE run_id = ?", too_long=_TOO_LONG_SKIP)
            + " WHERE r.id = ?", (run_id, run_id)
        ).fetchone()
        if row is None:
            raise StoreError(f"No run {run_id}; run 'flowjudge runs list' to see the runs.")
        return _run_from_row(row)

    def list_runs(self, limit: int | None = None) -> list[RunRecord]:
        """Newest first."""
        rows = self.db.conn().execute(
            _RUN_SELECT.format(where="", too_long=_TOO_LONG_SKIP)
            + " ORDER BY r.id DESC LIMIT ?",
            (-1 if limit is None else limit,),
        ).fetchall()
        return [_run_from_row(row) for row in rows]

    def claim_run(self, run_id: int, force: bool = False) -> RunRecord:
        """Mark a run as being judged by this process; refuse if a live process has it.

        ``force`` takes the run over even from an owner that looks alive (``runs resume
        --force``): if that process is still judging, both work on the run; no verdict is
        stored twice, but work may be wasted.
        """
        pid, host, token = current_owner()
        now = utc_now()
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT status, owner_pid, owner_host, owner_token, owner_heartbeat"
                " FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
            if row is None:
                raise StoreError(f"No run {run_id}; run 'flowjudge runs list' to see the runs.")
            if not force and row["status"] == "running" and owner_alive(
                row["owner_pid"], row["owner_host"], row["owner_token"], row["owner_heartbeat"]
            ):
                raise StoreError(
                    f"Run {run_id} is being judged by process {row['owner_pid']} on "
                    f"{row['owner_host']}{_last_seen(row['owner_heartbeat'])}; wait for it to "
                    "finish or stop it first (or take it over with 'flowjudge runs resume "
                    f"{run_id} --force' if that process is gone)."
                )
            conn.execute(
                "UPDATE runs SET status = 'running', owner_pid = ?, owner_host = ?,"
                " owner_token = ?, owner_heartbeat = ?, error = NULL,"
                " started_at = COALESCE(started_at, ?), finished_at = NULL WHERE id = ?",
                (pid, host, token, now, now, run_id),
            )
        return self.get_run(run_id)

    def beat(self, run_id: int) -> None:
        """Refresh this owner's heartbeat on a run it judges."""
        pid, host, _ = current_owner()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE runs SET owner_heartbeat = ? WHERE id = ? AND status = 'running'"
                " AND owner_pid = ? AND owner_host = ?",
                (utc_now(), run_id, pid, host),
            )

    @contextmanager
    def heartbeat(self, run_id: int, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
        """Keep the run's heartbeat fresh from a background thread while the block runs."""
        stopped = threading.Event()

        def beat_until_stopped() -> None:
            try:
                while not stopped.wait(every):
                    try:
                        self.beat(run_id)
                    except (sqlite3.Error, StoreError):
                        continue  # a missed beat is harmless; the next one may succeed
            finally:
                self.db.release_thread_connection()

        thread = threading.Thread(target=beat_until_stopped, name=f"run-{run_id}-heartbeat",
                                  daemon=True)
        thread.start()
        try:
            yield
        finally:
            stopped.set()
            thread.join()

    def flag_model(self, fingerprint: str, model_name: str, reason: str) -> None:
        """Remember that a model file misbehaved (e.g. computed NaN logits)."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO model_flags (fingerprint, model_name, reason, flagged_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET"
                " reason = excluded.reason, flagged_at = excluded.flagged_at",
                (fingerprint, model_name, reason, utc_now()),
            )

    def model_flags(self) -> list[tuple[str, str, str]]:
        """Flagged models as (model name, reason, when), newest first."""
        rows = self.db.conn().execute(
            "SELECT model_name, reason, flagged_at FROM model_flags ORDER BY flagged_at DESC"
        ).fetchall()
        return [(row[0], row[1], row[2]) for row in rows]

    def finish_run(self, run_id: int, status: RunStatus, error: str | None = None) -> RunRecord:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?",
                (status, error, utc_now(), run_id),
            )
        return self.get_run(run_id)

    def forget_too_long_skips(self, run_id: int, force: bool = False) -> int:
        """Delete the run's verdicts that skipped an item as too long for the context, in one
        transaction (a kill leaves all of them or none), so those items are pending again;
        refused while a live process judges the run (unless ``force``). Returns how many."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT status, owner_pid, owner_host, owner_token, owner_heartbeat"
                " FROM runs WHERE id = ?", (run_id,),
            ).fetchone()
            if row is None:
                raise StoreError(f"No run {run_id}; run 'flowjudge runs list' to see the runs.")
            if not force and row["status"] == "running" and owner_alive(
                row["owner_pid"], row["owner_host"], row["owner_token"], row["owner_heartbeat"]
            ):
                raise StoreError(
                    f"Run {run_id} is being judged by process {row['owner_pid']} on "
                    f"{row['owner_host']}; wait for it to finish or stop it first."
                )
            cursor = conn.execute(
                f"DELETE FROM verdicts WHERE run_id = ? AND {_TOO_LONG_SKIP}", (run_id,))
        return cursor.rowcount

    def record_retry_context(self, run_id: int, n_ctx: int) -> RunRecord:
        """Note that a retry of the run's too-long items judged with ``n_ctx`` (the largest
        such context is kept)."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE runs SET retry_n_ctx = MAX(COALESCE(retry_n_ctx, 0), ?)"
                         " WHERE id = ?", (n_ctx, run_id))
        return self.get_run(run_id)

    def mark_started_together(self, run_ids: Sequence[int]) -> None:
        """Note that these runs were created together (each records the first's id)."""
        if len(run_ids) < 2:
            return
        with self.db.transaction() as conn:
            conn.executemany("UPDATE runs SET started_with = ? WHERE id = ?",
                             [(run_ids[0], run_id) for run_id in run_ids])

    def companions(self, run: RunRecord) -> list[RunRecord]:
        """The other runs created together with ``run`` (none for a run made alone)."""
        if run.started_with is None:
            return []
        rows = self.db.conn().execute(
            _RUN_SELECT.format(
                where="WHERE run_id IN (SELECT id FROM runs WHERE started_with = ?)",
                too_long=_TOO_LONG_SKIP)
            + " WHERE r.started_with = ? AND r.id != ? ORDER BY r.id",
            (run.started_with, run.started_with, run.id),
        ).fetchall()
        return [_run_from_row(row) for row in rows]

    def delete_run(self, run_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def pending_items(
        self, run_id: int, limit: int | None = None, after_row: int = 0
    ) -> list[ItemRecord]:
        """The run's items that have no verdict yet, in file order, after row ``after_row``."""
        run = self.get_run(run_id)
        conn = self.db.conn()
        last = conn.execute(
            "SELECT row_number FROM items WHERE dataset_id = ? ORDER BY row_number"
            " LIMIT 1 OFFSET ?",
            (run.dataset_id, max(0, run.total_items - 1)),
        ).fetchone()
        if last is None or run.total_items == 0:
            return []
        rows = conn.execute(
            f"SELECT {ITEM_COLUMNS} FROM items"
            " WHERE dataset_id = ? AND row_number > ? AND row_number <= ?"
            " AND NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.run_id = ? AND v.item_id = items.id)"
            " ORDER BY row_number LIMIT ?",
            (run.dataset_id, after_row, last[0], run_id, -1 if limit is None else limit),
        ).fetchall()
        return [item_from_row(row) for row in rows]

    def add_verdict(self, run_id: int, item_id: int, verdict: NewVerdict) -> VerdictRecord:
        """Commit one verdict at once. A second verdict for the same (run, item) is refused."""
        numbers = [*verdict.distribution.values(), verdict.expected_score, verdict.confidence,
                   verdict.score_mass, verdict.seconds]
        if not all(math.isfinite(n) for n in numbers if n is not None):
            raise StoreError(
                f"The verdict for item {item_id} holds NaN or infinite numbers, so it was not "
                "stored; the model that made it is probably damaged."
            )
        try:
            with self.db.transaction() as conn:
                cursor = conn.execute(
                    "INSERT INTO verdicts (run_id, item_id, status, score, feedback, distribution,"
                    " expected_score, confidence, score_mass, prompt_tokens, completion_tokens,"
                    " seconds, raw_text, stop_reason, skip_reason, work_key, reused_from,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id, item_id, verdict.status, verdict.score, verdict.feedback,
                        json.dumps({str(k): p for k, p in verdict.distribution.items()}),
                        verdict.expected_score, verdict.confidence, verdict.score_mass,
                        verdict.prompt_tokens, verdict.completion_tokens, verdict.seconds,
                        verdict.raw_text, verdict.stop_reason, verdict.skip_reason,
                        verdict.work_key, verdict.reused_from, utc_now(),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise StoreError(
                    f"Item {item_id} already has a verdict in run {run_id}; it is not judged twice."
                ) from None
            raise StoreError(f"Run {run_id} or item {item_id} does not exist ({exc}).") from None
        return self.get_verdict(int(cursor.lastrowid or 0))

    def get_verdict(self, verdict_id: int) -> VerdictRecord:
        row = self.db.conn().execute(
            f"SELECT {_VERDICT_COLUMNS} FROM verdicts WHERE id = ?", (verdict_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"No verdict {verdict_id} in the database.")
        return verdict_from_row(row)

    def find_reusable(self, work_key: str) -> VerdictRecord | None:
        """A verdict judged (not copied) for exactly this work, in any run; the oldest."""
        row = self.db.conn().execute(
            f"SELECT {_VERDICT_COLUMNS} FROM verdicts WHERE work_key = ? AND status = 'judged'"
            " ORDER BY id LIMIT 1",
            (work_key,),
        ).fetchone()
        return None if row is None else verdict_from_row(row)

    def verdicts(self, run_id: int) -> list[VerdictRecord]:
        rows = self.db.conn().execute(
            f"SELECT {_VERDICT_COLUMNS} FROM verdicts WHERE run_id = ? ORDER BY id", (run_id,)
        ).fetchall()
        return [verdict_from_row(row) for row in rows]

    def judged_items(self, run_id: int) -> list[JudgedItem]:
        """Every verdict of a run with its item and human label, in file order."""
        item_cols = ", ".join(f"i.{c} AS i_{c}" for c in ITEM_COLUMNS.split(", "))
        verdict_cols = ", ".join(f"v.{c} AS v_{c}" for c in _VERDICT_COLUMNS.split(", "))
        rows = self.db.conn().execute(
            f"SELECT {item_cols}, {verdict_cols}, l.score AS l_score, l.comment AS l_comment,"
            " l.updated_at AS l_updated_at, r.rubric_hash AS r_rubric_hash"
            " FROM verdicts v JOIN items i ON i.id = v.item_id JOIN runs r ON r.id = v.run_id"
            " JOIN rubrics rb ON rb.hash = r.rubric_hash"
            " LEFT JOIN reviews l ON l.content_hash = i.content_hash AND l.rubric_name = rb.name"
            " WHERE v.run_id = ? ORDER BY i.row_number",
            (run_id,),
        ).fetchall()
        results = []
        for row in rows:
            label = None
            if row["l_updated_at"] is not None:
                label = LabelRecord(
                    item_id=row["i_id"],
                    rubric_hash=row["r_rubric_hash"],
                    score=row["l_score"],
                    comment=row["l_comment"],
                    updated_at=row["l_updated_at"],
                )
            results.append(
                JudgedItem(item_from_row(row, "i_"), verdict_from_row(row, "v_"), label)
            )
        return results
