"""The question before a run's too-long items are judged again: which context size."""

from __future__ import annotations

from flowjudge_tui.judging.backend import DEFAULT_N_CTX
from flowjudge_tui.runs.retry import suggested_context
from flowjudge_tui.store import RunRecord
from flowjudge_tui.tui.plain import escape
from flowjudge_tui.tui.screens.dialogs import Confirm, TextPrompt

MIN_CONTEXT = 512
MAX_CONTEXT = 131072


def context_problem(run: RunRecord, text: str) -> str | None:
    """Why ``text`` is not a context size to retry ``run``'s too-long items with (None: it is)."""
    own = run.n_ctx
    try:
        value = int(text.strip())
    except ValueError:
        return f"'{text.strip()}' is not a whole number; give a context size such as " \
               f"{suggested_context(run)}."
    if not MIN_CONTEXT <= value <= MAX_CONTEXT:
        return f"Give a context size from {MIN_CONTEXT} to {MAX_CONTEXT}."
    if value <= own:
        return (f"The run skipped them with {own} tokens, and the same context would skip "
                f"them again; give a larger one, such as {suggested_context(run)}.")
    return None


def retry_prompt(run: RunRecord) -> TextPrompt:
    """Ask for the context size, the suggested one filled in; dismissed with the text (checked
    by ``context_problem``) or None."""
    count = run.skipped_too_long
    items = "1 item was" if count == 1 else f"{count:,} items were"
    explanation = (
        f"{items} skipped as too long for the context of {run.n_ctx} tokens. "
        "Judge just those again with this context size (the run's model and other "
        f"settings stay). Above {DEFAULT_N_CTX} tokens Phi-3 switches to its long-context "
        "RoPE factors, so their scores may differ slightly from the others'."
    )
    return TextPrompt(
        f"Retry run {run.id}'s too-long items", escape(explanation),
        value=str(suggested_context(run)), placeholder="context size in tokens",
        check=lambda text: context_problem(run, text),
    )


def companions_prompt(run: RunRecord, companions: list[RunRecord]) -> Confirm:
    """Ask whether the runs created together with ``run`` that skipped items as too long too
    are retried with it (dismissed with True: all of them, together)."""
    ids = ", ".join(str(other.id) for other in companions)
    count = sum(other.skipped_too_long for other in companions)
    items = "1 more item" if count == 1 else f"{count:,} more items"
    runs = "Run" if len(companions) == 1 else "Runs"
    question = (f"{runs} {ids}, started together with run {run.id}, skipped {items} as too "
                "long for the context. Judge them too, with the same context and together "
                "(their prompts share prefixes, so that is quicker than one by one)?")
    return Confirm(f"Retry the runs started with run {run.id}", escape(question),
                   yes="Retry them too", no=f"Only run {run.id}")
