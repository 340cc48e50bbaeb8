"""A loopback proxy in front of a real server that misbehaves on request, for error tests.

Every request is forwarded to ``upstream`` unless a rule for its path says otherwise; rules
are used up in order (``status`` answers with a code, ``garbage`` with non-JSON, ``sleep``
waits before forwarding, ``no_logprobs`` forwards and removes the log-probabilities).
The proxy records the headers it saw, so tests can check what a client sent.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Rule = tuple[str, Any]


class MisbehavingProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: dict[str, deque[Rule]] = defaultdict(deque)
        self.seen_headers: list[dict[str, str]] = []
        self.always: dict[str, Rule] = {}
        self.sleeping = 0
        """Requests held by a ``sleep`` rule right now."""
        self._count = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                proxy._handle(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                proxy._handle(self, self.rfile.read(length))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> MisbehavingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, path: str, *rules: Rule) -> None:
        self.rules[path].extend(rules)

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        self.seen_headers.append(dict(handler.headers.items()))
        path = handler.path
        queue = self.rules.get(path)
        rule = queue.popleft() if queue else self.always.get(path, ("forward", None))
        kind, value = rule
        if kind == "status":
            self._reply(handler, value, json.dumps({"error": {"message": f"busy {value}"}})
                        .encode())
            return
        if kind == "garbage":
            self._reply(handler, 200, b"<html>not json</html>")
            return
        if kind == "sleep":
            with self._count:
                self.sleeping += 1
            time.sleep(value)
            with self._count:
                self.sleeping -= 1
        try:
            status, payload = self._forward(handler.command, path, body)
        except OSError:
            status, payload = 502, b'{"error": {"message": "upstream gone"}}'

        if kind == "no_logprobs" and status == 200:
            answer = json.loads(payload)
            for choice in answer.get("choices", []):
                choice["logprobs"] = None
            payload = json.dumps(answer).encode()
        self._reply(handler, status, payload)

    def _forward(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            connection.request(method, path, body=body or None,
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, payload: bytes) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            pass
