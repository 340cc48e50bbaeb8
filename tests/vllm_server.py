"""A loopback server that answers as vLLM's OpenAI-compatible server documents, for tests.

vLLM needs a GPU and cannot run here, so this stands in for it: only the wire format is
vLLM's; every token and log-probability comes from a real llama.cpp server behind it (the
``upstream``), sampled as vLLM samples by default (no top-k, min-p or repetition penalty).

What it reproduces: ``/v1/models`` entries with ``owned_by: vllm`` and ``max_model_len``; no
``/props``; ``/tokenize`` answering ``count``, ``max_model_len`` and ``tokens`` (special tokens
always parsed, BOS when ``add_special_tokens``); ``/v1/completions`` (token-id prompts,
streamed or not) with log-probs in OpenAI's legacy format: ``tokens``, ``token_logprobs``,
``top_logprobs`` (a dict per position holding the top k and the sampled token),
``text_offset``, tokens named ``token_id:N`` when ``return_tokens_as_token_ids`` is asked (or
by their text: ``ids=False`` plays a vLLM too old to know that switch); ``logprobs`` above
``max_logprobs`` refused with HTTP 400 in vLLM's error shape.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MODEL = "flowaicom/Flow-Judge-v0.1-AWQ"


class VllmLikeServer:
    def __init__(self, upstream: str, max_model_len: int = 4096, max_logprobs: int = 20,
                 ids: bool = True) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.max_model_len = max_model_len
        self.max_logprobs = max_logprobs
        self.ids = ids
        self.requests: list[tuple[str, dict[str, Any]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                server._get(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server._post(self, json.loads(self.rfile.read(length) or b"{}"))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> VllmLikeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # vLLM's endpoints ---------------------------------------------------------------------

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path != "/v1/models":
            _reply(handler, 404, {"detail": "Not Found"})
            return
        _reply(handler, 200, {"object": "list", "data": [{
            "id": MODEL, "object": "model", "created": 1733011200, "owned_by": "vllm",
            "root": MODEL, "parent": None, "max_model_len": self.max_model_len,
            "permission": [{"id": "modelperm-0", "object": "model_permission",
                            "allow_sampling": True, "allow_logprobs": True}]}]})

    def _post(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        self.requests.append((handler.path, body))
        if handler.path == "/tokenize":
            answer = _upstream_json(self.upstream, "/tokenize", {
                "content": body.get("prompt", ""), "parse_special": True,
                "add_special": bool(body.get("add_special_tokens", True))})
            tokens = [t if isinstance(t, int) else t["id"] for t in answer["tokens"]]
            _reply(handler, 200, {"count": len(tokens), "max_model_len": self.max_model_len,
                                  "tokens": tokens, "token_strs": None})
        elif handler.path == "/v1/completions":
            self._completions(handler, body)
        else:
            _reply(handler, 404, {"detail": "Not Found"})

    def _completions(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        if body.get("model") != MODEL:
            _reply(handler, 404, _error(f"The model `{body.get('model')}` does not exist.",
                                        "NotFoundError", 404))
            return
        k = body.get("logprobs")
        if k is not None and k > self.max_logprobs:
            _reply(handler, 400, _error(
                f"Requested sample logprobs of {k}, which is greater than max allowed: "
                f"{self.max_logprobs}", "BadRequestError", 400))
            return
        ids = self.ids and bool(body.get("return_tokens_as_token_ids"))
        upstream = {key: body[key] for key in ("prompt", "max_tokens", "temperature", "top_p",
                                               "seed", "stream") if key in body}
        upstream.update(top_k=0, min_p=0.0, repeat_penalty=1.0, cache_prompt=True)
        if k is not None:
            upstream.update(logprobs=k, n_probs=k)
        if body.get("stream"):
            _start_stream(handler)
            offset = 0
            for event in _upstream_events(self.upstream, upstream):
                chunk, offset = _vllm_chunk(event, k, ids, offset)
                _send_event(handler, chunk)
            _send_event(handler, "[DONE]")
            return
        answer = _upstream_json(self.upstream, "/v1/completions", upstream)
        chunk, _ = _vllm_chunk(answer, k, ids, 0)
        chunk["usage"] = {"prompt_tokens": len(body.get("prompt") or []),
                          "completion_tokens": len(chunk["choices"][0]["logprobs"]["tokens"])
                          if k is not None else 0, "prompt_tokens_details": None}
        _reply(handler, 200, chunk)


def _vllm_chunk(event: dict[str, Any], k: int | None, ids: bool,
                offset: int) -> tuple[dict[str, Any], int]:
    """A llama.cpp completion (or stream event) in vLLM's legacy completions format."""
    choice = event["choices"][0]
    logprobs = None
    if k is not None:
        content = (choice.get("logprobs") or {}).get("content") or []

        def name(entry: dict[str, Any]) -> str:
            return f"token_id:{entry['id']}" if ids else str(entry["token"])

        logprobs = {"text_offset": [], "token_logprobs": [], "tokens": [], "top_logprobs": []}
        for entry in content:
            logprobs["text_offset"].append(offset)
            offset += len(entry["token"])
            logprobs["tokens"].append(name(entry))
            logprobs["token_logprobs"].append(max(entry["logprob"], -9999.0))
            top = {name(entry): max(entry["logprob"], -9999.0)}  # the sampled token first
            top.update({name(t): max(t["logprob"], -9999.0)
                        for t in entry.get("top_logprobs", [])[:k]})
            logprobs["top_logprobs"].append(top)
    finish = choice.get("finish_reason")
    return {"id": "cmpl-vllm", "object": "text_completion", "created": 1733011200,
            "model": MODEL, "choices": [{
                "index": 0, "text": choice.get("text", ""), "logprobs": logprobs,
                "finish_reason": finish, "stop_reason": None}]}, offset


def _error(message: str, kind: str, code: int) -> dict[str, Any]:
    return {"object": "error", "message": message, "type": kind, "param": None, "code": code}


def _upstream_json(upstream: tuple[str, int], path: str, body: dict[str, Any]) -> Any:
    connection = http.client.HTTPConnection(*upstream, timeout=60)
    try:
        connection.request("POST", path, body=json.dumps(body),
                           headers={"Content-Type": "application/json"})
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def _upstream_events(upstream: tuple[str, int], body: dict[str, Any]) -> Iterator[Any]:
    connection = http.client.HTTPConnection(*upstream, timeout=60)
    try:
        connection.request("POST", "/v1/completions", body=json.dumps(body),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        for raw in response:
            line = raw.decode().strip()
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                yield json.loads(line[5:])
    finally:
        connection.close()


def _start_stream(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()


def _send_event(handler: BaseHTTPRequestHandler, event: Any) -> None:
    data = event if isinstance(event, str) else json.dumps(event)
    try:
        handler.wfile.write(f"data: {data}\n\n".encode())
        handler.wfile.flush()
    except OSError:
        pass


def _reply(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except OSError:
        pass
