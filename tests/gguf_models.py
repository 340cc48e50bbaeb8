"""Write real GGUF files of Flow-Judge's architecture (``phi3``) for tests and benchmarks.

Two kinds of weights:

* ``scripted``: a one-token-memory model whose next token depends only on the current one
  (attention and MLP outputs are zero, so the residual stream is the token's embedding, a
  one-hot vector). It always answers ``<feedback> The response is supported.</feedback><score>``
  and then draws the score from known logits, so tests can check the engine's score
  distribution against an exact softmax. It runs in real llama.cpp like any other model.
* ``random``: random weights, which write junk and never close their feedback: the engine's
  guarantees (a valid score whatever the model writes) are tested on these.
* ``nan``: random weights with a NaN in the final norm, as a damaged file has: every logit is
  NaN, and no verdict may come of it.

The vocabulary is Phi-3's layout (SentencePiece with byte fallback, 32064 tokens, special
tokens at 32000-32010) and the Phi-3 chat template is embedded, as in Flow-Judge's GGUF.
"""

from __future__ import annotations

import itertools
import math
import os
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PHI3_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' and message['content'] %}"
    "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'user' %}"
    "{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)

VOCAB_SIZE = 32064
SPECIAL_TOKENS = {
    32000: "<|endoftext|>",
    32001: "<|assistant|>",
    32002: "<|placeholder1|>",
    32003: "<|placeholder2|>",
    32004: "<|placeholder3|>",
    32005: "<|placeholder4|>",
    32006: "<|system|>",
    32007: "<|end|>",
    32008: "<|placeholder5|>",
    32009: "<|placeholder6|>",
    32010: "<|user|>",
}
MARKERS = ["<feedback>", "</feedback>", "<score>", "</score>"]
FEEDBACK_WORDS = ["\u2581The", "\u2581response", "\u2581is", "\u2581supported"]

# The logits the scripted model gives each digit after "<score>" (all other tokens: -20).
SCRIPTED_SCORE_LOGITS = {0: 1.0, 1: 2.0, 2: 0.5, 3: 1.5, 4: 3.0, 5: 2.5, 6: -1.0, 7: -2.0}
SCRIPTED_FEEDBACK = "The response is supported."

TOKEN_NORMAL, TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_UNUSED, TOKEN_BYTE = 1, 2, 3, 5, 6

# llama.cpp's vocab-only GGUF of Phi-3 (Flow-Judge's tokenizer), in shared/ beside the checkout.
PHI3_VOCAB_ENV = "FLOWJUDGE_PHI3_VOCAB"
PHI3_VOCAB_NAME = "ggml-vocab-phi-3.gguf"
# The tokenizer keys copied from it (the chat template too: it is Phi-3's own).
_TOKENIZER_KEYS = (
    "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
    "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token",
    "tokenizer.ggml.add_eos_token", "tokenizer.chat_template",
)


def phi3_vocab_path() -> Path | None:
    """The real Phi-3 vocabulary: ``$FLOWJUDGE_PHI3_VOCAB``, else ``../shared/data/`` beside
    the checkout; None when it is not there."""
    override = os.environ.get(PHI3_VOCAB_ENV)
    path = Path(override) if override else (
        Path(__file__).resolve().parent.parent.parent / "shared" / "data" / PHI3_VOCAB_NAME)
    return path if path.is_file() else None


PHI3_VOCAB_MISSING = (
    f"the real Phi-3 vocabulary ({PHI3_VOCAB_NAME}) is not in ../shared/data beside the "
    f"checkout; set {PHI3_VOCAB_ENV} to its path (it ships in the llama-cpp-python sdist at "
    "vendor/llama.cpp/models/)"
)


