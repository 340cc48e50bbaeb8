"""Wrapping a prompt in the model's chat template, as Flow-Judge was trained on it."""

from __future__ import annotations

import re
from dataclasses import dataclass

PHI3_WRAPPER = "<|user|>\n{prompt}<|end|>\n<|assistant|>\n"
# Phi-3's tokenizer strips whitespace after these special tokens (HF ``rstrip``); llama.cpp
# does the same only when the GGUF's name says "phi3", so it is done here for every phi3 file.
_PHI3_RSTRIP = re.compile(r"(<\|(?:user|assistant|system|end)\|>)[ \t\r\n]+")


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
        if self.template:
            text = _render_jinja(self.template, prompt, self.bos_token, self.eos_token)
        else:
            text = PHI3_WRAPPER.replace("{prompt}", prompt, 1)
        if self.architecture == "phi3":
            text = _strip_after_specials(text, prompt)
        return text

    def starts_with_bos(self, text: str) -> bool:
        return bool(self.bos_token) and text.startswith(self.bos_token)


def _strip_after_specials(text: str, prompt: str) -> str:
    """Apply Phi-3's rstrip to the template's own tokens, never inside the prompt."""
    at = text.find(prompt)
    if at < 0:
        return _PHI3_RSTRIP.sub(r"\1", text)
    head, tail = text[:at], text[at + len(prompt) :]
    return _PHI3_RSTRIP.sub(r"\1", head) + prompt + _PHI3_RSTRIP.sub(r"\1", tail)


def _render_jinja(template: str, prompt: str, bos_token: str, eos_token: str) -> str:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(
        messages=[{"role": "user", "content": prompt}],
        add_generation_prompt=True,
        bos_token=bos_token,
        eos_token=eos_token,
    )
