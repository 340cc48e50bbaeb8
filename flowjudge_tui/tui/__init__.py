"""The terminal app (Textual): presentation only. It calls the core through the same workflows
as the command line (``runs.workflow``); the core never imports it."""
