"""A run's owner on another host name (a re-created container) is judged by its heartbeat."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from flowjudge_tui.errors import StoreError
from flowjudge_tui.store import Store, open_store
from flowjudge_tui.store.owner import STALE_AFTER_SECONDS, current_owner
from tests.run_helpers import add_dataset, add_run, rubric

BINARY = "faithfulness-context-binary"


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store() as opened:
        yield opened


def iso(seconds_ago: float) -> str:
    moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def owned_elsewhere(store: Store, heartbeat: str | None, token: str = "old-boot:1") -> int:
    rub = rubric(BINARY)
    run = add_run(store, add_dataset(store, rub, ["a"]), rub)
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE runs SET status='running', owner_pid=1, owner_host='gone-container',"
                     " owner_token=?, owner_heartbeat=? WHERE id=?", (token, heartbeat, run.id))
    return run.id


def test_a_run_owned_by_a_vanished_host_can_be_resumed(store: Store) -> None:
    run_id = owned_elsewhere(store, iso(STALE_AFTER_SECONDS + 5))
    record = store.get_run(run_id)
    assert record.state == "interrupted" and record.resumable
    claimed = store.claim_run(run_id)
    assert claimed.owner_host == current_owner()[1]
    assert claimed.owner_heartbeat is not None


def test_a_run_from_before_heartbeats_on_another_host_is_not_stuck_forever(store: Store) -> None:
    assert store.get_run(owned_elsewhere(store, None)).state == "interrupted"


def test_a_live_owner_elsewhere_is_respected_unless_forced(store: Store) -> None:
    run_id = owned_elsewhere(store, iso(3))
    assert store.get_run(run_id).state == "running"
    with pytest.raises(StoreError, match=r"last heard from \d+ s ago.*--force"):
        store.claim_run(run_id)
    assert store.claim_run(run_id, force=True).owner_pid == current_owner()[0]


def test_the_same_machine_under_a_new_host_name_is_recognised(store: Store) -> None:
    pid, _, token = current_owner()
    if token is None:
        pytest.skip("process tokens need Linux /proc")
    run_id = owned_elsewhere(store, None, token)
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE runs SET owner_pid=? WHERE id=?", (pid, run_id))
    assert store.get_run(run_id).state == "running"


def test_the_owner_refreshes_its_heartbeat_while_it_judges(store: Store) -> None:
    rub = rubric(BINARY)
    run = add_run(store, add_dataset(store, rub, ["a"]), rub)
    first = store.claim_run(run.id).owner_heartbeat
    with store.heartbeat(run.id, every=0.01):
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while store.get_run(run.id).owner_heartbeat == first and datetime.now(UTC) < deadline:
            time.sleep(0.005)
    assert store.get_run(run.id).owner_heartbeat != first
