"""Items skipped as too long for a run's context: how to say so, and judging them again.

Retrying is two steps. First the run's too-long skips are deleted in one transaction, so the
items are pending again; then the run is resumed with a larger context (``workflow.resume_runs``
with ``retry_too_long``). A process killed between the two, or during the second, leaves the
items pending and nothing half done: the same retry carries on, and a plain resume judges them
with the run's own context, which skips them again as too long.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flowjudge_tui.errors import FlowJudgeError, ModelError, SettingsError, StoreError
from flowjudge_tui.judging.backend import DEFAULT_N_CTX
from flowjudge_tui.store import RunRecord, Store

RETRY_CONTEXT = 8192
"""The context to suggest: the most Flow-Judge's card gives."""


def suggested_context(run: RunRecord, tried: int | None = None) -> int:
    """A context larger than the run's (or than ``tried``, one a retry just used): 8192, or
    twice that when it is 8192 or more already."""
    own = max(run.n_ctx, tried or 0)
    return RETRY_CONTEXT if own < RETRY_CONTEXT else own * 2


def retry_command(run: RunRecord, n_ctx: int | None = None) -> str:
    return (f"flowjudge runs resume {run.id} --retry-skipped "
            f"--n-ctx {n_ctx or suggested_context(run)}")


def too_long_hint(run: RunRecord, tried: int | None = None) -> str | None:
    """One sentence about the run's items skipped as too long and how to judge them (None
    when there are none). ``tried``: the context a retry just skipped them with (else the
    largest the run has used, ``RunRecord.n_ctx``)."""
    count = run.skipped_too_long
    if count == 0:
        return None
    items, them = ("1 item was", "it") if count == 1 else (f"{count:,} items were", "them")
    if run.server_url is not None:
        return (f"{items} skipped as too long for the context of the server at "
                f"{run.server_url}; a server started with a larger context judges {them} in "
                "a new run.")
    context = tried or run.n_ctx
    return (f"{items} skipped as too long for the context of {context} tokens; judge {them} "
            f"with a larger one: '{retry_command(run, suggested_context(run, tried))}'.")


def retryable(run: RunRecord) -> bool:
    """A finished or stopped in-process run with items skipped as too long for its context."""
    return (run.skipped_too_long > 0 and run.server_url is None
            and run.state not in ("running", "queued"))


def retry_companions(store: Store, run: RunRecord) -> list[RunRecord]:
    """The runs created together with ``run`` (one per rubric over one file) that have items
    too long for the context too and can be retried with it (same model file, no larger
    context tried already): judged together again, the items' shared prompt prefixes are
    reused as in the first pass."""
    return [other for other in store.companions(run)
            if retryable(other) and other.model_fingerprint == run.model_fingerprint
            and other.n_ctx <= run.n_ctx]


def companions_hint(run_ids: Sequence[int], companions: Sequence[RunRecord],
                    n_ctx: int) -> str | None:
    """The CLI's sentence offering the companions the user did not name (None: none)."""
    left = [other for other in companions if other.id not in run_ids]
    if not left:
        return None
    ids = ", ".join(str(other.id) for other in left)
    count = sum(other.skipped_too_long for other in left)
    runs = "Run" if len(left) == 1 else "Runs"
    every = " ".join(str(run_id) for run_id in [*run_ids, *(other.id for other in left)])
    items = "1 more item" if count == 1 else f"{count:,} more items"
    return (f"{runs} {ids}, started together with it, skipped {items} as too long for the "
            f"context; to judge them together (sharing prompt prefixes), retry with "
            f"'flowjudge runs resume {every} --retry-skipped --n-ctx {n_ctx}'.")


def forget_too_long(store: Store, run_ids: Sequence[int], n_ctx: int | None,
                    force: bool = False) -> int:
    """Check that the runs' too-long items can be retried with ``n_ctx``, then delete their
    skips (one transaction per run). Returns how many items are pending again.

    ``n_ctx`` must exceed the largest context the run's items were tried with (its own or
    an earlier retry's): a smaller one would skip them again. A run with nothing skipped as
    too long but items still pending passes with more than its own context: it is a retry
    that was stopped or killed after its skips were deleted, and it carries on."""
    runs = [store.get_run(run_id) for run_id in run_ids]
    for run in runs:
        if run.server_url is not None:
            raise ModelError(
                f"Run {run.id} is judged by the server at {run.server_url}, which sets its own "
                "context size; --retry-skipped is for runs judged in-process."
            )
        tried = run.n_ctx if run.skipped_too_long else run.settings.load.n_ctx
        if n_ctx is None or n_ctx <= tried:
            raise SettingsError(
                f"Run {run.id} skipped those items with a context of {tried} tokens, and the "
                f"same or a smaller context would skip them again; give a larger one with "
                f"--n-ctx {suggested_context(run)}."
            )
        if run.skipped_too_long == 0 and run.pending == 0:
            raise StoreError(
                f"Run {run.id} has no items skipped as too long for the context; nothing to "
                "retry."
            )
    return sum(store.forget_too_long_skips(run.id, force) for run in runs)


def rope_notice(model_path: Path, own_ctx: int, n_ctx: int) -> str | None:
    """The sentence to show when a larger context changes a Phi-3 model's RoPE factors (None
    when it does not, or the file's header cannot be read: loading it will say why)."""
    if own_ctx > DEFAULT_N_CTX or n_ctx <= DEFAULT_N_CTX:
        return None
    from flowjudge_tui.models.gguf_file import read_gguf

    try:
        architecture = read_gguf(model_path, require_runnable=False).architecture
    except (FlowJudgeError, OSError):
        return None
    if architecture != "phi3":
        return None
    return (f"Phi-3 switches to its long-context RoPE factors above {DEFAULT_N_CTX} tokens of "
            f"context, so the items judged now with {n_ctx} may score slightly differently "
            f"from those judged with {own_ctx}.")
