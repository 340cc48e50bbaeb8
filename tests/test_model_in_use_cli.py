"""``flowjudge judge``, ``run`` and ``rubrics try`` without --model: the model in use, as the
app chose it (remembered in its preferences, else the downloaded default, else the GGUF added
last), said in one notice line; none at all is one sentence. ``runs resume`` keeps the run's
own model whatever is in use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowjudge_tui.cli.main import main
from flowjudge_tui.datasets import import_dataset
from flowjudge_tui.models.catalog import register_local_model
from flowjudge_tui.models.in_use import Preferences, save_preferences
from flowjudge_tui.models.servers import add_server
from flowjudge_tui.runs.workflow import create_run
from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from tests.run_helpers import rubric, write_csv
from tests.served_server import LlamaServer

RUBRIC = "relevance-query-binary"
JUDGE = ("judge", "--rubric", RUBRIC, "--input", "query=Why?", "--output", "Because.")


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def remember(model: str) -> None:
    save_preferences(app_paths(), Preferences(model=model, rubric=RUBRIC))


def notices(err: str) -> list[str]:
    return [line for line in err.splitlines() if "model in use" in line]


def dataset(tmp_path: Path, rows: int) -> Path:
    return write_csv(tmp_path / "data.csv", ["Question", "Answer"],
                     [[f"Question {n}?", f"Answer {n}."] for n in range(rows)])


def test_judge_uses_the_model_remembered_by_the_app(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, random_model_path: Path,
) -> None:
    register_local_model(random_model_path)  # added last, but the remembered one wins
    remember(str(tiny_model_path))
    code, out, err = cli(capsys, *JUDGE)
    assert code == 0, err
    verdict = json.loads(out)
    assert verdict["score"] == 1 and verdict["model"] == tiny_model_path.name
    assert notices(err) == [f"flowjudge: using the model in use: {tiny_model_path} "
                            "(remembered from the app)"]
    code, out, err = cli(capsys, *JUDGE, "--model", str(tiny_model_path))
    assert code == 0 and notices(err) == []  # --model given: nothing to say


def test_without_a_remembered_model_the_gguf_added_last_is_used(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path,
) -> None:
    register_local_model(tiny_model_path, name="tiny")
    remember(str(tmp_path / "deleted-since.gguf"))
    code, out, err = cli(capsys, *JUDGE)
    assert code == 0, err
    assert json.loads(out)["model"] == tiny_model_path.name
    lines = err.splitlines()
    assert lines[0].startswith("flowjudge: warning: ") and "deleted-since.gguf" in lines[0]
    assert notices(err) == [f"flowjudge: using the model in use: tiny at {tiny_model_path} "
                            "(the local GGUF you added last)"]


def test_no_model_at_all_is_one_sentence_before_anything_is_imported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    for argv in (JUDGE, ("run", "--rubric", RUBRIC, "--data", str(dataset(tmp_path, 2))),
                 ("rubrics", "try", RUBRIC, "--data", str(tmp_path / "data.csv"),
                  "--label", "Answer")):
        code, out, err = cli(capsys, *argv)
        assert (code, out) == (2, ""), err
        assert err == ("flowjudge: No model is in use yet; give one with --model "
                       "NAME_OR_PATH.gguf or --server URL, or set one up with 'flowjudge models "
                       "pull' or 'flowjudge models add PATH' (or on the app's Models screen).\n")
    assert not app_paths().database.exists()  # the run imported nothing


def test_run_uses_the_model_in_use_and_resume_keeps_the_runs_own(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, random_model_path: Path,
    tmp_path: Path,
) -> None:
    remember(str(tiny_model_path))
    code, out, err = cli(capsys, "run", "--rubric", RUBRIC, "--data", str(dataset(tmp_path, 2)),
                         "--json")
    assert code == 0, err
    assert json.loads(out)["model"] == tiny_model_path.name
    assert len(notices(err)) == 1

    with open_store() as store:
        imported = import_dataset(store, dataset(tmp_path, 3), rubric(RUBRIC))
        queued = create_run(store, imported.dataset.id, rubric(RUBRIC), tiny_model_path)
    remember(str(random_model_path))  # the app moved on to another model since
    code, out, err = cli(capsys, "runs", "resume", str(queued.id), "--json")
    assert code == 0, err
    resumed = json.loads(out)
    assert (resumed["model"], resumed["done"]) == (tiny_model_path.name, 3)
    assert notices(err) == []


def test_a_server_saved_as_the_judge_in_use_judges(
    capsys: pytest.CaptureFixture[str], llama_server: LlamaServer, tiny_model_path: Path,
    tmp_path: Path,
) -> None:
    add_server("gpu", llama_server.url)
    remember("server:gpu")
    code, out, err = cli(capsys, *JUDGE)
    assert code == 0, err
    assert json.loads(out)["model"] == str(tiny_model_path)  # the model the server serves
    assert notices(err) == [f"flowjudge: using the model in use: the server gpu at "
                            f"{llama_server.url} (remembered from the app)"]
    code, _, err = cli(capsys, *JUDGE, "--n-ctx", "8192")
    assert code == 2 and "The model in use is the server gpu" in err
    labelled = write_csv(tmp_path / "labelled.csv", ["Question", "Answer", "human"],
                         [[f"Question {n}?", f"Answer {n}.", n % 2] for n in range(4)])
    code, out, err = cli(capsys, "rubrics", "try", RUBRIC, "--data", str(labelled),
                         "--label", "human")
    # The rubric lab keys its trials by a model file: on a server it says so in a sentence.
    assert (code, out) == (2, "") and "Traceback" not in err
    assert err.splitlines()[-1].endswith("has no model file on this machine to try the rubric "
                                         "with.")
