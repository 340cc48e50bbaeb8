"""Which process is judging a run, and whether it is still alive.

A run being judged records its process id, host name and, on Linux, a token made of the boot
id and the process's start time, so that a pid reused after a crash or a reboot is not taken
for the process that died. The owner also refreshes a heartbeat timestamp while it judges.

On the owner's own host the process table decides. Elsewhere (another machine sharing the
file, or a re-created container whose host name changed) the process cannot be seen, so the
heartbeat decides: an owner silent for ``STALE_AFTER_SECONDS`` is gone. A run marked
'running' whose owner is gone is shown as interrupted and can be resumed.
"""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
# How often a running owner refreshes its heartbeat, and how long a silence means it is gone.
HEARTBEAT_SECONDS = 20.0
STALE_AFTER_SECONDS = 120.0


def process_token(pid: int) -> str | None:
    """The boot id and start time of a live process; None if unknown or not running."""
    try:
        boot = _BOOT_ID.read_text(encoding="ascii").strip()
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return f"{boot}:{fields[19]}"


def current_owner() -> tuple[int, str, str | None]:
    pid = os.getpid()
    return pid, platform.node(), process_token(pid)


def heartbeat_age(heartbeat: str | None, now: datetime | None = None) -> float | None:
    """Seconds since ``heartbeat`` (an ISO 8601 UTC time), or None if there is none."""
    if not heartbeat:
        return None
    try:
        then = datetime.fromisoformat(heartbeat.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ((now or datetime.now(UTC)) - then).total_seconds()


def owner_alive(
    pid: int | None,
    host: str | None,
    token: str | None = None,
    heartbeat: str | None = None,
) -> bool:
    """Whether the process that claimed a run is still judging it."""
    if pid is None:
        return False
    if host is not None and host != platform.node():
        if token is not None and process_token(pid) == token:
            return True  # the same machine under a new host name
        age = heartbeat_age(heartbeat)
        return age is not None and age < STALE_AFTER_SECONDS
    if token is not None:
        return process_token(pid) == token
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
