"""Helpers for the app's tests: waiting on the app, and runs stored without a model."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store

SIZE = (120, 40)
SPOT_INPUTS = {
    "query": "What is the capital of France?",
    "context": "Paris is the capital and largest city of France.",
}
SPOT_OUTPUT = "The capital of France is Paris."


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests in a fresh asyncio loop (Textual's ``run_test`` needs one),
    without an async plugin."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture(autouse=True)
def private_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees a model the developer happens to have in their own hub cache."""
    cache = tmp_path / "hub-cache"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


async def wait_for(pilot: Pilot[object], condition: Callable[[], bool], timeout: float = 20.0,
                   what: str = "the app") -> None:
    """Let the app run until ``condition`` holds (workers finish in their own time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    await pilot.pause()


def shown(widget: Static) -> str:
    """The text a Static shows, without its markup."""
    return str(widget.render())


def notifications(app: object) -> list[str]:
    return [str(n.message) for n in getattr(app, "_notifications", [])]


@pytest.fixture
def stored_runs() -> tuple[int, int]:
    """Two finished runs of faithfulness-context-5 over the same five items, with labels."""
    from run_helpers import add_dataset, add_run, judge_all, rubric

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
    return first.id, second.id
