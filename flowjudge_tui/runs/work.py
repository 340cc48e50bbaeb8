"""What identifies one judgment's work: the model file, the rubric version, the item and the
settings. Equal work keys would give the same verdict, so a verdict made once is reused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from flowjudge_tui.errors import ModelError
from flowjudge_tui.judging.backend import LoadSettings, SamplingSettings
from flowjudge_tui.store import FingerprintKind

FINGERPRINT_CHUNK = 1 << 20


def model_fingerprint(path: Path) -> tuple[str, FingerprintKind]:
    """A cheap identity for a model file: sha256 of its size, first MiB and last MiB.

    Hashing a whole 2.4 GB GGUF takes seconds; the size plus both ends tell files apart in
    practice (GGUF headers carry the tensor layout, quantization and metadata).
    """
    try:
        size = path.stat().st_size
        digest = hashlib.sha256(str(size).encode())
        with path.open("rb") as handle:
            digest.update(handle.read(FINGERPRINT_CHUNK))
            handle.seek(max(0, size - FINGERPRINT_CHUNK))
            digest.update(handle.read(FINGERPRINT_CHUNK))
    except OSError as exc:
        raise ModelError(f"Cannot read the model file {path} ({exc}); check the path.") from None
    return f"quick-v1:{digest.hexdigest()}", "quick-v1"


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
