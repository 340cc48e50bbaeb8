"""What identifies one judgment's work: the model file, the rubric version, the item and the
settings. Equal work keys would give the same verdict, so a verdict made once is reused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from flowjudge_tui.errors import ModelError
from flowjudge_tui.judging.backend import JudgeEngine, LoadSettings, SamplingSettings
from flowjudge_tui.progress import ProgressCallback
from flowjudge_tui.store import FingerprintKind

FINGERPRINT_CHUNK = 1 << 20


def model_fingerprint(
    path: Path, on_progress: ProgressCallback | None = None
) -> tuple[str, FingerprintKind]:
    """The model file's identity: the sha256 of its whole content.

    It is the hub's sha256 for a pulled and verified file; any other file is hashed once (with
    progress; seconds for a few GB) and the result is cached by real path, size, mtime and
    inode, so a file changed anywhere (even in the middle) is a different model.
    """
    from flowjudge_tui.models.verified import content_sha256

    return f"sha256:{content_sha256(path, on_progress)}", "sha256"


def quick_fingerprint(path: Path) -> str:
    """The identity runs made before full hashing recorded (kind 'quick-v1'): the sha256 of
    the size, the first MiB and the last MiB. Kept only to recognise those runs' model."""
    try:
        size = path.stat().st_size
        digest = hashlib.sha256(str(size).encode())
        with path.open("rb") as handle:
            digest.update(handle.read(FINGERPRINT_CHUNK))
            handle.seek(max(0, size - FINGERPRINT_CHUNK))
            digest.update(handle.read(FINGERPRINT_CHUNK))
    except OSError as exc:
        raise ModelError(f"Cannot read the model file {path} ({exc}); check the path.") from None
    return f"quick-v1:{digest.hexdigest()}"


def fingerprint_of_kind(path: Path, kind: FingerprintKind) -> str:
    """``path``'s fingerprint as a run of fingerprint ``kind`` recorded it."""
    return quick_fingerprint(path) if kind == "quick-v1" else model_fingerprint(path)[0]


@dataclass(frozen=True)
class ServedModel:
    """A judge behind a server: its base URL (up to /v1) and the model name it serves."""

    server: str
    model: str


def served_model_of(engine: JudgeEngine) -> ServedModel | None:
    """The server and model of a served engine; None for a model judged in-process."""
    server = getattr(engine, "server", None)
    if engine.path is not None or not isinstance(server, str):
        return None
    return ServedModel(server, engine.model_name)


def served_fingerprint(judge: ServedModel) -> tuple[str, FingerprintKind]:
    """The identity of a served judge: the server and the model name it serves.

    A server does not expose its weights' hash, so a served verdict is keyed by where it was
    made; it is never taken for an in-process verdict of a file, nor for another server's.
    """
    canonical = json.dumps({"server": judge.server, "model": judge.model}, sort_keys=True)
    return f"served-v1:{hashlib.sha256(canonical.encode()).hexdigest()}", "served-v1"


def work_key(
    fingerprint: str,
    rubric_hash: str,
    content_hash: str,
    sampling: SamplingSettings,
    load: LoadSettings,
) -> str:
    """Identifies one judgment's work: equal keys would give the same verdict.

    Of the load settings, only those that change what the model computes count: the context
    size (Phi-3 switches RoPE factors above 4096) and the KV cache types. GPU offload does not.
    """
    canonical = json.dumps(
        {"model": fingerprint, "rubric": rubric_hash, "item": content_hash,
         "sampling": asdict(sampling),
         "context": {"n_ctx": load.n_ctx, "type_k": load.type_k, "type_v": load.type_v}},
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
