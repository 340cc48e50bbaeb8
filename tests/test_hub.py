"""Downloads against a real HTTP server on loopback that answers as the Hugging Face hub does
(see ``hub_server``): verification, resuming, corruption, offline mode and no hub at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowjudge_tui.errors import ModelError, NetworkError
from flowjudge_tui.progress import Progress
from tests import hub_server
from tests.hub_server import FILE, REPO, FakeHub, go_offline, reload_hub_constants, sha256_of

fake_hub, hub_env, model_bytes = hub_server.fake_hub, hub_server.hub_env, hub_server.model_bytes


def test_a_pull_downloads_verifies_and_is_found_offline(
    hub_env: Path, fake_hub: FakeHub, model_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowjudge_tui.models.download import pull_model
    from flowjudge_tui.models.installed import list_models, resolve_model_path

    fake_hub.serve(REPO, FILE, model_bytes)
    events: list[Progress] = []
    result = pull_model("tiny", on_progress=events.append)
    assert result.downloaded and result.sha256 == sha256_of(model_bytes)
    assert result.path.read_bytes() == model_bytes
    assert hub_env in result.path.parents
    downloads = [e for e in events if e.task == "Downloading tiny"]
    assert downloads[-1].done == len(model_bytes) == downloads[-1].total
    assert downloads[-1].finished and not any(e.finished for e in downloads[:-1])
    assert [e.done for e in downloads] == sorted(e.done for e in downloads)
    assert any(e.task == "Verifying tiny" and e.finished for e in events)
    listing = {m.name: m for m in list_models()}["tiny"]
    assert (listing.downloaded, listing.verified, listing.path) == (True, True, result.path)

    again = pull_model("tiny")
    assert not again.downloaded and fake_hub.gets() == [None]

    go_offline(monkeypatch)
    fake_hub.requests.clear()
    assert resolve_model_path("tiny") == result.path
    assert pull_model("tiny").path == result.path
    assert fake_hub.requests == []


def test_a_connection_cut_half_way_resumes_with_a_range_request(
    hub_env: Path, fake_hub: FakeHub, model_bytes: bytes
) -> None:
    from flowjudge_tui.models.download import pull_model

    fake_hub.serve(REPO, FILE, model_bytes)
    cut = len(model_bytes) // 2
    fake_hub.cut_next_get_after = cut
    result = pull_model("tiny")
    assert result.path.read_bytes() == model_bytes
    first, resumed = fake_hub.gets()
    assert first is None and resumed is not None
    start = int(resumed.removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= cut
    assert fake_hub.bytes_sent == len(model_bytes) + cut - start


def test_an_interrupted_pull_resumes_on_the_next_pull(
    hub_env: Path, fake_hub: FakeHub, model_bytes: bytes
) -> None:
    from flowjudge_tui.models.download import DownloadCancelled, pull_model
    from flowjudge_tui.models.installed import resolve_model_path

    fake_hub.serve(REPO, FILE, model_bytes)
    seen: list[Progress] = []
    with pytest.raises(DownloadCancelled):
        pull_model("tiny", on_progress=seen.append,
                   should_stop=lambda: bool(seen) and seen[-1].done >= len(model_bytes) // 3)
    with pytest.raises(ModelError, match="not downloaded yet; run 'flowjudge models pull tiny'"):
        resolve_model_path("tiny")
    kept = seen[-1].done
    result = pull_model("tiny")
    assert result.path.read_bytes() == model_bytes
    assert fake_hub.gets()[-1] == f"bytes={int(kept)}-"


def test_a_corrupted_download_is_refused_and_never_usable(
    hub_env: Path, fake_hub: FakeHub, model_bytes: bytes
) -> None:
    from flowjudge_tui.models.catalog import find_entry
    from flowjudge_tui.models.download import pull_model
    from flowjudge_tui.models.installed import cached_path, resolve_model_path

    damaged = bytearray(model_bytes)
    damaged[len(damaged) // 2] ^= 0xFF
    fake_hub.serve(REPO, FILE, bytes(damaged), sha256=sha256_of(model_bytes))
    with pytest.raises(ModelError, match="corrupt") as refused:
        pull_model("tiny")
    assert "\n" not in str(refused.value)
    entry = find_entry("tiny")
    assert entry is not None and cached_path(entry) is None
    assert not [p for p in hub_env.rglob("*") if p.is_file() and p.suffix != ".lock"]
    with pytest.raises(ModelError, match="not downloaded yet"):
        resolve_model_path("tiny")


def test_offline_mode_with_nothing_cached_says_how_to_fix_it(
    hub_env: Path, fake_hub: FakeHub, model_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowjudge_tui.models.download import pull_model

    fake_hub.serve(REPO, FILE, model_bytes)
    go_offline(monkeypatch)
    with pytest.raises(NetworkError, match=r"HF_HUB_OFFLINE is set.*unset HF_HUB_OFFLINE"):
        pull_model("tiny")
    assert fake_hub.requests == []


def test_no_hub_at_all_is_one_clear_sentence(
    hub_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowjudge_tui.models.download import pull_model

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    reload_hub_constants()
    with pytest.raises(NetworkError) as failed:
        pull_model("tiny")
    message = str(failed.value)
    assert message.startswith(f"Cannot download {FILE} of {REPO} from http://127.0.0.1:9 (")
    assert "check the network connection" in message
    assert "\n" not in message and message.endswith(".")


def test_a_file_cached_by_another_tool_is_verified_before_use(
    hub_env: Path, fake_hub: FakeHub, model_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowjudge_tui.models.download import pull_model
    from flowjudge_tui.models.installed import list_models, resolve_model_path
    from flowjudge_tui.models.verified import record_file

    fake_hub.serve(REPO, FILE, model_bytes)
    path = pull_model("tiny").path
    record_file().unlink()
    go_offline(monkeypatch)
    assert {m.name: m.verified for m in list_models()}["tiny"] is False
    events: list[Progress] = []
    assert resolve_model_path("tiny", on_progress=events.append) == path
    assert events and events[-1].finished
    assert {m.name: m.verified for m in list_models()}["tiny"] is True

    record_file().unlink()
    blob = path.resolve()
    blob.write_bytes(b"GGUF" + model_bytes[4:-1] + b"\0")
    with pytest.raises(ModelError, match=r"corrupt.*was deleted"):
        resolve_model_path("tiny")
    assert not blob.exists()


def test_an_unknown_catalog_name_lists_the_known_ones(hub_env: Path) -> None:
    from flowjudge_tui.models.download import pull_model

    with pytest.raises(ModelError, match=r"'nope' is not in the model catalog; choose .*tiny"):
        pull_model("nope")


def test_a_missing_file_on_the_hub_is_a_clear_error(hub_env: Path, fake_hub: FakeHub) -> None:
    from flowjudge_tui.models.download import pull_model

    with pytest.raises(NetworkError, match=r"has no .* \(HTTP 404\)"):
        pull_model("tiny")
