"""Which process is judging a run, and whether it is still alive.

A run being judged records its process id, host name and, on Linux, a token made of the boot
id and the process's start time, so that a pid reused after a crash or a reboot is not taken
for the process that died. A run marked 'running' whose owner is gone is shown as interrupted.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


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


def owner_alive(pid: int | None, host: str | None, token: str | None = None) -> bool:
    """Whether the process that claimed a run still exists (only knowable on the same host)."""
    if pid is None:
        return False
    if host is not None and host != platform.node():
        return True
    if token is not None:
        return process_token(pid) == token
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
