"""Does a server tokenize as Flow-Judge's Phi-3 vocabulary does? (``doctor --server``)

The reference is a real Phi-3 vocabulary loaded by llama.cpp with ``vocab_only=True`` (no
weights): any Flow-Judge GGUF, or llama.cpp's own ``ggml-vocab-phi-3.gguf``. A server that
tokenizes the probe differently would judge a different prompt from the one Flow-Judge was
trained on (a wrong model, or a wrong tokenizer configuration).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flowjudge_tui.engine.served import ServedEngine
from flowjudge_tui.errors import ModelError

# Markers, digits, whitespace runs, a non-ASCII letter, a byte-fallback character.
PROBE = ("<feedback>\nThe response is  supported,\tmostly.</feedback>\n<score>5</score> "
         "Score 12 of 3: déjà vu \u2603\n\n")


@dataclass(frozen=True)
class TokenizerCheck:
    same: bool
    server_tokens: int
    reference_tokens: int
    first_difference: int | None
    """Index of the first token that differs, if any."""


def reference_tokens(vocab: Path, text: str = PROBE) -> list[int]:
    """``text`` as plain text (no BOS, no special tokens) in the vocabulary of ``vocab``."""
    from llama_cpp import Llama

    try:
        llm = Llama(str(vocab), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"llama.cpp could not read the vocabulary of {vocab} ({exc}); give a "
                         "Flow-Judge GGUF or ggml-vocab-phi-3.gguf.") from None
    try:
        return list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))
    finally:
        llm.close()


def compare_tokenizer(engine: ServedEngine, vocab: Path, text: str = PROBE) -> TokenizerCheck:
    theirs = [token for token, _ in engine.tokens.tokenize(text)]
    ours = reference_tokens(vocab, text)
    first = next((i for i, (a, b) in enumerate(zip(theirs, ours, strict=False)) if a != b),
                 None if len(theirs) == len(ours) else min(len(theirs), len(ours)))
    return TokenizerCheck(theirs == ours, len(theirs), len(ours), first)
