"""Read a GGUF file's header without llama.cpp: what the model is, and whether it is whole.

Only the header is read (through mmap, so a 2.4 GB file costs a few milliseconds): the
metadata, and the tensor table with each tensor's type, shape, size and offset. The table is
checked against the file size, so a truncated download is refused before llama.cpp sees it.
Large arrays (the vocabulary) are skipped, keeping only their length.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from flowjudge_tui.errors import ModelError
from flowjudge_tui.models.gguf_types import (
    GGML_TYPES,
    NON_TEXT_ARCHITECTURES,
    RUNNABLE_ARCHITECTURES,
)

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32

# GGUF metadata value types: struct format of the scalar ones.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")


@dataclass(frozen=True)
class GGUFArray:
    """A metadata array, kept as its element type and length only."""

    item_type: int
    length: int


MetadataValue = int | float | bool | str | GGUFArray


@dataclass(frozen=True)
class TensorInfo:
    name: str
    type_name: str
    shape: tuple[int, ...]
    offset: int
    n_bytes: int


class ModelMismatch(str):
    """The sentence saying a model file is not Flow-Judge's kind: a ``str`` that a loader's
    notice callback can tell apart (the app shows it as a line where verdicts are made, not as
    a passing notice; the CLI prints it like any notice)."""


def flow_judge_mismatch(name: str, architecture: str, has_template: bool) -> str:
    """``GGUFInfo.flow_judge_mismatch`` from its parts (the engine has them from llama.cpp)."""
    architecture = architecture or "unknown"
    if architecture == "phi3" and has_template:
        return ""
    what = ("a phi3 model" if architecture == "phi3"
            else f"a {architecture} model, not Flow-Judge's phi3")
    wrapper = ("its own chat template wraps the prompt" if has_template else
               "it has no chat template, so Flow-Judge's Phi-3 prompt wrapper is used")
    return ModelMismatch(f"{name} is {what}: its scores may be unreliable (Flow-Judge is a "
                         f"fine-tuned Phi-3.5-mini), and {wrapper}.")


@dataclass(frozen=True)
class GGUFInfo:
    """A GGUF file's header. ``tensors`` offsets are absolute positions in the file."""

    path: Path
    version: int
    metadata: dict[str, MetadataValue]
    tensors: tuple[TensorInfo, ...]
    data_offset: int
    file_size: int

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    @property
    def flow_judge_mismatch(self) -> str:
        """One sentence when the file is not what Flow-Judge is (another architecture than
        phi3, or no chat template): what it is, that its scores may be unreliable, and how its
        prompt is wrapped; empty when it looks like Flow-Judge. The CLI prints it as a warning
        and the app shows it where verdicts are made."""
        return flow_judge_mismatch(self.path.name, self.architecture,
                                   bool(self.metadata.get("tokenizer.chat_template")))

    def arch_int(self, key: str, default: int = 0) -> int:
        """An integer hyperparameter, ``{architecture}.{key}`` (e.g. ``block_count``)."""
        value = self.metadata.get(f"{self.architecture}.{key}", default)
        return int(value) if isinstance(value, int | float) else default

    @property
    def block_count(self) -> int:
        return self.arch_int("block_count")

    @property
    def embedding_length(self) -> int:
        return self.arch_int("embedding_length")

    @property
    def head_count(self) -> int:
        return self.arch_int("attention.head_count")

    @property
    def head_count_kv(self) -> int:
        return self.arch_int("attention.head_count_kv", self.head_count)

    @property
    def context_length(self) -> int:
        return self.arch_int("context_length")

    @property
    def feed_forward_length(self) -> int:
        return self.arch_int("feed_forward_length")

    @property
    def key_length(self) -> int:
        """Per-head K size; most models leave it implicit as embedding_length / head_count."""
        implicit = self.embedding_length // self.head_count if self.head_count else 0
        return self.arch_int("attention.key_length", implicit)

    @property
    def value_length(self) -> int:
        return self.arch_int("attention.value_length", self.key_length)

    @property
    def vocab_size(self) -> int:
        tokens = self.metadata.get("tokenizer.ggml.tokens")
        if isinstance(tokens, GGUFArray):
            return tokens.length
        return self.arch_int("vocab_size")

    @property
    def tensor_bytes(self) -> int:
        return sum(t.n_bytes for t in self.tensors)


