"""The small dialog that names a run (or takes its name away): a bad name keeps it open."""

from __future__ import annotations

from collections.abc import Callable

from flowjudge_tui.store import RunRecord, Store
from flowjudge_tui.tui.plain import escape
from flowjudge_tui.tui.screens.dialogs import TextPrompt


def rename_prompt(store: Store, run: RunRecord,
                  renamed: Callable[[RunRecord], object]) -> TextPrompt:
    """Ask for ``run``'s name; the store checks and keeps it, then ``renamed`` is told."""

    def rename(text: str) -> str | None:
        """In the dialog's worker thread: a problem (a ``StoreError``) keeps the dialog open."""
        renamed(store.rename_run(run.id, text if text.strip() else None))
        return None

    return TextPrompt(f"Rename run {run.id}",
                      escape(f"A name for run {run.id} ({run.rubric_name} on "
                             f"{run.dataset_name}); empty for none."),
                      value=run.name or "",
                      placeholder="e.g. baseline, Q5 quant, new prompt", check=rename)
