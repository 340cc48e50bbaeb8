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

llama-cpp-python's server tokenizes through ``/extras/tokenize``, always with special-token
parsing and its BOS first (``bos``, which is taken off again when not asked for); it takes
text prompts only, so ``prompt_text`` gives what it is sent (see ``served_text``).
"""

from __future__ import annotations

import threading
from typing import Any

from flowjudge_tui.engine.chat import ChatWrapper
from flowjudge_tui.engine.served_http import ServerConnection, StopCheck
from flowjudge_tui.engine.served_text import DETOKENIZE_PATH, TOKENIZE_PATH, refuse_control_text
from flowjudge_tui.errors import ServerError


def tokenize_payload(model: str | None, text: str, special: bool, add_bos: bool,
                     ) -> dict[str, Any]:
    """A ``/tokenize`` body both llama.cpp's server and vLLM understand."""
    return {"model": model, "content": text, "prompt": text,
            "add_special": add_bos, "add_special_tokens": add_bos,
            "parse_special": special, "with_pieces": True}


class ServerTokenizer:
    """Tokenizes through one server; continuation tokens are cached (thread-safe)."""

    def __init__(self, connection: ServerConnection, chat: ChatWrapper, model: str,
                 text_bos: tuple[int, ...] | None = None) -> None:
        self.connection = connection
        self.chat = chat
        self.model = model
        self.text_bos = text_bos
        """llama-cpp-python's server: what it puts first; None for the others."""
        self._lock = threading.Lock()
        self._continuations: dict[str, list[int]] = {}
        self._space_after_prompt: bool | None = None

    def tokenize(self, text: str, special: bool = False, add_bos: bool = False,
                 stop: StopCheck | None = None) -> list[tuple[int, bytes | None]]:
        """Token ids (and their bytes when the server says) of ``text``."""
        if not text and not add_bos:
            return []
        if self.text_bos is not None:
            return [(token, None) for token in self._extras_tokens(text, add_bos, stop)]
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

    def _extras_tokens(self, text: str, add_bos: bool, stop: StopCheck | None) -> list[int]:
        answer = self.connection.post(TOKENIZE_PATH, {"model": self.model, "input": text}, stop)
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            raise ServerError(f"The server at {self.connection.root} answered {TOKENIZE_PATH} "
                              "without tokens; is it llama-cpp-python's server?")
        bos = list(self.text_bos or ())
        if not add_bos and bos and tokens[: len(bos)] == bos:
            tokens = tokens[len(bos):]
        return [int(t) for t in tokens]

    def prompt_text(self, prompt: str, stop: StopCheck | None = None) -> tuple[str, list[int]]:
        """For llama-cpp-python's server: the text to send, and the ids it makes of it.

        Its BOS comes from the server, not from the template; an item it would read as
        control tokens is refused (``ItemError``).
        """
        text = self.chat.render(prompt)
        if self.text_bos and self.chat.starts_with_bos(text):
            text = text[len(self.chat.bos_token):]
        plain = self._extras_tokens(prompt, False, stop)
        answer = self.connection.post(DETOKENIZE_PATH, {"model": self.model, "tokens": plain},
                                      stop)
        round_trip = answer.get("text") if isinstance(answer, dict) else None
        refuse_control_text(prompt, str(round_trip))
        return text, self._extras_tokens(text, True, stop)

    def text_after(self, prompt_text: str, prompt_ids: list[int], written: str,
                   stop: StopCheck | None = None) -> str:
        """``written`` (what the model wrote after the prompt) as it is sent back after the
        prompt's text, so that the server's tokens of both continue the prompt's ids as the
        model's did.

        A SentencePiece vocabulary puts a space before text that follows a special token (the
        template ends with one); a model that wrote a token starting with a space there wrote
        that space, so it is not sent twice. (A first token without a space cannot be sent as
        text: the server reads it with one; the documented cost of text prompts.)
        """
        if not written.startswith(" "):
            return written
        if self._space_after_prompt is None:
            ids = self._extras_tokens(prompt_text + "x", True, stop)[len(prompt_ids):]
            answer = self.connection.post(DETOKENIZE_PATH, {"model": self.model, "tokens": ids},
                                          stop)
            self._space_after_prompt = isinstance(answer, dict) and answer.get("text") == " x"
        return written[1:] if self._space_after_prompt else written

    def chat_tokens(self, prompt: str, stop: StopCheck | None = None) -> list[int]:
        """The prompt in the chat template, as ids: markers special, the prompt plain text."""
        if self.text_bos is not None:
            return self.prompt_text(prompt, stop)[1]
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
