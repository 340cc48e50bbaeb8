"""flowjudge-tui: an offline LLM-as-a-judge for the terminal, built on Flow-Judge-v0.1."""

import os

__version__ = "0.1.0"

# Nothing judged leaves the machine, and a model download makes only the requests it needs:
# huggingface-hub's usage telemetry stays off unless the user turns it on explicitly.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