def _copy_tokenizer(writer: object, vocab_path: Path) -> None:
    """Copy the tokenizer keys of a vocab-only GGUF into ``writer`` (a ``gguf.GGUFWriter``)."""
    import gguf

    reader = gguf.GGUFReader(str(vocab_path))
    assert isinstance(writer, gguf.GGUFWriter)
    for key in _TOKENIZER_KEYS:
        field = reader.get_field(key)
        if field is None:
            continue
        kind = field.types[0]
        if kind == gguf.GGUFValueType.ARRAY:
            item_type = field.types[-1]
            if item_type == gguf.GGUFValueType.STRING:
                values: list[object] = [bytes(field.parts[i]).decode("utf-8")
                                        for i in field.data]
            else:
                values = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_key_value(key, values, kind, sub_type=item_type)
        elif kind == gguf.GGUFValueType.STRING:
            writer.add_key_value(key, bytes(field.parts[field.data[0]]).decode("utf-8"), kind)
        else:
            writer.add_key_value(key, field.parts[field.data[0]].tolist()[0], kind)


@dataclass(frozen=True)
class Phi3Shape:
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 4
    n_head_kv: int = 4
    n_ff: int = 64
    n_ctx_train: int = 4096

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


TINY = Phi3Shape()
# Phi-3.5-mini, the shape of Flow-Judge-v0.1.
FLOW_JUDGE = Phi3Shape(n_layer=32, n_embd=3072, n_head=32, n_head_kv=32, n_ff=8192)


def phi3_vocab() -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types in Phi-3's layout."""
    tokens: list[str] = ["<unk>", "<s>", "</s>"]
    scores: list[float] = [0.0, 0.0, 0.0]
    types = [TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_CONTROL]
    for byte in range(256):
        tokens.append(f"<0x{byte:02X}>")
        scores.append(0.0)
        types.append(TOKEN_BYTE)

    pieces: dict[str, float] = {}

    def add(piece: str, score: float) -> None:
        if piece not in pieces and len(tokens) + len(pieces) < 32000:
            pieces[piece] = score

    # Merge chains so that each marker and word becomes a single token.
    for word in [*MARKERS, *FEEDBACK_WORDS]:
        for end in range(2, len(word) + 1):
            add(word[:end], 1000.0 + end)
    add("\u2581", 500.0)
    for ch in string.printable.strip():
        add(ch, 400.0)
    for ch in string.ascii_letters:
        add("\u2581" + ch, 300.0)
    filler = itertools.chain(
        ("".join(p) for p in itertools.product(string.ascii_lowercase, repeat=2)),
        ("\u2581" + "".join(p) for p in itertools.product(string.ascii_lowercase, repeat=2)),
        ("".join(p) for p in itertools.product(string.ascii_lowercase, repeat=3)),
        ("\u2581" + "".join(p) for p in itertools.product(string.ascii_lowercase, repeat=3)),
    )
    for index, piece in enumerate(filler):
        add(piece, -float(index))
        if len(tokens) + len(pieces) >= 32000:
            break
    for piece, score in pieces.items():
        tokens.append(piece)
        scores.append(score)
        types.append(TOKEN_NORMAL)
    assert len(tokens) == 32000, len(tokens)
    for token_id in range(32000, VOCAB_SIZE):
        tokens.append(SPECIAL_TOKENS.get(token_id, f"<|placeholder{token_id - 32004}|>"))
        scores.append(0.0)
        types.append(TOKEN_CONTROL if token_id in SPECIAL_TOKENS else TOKEN_UNUSED)
    return tokens, scores, types


