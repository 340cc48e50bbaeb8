"""Reading a server's top log-probabilities: token ids, bytes, and the score distribution.

Servers give the top k log-probabilities of one position, not the whole vocabulary. Both
llama.cpp's server and vLLM return raw log-probabilities (log-softmax of the logits over the
full vocabulary), so the softmax of those values over the rubric's score tokens equals the
softmax of the logits that in-process judging uses, and their summed probability is the same
``score_mass``.

A score token outside the top k: its probability is at most the smallest one shown and at
most the mass the top k leave over. It is given the smaller of the two, shared evenly between
the missing scores, so it is never ranked above a score that was shown; ``score_mass`` then
says how much mass the scores held. With llama.cpp's server (it takes any k) the engine asks
again for the top 1000, then for the whole vocabulary, so the estimate is never used there;
with capped servers (vLLM's ``--max-logprobs``, 20 by default) it applies to a score outside
the top 20.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowjudge_tui.errors import ServerError

TOKEN_ID_PREFIX = "token_id:"


@dataclass(frozen=True)
class TopToken:
    token: int
    logprob: float
    piece: bytes


def _as_bytes(value: Any, fallback: str) -> bytes:
    if isinstance(value, list) and all(isinstance(b, int) for b in value):
        return bytes(value)
    return fallback.encode("utf-8")


def _token_id(entry: Mapping[str, Any], key: str = "token") -> int | None:
    if isinstance(entry.get("id"), int):
        return int(entry["id"])
    text = entry.get(key)
    if isinstance(text, str) and text.startswith(TOKEN_ID_PREFIX):
        try:
            return int(text[len(TOKEN_ID_PREFIX):])
        except ValueError:
            return None
    return None


def generated_tokens(choice: Mapping[str, Any]) -> list[tuple[int, bytes]]:
    """(id, bytes) of each token in one streamed choice.

    llama.cpp's server gives ``logprobs.content[i].id`` and ``.bytes``; vLLM (with
    ``return_tokens_as_token_ids``) gives ``logprobs.tokens[i] = "token_id:N"`` and the text
    only for the whole chunk, which is given to the chunk's last token.
    """
    logprobs = choice.get("logprobs")
    text = choice.get("text") or ""
    if not isinstance(logprobs, dict):
        return []
    content = logprobs.get("content")
    if isinstance(content, list):
        found = []
        for entry in content:
            token = _token_id(entry) if isinstance(entry, dict) else None
            if token is None:
                return _missing_ids()
            found.append((token, _as_bytes(entry.get("bytes"), str(entry.get("token", "")))))
        return found
    tokens = logprobs.get("tokens")
    if isinstance(tokens, list):
        ids = [_token_id({"token": t}) for t in tokens]
        if any(i is None for i in ids):
            return _missing_ids()
        pieces = [b""] * len(ids)
        if pieces:
            pieces[-1] = text.encode("utf-8")
        return [(int(i), p) for i, p in zip(ids, pieces, strict=True) if i is not None]
    return []


def _missing_ids() -> list[tuple[int, bytes]]:
    raise ServerError(
        "The server returns log-probabilities without token ids; use llama.cpp's server, or "
        "vLLM (which gives ids when asked with return_tokens_as_token_ids)."
    )


def top_logprobs(choice: Mapping[str, Any]) -> list[TopToken]:
    """The top-k alternatives of the first generated position, best first."""
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        return []
    content = logprobs.get("content")
    if isinstance(content, list) and content and isinstance(content[0], dict):
        entries = content[0].get("top_logprobs") or []
        found = []
        for entry in entries:
            token = _token_id(entry)
            if token is None or not isinstance(entry.get("logprob"), int | float):
                continue
            found.append(TopToken(token, float(entry["logprob"]),
                                  _as_bytes(entry.get("bytes"), str(entry.get("token", "")))))
        return sorted(found, key=lambda t: -t.logprob)
    legacy = logprobs.get("top_logprobs")
    if isinstance(legacy, list) and legacy and isinstance(legacy[0], dict):
        found = []
        for key, value in legacy[0].items():
            token = _token_id({"token": key})
            if token is not None and isinstance(value, int | float):
                found.append(TopToken(token, float(value), b""))
        return sorted(found, key=lambda t: -t.logprob)
    return []


def missing_scores(top: list[TopToken], tokens: Mapping[int, int]) -> list[int]:
    shown = {t.token for t in top}
    return [score for score, token in tokens.items() if token not in shown]


def score_distribution(
    top: list[TopToken], tokens: Mapping[int, int]
) -> tuple[dict[int, float], float]:
    """Softmax of the raw log-probs over the score tokens, and the mass they hold."""
    shown = {t.token: t.logprob for t in top}
    missing = missing_scores(top, tokens)
    logprobs = {s: shown[t] for s, t in tokens.items() if t in shown}
    if missing:
        floor = math.exp(min(shown.values())) if shown else 0.0
        left = max(0.0, 1.0 - sum(math.exp(v) for v in shown.values()))
        estimate = min(floor, left / len(missing))
        for score in missing:
            logprobs[score] = math.log(estimate) if estimate > 0 else -math.inf
    finite = [v for v in logprobs.values() if v > -math.inf]
    if not finite:
        even = 1.0 / len(tokens)
        return {s: even for s in tokens}, 0.0
    top_value = max(finite)
    weights = {s: math.exp(v - top_value) if v > -math.inf else 0.0 for s, v in logprobs.items()}
    total = sum(weights.values())
    mass = min(1.0, math.exp(top_value) * total)
    return {s: weights[s] / total for s in tokens}, mass


def probability_of(top: list[TopToken], token: int) -> float:
    for entry in top:
        if entry.token == token:
            return math.exp(entry.logprob)
    return 0.0
