"""Every number and string that enters the store or the config is checked: one sentence each."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from flowjudge_tui.cli.main import main
from flowjudge_tui.errors import RubricError, SettingsError
from flowjudge_tui.judging.backend import SamplingSettings
from flowjudge_tui.judging.rubric import parse_rubric
from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import RunSettings, open_store
from tests.run_helpers import add_dataset, rubric, write_csv

FAITHFUL = "faithfulness-context-binary"
RUBRIC_TOML = """name = "{name}"
title = "T"
criteria = "C?"
inputs = ["query"]
[scores]
{scores}
"""


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Exit status 2 and one line on stderr, never a traceback."""
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("flowjudge: ") and err.count("\n") == 1
    return err


@pytest.mark.parametrize("name", ["abc\n", "abc\r\n", "a" * 65, "Abc", "-abc"])
def test_a_rubric_name_is_a_slug_without_a_trailing_newline(name: str) -> None:
    text = RUBRIC_TOML.format(name=name.replace("\n", "\\n").replace("\r", "\\r"),
                              scores='0 = "no"\n1 = "yes"')
    with pytest.raises(RubricError, match="name"):
        parse_rubric(text, "test")


@pytest.mark.parametrize("scores", ['9223372036854775808 = "a"\n9223372036854775809 = "b"',
                                    '100 = "a"\n101 = "b"'])
def test_rubric_scores_stay_on_a_small_scale(scores: str) -> None:
    with pytest.raises(RubricError, match="at most 100"):
        parse_rubric(RUBRIC_TOML.format(name="big", scores=scores), "test")


@pytest.mark.parametrize("field, value", [("temperature", float("nan")),
                                          ("temperature", float("inf")), ("temperature", -1.0),
                                          ("top_p", float("nan")), ("top_p", 0.0),
                                          ("max_feedback_tokens", 0), ("seed", 2**63)])
def test_sampling_settings_out_of_range_never_enter_the_store(field: str, value: float) -> None:
    settings = RunSettings(sampling=SamplingSettings(**{field: value}))
    rub = rubric(FAITHFUL)
    with open_store() as store:
        dataset_id = add_dataset(store, rub, ["a"])
        with pytest.raises(SettingsError):
            store.create_run(dataset_id=dataset_id, rubric=rub, model_name="m", model_path="m",
                             model_fingerprint="f", fingerprint_kind="sha256",
                             settings=settings, total_items=1)
        assert store.list_runs() == []


def test_nan_temperature_is_refused_before_anything_is_imported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_path: Path
) -> None:
    data = write_csv(tmp_path / "d.csv", ["query", "context", "response"], [["q", "c", "r"]])
    err = refusal(capsys, "run", "--model", str(tiny_model_path), "--rubric", FAITHFUL,
                  "--data", str(data), "--temperature", "nan")
    assert "nan is not a temperature" in err
    with open_store() as store:
        assert store.list_datasets() == []


def test_a_failed_run_does_not_leave_its_dataset_behind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "d.csv", ["query", "context", "response"], [["q", "c", "r"]])
    code = main(["run", "--model", str(tmp_path / "missing.gguf"), "--rubric", FAITHFUL,
                 "--data", str(data)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith("flowjudge: There is no model file")
    with open_store() as store:
        assert store.list_datasets() == []
    assert sqlite3.connect(app_paths().database).execute(
        "SELECT COUNT(*) FROM items").fetchone()[0] == 0


def test_models_add_on_a_symlink_loop_is_one_sentence(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    loop = tmp_path / "loop.gguf"
    loop.symlink_to(loop)
    assert "loop.gguf" in refusal(capsys, "models", "add", str(loop))


def test_models_add_with_an_unwritable_config_dir_is_one_sentence(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path
) -> None:
    config = app_paths().config_dir
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("a file where the config folder should be")
    assert "config folder" in refusal(capsys, "models", "add", str(tiny_model_path))


def test_doctor_checks_the_store_and_the_folders(capsys: pytest.CaptureFixture[str]) -> None:
    with open_store() as store:
        add_dataset(store, rubric(FAITHFUL), [f"output {n} " * 300 for n in range(100)])
    path = app_paths().database
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    for offset in range(3 * 4096, len(data) - 4096, 4096):
        data[offset + 100:offset + 200] = b"\x00\xff" * 50
    path.write_bytes(bytes(data))
    main(["doctor", "--ram-mib", "16000"])
    out = capsys.readouterr().out
    assert "DAMAGED" in out and "problem: The database" in out and "is damaged" in out
