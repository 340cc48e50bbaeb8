"""Several rubrics in one run, judged together by the batched engine: in-process and through
the command line, SIGKILL and resume included."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowjudge_tui.cli.main import main
from flowjudge_tui.datasets import import_dataset
from flowjudge_tui.engine.llama import LlamaEngine
from flowjudge_tui.judging.backend import LoadSettings
from flowjudge_tui.runs.execute import VerdictEvent, execute_run, execute_runs
from flowjudge_tui.runs.workflow import create_run
from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import Store, open_store
from tests.run_helpers import add_dataset, rubric, write_csv

ROOT = Path(__file__).resolve().parent.parent
RUBRICS = ("relevance-query-binary", "relevance-query-5", "relevance-query-3")


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store() as opened:
        yield opened


@pytest.fixture(scope="module")
def batched_engine(tiny_model_path: Path) -> Iterator[LlamaEngine]:
    engine = LlamaEngine(tiny_model_path, LoadSettings(n_parallel=4))
    yield engine
    engine.close()


def test_runs_judged_together_equal_runs_judged_one_at_a_time(
    store: Store, batched_engine: LlamaEngine, tiny_engine: LlamaEngine, tiny_model_path: Path
) -> None:
    outputs = [f"Answer {n} " + "and more " * (n * 13 % 40) for n in range(6)]
    rubrics = [rubric(name) for name in RUBRICS]
    dataset_id = add_dataset(store, rubrics[0], outputs)
    alone = [create_run(store, dataset_id, rub, tiny_model_path) for rub in rubrics]
    for run in alone:
        assert execute_run(store, run.id, tiny_engine).judged == 6
    other = sqlite3.connect(store.path)
    other.execute("UPDATE verdicts SET work_key = 'one at a time ' || id")  # no reuse below
    other.commit()
    together = [create_run(store, dataset_id, rub, tiny_model_path) for rub in rubrics]
    committed: list[tuple[int, int]] = []

    def on_verdict(event: VerdictEvent) -> None:
        row = other.execute("SELECT run_id, item_id FROM verdicts WHERE id = ?",
                            (event.verdict.id,)).fetchone()
        committed.append(row)

    activities: list[str] = []
    summaries = execute_runs(store, [run.id for run in together], batched_engine,
                             on_verdict=on_verdict,
                             on_progress=lambda progress: activities.append(progress.activity))
    assert [(s.judged, s.run.state) for s in summaries] == [(6, "done")] * 3
    assert "4 of 4 parallel sequences busy" in activities and activities[-1] == ""
    assert len(committed) == 18 and len(set(committed)) == 18  # each committed when made
    times = batched_engine.phase_times
    assert times is not None and times.shared_tokens > 0
    for single_run, batched_run in zip(alone, together, strict=True):
        batched = {v.item_id: v for v in store.verdicts(batched_run.id)}
        for single in store.verdicts(single_run.id):
            verdict = batched[single.item_id]
            assert (verdict.score, verdict.feedback, verdict.raw_text) == (
                single.score, single.feedback, single.raw_text)
            assert verdict.distribution == pytest.approx(single.distribution, abs=1e-9)


def test_identical_work_in_flight_is_reused_not_judged_twice(
    store: Store, batched_engine: LlamaEngine, tiny_model_path: Path, tmp_path: Path
) -> None:
    rub = rubric(RUBRICS[0])
    data = write_csv(tmp_path / "d.csv", ["query", "response"],
                     [["Q1", "A."], ["Q2", "B."], ["Q1", "A."]])
    dataset_id = import_dataset(store, data, rub).dataset.id
    run = create_run(store, dataset_id, rub, tiny_model_path)
    summary = execute_run(store, run.id, batched_engine)
    assert (summary.judged, summary.reused) == (2, 1)
    [first, _, third] = sorted(store.verdicts(run.id), key=lambda v: v.item_id)
    assert third.reused_from == first.id and third.distribution == first.distribution


def start_cli(model: Path, data: Path, *extra: str) -> subprocess.Popen[str]:
    rubric_args = [arg for name in RUBRICS for arg in ("--rubric", name)]
    return subprocess.Popen(
        [sys.executable, "-m", "flowjudge_tui.cli.main", "run", "--model", str(model),
         *rubric_args, "--data", str(data), "--json", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def verdict_rows() -> list[tuple[int, int, int]]:
    database = app_paths().database
    if not database.exists():
        return []
    conn = sqlite3.connect(database)
    try:
        return list(conn.execute("SELECT id, run_id, item_id FROM verdicts ORDER BY id"))
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def test_a_multi_rubric_run_killed_with_sigkill_resumes_with_nothing_lost_or_twice(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path
) -> None:
    rows = 12
    data = write_csv(tmp_path / "data.csv", ["query", "response"],
                     [[f"Question {n}?", f"Answer {n}." + " More." * (n % 7)]
                      for n in range(rows)])
    process = start_cli(tiny_model_path, data, "--parallel", "3")
    try:
        deadline = time.monotonic() + 120
        while len(verdict_rows()) < 4:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no verdicts were committed in time"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = verdict_rows()
    assert 4 <= len(before) < rows * len(RUBRICS)

    assert main(["runs", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(run["rubric"] for run in listed) == sorted(RUBRICS)
    ids = [str(run["id"]) for run in listed]
    assert main(["runs", "resume", *ids, "--parallel", "2", "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert isinstance(resumed, list) and len(resumed) == 3
    assert all((r["status"], r["done"]) == ("done", rows) for r in resumed)
    assert sum(r["judged_now"] + r["reused_now"] for r in resumed) == (
        rows * len(RUBRICS) - len(before))
    after = verdict_rows()
    assert after[: len(before)] == before
    assert len({(run_id, item) for _, run_id, item in after}) == len(after) == rows * 3


def test_a_multi_rubric_run_lists_every_run_in_its_json(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "d.csv", ["query", "response"], [["Q?", "A."], ["Q2?", "B."]])
    code = main(["run", "--model", str(tiny_model_path), "--rubric", RUBRICS[0],
                 "--rubric", RUBRICS[1], "--data", str(data), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summaries = json.loads(captured.out)
    assert [s["rubric"] for s in summaries] == list(RUBRICS[:2])
    assert all((s["status"], s["done"], s["judged_now"]) == ("done", 2, 2) for s in summaries)
    assert len({s["dataset_id"] for s in summaries}) == 1  # one import for both rubrics
    code = main(["run", "--model", str(tiny_model_path), "--rubric", RUBRICS[0],
                 "--data", str(data), "--parallel", "0"])
    assert code == 2
    assert "--parallel: must be at least 1" in capsys.readouterr().err
