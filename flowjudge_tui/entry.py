"""The ``flowjudge`` command: with a verb it is the command line (``cli``), without one it opens
the terminal app (``tui``). The one module above both front ends."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from flowjudge_tui.cli.main import main as command_line

    return command_line(argv, open_app=_open_app)


def _open_app() -> int:
    from flowjudge_tui.tui.app import run_app

    return run_app()


if __name__ == "__main__":
    sys.exit(main())
