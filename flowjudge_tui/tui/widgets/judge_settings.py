"""How to judge, set where the work starts: feedback budget, temperature, seed, context size
and (for runs) how many rows. Empty fields mean the defaults (the official settings)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static

from flowjudge_tui.judging.backend import DEFAULT_N_CTX, SamplingSettings
from flowjudge_tui.tui.widgets.problem_line import ProblemLine

ROPE_NOTE = (
    "Above 4096 tokens of context Phi-3 switches to its long RoPE factors, which changes "
    "every verdict, short items too."
)


@dataclass(frozen=True)
class JudgeSettings:
    sampling: SamplingSettings
    n_ctx: int
    limit: int | None = None


class SettingsError(ValueError):
    """A setting the user typed cannot be used; the message says which and why."""


def _number(text: str, name: str, kind: type[int] | type[float], low: float,
            high: float | None = None) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        whole = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{name} must be {whole}, not '{text}'.") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingsError(f"{name} must be a finite number.")
    if value < low or (high is not None and value > high):
        limit = f"from {low:g}" + (f" to {high:g}" if high is not None else " up")
        raise SettingsError(f"{name} must be {limit}; it is {text}.")
    return value


def parse_settings(max_tokens: str, temperature: str, seed: str, n_ctx: str,
                   limit: str = "") -> JudgeSettings:
    """The settings from the typed fields; raises ``SettingsError`` with one sentence."""
    defaults = SamplingSettings()
    tokens = _number(max_tokens, "Max feedback tokens", int, 1)
    temp = _number(temperature, "Temperature", float, 0.0, 2.0)
    seed_value = _number(seed, "Seed", int, 0, 2**31 - 1)
    context = _number(n_ctx, "Context size", int, 512, 131072)
    rows = _number(limit, "First N rows", int, 1)
    sampling = SamplingSettings(
        temperature=defaults.temperature if temp is None else float(temp),
        top_p=defaults.top_p,
        max_feedback_tokens=defaults.max_feedback_tokens if tokens is None else int(tokens),
        seed=defaults.seed if seed_value is None else int(seed_value),
    )
    return JudgeSettings(sampling, DEFAULT_N_CTX if context is None else int(context),
                         None if rows is None else int(rows))


class JudgeSettingsForm(Vertical):
    """A row of small inputs; ``settings()`` reads them or shows what is wrong."""

    DEFAULT_CSS = """
    JudgeSettingsForm { height: auto; }
    JudgeSettingsForm > Horizontal { height: auto; }
    JudgeSettingsForm Label { padding: 0 1 0 0; color: $text-muted; }
    JudgeSettingsForm Input { width: 7; }
    JudgeSettingsForm .problem { height: auto; }
    """

    def __init__(self, with_limit: bool = False, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.with_limit = with_limit

    def compose(self) -> ComposeResult:
        defaults = SamplingSettings()
        with Horizontal():
            yield Label("Tokens")
            yield Input(placeholder=str(defaults.max_feedback_tokens), id="set-max-tokens",
                        compact=True, tooltip="Most tokens of feedback")
            yield Label(" Temp")
            yield Input(placeholder=str(defaults.temperature), id="set-temperature",
                        compact=True)
            yield Label(" Seed")
            yield Input(placeholder=str(defaults.seed), id="set-seed", compact=True)
            yield Label(" Context")
            yield Input(placeholder=str(DEFAULT_N_CTX), id="set-n-ctx", compact=True)
            if self.with_limit:
                yield Label(" First rows")
                yield Input(placeholder="all", id="set-limit", compact=True,
                            tooltip="Judge only the first N rows of the file")
        yield ProblemLine(id="settings-problem")

    def _value(self, widget_id: str) -> str:
        found = self.query(f"#{widget_id}").results(Input)
        return next((field.value for field in found), "")

    def settings(self) -> JudgeSettings | None:
        """The settings, or None after showing why they cannot be used."""
        problem = self.query_one("#settings-problem", Static)
        try:
            settings = parse_settings(self._value("set-max-tokens"),
                                      self._value("set-temperature"), self._value("set-seed"),
                                      self._value("set-n-ctx"), self._value("set-limit"))
        except SettingsError as exc:
            problem.update(str(exc))
            return None
        problem.update(ROPE_NOTE if settings.n_ctx > DEFAULT_N_CTX else "")
        return settings
