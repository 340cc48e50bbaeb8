"""The servers a user added: saved by name and URL only, validated, damaged file tolerated."""

from __future__ import annotations

import pytest

from flowjudge_tui.errors import ModelError
from flowjudge_tui.models.servers import (
    SERVERS_FILE,
    add_server,
    check_server_url,
    find_server,
    load_servers,
    remove_server,
)
from flowjudge_tui.settings import app_paths


def test_servers_are_added_replaced_and_removed_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWJUDGE_API_KEY", "sk-never-saved")
    add_server("gpu-box", "http://gpu-box:8080")
    add_server("vllm", "https://judge.example.org/v1/")
    add_server("gpu-box", "http://10.0.0.7:8080/v1")
    assert [(s.name, s.url) for s in load_servers()] == [
        ("vllm", "https://judge.example.org/v1"), ("gpu-box", "http://10.0.0.7:8080/v1")]
    assert find_server("vllm") is not None and find_server("other") is None
    assert "sk-never-saved" not in (app_paths().config_dir / SERVERS_FILE).read_text()
    remove_server("vllm")
    assert [s.name for s in load_servers()] == ["gpu-box"]


@pytest.mark.parametrize(("name", "url", "words"), [
    ("box", "gpu-box:8080", "is not a server address"),
    ("box", "ftp://gpu-box/v1", "is not a server address"),
    ("box", "http://user:sk-secret@gpu-box/v1", "holds credentials"),
    ("my box", "http://gpu-box/v1", "cannot name a server"),
])
def test_bad_names_and_addresses_are_refused_in_one_sentence(
    name: str, url: str, words: str
) -> None:
    with pytest.raises(ModelError, match=words) as error:
        add_server(name, url)
    assert "sk-secret" not in str(error.value)
    assert load_servers() == []


def test_a_damaged_server_list_reads_as_empty_and_is_rewritten() -> None:
    path = app_paths().config_dir / SERVERS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("servers = [ {name = ", encoding="utf-8")
    assert load_servers() == []
    add_server("box", "http://[::1]:8080")
    assert check_server_url("http://[::1]:8080") == "http://[::1]:8080/v1"
    assert [s.url for s in load_servers()] == ["http://[::1]:8080/v1"]
