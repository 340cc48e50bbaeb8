"""``flowjudge models remove``: forget a registered GGUF (its file stays), delete a downloaded
catalog model (the space it frees), remove a saved server; ask first on a terminal; clear the
model in use when it is the one removed."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from flowjudge_tui.cli.main import main
from flowjudge_tui.models.catalog import load_local_models, register_local_model
from flowjudge_tui.models.in_use import Preferences, load_preferences, save_preferences
from flowjudge_tui.models.servers import add_server, load_servers
from flowjudge_tui.settings import app_paths
from tests import hub_server
from tests.hub_server import FILE, REPO, FakeHub
from tests.model_files import write_small_gguf

fake_hub, hub_env, model_bytes = hub_server.fake_hub, hub_server.hub_env, hub_server.model_bytes


class Terminal(io.StringIO):
    """A stdin that is a terminal, with the user's answer typed in."""

    def isatty(self) -> bool:
        return True


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "") and err.startswith("flowjudge: ") and err.count("\n") == 1
    return err


def remembered() -> str:
    return load_preferences(app_paths()).model


def test_a_registered_gguf_is_forgotten_and_its_file_kept(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_small_gguf(tmp_path / "mine.gguf")
    register_local_model(path, name="mine")
    register_local_model(write_small_gguf(tmp_path / "other.gguf"))
    save_preferences(app_paths(), Preferences(model=str(path), rubric="kept"))

    assert "add --yes to forget the local model 'mine' without a question" in refusal(
        capsys, "models", "remove", "mine")
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    code, out, _ = run(capsys, "models", "remove", "mine")
    assert code == 1 and "Its file stays where it is" in out and "It is the model in use." in out
    assert out.rstrip().endswith("Nothing removed.")
    assert [m.name for m in load_local_models()] == ["mine", "other"]

    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code, out, _ = run(capsys, "models", "remove", str(path))  # by its path
    assert code == 0
    assert out.endswith(f"Forgot the local model 'mine'; its file stays at {path}. It was the "
                        "model in use; the next judge is chosen anew.\n")
    assert path.is_file() and [m.name for m in load_local_models()] == ["other"]
    assert load_preferences(app_paths()) == Preferences(model="", rubric="kept")


def test_unknown_names_and_other_files_are_refused_in_one_sentence(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    assert "There is no model or saved server called 'nope'; see 'flowjudge models list'" in \
        refusal(capsys, "models", "remove", "nope", "--yes")
    stranger = write_small_gguf(tmp_path / "stranger.gguf")
    assert "is not a registered or downloaded model; flowjudge deletes no other file" in \
        refusal(capsys, "models", "remove", str(stranger), "--yes")
    assert stranger.is_file()
    assert "The model Q4_K_M is not downloaded, so there is nothing to delete" in refusal(
        capsys, "models", "remove", "Q4_K_M", "--yes")


def test_a_saved_server_is_listed_and_removed(capsys: pytest.CaptureFixture[str]) -> None:
    add_server("gpu", "http://127.0.0.1:9/v1")
    add_server("cpu", "http://127.0.0.1:8/v1")
    save_preferences(app_paths(), Preferences(model="server:cpu"))
    code, out, _ = run(capsys, "models", "list")
    assert code == 0 and any(line.split()[:4] == ["gpu", "server", "-", "saved"]
                             for line in out.splitlines())
    code, out, _ = run(capsys, "models", "remove", "gpu", "--yes")
    assert (code, out) == (0, "Removed the saved server 'gpu'.\n")
    assert [s.name for s in load_servers()] == ["cpu"] and remembered() == "server:cpu"
    code, out, _ = run(capsys, "models", "remove", "server:cpu", "--yes")
    assert code == 0 and "It was the model in use" in out and remembered() == ""


def test_a_downloaded_catalog_model_is_deleted_with_the_space_it_frees(
    capsys: pytest.CaptureFixture[str], hub_env: Path, fake_hub: FakeHub, model_bytes: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_hub.serve(REPO, FILE, model_bytes)
    code, out, err = run(capsys, "models", "pull", "tiny")
    assert code == 0, err
    path = Path(out.splitlines()[-1])
    blob = Path(os.path.realpath(path))
    assert blob != path and blob.stat().st_size == len(model_bytes)
    save_preferences(app_paths(), Preferences(model=str(path)))

    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    code, out, _ = run(capsys, "models", "remove", "tiny")
    size = f"{len(model_bytes) / 1e3:.2f} kB"
    assert code == 0 and f"Delete the downloaded model tiny? This frees {size}" in out
    assert f"Deleted the downloaded model tiny: {size} freed. It was the model in use" in out
    assert not path.exists() and not blob.exists() and remembered() == ""
    listed = {m["name"]: m for m in json.loads(run(capsys, "models", "list", "--json")[1])}
    assert listed["tiny"]["downloaded"] is False
    assert "The model tiny is not downloaded" in refusal(capsys, "models", "remove", "tiny")
