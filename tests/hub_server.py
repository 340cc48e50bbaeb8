"""A real HTTP server on loopback that answers as the Hugging Face hub does, and fixtures that
point huggingface_hub at it.

The server speaks HEAD and GET on ``/{repo}/resolve/{revision}/{file}`` with the hub's headers
(``X-Repo-Commit``, ``ETag`` and ``X-Linked-Etag`` holding the sha256, ``X-Linked-Size``) and
Range requests (206). huggingface_hub reads HF_* variables at import time, so ``hub_env``
reloads its constants after setting them, and again after restoring them.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.model_files import Q, write_small_gguf

REPO, FILE = "test-org/tiny-judge-GGUF", "tiny-judge-Q8_0.gguf"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
CATALOG = f"""
family = "tiny-judge"
title = "Tiny judge (tests)"
architecture = "phi3"
license = "Apache-2.0"
default = "tiny"

[shape]
n_layer = 2
n_embd = 64
n_head = 4
n_head_kv = 4
n_ff = 128
n_vocab = 96
n_ctx_train = 4096

[[model]]
name = "tiny"
repo = "{REPO}"
file = "{FILE}"
quantization = "Q8_0"
size_bytes = 1000
source = "community"
"""


@dataclass
class FakeHub:
    """What the server serves and what it was asked."""

    url: str = ""
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    cut_next_get_after: int | None = None
    bytes_sent: int = 0

    def serve(self, repo: str, name: str, body: bytes, sha256: str | None = None) -> None:
        self.files[f"/{repo}/resolve/main/{name}"] = (body, sha256 or sha256_of(body))

    def gets(self) -> list[str | None]:
        """The Range header of each file download (huggingface_hub also GETs /api/...)."""
        return [rng for method, path, rng in self.requests
                if method == "GET" and "/resolve/" in path]


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(with_body=False)

        def do_GET(self) -> None:
            self._answer(with_body=True)

        def _answer(self, with_body: bool) -> None:
            rng = self.headers.get("Range")
            hub.requests.append((self.command, self.path, rng))
            found = hub.files.get(self.path)
            if found is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body, sha = found
            start = int(rng.removeprefix("bytes=").split("-")[0]) if rng and with_body else 0
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{sha}"')
            self.send_header("X-Linked-Etag", f'"{sha}"')
            self.send_header("X-Linked-Size", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body) - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.end_headers()
            if not with_body:
                return
            part = body[start:]
            if hub.cut_next_get_after is not None:
                part, hub.cut_next_get_after = part[:hub.cut_next_get_after], None
                self.close_connection = True
            self.wfile.write(part)
            self.wfile.flush()
            hub.bytes_sent += len(part)

    return Handler


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield hub
    server.shutdown()
    server.server_close()


def reload_hub_constants() -> None:
    importlib.reload(importlib.import_module("huggingface_hub.constants"))


@pytest.fixture
def hub_env(
    fake_hub: FakeHub, tmp_path: Path, flowjudge_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """HF_HOME in tmp, HF_ENDPOINT at the fake hub, online, and the test catalog installed."""
    for name in ("HF_HUB_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_ENDPOINT", fake_hub.url)
    reload_hub_constants()
    monkeypatch.setattr("huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE", 16 * 1024)
    catalog = flowjudge_home / "config" / "models"
    catalog.mkdir(parents=True)
    (catalog / "tiny-judge.toml").write_text(CATALOG, encoding="utf-8")
    yield tmp_path / "hf-home" / "hub"
    monkeypatch.undo()
    reload_hub_constants()


def go_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reload_hub_constants()


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("served") / FILE
    return write_small_gguf(path, matrix_type=Q.Q8_0, n_embd=128, n_ff=256).read_bytes()
