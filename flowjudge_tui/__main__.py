"""``python -m flowjudge_tui``: the ``flowjudge`` command where its script is not on the PATH
(a verb runs the command line, none opens the app)."""

from __future__ import annotations

import sys

from flowjudge_tui.entry import main

if __name__ == "__main__":
    sys.exit(main())