def read_gguf(path: Path | str, require_runnable: bool = True) -> GGUFInfo:
    """Read and check ``path``'s header; ``ModelError`` in one sentence if it cannot be used.

    With ``require_runnable`` the architecture must be one llama.cpp can generate text with.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"There is no model file at {path}; check the path.")
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size
            if size < 8:
                raise ModelError(f"{path.name} is not a GGUF model file; give a .gguf file.")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
                info = _parse(buffer, path, size)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ModelError(f"{path} cannot be read ({reason}); check the file.") from None
    if require_runnable:
        check_runnable(info)
    return info


def check_runnable(info: GGUFInfo) -> None:
    """Refuse architectures llama.cpp cannot run or that cannot write a judgment."""
    arch, name = info.architecture, info.path.name
    if not arch:
        raise ModelError(f"{name} does not say which architecture it is; convert it again.")
    if arch in NON_TEXT_ARCHITECTURES:
        raise ModelError(
            f"{name} is a '{arch}' model, which makes embeddings or audio and cannot write "
            "judgments; "
            "use a text-generation model such as Flow-Judge (phi3)."
        )
    if arch not in RUNNABLE_ARCHITECTURES:
        raise ModelError(
            f"{name} is a '{arch}' model, which this llama.cpp cannot run; "
            "use a GGUF of a supported architecture such as Flow-Judge (phi3)."
        )


class _Truncated(Exception):
    pass


class _Reader:
    def __init__(self, buffer: mmap.mmap, size: int) -> None:
        self.buffer = buffer
        self.size = size
        self.pos = 0

    def take(self, n: int) -> int:
        start = self.pos
        self.pos += n
        if n < 0 or self.pos > self.size:
            raise _Truncated
        return start

    def u32(self) -> int:
        return int(_U32.unpack_from(self.buffer, self.take(4))[0])

    def u64(self) -> int:
        return int(_U64.unpack_from(self.buffer, self.take(8))[0])

    def string(self) -> str:
        n = self.u64()
        start = self.take(n)
        return self.buffer[start:start + n].decode("utf-8", errors="replace")

    def value(self, kind: int) -> MetadataValue:
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_type, length = self.u32(), self.u64()
            self.skip_array(item_type, length)
            return GGUFArray(item_type, length)
        fmt = _SCALARS.get(kind)
        if fmt is None:
            raise ValueError(f"unknown metadata type {kind}")
        value: int | float | bool = struct.unpack_from(fmt, self.buffer, self.take(
            struct.calcsize(fmt)))[0]
        return value

    def skip_array(self, item_type: int, length: int) -> None:
        if item_type == _STRING:
            pos, size, unpack, buffer = self.pos, self.size, _U64.unpack_from, self.buffer
            for _ in range(length):
                if pos + 8 > size:
                    raise _Truncated
                pos += 8 + unpack(buffer, pos)[0]
            if pos > size:
                raise _Truncated
            self.pos = pos
        elif item_type == _ARRAY:
            for _ in range(length):
                self.skip_array(self.u32(), self.u64())
        elif item_type in _SCALARS:
            self.take(struct.calcsize(_SCALARS[item_type]) * length)
        else:
            raise ValueError(f"unknown array type {item_type}")


def _parse(buffer: mmap.mmap, path: Path, size: int) -> GGUFInfo:
    name = path.name
    if buffer[:4] != MAGIC:
        raise ModelError(f"{name} is not a GGUF model file; give a .gguf file made for llama.cpp.")
    reader = _Reader(buffer, size)
    reader.take(4)
    version = reader.u32()
    if version not in SUPPORTED_VERSIONS:
        swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
        order = " big-endian" if swapped in SUPPORTED_VERSIONS else ""
        raise ModelError(
            f"{name} is a{order} GGUF version {swapped if order else version} file, which "
            "llama.cpp cannot read (it reads little-endian versions 2 and 3); convert it again."
        )
    try:
        n_tensors, n_kv = reader.u64(), reader.u64()
        metadata: dict[str, MetadataValue] = {}
        for _ in range(n_kv):
            key = reader.string()
            metadata[key] = reader.value(reader.u32())
        raw = [_read_tensor_info(reader) for _ in range(n_tensors)]
    except _Truncated:
        raise ModelError(
            f"{name} is truncated: its header ends early; download or copy it again."
        ) from None
    except (ValueError, struct.error) as exc:
        raise ModelError(f"{name} has a damaged GGUF header ({exc}); download it again.") from None
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment % 8:
        raise ModelError(f"{name} has an invalid general.alignment; convert it again.")
    data_offset = -(-reader.pos // alignment) * alignment
    tensors = tuple(_tensor(name, *item, data_offset) for item in raw)
    needed = max((t.offset + t.n_bytes for t in tensors), default=data_offset)
    if needed > size:
        raise ModelError(
            f"{name} is truncated: it has {size:,} bytes but its tensors need {needed:,}; "
            "download or copy it again."
        )
    return GGUFInfo(path, version, metadata, tensors, data_offset, size)


def _read_tensor_info(reader: _Reader) -> tuple[str, tuple[int, ...], int, int]:
    tensor_name = reader.string()
    n_dims = reader.u32()
    if n_dims > 8:
        raise ValueError(f"tensor {tensor_name} has {n_dims} dimensions")
    shape = tuple(reader.u64() for _ in range(n_dims))
    return tensor_name, shape, reader.u32(), reader.u64()


def _tensor(
    file_name: str, name: str, shape: tuple[int, ...], type_id: int, offset: int, base: int
) -> TensorInfo:
    known = GGML_TYPES.get(type_id)
    if known is None:
        raise ModelError(
            f"{file_name} stores tensor {name} in ggml type {type_id}, which this reader does "
            "not know; update flowjudge-tui and llama-cpp-python or use another quantization."
        )
    type_name, block, type_size = known
    elements = 1
    for dim in shape:
        elements *= dim
    if elements % block:
        raise ModelError(f"{file_name} has a damaged tensor {name}; download it again.")
    return TensorInfo(name, type_name, shape, base + offset, elements // block * type_size)
