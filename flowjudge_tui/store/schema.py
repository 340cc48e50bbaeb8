"""The database schema, versioned: ``PRAGMA user_version`` counts the migrations applied.

Append a new tuple of statements to ``MIGRATIONS`` to change the schema; never edit one that
has shipped. Each migration runs in its own transaction together with the version bump.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE datasets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            source_path TEXT NOT NULL,
            format TEXT NOT NULL,
            columns TEXT NOT NULL,
            mapping TEXT NOT NULL,
            label_column TEXT,
            id_column TEXT,
            input_fields TEXT NOT NULL,
            output_field TEXT NOT NULL,
            rubric_hash TEXT NOT NULL,
            item_count INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            row_number INTEGER NOT NULL,
            source_key TEXT,
            inputs TEXT NOT NULL,
            output TEXT NOT NULL,
            human_label INTEGER,
            content_hash TEXT NOT NULL,
            UNIQUE (dataset_id, row_number)
        )""",
        """CREATE TABLE rubrics (
            hash TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            toml TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            rubric_hash TEXT NOT NULL REFERENCES rubrics(hash),
            model_name TEXT NOT NULL,
            model_path TEXT NOT NULL,
            model_fingerprint TEXT NOT NULL,
            fingerprint_kind TEXT NOT NULL,
            settings TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
            error TEXT,
            owner_pid INTEGER,
            owner_host TEXT,
            total_items INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT
        )""",
        """CREATE TABLE verdicts (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            status TEXT NOT NULL CHECK (status IN ('judged', 'reused', 'skipped')),
            score INTEGER,
            feedback TEXT NOT NULL DEFAULT '',
            distribution TEXT NOT NULL DEFAULT '{}',
            expected_score REAL,
            confidence REAL,
            score_mass REAL,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            seconds REAL NOT NULL DEFAULT 0,
            raw_text TEXT NOT NULL DEFAULT '',
            stop_reason TEXT NOT NULL DEFAULT '',
            skip_reason TEXT,
            work_key TEXT NOT NULL,
            reused_from INTEGER REFERENCES verdicts(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            UNIQUE (run_id, item_id)
        )""",
        "CREATE INDEX verdicts_by_work_key ON verdicts (work_key) WHERE status = 'judged'",
        "CREATE INDEX items_by_dataset ON items (dataset_id, row_number)",
        """CREATE TABLE labels (
            item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            rubric_hash TEXT NOT NULL,
            score INTEGER,
            comment TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL,
            PRIMARY KEY (item_id, rubric_hash)
        )""",
    ),
    ("ALTER TABLE runs ADD COLUMN owner_token TEXT",),
    (
        # The rubric lab: a rubric version tried on a labelled sample, judged as a run over a
        # dataset holding just the sample; the labels it was measured against are kept here.
        """CREATE TABLE trials (
            id INTEGER PRIMARY KEY,
            rubric_name TEXT NOT NULL,
            rubric_hash TEXT NOT NULL REFERENCES rubrics(hash),
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            source TEXT NOT NULL,
            source_digest TEXT NOT NULL,
            label_column TEXT,
            sample_key TEXT NOT NULL,
            sample_size INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            model_fingerprint TEXT NOT NULL,
            settings TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX trials_by_rubric ON trials (rubric_name, id)",
        """CREATE TABLE trial_items (
            trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
            item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            label INTEGER NOT NULL,
            PRIMARY KEY (trial_id, item_id)
        )""",
        # A run can carry a threshold below which its verdicts need a person's review.
        "ALTER TABLE runs ADD COLUMN review_below REAL",
    ),
    (
        # Stale-owner detection by heartbeat, imports hidden until complete, models that
        # computed NaN logits.
        "ALTER TABLE runs ADD COLUMN owner_heartbeat TEXT",
        "ALTER TABLE datasets ADD COLUMN import_owner TEXT",
        """CREATE TABLE IF NOT EXISTS model_flags (
            fingerprint TEXT PRIMARY KEY,
            model_name TEXT NOT NULL,
            reason TEXT NOT NULL,
            flagged_at TEXT NOT NULL
        )""",
    ),
    # The base URL of the server that judges the run (NULL: in-process, from model_path).
    ("ALTER TABLE runs ADD COLUMN server_url TEXT",),
    # Reviews: a reviewer's own label and comment, kept apart from the label imported with
    # the dataset (items.human_label), and attached to the item's content and the rubric's
    # name so they follow a row across imports, runs and rubric versions. Labels recorded
    # before this (the `labels` table, which also held copies of imported labels) move over
    # where they are a reviewer's: a score other than the imported one, or a comment.
    (
        """CREATE TABLE reviews (
            content_hash TEXT NOT NULL,
            rubric_name TEXT NOT NULL,
            score INTEGER,
            comment TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL,
            PRIMARY KEY (content_hash, rubric_name)
        )""",
        """INSERT OR REPLACE INTO reviews (content_hash, rubric_name, score, comment, updated_at)
            SELECT i.content_hash, rb.name,
                   CASE WHEN l.score IS i.human_label THEN NULL ELSE l.score END,
                   l.comment, l.updated_at
            FROM labels l JOIN items i ON i.id = l.item_id
            JOIN rubrics rb ON rb.hash = l.rubric_hash
            WHERE l.score IS NOT i.human_label OR l.comment != ''
            ORDER BY l.updated_at""",
        # What an import was made from (the file's bytes, the mapping and the rubric's
        # fields): importing the same again reuses the dataset instead of copying it.
        "ALTER TABLE datasets ADD COLUMN source_hash TEXT",
        "CREATE INDEX datasets_by_source_hash ON datasets (source_hash)",
    ),
    # A name the user gives a run (NULL: none), shown beside its id.
    ("ALTER TABLE runs ADD COLUMN name TEXT",),
    # The largest context a retry of the run's too-long items judged with (NULL: never
    # retried): the run's settings keep the context it was started with.
    ("ALTER TABLE runs ADD COLUMN retry_n_ctx INTEGER",),
    # Runs created together (one per rubric over one file) share the first one's id here
    # (NULL: a run made alone), so a retry of one can offer the others.
    ("ALTER TABLE runs ADD COLUMN started_with INTEGER",),
)

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to ``SCHEMA_VERSION``; safe when several processes race.

    ``conn`` must be in autocommit mode. Returns the version found before migrating.
    """
    found = schema_version(conn)
    if found > SCHEMA_VERSION:
        return found
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(conn)
            if version >= SCHEMA_VERSION:
                conn.execute("COMMIT")
                return found
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
