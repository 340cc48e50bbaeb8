"""Fixtures for the app's tests: a private hub cache, and runs stored without a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store


@pytest.fixture(autouse=True)
def private_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees a model the developer happens to have in their own hub cache."""
    cache = tmp_path / "hub-cache"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def stored_runs() -> tuple[int, int]:
    """Two finished runs of faithfulness-context-5 over the same five items, with labels."""
    from tests.run_helpers import add_dataset, add_run, judge_all, rubric

    rub = rubric("faithfulness-context-5")
    outputs = ["Paris.", "Marlowe wrote Hamlet.", "About 8,849 m.", "Water.",
               "Blue [/] whales [b]."]
    with open_store(app_paths().database) as store:
        dataset = add_dataset(store, rub, outputs, labels=[5, 1, 4, None, None])
        first = add_run(store, dataset, rub, model="judge-a.gguf")
        judge_all(store, first, [5, 2, 4, 3, None], rub.score_values,
                  confidences=[0.9, 0.3, 0.8, 0.2, 0.0])
        store.finish_run(first.id, "done")
        second = add_run(store, dataset, rub, model="judge-b.gguf")
        judge_all(store, second, [4, 1, 4, 3, 2], rub.score_values,
                  confidences=[0.7, 0.6, 0.9, 0.4, 0.5])
        store.finish_run(second.id, "done")
        # A fixed time, so that snapshots showing it do not change from day to day.
        store.db.conn().execute("UPDATE runs SET created_at = '2026-01-02T09:30:00+00:00'")
    return first.id, second.id
