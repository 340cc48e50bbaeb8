"""Runs judged by a real llama.cpp server (xllamacpp on loopback): several items in flight,
a server that dies mid-run, resume on the same or another server."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from flowjudge_tui.cli.main import main
from flowjudge_tui.datasets import import_dataset
from flowjudge_tui.engine.served import ServedEngine
from flowjudge_tui.engine.served_http import ServerOptions
from flowjudge_tui.errors import ServerUnreachableError
from flowjudge_tui.runs.execute import VerdictEvent, execute_run
from flowjudge_tui.runs.work import ServedModel
from flowjudge_tui.runs.workflow import create_run
from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from tests.run_helpers import rubric, write_csv
from tests.served_server import LlamaServer

RUBRIC = "relevance-query-binary"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def dataset(tmp_path: Path, rows: int) -> Path:
    return write_csv(tmp_path / "data.csv", ["Question", "Answer"],
                     [[f"Question {n}?", f"Answer {n}."] for n in range(rows)])


def served_run(tmp_path: Path, rows: int, server: str, model: Path) -> int:
    """A queued run over ``rows`` items, judged by ``model`` on ``server``."""
    with open_store() as store:
        imported = import_dataset(store, dataset(tmp_path, rows), rubric(RUBRIC))
        run = create_run(store, imported.dataset.id, rubric(RUBRIC),
                         ServedModel(server, str(model)))
    return run.id


def verdict_rows(run_id: int) -> list[tuple[int, str, int | None]]:
    conn = sqlite3.connect(app_paths().database)
    try:
        return list(conn.execute("SELECT item_id, status, score FROM verdicts WHERE run_id = ?",
                                 (run_id,)))
    finally:
        conn.close()


def test_more_items_than_slots_each_judged_once_and_never_taken_for_in_process(
    llama_server: LlamaServer, tiny_model_path: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = dataset(tmp_path, 7)
    code, _, _ = cli(capsys, "run", "--model", str(tiny_model_path), "--rubric", RUBRIC,
                     "--data", str(data))
    assert code == 0
    code, _, err = cli(capsys, "run", "--server", llama_server.url, "--rubric", RUBRIC,
                       "--data", str(data), "--concurrency", "4")
    assert code == 0, err
    assert "4 in flight" in err
    with open_store() as store:
        local, served = store.get_run(1), store.get_run(2)
    assert local.server_url is None
    assert served.server_url == llama_server.url and served.model_name == str(tiny_model_path)
    rows = verdict_rows(2)
    assert len(rows) == len({item for item, _, _ in rows}) == 7
    assert {status for _, status, _ in rows} == {"judged"}  # not reused from the local run
    assert {score for _, _, score in rows} == {1}


def test_a_server_dying_mid_run_stops_it_cleanly_and_resume_finishes_it(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = LlamaServer(tiny_model_path, parallel=2).start()
    try:
        run_id = served_run(tmp_path, 9, server.url, tiny_model_path)
        engine = ServedEngine(server.url, options=ServerOptions(unreachable_after=1.0),
                              concurrency=2)

        def kill_after_three(event: VerdictEvent) -> None:
            if event.done == 3:
                server.kill()

        with open_store() as store:
            with pytest.raises(ServerUnreachableError):
                execute_run(store, run_id, engine, on_verdict=kill_after_three)
            engine.close()
            stopped = store.get_run(run_id)
        assert stopped.status == "failed" and stopped.resumable
        kept = verdict_rows(run_id)
        assert 3 <= len(kept) < 9

        # Still down: one sentence naming the server, nothing lost, non-zero exit.
        code, _, err = cli(capsys, "runs", "resume", str(run_id), "--server-timeout", "1")
        assert code != 0
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines[-1].startswith(f"flowjudge: run {run_id} stopped with {len(kept)} of 9")
        assert server.url.removesuffix("/v1") in lines[-1]
        assert "Traceback" not in err
        assert len(verdict_rows(run_id)) == len(kept)

        # Back on the same port: resume finishes, each item exactly once.
        server = LlamaServer(tiny_model_path, parallel=2, port=server.port).start()
        code, _, err = cli(capsys, "runs", "resume", str(run_id), "--concurrency", "3")
        assert code == 0, err
        rows = verdict_rows(run_id)
        assert len(rows) == len({item for item, _, _ in rows}) == 9
        assert set(kept) <= set(rows)
    finally:
        server.stop()


def test_resume_can_move_a_served_run_to_another_server(
    llama_server: LlamaServer, tiny_model_path: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gone = LlamaServer(tiny_model_path, parallel=1).start()
    served_run(tmp_path, 3, gone.url, tiny_model_path)
    gone.stop()
    code, _, err = cli(capsys, "runs", "resume", "1", "--server", llama_server.url)
    assert code == 0, err
    with open_store() as store:
        moved = store.get_run(1)
    assert moved.server_url == llama_server.url and moved.done == 3


def test_an_in_process_run_cannot_be_moved_to_a_server(
    llama_server: LlamaServer, tiny_model_path: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with open_store() as store:
        imported = import_dataset(store, dataset(tmp_path, 3), rubric(RUBRIC))
        create_run(store, imported.dataset.id, rubric(RUBRIC), tiny_model_path)
    code, _, err = cli(capsys, "runs", "resume", "1", "--server", llama_server.url)
    assert code == 2
    assert "a server cannot continue it" in err


def test_judge_on_a_server_from_the_command_line(
    llama_server: LlamaServer, tiny_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    code, out, err = cli(capsys, "judge", "--server", llama_server.url, "--rubric", RUBRIC,
                         "--input", "query=Why?", "--output", "Because.", "--stream")
    assert code == 0, err
    verdict = json.loads(out)
    assert verdict["score"] == 1 and verdict["model"] == str(tiny_model_path)
    assert "The response is supported." in err
    code, _, err = cli(capsys, "judge", "--server", "http://me:sk-secret@127.0.0.1:1/v1",
                       "--rubric", RUBRIC, "--input", "query=Why?", "--output", "Because.")
    assert code == 2 and "holds credentials" in err and "sk-secret" not in err
    code, _, err = cli(capsys, "judge", "--server", llama_server.url, "--model", "x.gguf",
                       "--rubric", RUBRIC, "--input", "query=Why?", "--output", "Because.")
    assert code == 2 and "either --model or --server" in err


def test_stopping_a_served_run_cancels_the_requests_in_flight(
    llama_server: LlamaServer, tiny_model_path: Path, tmp_path: Path
) -> None:
    """Ctrl-C (or escape) sets the stop event: requests held by a slow server end at once and
    the run is 'cancelled', resumable, with nothing half-stored."""
    import threading

    from tests.misbehaving_server import MisbehavingProxy

    with MisbehavingProxy(llama_server.url) as proxy:
        run_id = served_run(tmp_path, 6, proxy.url, tiny_model_path)
        engine = ServedEngine(proxy.url, concurrency=3)
        stop = threading.Event()
        proxy.always["/v1/completions"] = ("sleep", 60.0)

        def stop_when_held() -> None:
            while proxy.sleeping < 3:
                threading.Event().wait(0.02)
            stop.set()

        watcher = threading.Thread(target=stop_when_held, daemon=True)
        watcher.start()
        with open_store() as store:
            summary = execute_run(store, run_id, engine, stop=stop)
        held = proxy.sleeping
        engine.close()
    assert summary.stopped and summary.run.status == "cancelled" and summary.run.resumable
    assert held == 3  # the server still holds them: abandoned, not awaited
    assert verdict_rows(run_id) == []
