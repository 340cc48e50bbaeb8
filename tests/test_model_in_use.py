"""Which judge is in use when nothing is said: the app and the command line choose alike."""

from __future__ import annotations

from pathlib import Path

from flowjudge_tui.models.catalog import register_local_model
from flowjudge_tui.models.in_use import Preferences, choose_model


def test_no_model_at_all() -> None:
    choice = choose_model(None, Preferences())
    assert (choice.path, choice.source) == (None, "none")


def test_the_local_file_added_last_is_used(tiny_model_path: Path,
                                          random_model_path: Path) -> None:
    register_local_model(random_model_path)
    register_local_model(tiny_model_path)
    choice = choose_model(None, Preferences())
    assert (choice.path, choice.source) == (tiny_model_path, "local")


def test_a_remembered_model_wins_and_a_missing_one_is_explained(
    tiny_model_path: Path, random_model_path: Path, tmp_path: Path
) -> None:
    register_local_model(tiny_model_path)
    remembered = choose_model(None, Preferences(model=str(random_model_path)))
    assert (remembered.path, remembered.source) == (random_model_path, "remembered")
    gone = choose_model(None, Preferences(model=str(tmp_path / "gone.gguf")))
    assert gone.source == "local"
    assert "gone.gguf" in gone.problem
