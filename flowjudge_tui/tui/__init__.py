"""The terminal app (Textual). It calls the core; the core never imports it."""
