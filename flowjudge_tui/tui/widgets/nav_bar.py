"""The row of screen names at the top of every main screen; each name is clickable."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("home", "Home", "f2"),
    ("models", "Models", "f3"),
    ("rubrics", "Rubrics", "f4"),
    ("spot", "Spot check", "f5"),
    ("runs", "Runs", "f6"),
    ("review", "Review", "f7"),
)


class NavBar(Static):
    """Shows where you are and how to get elsewhere, by key or by mouse."""

    def __init__(self, current: str) -> None:
        super().__init__(id="nav-bar")
        self.current = current

    def on_mount(self) -> None:
        parts: list[Content] = [Content.from_markup("[b]flowjudge[/b]  ")]
        for mode, label, key in SECTIONS:
            text = f" {key.upper()} {label} "
            if mode == self.current:
                parts.append(Content.styled(text, "reverse bold"))
            else:
                parts.append(Content.from_markup(
                    f"[@click=app.switch_mode('{mode}')]$text[/]", text=text
                ))
            parts.append(Content(" "))
        parts.append(Content.from_markup("[dim] F1 help · ctrl+p commands[/dim]"))
        self.update(Content("").join(parts))
