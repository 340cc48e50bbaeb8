"""What every main screen shares: the section bar on top, the footer below, error handling."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from flowjudge_tui.tui.widgets.nav_bar import NavBar
from flowjudge_tui.tui.worker_errors import WorkerErrorHandler

if TYPE_CHECKING:
    from flowjudge_tui.tui.app import FlowJudgeApp


def flow_app(node: DOMNode) -> FlowJudgeApp:
    """The app, typed: screens read shared state (paths, library, model) from it."""
    return cast("FlowJudgeApp", node.app)


class FlowScreen(Screen[None], WorkerErrorHandler):
    """A main screen (one per section). Subclasses yield their body from ``compose_body``."""

    SECTION: ClassVar[str] = ""

    @property
    def flow(self) -> FlowJudgeApp:
        return flow_app(self)

    def compose(self) -> ComposeResult:
        yield NavBar(self.SECTION)
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> Iterable[Widget]:
        return ()
