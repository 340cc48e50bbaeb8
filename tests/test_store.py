"""The SQLite store: schema and migrations, one commit per verdict, labels, threads."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowjudge_tui.errors import StoreError
from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import (
    SCHEMA_VERSION,
    NewItem,
    NewVerdict,
    RunSettings,
    Store,
    open_store,
)
from flowjudge_tui.store.owner import current_owner, process_token
from flowjudge_tui.store.schema import MIGRATIONS
from tests.run_helpers import add_dataset, add_run, rubric, scored

BINARY = "faithfulness-context-binary"


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store() as opened:
        yield opened


def test_opens_at_the_app_database_in_wal_mode_with_the_latest_schema(store: Store) -> None:
    assert store.path == app_paths().database
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"datasets", "items", "rubrics", "runs", "verdicts", "labels"} <= tables


def test_reopening_keeps_data_and_does_not_migrate_again(store: Store) -> None:
    rub = rubric(BINARY)
    dataset_id = add_dataset(store, rub, ["a", "b"])
    store.close()
    with open_store() as again:
        assert again.get_dataset(dataset_id).item_count == 2


def test_an_older_database_is_migrated_in_order_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO rubrics VALUES ('h', 'old', 'toml', 'then')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    Store(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "owner_token" in {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
    assert conn.execute("SELECT name FROM rubrics").fetchall() == [("old",)]


def test_a_database_from_a_newer_flowjudge_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer flowjudge"):
        Store(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="move it aside"):
        Store(path)


def test_rubric_versions_are_stored_once_and_read_back(store: Store) -> None:
    rub = rubric(BINARY)
    assert store.save_rubric(rub) == rub.content_hash
    store.save_rubric(rub)
    assert store.get_rubric(rub.content_hash) == rub
    with pytest.raises(StoreError, match="No rubric version"):
        store.get_rubric("0" * 64)


def test_dataset_items_keep_inputs_order_and_imported_labels(store: Store) -> None:
    rub = rubric(BINARY)
    dataset_id = add_dataset(store, rub, ["out 0", "out 1", "out 2"], labels=[1, None, 0],
                             keys=["a", "b", "c"])
    items = store.items(dataset_id)
    assert [i.output for i in items] == ["out 0", "out 1", "out 2"]
    assert list(items[0].inputs) == rub.inputs
    assert [i.source_key for i in items] == ["a", "b", "c"]
    assert [i.human_label for i in items] == [1, None, 0]
    # An imported label is the item's own; no reviewer has labelled anything yet.
    assert store.get_label(items[0].id, rub.content_hash) is None
    assert store.get_item(items[2].id) == items[2]
    assert store.items(dataset_id, limit=1, offset=1) == [items[1]]


def test_a_failing_import_stores_nothing(store: Store) -> None:
    rub = rubric(BINARY)

    def rows() -> Iterator[NewItem]:
        yield NewItem(2, {"query": "q", "context": "c"}, "o")
        raise RuntimeError("the file broke")

    with pytest.raises(RuntimeError):
        store.add_dataset(name="x", source_path="/x", format="csv", columns=[], mapping={},
                          rubric=rub, items=rows())
    assert store.list_datasets() == []
    assert sqlite3.connect(store.path).execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0


def test_a_verdict_is_committed_at_once_and_only_once_per_item(store: Store) -> None:
    rub = rubric(BINARY)
    run = add_run(store, add_dataset(store, rub, ["a", "b"]), rub)
    item = store.items(run.dataset_id)[0]
    record = store.add_verdict(run.id, item.id, scored(1, [0, 1], 0.8, key="k1"))
    other = sqlite3.connect(store.path)
    assert other.execute("SELECT score FROM verdicts WHERE id = ?", (record.id,)).fetchone() == (1,)
    assert record.distribution == pytest.approx({0: 0.2, 1: 0.8})
    with pytest.raises(StoreError, match="already has a verdict"):
        store.add_verdict(run.id, item.id, scored(0, [0, 1], key="k2"))
    assert [i.id for i in store.pending_items(run.id)] == [store.items(run.dataset_id)[1].id]
    assert store.get_run(run.id).judged == 1


def test_run_totals_and_pending_items_respect_the_limit(store: Store) -> None:
    rub = rubric(BINARY)
    dataset_id = add_dataset(store, rub, [f"o{n}" for n in range(5)])
    run = store.create_run(
        dataset_id=dataset_id, rubric=rub, model_name="m.gguf", model_path="/m.gguf",
        model_fingerprint="quick-v1:x", fingerprint_kind="quick-v1",
        settings=add_run(store, dataset_id, rub).settings, total_items=3,
    )
    pending = store.pending_items(run.id)
    assert [i.row_number for i in pending] == [2, 3, 4]
    store.add_verdict(run.id, pending[0].id, scored(1, [0, 1]))
    store.add_verdict(run.id, pending[1].id,
                      NewVerdict(status="skipped", work_key="s", skip_reason="too long"))
    record = store.get_run(run.id)
    assert (record.judged, record.skipped, record.done, record.pending) == (1, 1, 2, 1)
    assert (record.prompt_tokens, record.completion_tokens) == (100, 10)
    assert store.list_runs()[0].id == run.id


def test_only_judged_verdicts_are_offered_for_reuse(store: Store) -> None:
    rub = rubric(BINARY)
    run = add_run(store, add_dataset(store, rub, ["a", "b"]), rub)
    first, second = store.items(run.dataset_id)
    assert store.find_reusable("same") is None
    original = store.add_verdict(run.id, first.id, scored(1, [0, 1], key="same"))
    copy = NewVerdict(status="reused", work_key="same", score=1, reused_from=original.id)
    store.add_verdict(run.id, second.id, copy)
    found = store.find_reusable("same")
    assert found is not None and found.id == original.id


def test_labels_and_comments_are_saved_separately_and_checked(store: Store) -> None:
    rub = rubric("correctness-reference-5")
    item = store.items(add_dataset(store, rub, ["a"]))[0]
    label = store.set_human_score(item.id, rub.content_hash, 4)
    assert (label.score, label.comment) == (4, "")
    label = store.set_comment(item.id, rub.content_hash, "close, but misses a date")
    assert (label.score, label.comment) == (4, "close, but misses a date")
    label = store.set_human_score(item.id, rub.content_hash, None)
    assert (label.score, label.comment) == (None, "close, but misses a date")
    with pytest.raises(StoreError, match="not on rubric"):
        store.set_human_score(item.id, rub.content_hash, 0)
    with pytest.raises(StoreError, match="No rubric version"):
        store.set_comment(item.id, "f" * 64, "x")


def test_a_reviewers_label_sits_beside_the_imported_one_and_follows_the_content(
    store: Store,
) -> None:
    rub = rubric(BINARY)
    first = store.items(add_dataset(store, rub, ["out 0", "out 1"], labels=[1, 0]))
    store.set_human_score(first[0].id, rub.content_hash, 0)
    store.set_comment(first[1].id, rub.content_hash, "unsure")
    store.set_human_score(first[1].id, rub.content_hash, None)
    assert [i.human_label for i in store.items(first[0].dataset_id)] == [1, 0]
    # The same rows imported again (another file, another rubric version of the same name).
    edited = type(rub)(**{**rub.model_dump(), "criteria": rub.criteria + " Be strict."})
    assert edited.content_hash != rub.content_hash
    second = store.items(add_dataset(store, edited, ["out 0", "out 1", "new"], name="again"))
    by_output = {item.output: item for item in second}
    label = store.get_label(by_output["out 0"].id, edited.content_hash)
    assert label is not None and label.score == 0
    label = store.get_label(by_output["out 1"].id, edited.content_hash)
    assert label is not None and (label.score, label.comment) == (None, "unsure")
    assert store.get_label(by_output["new"].id, edited.content_hash) is None
    assert by_output["out 0"].human_label is None  # nothing imported with this file


def test_labels_made_before_reviews_existed_move_over_without_imported_copies(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:2]:
        for statement in migration:
            conn.execute(statement)
    conn.execute("INSERT INTO rubrics VALUES ('h', 'rub', 'toml', 'then')")
    conn.execute("INSERT INTO datasets (id, name, source_path, format, columns, mapping,"
                 " input_fields, output_field, rubric_hash, created_at)"
                 " VALUES (1, 'd', '/d.csv', 'csv', '[]', '{}', '[]', 'o', 'h', 'then')")
    for item_id, imported in ((1, 1), (2, 1), (3, None)):
        conn.execute("INSERT INTO items VALUES (?, 1, ?, NULL, '{}', 'o', ?, ?)",
                     (item_id, item_id, imported, f"c{item_id}"))
    conn.executemany("INSERT INTO labels VALUES (?, 'h', ?, ?, 'then')",
                     [(1, 1, ""), (2, 0, ""), (3, None, "a note")])
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    Store(path).close()
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT content_hash, rubric_name, score, comment FROM reviews"
                        " ORDER BY content_hash").fetchall()
    assert rows == [("c2", "rub", 0, ""), ("c3", "rub", None, "a note")]


def test_a_run_whose_process_is_gone_shows_as_interrupted(store: Store) -> None:
    rub = rubric(BINARY)
    run = add_run(store, add_dataset(store, rub, ["a"]), rub)
    assert store.get_run(run.id).state == "queued"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    conn = sqlite3.connect(store.path)
    with conn:
        conn.execute("UPDATE runs SET status='running', owner_pid=?, owner_host=? WHERE id=?",
                     (dead.pid, socket.gethostname(), run.id))
    record = store.get_run(run.id)
    assert record.state == "interrupted" and record.resumable
    assert store.claim_run(run.id).owner_pid == os.getpid()
    with pytest.raises(StoreError, match="being judged by process"):
        store.claim_run(run.id)
    assert store.finish_run(run.id, "cancelled").state == "cancelled"


def test_a_reused_pid_or_an_unreaped_process_is_not_taken_for_the_owner(store: Store) -> None:
    rub = rubric(BINARY)
    run = add_run(store, add_dataset(store, rub, ["a"]), rub)
    pid, host, token = current_owner()
    if token is None:
        pytest.skip("process tokens need Linux /proc")
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    while process_token(zombie.pid) is not None:
        time.sleep(0.01)
    cases = [(pid, "another-boot:123", "interrupted"), (pid, token, "running"),
             (zombie.pid, token, "interrupted")]
    conn = sqlite3.connect(store.path)
    for owner_pid, owner_token, state in cases:
        with conn:
            conn.execute("UPDATE runs SET status='running', owner_pid=?, owner_host=?,"
                         " owner_token=? WHERE id=?", (owner_pid, host, owner_token, run.id))
        assert store.get_run(run.id).state == state
    zombie.wait()


def test_threads_share_one_store(store: Store) -> None:
    rub = rubric(BINARY)
    run = add_run(store, add_dataset(store, rub, [f"o{n}" for n in range(80)]), rub)
    items = store.items(run.dataset_id)
    errors: list[BaseException] = []

    def work(part: int) -> None:
        try:
            for item in items[part::4]:
                store.add_verdict(run.id, item.id, scored(1, [0, 1], key=f"k{item.id}"))
                store.get_run(run.id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.get_run(run.id).judged == 80


def test_deleting_a_dataset_removes_its_runs_and_verdicts(store: Store) -> None:
    rub = rubric(BINARY)
    run = add_run(store, add_dataset(store, rub, ["a"]), rub)
    store.add_verdict(run.id, store.items(run.dataset_id)[0].id, scored(1, [0, 1]))
    store.delete_dataset(run.dataset_id)
    assert store.list_runs() == []
    assert sqlite3.connect(store.path).execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == 0
    with pytest.raises(StoreError, match="No run"):
        store.get_run(run.id)


@pytest.mark.parametrize(("name", "problem"), [
    ("", "cannot be empty"),
    ("   ", "cannot be empty"),
    ("x" * 81, "at most 80 characters; this one has 81"),
    ("two\nlines", "control characters"),
    ("bell\x07", "control characters"),
    ("hidden\u200bspace", "control characters"),
])
def test_a_run_name_is_refused_in_one_sentence(store: Store, name: str, problem: str) -> None:
    rub = rubric("relevance-query-binary")
    run = add_run(store, add_dataset(store, rub, ["a"]), rub)
    with pytest.raises(StoreError, match=problem):
        store.rename_run(run.id, name)
    assert store.get_run(run.id).name is None


def test_a_run_is_named_renamed_and_unnamed(store: Store) -> None:
    rub = rubric("relevance-query-binary")
    dataset = add_dataset(store, rub, ["a"])
    run = store.create_run(
        dataset_id=dataset, rubric=rub, model_name="m.gguf", model_path="/m.gguf",
        model_fingerprint="quick-v1:m", fingerprint_kind="quick-v1",
        settings=RunSettings(), total_items=1,
        name="  Übung 3 — 日本語 ",
    )
    assert (run.name, run.title) == ("Übung 3 — 日本語", 'Run 1 "Übung 3 — 日本語"')
    assert store.rename_run(run.id, "x" * 80).name == "x" * 80
    unnamed = store.rename_run(run.id, None)
    assert (unnamed.name, unnamed.title) == (None, "Run 1")
    with pytest.raises(StoreError, match="No run 99"):
        store.rename_run(99, "x")
