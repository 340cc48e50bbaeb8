"""Writing files so that a reader never sees half of one and a crash never leaves one broken.

Every file flowjudge writes (rubrics, the model list, preferences, verification records,
exports) goes through ``atomic_open``: the text goes to a uniquely named temporary file in the
same folder, is flushed to disk, and replaces the target in one step. Two processes saving the
same file cannot collide, and an error leaves the old file as it was and no temporary behind.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


def _process_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import (os.umask cannot be read without setting it, which races with threads).
_UMASK = _process_umask()


@contextmanager
def atomic_open(path: Path) -> Iterator[TextIO]:
    """A text stream whose content replaces ``path`` only when the block ends without error.

    Raises ``OSError`` when the folder cannot be created or written; callers turn it into
    their own sentence.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        _give_mode(name, path)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (see ``atomic_open``)."""
    with atomic_open(path) as stream:
        stream.write(text)


def _give_mode(temporary: str, path: Path) -> None:
    """The new file gets the mode of the file it replaces, or the usual one (not mkstemp's 600)."""
    if path.exists():
        shutil.copymode(path, temporary)
    else:
        os.chmod(temporary, 0o666 & ~_UMASK)


def regular_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file, in a few words, or None if it can.

    A folder, a device (``/dev/zero`` never ends), a named pipe (reading blocks until someone
    writes) or a socket is refused before it is opened.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a device, pipe or socket)"
    return None


def export_file_name(run_id: int, fmt: str, run_name: str | None = None) -> str:
    """The file name an export of a run is suggested under: ``run-3.csv``, or
    ``run-3-baseline-v2.csv`` for a run named "Baseline v2" (the name's letters and digits
    only, so it is a safe file name everywhere). The extension is the format's."""
    slug = re.sub(r"[^a-z0-9]+", "-", (run_name or "").lower()).strip("-")[:40].strip("-")
    return f"run-{run_id}{'-' + slug if slug else ''}.{fmt}"
