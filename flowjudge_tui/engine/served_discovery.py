"""What a server says about itself: the model, its context, its chat template, its kind.

Read once when a ``ServedEngine`` connects: ``/v1/models`` (the model names; vLLM's
``max_model_len``; llama.cpp's vocabulary size), llama.cpp's ``/props`` (context per slot,
slots, chat template, BOS/EOS text), llama-cpp-python's ``/extras/tokenize`` (that server
takes text prompts only; see ``served_text``), and vLLM's ``/tokenize`` (``max_model_len``) as
a last resort.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowjudge_tui.engine.chat import ChatWrapper
from flowjudge_tui.engine.served_http import ServerConnection
from flowjudge_tui.engine.served_text import probe_context, text_server_bos
from flowjudge_tui.engine.served_tokens import tokenize_payload
from flowjudge_tui.errors import ServerError

PHI3_VOCAB_SIZE = 32064
_PHI3_MARKERS = ("<|user|>", "<|assistant|>", "<|end|>")
# What llama.cpp's server reports for a GGUF without a chat template (its ChatML fallback).
# In-process judging wraps such a model in Flow-Judge's Phi-3 prompt; so does this engine.
LLAMA_CPP_FALLBACK_TEMPLATE = (
    "{%- for message in messages -%}\n"
    "  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "  {{- '<|im_start|>assistant\n' -}}\n"
    "{%- endif -%}"
)


@dataclass(frozen=True)
class ServerFacts:
    model: str
    n_ctx: int
    """Tokens one request may hold (llama.cpp: per slot)."""
    n_vocab: int
    """0 when the server does not say."""
    is_llama_cpp: bool
    chat: ChatWrapper
    text_prompts: bool = False
    """llama-cpp-python's server: text prompts, text-keyed log-probs (see ``served_text``)."""
    bos: tuple[int, ...] = ()
    """What such a server puts before every prompt it tokenizes."""
    slots: int = 0
    """Requests the server decodes at once (llama.cpp's ``--parallel``); 0 when unknown."""
    owned_by: str = ""
    """The model entry's ``owned_by`` (vLLM says ``vllm``)."""

    @property
    def kind(self) -> str:
        if self.is_llama_cpp:
            return "llama.cpp server"
        if self.text_prompts:
            return "llama-cpp-python server"
        if self.owned_by == "vllm":
            return "vLLM server"
        return "OpenAI-compatible server"


def discover(connection: ServerConnection, model: str | None) -> ServerFacts:
    """The facts of ``model`` on the server (its only model when None)."""
    listing = connection.get("/v1/models")
    entries = listing.get("data") if isinstance(listing, dict) else None
    ids = [str(e.get("id")) for e in entries or [] if isinstance(e, dict) and e.get("id")]
    if model is None:
        if len(ids) != 1:
            names = ", ".join(ids) or "none"
            raise ServerError(
                f"The server at {connection.root} serves {len(ids)} models ({names}); "
                "choose one with --server-model NAME."
            )
        model = ids[0]
    elif ids and model not in ids:
        raise ServerError(
            f"The server at {connection.root} does not serve '{model}' "
            f"(it serves {', '.join(ids)}); check --server-model."
        )
    entry: dict[str, Any] = next(
        (e for e in entries or [] if isinstance(e, dict) and e.get("id") == model), {})
    props = connection.try_get("/props")
    is_llama_cpp = isinstance(props, dict) and "default_generation_settings" in props
    meta = entry.get("meta") or {}
    n_vocab = int(meta.get("n_vocab") or 0)
    n_ctx = 0
    template: str | None = None
    bos = eos = ""
    if isinstance(props, dict):
        settings = props.get("default_generation_settings") or {}
        n_ctx = int(settings.get("n_ctx") or 0)
        template = props.get("chat_template") or None
        if template == LLAMA_CPP_FALLBACK_TEMPLATE:
            template = None
        bos, eos = str(props.get("bos_token") or ""), str(props.get("eos_token") or "")
    n_ctx = n_ctx or int(entry.get("max_model_len") or 0)
    slots = int(props.get("total_slots") or 0) if isinstance(props, dict) else 0
    text_bos = None if is_llama_cpp or n_ctx else text_server_bos(connection, model)
    if text_bos is not None:
        n_ctx, slots = probe_context(connection, model), 1
    if not n_ctx:
        answer = connection.post("/tokenize", tokenize_payload(model, "", False, False))
        n_ctx = int(answer.get("max_model_len") or 0) if isinstance(answer, dict) else 0
    if n_ctx <= 0:
        raise ServerError(
            f"The server at {connection.root} does not say its context size; "
            "serve with llama.cpp's server, vLLM or llama-cpp-python's server."
        )
    # Phi-3's whitespace strip after its markers applies to Phi-3 models only: a template
    # with Phi-3's markers, or no template and Phi-3's vocabulary size (or none reported).
    if template is None:
        phi3 = n_vocab in (0, PHI3_VOCAB_SIZE)
    else:
        phi3 = all(marker in template for marker in _PHI3_MARKERS)
    chat = ChatWrapper(template=template, architecture="phi3" if phi3 else "",
                       bos_token=bos, eos_token=eos)
    return ServerFacts(model, n_ctx, n_vocab, is_llama_cpp, chat, text_prompts=text_bos is not None,
                       bos=tuple(text_bos or ()), slots=slots,
                       owned_by=str(entry.get("owned_by") or ""))
