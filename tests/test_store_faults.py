"""The store under faults: long imports, broken rows, damaged or read-only files, huge numbers."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowjudge_tui.datasets import import_dataset
from flowjudge_tui.errors import StoreError
from flowjudge_tui.store import NewItem, Store, dataset_queries, open_store
from tests.run_helpers import add_dataset, add_run, rubric, scored, write_jsonl

FAITHFUL = "faithfulness-context-binary"


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store() as opened:
        yield opened


def new_items(count: int, during: object = None) -> Iterator[NewItem]:
    for n in range(count):
        if n == count // 2 and callable(during):
            during()
        yield NewItem(row_number=n + 2, inputs={"query": f"q{n}", "context": "c"},
                      output=f"o{n}")


def test_a_long_import_never_locks_out_a_running_run(store: Store,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataset_queries, "INSERT_CHUNK", 3)
    rub = rubric(FAITHFUL)
    run = add_run(store, add_dataset(store, rub, ["a"]), rub)
    item = store.items(run.dataset_id)[0]

    def a_run_commits_a_verdict_meanwhile() -> None:
        other = sqlite3.connect(store.path, timeout=0)  # fails at once if the lock is held
        other.close()
        with open_store(store.path) as runner:
            runner.db.conn().execute("PRAGMA busy_timeout = 0")
            runner.add_verdict(run.id, item.id, scored(1, [0, 1]))

    dataset = store.add_dataset(
        name="big", source_path="big.jsonl", format="jsonl", columns=["query"],
        mapping={}, rubric=rub, items=new_items(20, a_run_commits_a_verdict_meanwhile),
    )
    assert dataset.item_count == 20
    assert store.get_run(run.id).judged == 1


def test_an_import_that_fails_midway_leaves_nothing(store: Store,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataset_queries, "INSERT_CHUNK", 3)

    def fail() -> None:
        raise RuntimeError("disk pulled")

    with pytest.raises(RuntimeError):
        store.add_dataset(name="x", source_path="x", format="csv", columns=[], mapping={},
                          rubric=rubric(FAITHFUL), items=new_items(20, fail))
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT COUNT(*) FROM datasets").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0


def test_an_import_killed_midway_is_cleaned_up_by_the_next_one(store: Store) -> None:
    rub = rubric(FAITHFUL)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    dataset_id = add_dataset(store, rub, ["a"])
    owner = json.dumps({"pid": dead.pid, "host": os.uname().nodename, "token": None,
                        "heartbeat": "2000-01-01T00:00:00.000000Z"})
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE datasets SET import_owner = ? WHERE id = ?", (owner, dataset_id))
    assert store.list_datasets() == []
    add_dataset(store, rub, ["b"])
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 1


def test_a_lone_surrogate_or_deep_nesting_is_one_bad_row(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "hostile.jsonl"
    good = {"query": "q", "context": "c", "response": "fine"}
    path.write_text(
        json.dumps(good) + "\n"
        + '{"query": "\\ud800", "context": "c", "response": "x"}\n'
        + "[" * 100_000 + "]" * 100_000 + "\n"
        + '{"query": "\\ud83d\\ude00", "context": "c", "response": "emoji pair"}\n'
        + '{"query\\udfff": "q", "context": "c", "response": "surrogate key"}\n',
        encoding="utf-8",
    )
    result = import_dataset(store, path, rubric(FAITHFUL))
    assert result.imported == 2
    reasons = {p.line: p.reason for p in result.problems}
    assert "lone surrogate" in reasons[2] and "too deeply" in reasons[3]
    assert "lone surrogate" in reasons[5]


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 10**30])
def test_numbers_beyond_64_bits_are_one_sentence(store: Store, number: int) -> None:
    with pytest.raises(StoreError, match="too large for the database"):
        store.get_run(number)
    with pytest.raises(StoreError, match="too large for the database"):
        store.get_dataset(number)


def test_labels_beyond_64_bits_are_off_the_scale(store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "labels.jsonl", [
        {"query": "q", "context": "c", "response": "r", "label": 2**64},
        {"query": "q", "context": "c", "response": "r", "label": 1},
    ])
    result = import_dataset(store, path, rubric(FAITHFUL), label="label")
    assert result.imported == 2 and result.problems == []
    assert result.labels_off_scale is not None
    assert result.labels_off_scale.examples == ((1, str(2**64)),)
    assert [i.human_label for i in store.items(result.dataset.id)] == [None, 1]


def test_a_damaged_database_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "damaged.sqlite3"
    with open_store(path) as store:
        rub = rubric(FAITHFUL)
        add_dataset(store, rub, [f"output {n} " * 200 for n in range(200)])
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data) - page, page):
        data[offset:offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"damaged|cannot be opened") as error, \
            open_store(path) as store:
        for dataset in store.list_datasets():
            store.items(dataset.id)
    assert "Traceback" not in str(error.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway")
def test_a_read_only_database_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "ro.sqlite3"
    with open_store(path) as store:
        add_dataset(store, rubric(FAITHFUL), ["a"])
    path.chmod(0o444)
    with pytest.raises(StoreError, match=r"cannot be written|cannot be opened"), \
            open_store(path) as store:
        add_dataset(store, rubric(FAITHFUL), ["b"])


def test_a_write_refused_as_read_only_is_one_sentence(tmp_path: Path) -> None:
    from flowjudge_tui.store.sqlite_errors import GuardedConnection

    path = tmp_path / "ro.sqlite3"
    with open_store(path) as store:
        add_dataset(store, rubric(FAITHFUL), ["a"])
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, factory=GuardedConnection)
    conn.path = path
    with pytest.raises(StoreError, match=r"cannot be written.*permissions"):
        conn.execute("DELETE FROM items")


CLOSE_WHILE_QUERYING = """
import sys, threading, time
from pathlib import Path
from flowjudge_tui.errors import StoreError
from flowjudge_tui.store import NewItem, open_store
from tests.run_helpers import rubric

rub = rubric("faithfulness-context-binary")
for attempt in range(5):
    store = open_store(Path(sys.argv[1]) / f"db{attempt}.sqlite3")
    dataset = store.add_dataset(
        name="d", source_path="d", format="csv", columns=[], mapping={}, rubric=rub,
        items=[NewItem(row_number=n, inputs={"query": "q" * 500, "context": "c"},
                       output="o" * 500) for n in range(2000)])
    stop = threading.Event()

    def query() -> None:
        while not stop.is_set():
            try:
                store.items(dataset.id)
            except StoreError:
                pass

    threads = [threading.Thread(target=query) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    store.close()
    stop.set()
    for thread in threads:
        thread.join()
print("closed cleanly")
"""


def test_closing_the_store_while_workers_query_never_crashes(tmp_path: Path) -> None:
    """ctrl+q in the app closes the store while worker threads may be mid-query; that used
    to close a connection under a running statement and crash the process (SIGSEGV)."""
    result = subprocess.run([sys.executable, "-c", CLOSE_WHILE_QUERYING, str(tmp_path)],
                            capture_output=True, text=True, check=False, timeout=600,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "closed cleanly" in result.stdout
