"""The GGUF header reader, on real files: small ones written with GGUFWriter, Flow-Judge's
exact tensor table, and the real Gemma 3 270M that llama.cpp's tools produced."""

from __future__ import annotations

import time
from pathlib import Path

import gguf
import pytest

from flowjudge_tui.errors import ModelError
from flowjudge_tui.models.gguf_file import GGUFArray, read_gguf
from tests.model_files import Q, write_flow_judge_header, write_small_gguf


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small_gguf(tmp_path_factory.mktemp("gguf") / "small.gguf", matrix_type=Q.Q8_0)


def test_the_header_and_tensor_table_match_the_gguf_package(small: Path) -> None:
    info = read_gguf(small)
    assert (info.architecture, info.version) == ("phi3", 3)
    assert (info.block_count, info.embedding_length, info.head_count, info.head_count_kv) == (
        2, 64, 4, 4)
    assert (info.context_length, info.feed_forward_length, info.vocab_size) == (4096, 128, 96)
    assert (info.key_length, info.value_length) == (16, 16)
    assert info.metadata["tokenizer.ggml.tokens"] == GGUFArray(8, 96)
    reference = gguf.GGUFReader(small)
    expected = {t.name: (t.tensor_type.name, tuple(int(d) for d in t.shape), t.data_offset,
                         int(t.n_bytes)) for t in reference.tensors}
    assert {t.name: (t.type_name, t.shape, t.offset, t.n_bytes) for t in info.tensors} == expected
    assert info.tensors[-1].offset + info.tensors[-1].n_bytes <= info.file_size


def test_flow_judge_q4_k_m_is_read_from_its_header_alone(tmp_path: Path) -> None:
    path = write_flow_judge_header(tmp_path / "flow-judge-v0.1-Q4_K_M.gguf")
    started = time.perf_counter()
    info = read_gguf(path)
    assert time.perf_counter() - started < 0.5
    assert 2.38e9 < info.file_size < 2.41e9  # the hub shows 2.39 GB
    assert (info.block_count, info.vocab_size, len(info.tensors)) == (32, 32064, 5 + 32 * 6)
    types = {t.type_name for t in info.tensors}
    assert types == {"F32", "Q4_K", "Q6_K"}


def test_a_real_llama_cpp_file_is_read_quickly(gemma_model_path: Path) -> None:
    started = time.perf_counter()
    info = read_gguf(gemma_model_path)
    assert time.perf_counter() - started < 2.0
    assert (info.architecture, info.block_count, info.vocab_size) == ("gemma3", 18, 262144)
    assert (info.head_count, info.head_count_kv, info.key_length) == (4, 1, 256)
    assert info.tensor_bytes < info.file_size


def _refusal(path: Path) -> str:
    with pytest.raises(ModelError) as refused:
        read_gguf(path)
    message = str(refused.value)
    assert "\n" not in message and message.endswith(".")
    return message


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("these are not weights, just a long enough text file")
    assert "is not a GGUF model file" in _refusal(text)
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    assert "is not a GGUF model file" in _refusal(empty)
    assert "There is no model file at" in _refusal(tmp_path / "absent.gguf")


def test_truncated_files_are_refused(small: Path, tmp_path: Path) -> None:
    data = small.read_bytes()
    cut_in_data = tmp_path / "cut-data.gguf"
    cut_in_data.write_bytes(data[: len(data) - 100])
    message = _refusal(cut_in_data)
    assert f"is truncated: it has {len(data) - 100:,} bytes but its tensors need {len(data):,}" \
        in message
    cut_in_header = tmp_path / "cut-header.gguf"
    cut_in_header.write_bytes(data[:500])
    assert "is truncated: its header ends early" in _refusal(cut_in_header)


def test_unsupported_versions_are_refused(small: Path, tmp_path: Path) -> None:
    data = small.read_bytes()
    old = tmp_path / "v1.gguf"
    old.write_bytes(data[:4] + (1).to_bytes(4, "little") + data[8:])
    assert "GGUF version 1 file, which llama.cpp cannot read" in _refusal(old)
    swapped = tmp_path / "big.gguf"
    swapped.write_bytes(data[:4] + (3).to_bytes(4, "big") + data[8:])
    assert "big-endian GGUF version 3" in _refusal(swapped)


def test_architectures_llama_cpp_cannot_run_are_refused(tmp_path: Path) -> None:
    unknown = write_small_gguf(tmp_path / "unknown.gguf", arch="no-such-arch")
    assert "'no-such-arch' model, which this llama.cpp cannot run" in _refusal(unknown)
    assert read_gguf(unknown, require_runnable=False).architecture == "no-such-arch"
    bert = write_small_gguf(tmp_path / "bert.gguf", arch="bert")
    assert "makes embeddings or audio and cannot write judgments" in _refusal(bert)
    for arch in ("llama", "gemma3", "qwen2"):
        assert read_gguf(write_small_gguf(tmp_path / f"{arch}.gguf", arch=arch)).architecture \
            == arch
