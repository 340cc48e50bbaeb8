"""The sha256 check of model files, and the record that spares re-hashing them.

A file is recorded under its real path with its size, modification time and inode; any
change to these makes the record stale. The record is a small JSON file in the data dir, so
``models list`` can say "verified" without reading 2.4 GB. Two kinds of entries share it: a
file checked against the sha256 the hub published ("verified"), and a local file whose sha256
was computed here to identify it (``content_sha256``), which proves nothing about its origin.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowjudge_tui.errors import ModelError
from flowjudge_tui.files import atomic_write_text
from flowjudge_tui.progress import ProgressCallback, RateMeter
from flowjudge_tui.settings import app_paths

RECORD_NAME = "verified-models.json"
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 8 * 1024 * 1024
_REPORT_EVERY = 64 * 1024 * 1024


class Cancelled(Exception):
    """The user asked a download or a check to stop; what was done so far is kept."""


def sha256_of(
    path: Path,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    task: str = "Verifying",
) -> str:
    """The file's sha256, reporting progress in bytes."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    meter = RateMeter(task, total, unit="bytes")
    done = reported = 0
    with path.open("rb", buffering=0) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if should_stop is not None and should_stop():
                raise Cancelled
            if on_progress is not None and (done - reported >= _REPORT_EVERY or done == total):
                reported = done
                on_progress(meter.event(done, finished=done == total))
    return digest.hexdigest()


def record_file() -> Path:
    return app_paths().data_dir / RECORD_NAME


_STAMP_KEYS = ("size", "mtime_ns", "inode")


def _stamp(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}


def _recorded(path: Path) -> dict[str, Any] | None:
    """The record's entry for ``path`` if the file is unchanged since, else None."""
    try:
        real = Path(os.path.realpath(path))
        entry = _load().get(str(real))
        if isinstance(entry, dict) and {k: entry.get(k) for k in _STAMP_KEYS} == _stamp(real):
            return entry
    except OSError:
        pass
    return None


def _load() -> dict[str, Any]:
    try:
        data = json.loads(record_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def verified_sha256(path: Path) -> str | None:
    """The sha256 recorded for ``path`` if it is unchanged since it was verified, else None."""
    entry = _recorded(path)
    if entry is None or entry.get("source", "hub") != "hub":
        return None
    sha = entry.get("sha256")
    return sha if isinstance(sha, str) else None


def record_verified(path: Path, sha256: str, source: str = "hub") -> None:
    """Remember ``path``'s sha256: checked against the hub's, or computed here ("hashed")."""
    real = Path(os.path.realpath(path))
    data = {key: value for key, value in _load().items() if Path(key).exists()}
    data[str(real)] = {
        **_stamp(real),
        "sha256": sha256,
        "source": source,
        "verified_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(record_file(), json.dumps(data, indent=1, sort_keys=True))


def content_sha256(
    path: Path,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> str:
    """The sha256 of the whole file: the hub's where it was pulled and verified, else computed
    once (with progress) and remembered until the file's size, mtime or inode change."""
    entry = _recorded(path)
    if entry is not None and isinstance(entry.get("sha256"), str):
        return str(entry["sha256"])
    try:
        sha = sha256_of(path, on_progress, should_stop, task=f"Fingerprinting {path.name}")
    except OSError as exc:
        raise ModelError(f"Cannot read the model file {path} ({exc}); check the path.") from None
    with contextlib.suppress(OSError):  # a read-only data dir only costs hashing next time
        record_verified(path, sha, source="hashed")
    return sha


def verify_file(
    path: Path,
    sha256: str,
    label: str,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Hash ``path`` and record it; on a mismatch delete it (it must never be used) and refuse."""
    actual = sha256_of(path, on_progress, should_stop, task=f"Verifying {label}")
    if actual != sha256:
        for bad in {path, Path(os.path.realpath(path))}:
            bad.unlink(missing_ok=True)
        raise ModelError(
            f"The file of {label} is corrupt (sha256 {actual[:12]}… instead of the hub's "
            f"{sha256[:12]}…) and was deleted; run 'flowjudge models pull {label}' again."
        )
    record_verified(path, sha256)


def verify_cached(path: Path, label: str, on_progress: ProgressCallback | None = None) -> str:
    """Verify a file of the hub cache offline: its blob is named by the sha256 the hub gave.

    Returns the sha256; a file verified before (and unchanged) is not hashed again.
    """
    known = verified_sha256(path)
    if known is not None:
        return known
    sha = Path(os.path.realpath(path)).name
    if not SHA256_PATTERN.match(sha):
        raise ModelError(
            f"{label} is in the hub cache but cannot be verified offline; run "
            f"'flowjudge models pull {label}' with the network on."
        )
    verify_file(path, sha, label, on_progress)
    return sha