def _scripted_weights(shape: Phi3Shape, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Embedding and output matrices of the one-token-memory model (see module docstring)."""
    index = {t: i for i, t in enumerate(tokens)}
    assistant = 32001
    chain = [assistant, index["<feedback>"], *(index[w] for w in FEEDBACK_WORDS), index["."]]
    chain += [index["</feedback>"], index["<score>"]]
    digits = [index[str(d)] for d in range(10)]
    slots: dict[int, int] = {token: slot for slot, token in enumerate(chain + digits, start=1)}
    assert len(slots) < shape.n_embd

    embedding = np.zeros((VOCAB_SIZE, shape.n_embd), dtype=np.float32)
    for token in range(VOCAB_SIZE):
        embedding[token, slots.get(token, 0)] = 1.0
    # RMS norm turns a one-hot embedding into sqrt(n_embd) at its slot.
    scale = 1.0 / math.sqrt(shape.n_embd)
    output = np.full((VOCAB_SIZE, shape.n_embd), -20.0 * scale, dtype=np.float32)

    def predict(current: int, logits: dict[int, float]) -> None:
        slot = slots.get(current, 0)
        for token, logit in logits.items():
            output[token, slot] = logit * scale

    predict(-1, {32007: 20.0})  # anything unscripted: end the turn
    for current, following in itertools.pairwise(chain):
        predict(current, {following: 20.0})
    predict(index["<score>"], {digits[d]: v for d, v in SCRIPTED_SCORE_LOGITS.items()})
    for digit in digits:
        predict(digit, {index["</score>"]: 20.0})
    return embedding, output


def write_phi3_gguf(path: Path, shape: Phi3Shape = TINY, weights: str = "scripted",
                    seed: int = 0, dtype: type = np.float32,
                    vocab_from: Path | None = None) -> Path:
    """Write a ``phi3`` GGUF to ``path`` and return it.

    ``vocab_from`` (a vocab-only GGUF such as ``phi3_vocab_path()``) replaces the test
    vocabulary with that file's tokenizer, so token counts are the real model's. Random weights
    only: the scripted weights are wired to the test vocabulary's token ids.
    """
    import gguf

    if vocab_from is not None and weights == "scripted":
        raise ValueError("the scripted weights need the test vocabulary; use weights='random'")
    tokens, scores, types = phi3_vocab()
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "phi3")
    writer.add_name(f"flowjudge-test-phi3-{weights}")
    writer.add_context_length(shape.n_ctx_train)
    writer.add_embedding_length(shape.n_embd)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_block_count(shape.n_layer)
    writer.add_head_count(shape.n_head)
    writer.add_head_count_kv(shape.n_head_kv)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(shape.head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_file_type(0 if dtype == np.float32 else 1)
    if vocab_from is not None:
        _copy_tokenizer(writer, vocab_from)
    else:
        writer.add_tokenizer_model("llama")
        writer.add_tokenizer_pre("default")
        writer.add_token_list(tokens)
        writer.add_token_scores(scores)
        writer.add_token_types(types)
        writer.add_bos_token_id(1)
        writer.add_eos_token_id(32000)
        writer.add_unk_token_id(0)
        writer.add_pad_token_id(32000)
        writer.add_add_bos_token(True)
        writer.add_add_eos_token(False)
        writer.add_chat_template(PHI3_CHAT_TEMPLATE)

    def randn(*dims: int, std: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(dims, dtype=np.float32) * std).astype(dtype)

    n_embd, n_ff = shape.n_embd, shape.n_ff
    n_qkv = n_embd + 2 * shape.n_head_kv * shape.head_dim
    scripted = weights == "scripted"
    if scripted:
        embedding, output = _scripted_weights(shape, tokens)
        embedding, output = embedding.astype(dtype), output.astype(dtype)
    else:
        embedding, output = randn(VOCAB_SIZE, n_embd), randn(VOCAB_SIZE, n_embd)
    writer.add_tensor("token_embd.weight", embedding)
    output_norm = np.ones(n_embd, dtype=np.float32)
    if weights == "nan":
        output_norm[0] = np.nan
    writer.add_tensor("output_norm.weight", output_norm)
    writer.add_tensor("output.weight", output)
    for layer in range(shape.n_layer):
        blk = f"blk.{layer}"
        writer.add_tensor(f"{blk}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"{blk}.attn_qkv.weight", randn(n_qkv, n_embd))
        out_proj = np.zeros((n_embd, n_embd), dtype=dtype) if scripted else randn(n_embd, n_embd)
        writer.add_tensor(f"{blk}.attn_output.weight", out_proj)
        writer.add_tensor(f"{blk}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"{blk}.ffn_up.weight", randn(2 * n_ff, n_embd))
        down = np.zeros((n_embd, n_ff), dtype=dtype) if scripted else randn(n_embd, n_ff)
        writer.add_tensor(f"{blk}.ffn_down.weight", down)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def scripted_probabilities(scores: list[int]) -> dict[int, float]:
    """The exact score distribution the scripted model gives over ``scores``."""
    logits = {s: SCRIPTED_SCORE_LOGITS.get(s, -20.0) for s in scores}
    top = max(logits.values())
    weights = {s: math.exp(v - top) for s, v in logits.items()}
    total = sum(weights.values())
    return {s: w / total for s, w in weights.items()}
