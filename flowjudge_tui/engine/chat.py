"""Wrapping a prompt in the model's chat template, as Flow-Judge was trained on it.

The prompt (rubric and judged item) is text, never control tokens: ``ChatWrapper.segments``
says which parts of the wrapped text are the template's own markers (tokenized with special
tokens parsed) and which are plain text (tokenized with special parsing off), so an item that
contains ``<|end|><|assistant|>`` cannot end the user's turn.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from flowjudge_tui.errors import ModelError

PHI3_WRAPPER = "<|user|>\n{prompt}<|end|>\n<|assistant|>\n"
# Phi-3's tokenizer strips whitespace after these special tokens (HF ``rstrip``); llama.cpp
# does the same only when the GGUF's name says "phi3", so it is done here for every phi3 file.
_PHI3_RSTRIP = re.compile(r"(<\|(?:user|assistant|system|end)\|>)[ \t\r\n]+")
# Stands in for the prompt while the template is rendered, to find where the prompt goes.
_PLACEHOLDER = "\ue000flowjudge-prompt\ue001"
# The whitespace llama.cpp strips next to a special token with the lstrip/rstrip attribute.
_ASCII_SPACE = " \t\n\r\v\f"


@dataclass(frozen=True)
class SpecialToken:
    """A control token's text and whether llama.cpp strips whitespace on either side of it."""

    text: str
    lstrip: bool = False
    rstrip: bool = False


@dataclass(frozen=True)
class Segment:
    """A stretch of the wrapped prompt and whether special tokens may be parsed in it."""

    text: str
    special: bool


@dataclass(frozen=True)
class ChatWrapper:
    """Turns a user message into the text the model is prompted with."""

    template: str | None
    architecture: str
    bos_token: str = ""
    eos_token: str = ""

    @property
    def uses_fallback(self) -> bool:
        """True when the GGUF has no chat template and Flow-Judge's Phi-3 wrapper is used."""
        return not self.template

    def render(self, prompt: str) -> str:
        return "".join(self.render_parts(prompt))

    def render_parts(self, prompt: str) -> tuple[str, str, str]:
        """The wrapped text as (template before, the prompt as placed, template after)."""
        head, tail = self._frame
        if self.template:
            text = _render_jinja(self.template, prompt, self.bos_token, self.eos_token)
            if len(text) < len(head) + len(tail) or not (
                text.startswith(head) and text.endswith(tail)
            ):
                raise ModelError(
                    "The model's chat template does not place the message as plain text; "
                    "use a GGUF with a standard chat template."
                )
            middle = text[len(head) : len(text) - len(tail)]
        else:
            middle = prompt
        if self.architecture == "phi3":
            head, tail = _PHI3_RSTRIP.sub(r"\1", head), _PHI3_RSTRIP.sub(r"\1", tail)
        return head, middle, tail

    @cached_property
    def _frame(self) -> tuple[str, str]:
        if self.template:
            text = _render_jinja(self.template, _PLACEHOLDER, self.bos_token, self.eos_token)
        else:
            text = PHI3_WRAPPER.replace("{prompt}", _PLACEHOLDER, 1)
        if text.count(_PLACEHOLDER) != 1:
            raise ModelError(
                "The model's chat template does not contain the message exactly once; "
                "use a GGUF with a standard chat template."
            )
        head, tail = text.split(_PLACEHOLDER)
        return head, tail

    def segments(self, prompt: str, specials: Mapping[str, SpecialToken]) -> list[Segment]:
        """The wrapped prompt cut where special parsing turns on and off.

        The template's markers around the prompt stay special; the prompt, with the template's
        plain text next to it (e.g. Gemma's ``user\\n``), is one plain segment, so for a prompt
        without control markers the tokens are exactly those of the whole text parsed at once.
        """
        head, middle, tail = self.render_parts(prompt)
        cut_head, before = _last_special_end(head, specials)
        cut_tail, after = _first_special_start(tail, specials)
        plain = head[cut_head:] + middle + tail[:cut_tail]
        if before is not None and before.rstrip:
            plain = plain.lstrip(_ASCII_SPACE)
        if after is not None and after.lstrip:
            plain = plain.rstrip(_ASCII_SPACE)
        parts = [Segment(head[:cut_head], True), Segment(plain, False),
                 Segment(tail[cut_tail:], True)]
        return [part for part in parts if part.text]

    def starts_with_bos(self, text: str) -> bool:
        return bool(self.bos_token) and text.startswith(self.bos_token)


def _last_special_end(
    text: str, specials: Mapping[str, SpecialToken]
) -> tuple[int, SpecialToken | None]:
    """Where the last special token in ``text`` ends, and that token."""
    best, token = 0, None
    for marker, special in specials.items():
        at = text.rfind(marker)
        if at >= 0 and at + len(marker) > best:
            best, token = at + len(marker), special
    return best, token


def _first_special_start(
    text: str, specials: Mapping[str, SpecialToken]
) -> tuple[int, SpecialToken | None]:
    """Where the first special token in ``text`` starts, and that token."""
    best, token = len(text), None
    for marker, special in specials.items():
        at = text.find(marker)
        if 0 <= at < best or (at == best and token is not None and len(marker) > len(token.text)):
            best, token = at, special
    return best, token


def _render_jinja(template: str, prompt: str, bos_token: str, eos_token: str) -> str:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(
        messages=[{"role": "user", "content": prompt}],
        add_generation_prompt=True,
        bos_token=bos_token,
        eos_token=eos_token,
    )
