"""Token ids through a server's ``/tokenize``, exactly as ``LlamaEngine`` makes them.

The chat template is rendered here. When the judged prompt holds no text that the server
would read as a special token (the usual case), the whole rendered text is tokenized in one
request with special-token parsing on, exactly as in-process. When it does (an item that
contains a literal ``<|end|>``), the template's head and tail are tokenized with parsing on
and the prompt with it off, so nothing inside an item becomes a control token; for Phi-3's
SentencePiece vocabulary the split gives the ids a whole-text tokenization would, because the
prompt follows a special token either way (checked in the tests).

vLLM's ``/tokenize`` has no switch for special-token parsing: a judged text that contains a
literal ``<|end|>`` is tokenized as that control token there.
"""

from __future__ import annotations

import threading
from typing import Any

from flowjudge_tui.engine.chat import ChatWrapper
from flowjudge_tui.engine.served_http import ServerConnection, StopCheck
from flowjudge_tui.errors import ServerError


def tokenize_payload(model: str | None, text: str, special: bool, add_bos: bool,
                     ) -> dict[str, Any]:
    """A ``/tokenize`` body both llama.cpp's server and vLLM understand."""
    return {"model": model, "content": text, "prompt": text,
            "add_special": add_bos, "add_special_tokens": add_bos,
            "parse_special": special, "with_pieces": True}


class ServerTokenizer:
    """Tokenizes through one server; continuation tokens are cached (thread-safe)."""

    def __init__(self, connection: ServerConnection, chat: ChatWrapper, model: str) -> None:
        self.connection = connection
        self.chat = chat
        self.model = model
        self._lock = threading.Lock()
        self._continuations: dict[str, list[int]] = {}

    def tokenize(self, text: str, special: bool = False, add_bos: bool = False,
                 stop: StopCheck | None = None) -> list[tuple[int, bytes | None]]:
        """Token ids (and their bytes when the server says) of ``text``."""
        if not text and not add_bos:
            return []
        payload = tokenize_payload(self.model, text, special, add_bos)
        answer = self.connection.post("/tokenize", payload, stop)
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        if not isinstance(tokens, list):
            raise ServerError(f"The server at {self.connection.root} answered /tokenize "
                              "without tokens; is it llama.cpp's server or vLLM?")
        found: list[tuple[int, bytes | None]] = []
        for entry in tokens:
            if isinstance(entry, int):
                found.append((entry, None))
            elif isinstance(entry, dict) and isinstance(entry.get("id"), int):
                piece = entry.get("piece")
                raw = (bytes(piece) if isinstance(piece, list) else
                       piece.encode("utf-8") if isinstance(piece, str) else None)
                found.append((int(entry["id"]), raw))
        return found

    def chat_tokens(self, prompt: str, stop: StopCheck | None = None) -> list[int]:
        """The prompt in the chat template, as ids: markers special, the prompt plain text."""
        text = self.chat.render(prompt)
        add_bos = not self.chat.starts_with_bos(text)
        at = text.find(prompt)
        if at < 0:
            raise ServerError("The chat template changed the prompt; it cannot be judged safely.")
        plain = [t for t, _ in self.tokenize(prompt, special=False, stop=stop)]
        parsed = [t for t, _ in self.tokenize(prompt, special=True, stop=stop)]
        if plain == parsed:
            return [t for t, _ in self.tokenize(text, special=True, add_bos=add_bos, stop=stop)]
        head, tail = text[:at], text[at + len(prompt):]
        ids = [t for t, _ in self.tokenize(head, special=True, add_bos=add_bos, stop=stop)]
        ids += plain
        ids += [t for t, _ in self.tokenize(tail, special=True, stop=stop)]
        return ids

    def continuation(self, text: str, stop: StopCheck | None) -> list[int]:
        """Tokens for ``text`` as it continues a sequence, as ``LlamaEngine._continuation``."""
        if not text:
            return []
        with self._lock:
            cached = self._continuations.get(text)
        if cached is not None:
            return cached
        anchor = b"\n"
        tokens = self.tokenize("\n" + text, stop=stop)
        rest: list[int] | None = None
        if all(piece is not None for _, piece in tokens):
            head = b""
            for cut, (_, piece) in enumerate(tokens, start=1):
                head += piece or b""
                if head.lstrip(b" ") == anchor:
                    rest = [t for t, _ in tokens[cut:]]
                    break
        else:
            alone = [t for t, _ in self.tokenize("\n", stop=stop)]
            ids = [t for t, _ in tokens]
            if ids[: len(alone)] == alone:
                rest = ids[len(alone):]
        if rest is None:
            rest = [t for t, _ in self.tokenize(text, stop=stop)]
        with self._lock:
            self._continuations[text] = rest
        return rest
