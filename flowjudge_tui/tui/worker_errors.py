"""The one place worker failures become something a user reads.

A ``FlowJudgeError`` is shown as its sentence. Anything else is logged with its traceback
(visible in ``textual console``) and shown as a short sentence: a traceback never reaches
the screen.
"""

from __future__ import annotations

from typing import cast

from textual.dom import DOMNode
from textual.worker import Worker, WorkerState

from flowjudge_tui.errors import FlowJudgeError, PromptTooLongError


def describe_error(error: BaseException) -> str:
    if isinstance(error, PromptTooLongError):
        return (f"{error} Raise the context size in the judge settings (Context), or "
                "shorten the item.")
    if isinstance(error, FlowJudgeError):
        return str(error)
    return (
        f"Something went wrong ({type(error).__name__}: {error}); "
        "what was saved before is kept. Please report this with the steps that led to it."
    )


class WorkerErrorHandler:
    """Mixed into the app and every screen (after the Textual base class, so CSS is
    inherited): workers run on them report failures here."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        node = cast(DOMNode, self)
        error = event.worker.error
        if not isinstance(error, FlowJudgeError):
            node.log.error(f"worker {event.worker.name!r} failed", error)
        node.app.notify(describe_error(error), title="Error", severity="error", timeout=10)
        self.on_worker_failed(event.worker)

    def on_worker_failed(self, worker: Worker[object]) -> None:
        """Let a screen put its widgets back (e.g. re-enable a button) after a failure."""
