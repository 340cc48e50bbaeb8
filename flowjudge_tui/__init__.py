"""flowjudge-tui: an offline LLM-as-a-judge for the terminal, built on Flow-Judge-v0.1."""

__version__ = "0.1.0"
