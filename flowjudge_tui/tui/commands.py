"""The app's own verbs in the command palette (ctrl+p), next to Textual's system commands."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape

from flowjudge_tui.errors import FlowJudgeError

if TYPE_CHECKING:
    from flowjudge_tui.tui.app import FlowJudgeApp


RECENT_RUNS = 20


@dataclass(frozen=True)
class Verb:
    title: str
    help: str
    run: Callable[[], Any]


class FlowJudgeCommands(Provider):
    """Section changes, model loading and unloading, rubrics to spot-check with, runs to
    start, stop, resume, review, compare and export."""

    async def startup(self) -> None:
        app = cast("FlowJudgeApp", self.app)
        try:
            runs = await asyncio.to_thread(app.store.list_runs, RECENT_RUNS)
        except FlowJudgeError:
            runs = []
        # A screen pushed over a section (Compare) offers its own verbs first.
        own = getattr(self.screen, "palette_verbs", None)
        self.verbs = [*(own() if callable(own) else []), *app.palette_verbs(runs)]

    def _verbs(self) -> list[Verb]:
        return self.verbs

    async def discover(self) -> Hits:
        for verb in self._verbs():
            # Titles and help hold user text (run and dataset names): never read as markup.
            yield DiscoveryHit(Content(verb.title), partial(_run, verb), text=verb.title,
                               help=escape(verb.help))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for verb in self._verbs():
            score = matcher.match(verb.title)
            if score > 0:
                yield Hit(score, matcher.highlight(verb.title), partial(_run, verb),
                          text=verb.title, help=escape(verb.help))


async def _run(verb: Verb) -> None:
    result = verb.run()
    if inspect.isawaitable(result):
        await result
