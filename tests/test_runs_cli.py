"""``flowjudge run | runs | stats | compare | export`` as a user runs them, SIGKILL included."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowjudge_tui.cli.main import main
from flowjudge_tui.settings import app_paths
from tests.run_helpers import write_csv

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = "relevance-query-binary"
RUN_KEYS = {"id", "status", "total", "done"}


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def dataset(tmp_path: Path, rows: int, name: str = "data.csv") -> Path:
    return write_csv(tmp_path / name, ["Question", "Answer", "human"],
                     [[f"Question {n}?", f"Answer {n}.", n % 2] for n in range(rows)])


def committed_verdicts(run_id: int | None = None) -> list[tuple[int, int, str]]:
    database = app_paths().database
    if not database.exists():
        return []
    conn = sqlite3.connect(database)
    try:
        query = "SELECT id, item_id, created_at FROM verdicts"
        if run_id is not None:
            query += f" WHERE run_id = {int(run_id)}"
        return list(conn.execute(query + " ORDER BY id"))
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def start_run(model: Path, data: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flowjudge_tui.cli.main", "run", "--model", str(model),
         "--rubric", RUBRIC, "--data", str(data), "--label", "human", "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_verdicts(process: subprocess.Popen[str], count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(committed_verdicts()) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no verdicts were committed in time"
        time.sleep(0.05)


def test_run_then_list_show_stats_compare_and_export(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path
) -> None:
    data = dataset(tmp_path, 4)
    code, out, err = cli(capsys, "run", "--model", str(tiny_model_path), "--rubric", RUBRIC,
                         "--data", str(data), "--map", "Question=query", "--label", "human",
                         "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary.keys() >= RUN_KEYS | {"judged_now", "imported", "bad_rows"}
    assert (summary["status"], summary["done"], summary["judged_now"]) == ("done", 4, 4)
    run_id = summary["run_id"]
    assert run_id == summary["id"]
    assert "Run 1" in err and "100.0%" in err

    code, out, _ = cli(capsys, "run", "--model", str(tiny_model_path), "--rubric", RUBRIC,
                       "--data", str(data), "--label", "human", "--limit", "3", "--json")
    again = json.loads(out)
    assert (again["total"], again["judged_now"], again["reused_now"]) == (3, 0, 3)

    code, out, _ = cli(capsys, "runs", "list", "--json")
    listed = json.loads(out)
    assert [r["id"] for r in listed] == [again["id"], run_id]
    assert all(r.keys() >= RUN_KEYS for r in listed)
    code, out, _ = cli(capsys, "runs", "list")
    assert out.splitlines()[0].split()[:5] == ["ID", "NAME", "STATUS", "DONE", "TOTAL"]

    code, out, _ = cli(capsys, "runs", "show", str(run_id), "--json")
    shown = json.loads(out)
    assert shown.keys() >= RUN_KEYS | {"settings", "started_at", "finished_at", "judge_seconds"}
    assert shown["settings"]["sampling"]["temperature"] == 0.1

    code, out, _ = cli(capsys, "stats", str(run_id), "--json")
    stats = json.loads(out)
    assert stats["histogram"] == {"0": 0, "1": 4} and stats["labelled"] == 4
    assert stats["all_labelled"]["figures"]["accuracy"] == 0.5
    assert stats["all_labelled"]["figures"]["cohen_kappa"] == 0.0
    code, out, _ = cli(capsys, "stats", str(run_id))
    assert "accuracy" in out and "CONFIDENT HALF" in out

    code, out, _ = cli(capsys, "compare", str(run_id), str(again["id"]), "--json")
    comparison = json.loads(out)
    assert comparison["kind"] == "judges" and comparison["paired"] == 3
    assert comparison["agreement"]["figures"]["cohen_kappa"] is None
    # Each run against the people's labels (0, 1, 0 on the three paired rows; all judged 1).
    assert comparison["human_a"]["n"] == comparison["human_b"]["n"] == 3
    assert comparison["human_a"]["figures"]["accuracy"] == pytest.approx(1 / 3)
    code, out, _ = cli(capsys, "compare", str(run_id), str(again["id"]))
    assert "the same outputs judged twice, 3 items paired" in out and "n/a" in out
    people = out[out.index("AGREEMENT WITH PEOPLE"):].splitlines()
    assert people[0].split()[-4:] == ["A", "(n=3)", "B", "(n=3)"]
    assert people[2].split() == ["accuracy", "0.333", "0.333"]
    code, _, err = cli(capsys, "compare", str(run_id), str(run_id))
    assert code != 0 and f"Run {run_id} would be compared with itself" in err
    # One of a thing is not "1 items" (the one row is reused, not judged again).
    code, _, err = cli(capsys, "run", "--model", str(tiny_model_path), "--rubric", RUBRIC,
                         "--data", str(data), "--label", "human", "--limit", "1")
    assert code == 0 and "imported 1 row from" in err and ": 1 item, " in err

    for fmt in ("jsonl", "csv", "html"):
        target = tmp_path / f"export.{fmt}"
        code, _, err = cli(capsys, "export", str(run_id), "--format", fmt, "--out", str(target))
        assert code == 0 and target.is_file() and str(target) in err
    assert (tmp_path / "export.metadata.json").is_file()


def test_user_errors_are_one_sentence_without_a_traceback(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path
) -> None:
    bad = write_csv(tmp_path / "bad.csv", ["question", "text"], [["Q", "A"]])
    code, _, err = cli(capsys, "run", "--model", str(tiny_model_path), "--rubric", RUBRIC,
                       "--data", str(bad))
    assert code == 2 and "Traceback" not in err
    assert "--map COLUMN=response" in err
    code, _, err = cli(capsys, "runs", "show", "99")
    assert code == 2 and err.strip() == (
        "flowjudge: No run 99; run 'flowjudge runs list' to see the runs.")
    code, _, err = cli(capsys, "stats", "99")
    assert code == 2 and "No run 99" in err


def test_a_run_killed_with_sigkill_loses_nothing_and_resumes(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path
) -> None:
    rows = 16
    process = start_run(tiny_model_path, dataset(tmp_path, rows))
    try:
        wait_for_verdicts(process, 3)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = committed_verdicts()
    assert 3 <= len(before) < rows

    code, out, _ = cli(capsys, "runs", "list", "--json")
    (run,) = json.loads(out)
    assert run["status"] == "interrupted" and run["done"] == len(before)
    code, out, _ = cli(capsys, "runs", "show", str(run["id"]))
    assert f"flowjudge runs resume {run['id']}" in out

    code, out, err = cli(capsys, "runs", "resume", str(run["id"]), "--json")
    assert code == 0, err
    resumed = json.loads(out)
    assert resumed["judged_now"] + resumed["reused_now"] == rows - len(before)
    assert (resumed["status"], resumed["done"]) == ("done", rows)
    after = committed_verdicts()
    assert after[: len(before)] == before
    assert len(after) == rows and len({item for _, item, _ in after}) == rows


def test_ctrl_c_stops_between_items_and_says_how_to_resume(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    process = start_run(tiny_model_path, dataset(tmp_path, 40))
    try:
        wait_for_verdicts(process, 2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    summary = json.loads(out)
    assert summary["status"] == "cancelled" and summary["stopped"]
    assert summary["resume_command"] == f"flowjudge runs resume {summary['id']}"
    assert f"continue it with 'flowjudge runs resume {summary['id']}'" in err
    assert "Traceback" not in err
    assert len(committed_verdicts()) == summary["done"] < 40
    assert os.environ["FLOWJUDGE_HOME"] in str(app_paths().database)


def test_runs_delete_asks_for_yes_and_keeps_a_shared_dataset(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flowjudge_tui.store import open_store
    from tests.run_helpers import add_dataset, add_run, rubric

    rub = rubric(RUBRIC)
    with open_store() as store:
        shared = add_dataset(store, rub, ["A.", "B."])
        first, second = add_run(store, shared, rub), add_run(store, shared, rub)
        store.set_human_score(store.items(shared)[0].id, rub.content_hash, 1)
    code, _, err = cli(capsys, "runs", "delete", str(first.id))
    assert code == 2 and "add --yes to delete run 1 (" in err
    code, out, _ = cli(capsys, "runs", "delete", str(first.id), "--yes")
    assert code == 0 and out.strip() == "Deleted run 1."
    with open_store() as store:
        assert [run.id for run in store.list_runs()] == [second.id]
        assert store.get_dataset(shared).item_count == 2
    code, _, _ = cli(capsys, "runs", "delete", str(second.id), "--yes")
    with open_store() as store:
        assert store.list_runs() == [] and store.list_datasets() == []
        again = add_dataset(store, rub, ["A.", "B."])  # the label follows the content back
        label = store.get_label(store.items(again)[0].id, rub.content_hash)
        assert label is not None and label.score == 1
    code, _, err = cli(capsys, "runs", "delete", "99", "--yes")
    assert code == 2 and "No run 99" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--limit", "0"], "flowjudge: Argument --limit: 0 is out of range; give 1 or more"),
    (["--temperature", "nan"], "flowjudge: Argument --temperature: nan is not a temperature"),
    (["--temperature", "-0.5"], "flowjudge: Argument --temperature: -0.5 is not a temperature"),
    (["--max-tokens", "0"], "flowjudge: Argument --max-tokens: 0 is out of range; give 1 or more"),
    (["--n-ctx", "12"], "flowjudge: Argument --n-ctx: 12 is out of range; give from 512 to 131072"),
    (["--name", " "], "flowjudge: Argument --name: A run's name cannot be empty"),
    (["--name", "x" * 81], "flowjudge: Argument --name: A run's name is at most 80 characters"),
    (["--name", "a\tb"], "flowjudge: Argument --name: A run's name cannot hold control"),
])
def test_bad_arguments_are_refused_before_any_import_or_model_load(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    missing = tmp_path / "no-such-model.gguf"  # never reached: no model is looked up
    code = main(["run", "--model", str(missing), "--rubric", RUBRIC, "--data",
                 str(tmp_path / "no-such.csv"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert message in err and err.strip().endswith("See 'flowjudge run --help'.")
    assert committed_verdicts() == [] and not app_paths().database.exists()


def test_a_run_is_named_when_it_starts_renamed_later_and_shown_where_it_is_described(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path
) -> None:
    data = dataset(tmp_path, 2)
    code, out, err = cli(capsys, "run", "--model", str(tiny_model_path), "--rubric", RUBRIC,
                         "--rubric", "relevance-query-3", "--data", str(data), "--name",
                         "  baseline  ", "--json")
    assert code == 0, err
    started = json.loads(out)
    assert [run["name"] for run in started] == ["baseline", "baseline"]
    first, second = (run["id"] for run in started)
    assert f'run {first} "baseline": 2 items' in err

    code, out, err = cli(capsys, "runs", "rename", str(second), "three-point [b]")
    assert code == 0 and out.strip() == f'Renamed: Run {second} "three-point [b]".'
    code, out, _ = cli(capsys, "runs", "list", "--json")
    assert {run["id"]: run["name"] for run in json.loads(out)} == {
        first: "baseline", second: "three-point [b]"}
    code, out, _ = cli(capsys, "runs", "list")
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[2:]}
    assert rows == {str(first): "baseline", str(second): "three-point"}
    code, out, _ = cli(capsys, "runs", "show", str(first))
    assert "name: baseline" in out

    target = tmp_path / "report.html"
    assert cli(capsys, "export", str(first), "--format", "html", "--out", str(target))[0] == 0
    assert f"<h1>Run {first} &quot;baseline&quot;:" in target.read_text(encoding="utf-8")
    target = tmp_path / "export.jsonl"
    assert cli(capsys, "export", str(first), "--format", "jsonl", "--out", str(target))[0] == 0
    metadata = json.loads((tmp_path / "export.metadata.json").read_text(encoding="utf-8"))
    assert metadata["run_name"] == "baseline"

    code, _, err = cli(capsys, "runs", "rename", str(first), "line\nbreak")
    assert code == 2 and "cannot hold control characters" in err and "Traceback" not in err
    code, _, err = cli(capsys, "runs", "rename", "99", "x")
    assert code == 2 and "No run 99" in err
    code, out, _ = cli(capsys, "runs", "rename", str(first), "")
    assert out.strip() == f"Run {first} is now unnamed."
    code, out, _ = cli(capsys, "runs", "show", str(first), "--json")
    assert json.loads(out)["name"] is None


def test_stats_and_compare_name_the_runs_that_have_a_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flowjudge_tui.store import open_store
    from tests.run_helpers import add_dataset, add_run, judge_all, rubric

    rub = rubric("relevance-query-3")
    with open_store(app_paths().database) as store:
        data = add_dataset(store, rub, ["One.", "Two.", "Three."], labels=[3, 1, 2])
        first, second = add_run(store, data, rub), add_run(store, data, rub)
        judge_all(store, first, [3, 2, 2], rub.score_values)
        judge_all(store, second, [3, 1, 1], rub.score_values)
        store.rename_run(first.id, "baseline [b]")

    code, out, _ = cli(capsys, "stats", str(first.id))
    assert code == 0 and out.startswith(f'Run {first.id} "baseline [b]" · relevance-query-3 · ')
    code, out, _ = cli(capsys, "stats", str(second.id))
    assert out.startswith(f"Run {second.id} · relevance-query-3 · ")
    code, out, _ = cli(capsys, "stats", str(first.id), "--json")
    assert json.loads(out)["run_name"] == "baseline [b]"
    code, out, _ = cli(capsys, "compare", str(first.id), str(second.id))
    assert out.splitlines()[0] == (f'Run {first.id} "baseline [b]" (A) and Run {second.id} (B): '
                                   "the same outputs judged twice, 3 items paired by item")
    code, out, _ = cli(capsys, "compare", str(first.id), str(second.id), "--json")
    comparison = json.loads(out)
    assert (comparison["a"]["run_name"], comparison["b"]["run_name"]) == ("baseline [b]", None)
