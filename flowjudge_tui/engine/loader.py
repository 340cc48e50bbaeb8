"""One model in memory per process: load, reuse, replace.

Loading goes through a list of memory plans, best first; if llama.cpp cannot load one (most
often for memory) the next smaller plan is tried and the user is told what happened.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from flowjudge_tui.engine.llama import LlamaEngine
from flowjudge_tui.errors import ModelError
from flowjudge_tui.judging.backend import LoadSettings

Notice = Callable[[str], None]

_lock = threading.Lock()
_current: LlamaEngine | None = None


def load_engine(
    path: Path,
    load: LoadSettings | Sequence[LoadSettings] | None = None,
    on_notice: Notice | None = None,
) -> LlamaEngine:
    """The engine for ``path``, loading it (and unloading any other model) if needed."""
    global _current
    plans = _plans(path, load)
    with _lock:
        if _current is not None and _current.path == Path(path) and _current.load in plans:
            return _current
        if _current is not None:
            _current.close()
            _current = None
        failures: list[str] = []
        for index, plan in enumerate(plans):
            try:
                _current = LlamaEngine(Path(path), plan)
            except ModelError as exc:
                failures.append(str(exc))
                if index + 1 < len(plans) and on_notice is not None:
                    on_notice(
                        f"Could not load with {plan.describe()}; "
                        f"trying {plans[index + 1].describe()}."
                    )
                continue
            if on_notice is not None:
                for notice in _current.notices:
                    on_notice(notice)
            return _current
        raise ModelError(failures[-1])


def unload_engine() -> None:
    global _current
    with _lock:
        if _current is not None:
            _current.close()
            _current = None


def _plans(path: Path, load: LoadSettings | Sequence[LoadSettings] | None) -> list[LoadSettings]:
    if isinstance(load, LoadSettings):
        return [load]
    if load:
        return list(load)
    return [LoadSettings()]


# Free the model while the interpreter is still whole: left to garbage collection at exit,
# llama-cpp-python frees it after its own module globals are gone (a TypeError at best).
# atexit runs after worker threads are joined, and close() waits for a judgment in flight.
atexit.register(unload_engine)
