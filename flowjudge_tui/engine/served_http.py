"""HTTP to an OpenAI-compatible server: retries, time-outs, SSE, errors in one sentence.

One ``ServerConnection`` is shared by every thread judging through a server (``httpx.Client``
is thread-safe). Connection errors, 429 and 5xx are retried with exponential backoff until the
server has been unreachable for ``unreachable_after`` seconds; then ``ServerUnreachableError``
names the server. Any other refusal ends in ``ServerError`` with the server's own message.

The API key (``FLOWJUDGE_API_KEY``, else ``OPENAI_API_KEY``) goes into the Authorization
header and nowhere else: no message built here contains a header.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as WaitTimeout
from dataclasses import dataclass
from typing import Any

import httpx

from flowjudge_tui.errors import ServerError, ServerUnreachableError

API_KEY_VARIABLES = ("FLOWJUDGE_API_KEY", "OPENAI_API_KEY")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 4.0
StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class ServerOptions:
    """How patient to be with a server."""

    unreachable_after: float = 60.0
    """Seconds of failed attempts in a row before giving up on the server."""
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    """Seconds to wait for the next bytes (a long prompt on a busy CPU server takes minutes)."""


class Cancelled(Exception):
    """The caller's stop check asked for the request to end."""


def api_key_from_environment() -> str | None:
    for name in API_KEY_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def normalise_base_url(url: str) -> str:
    """``http://host:8080``, ``.../v1`` or ``.../v1/`` -> ``http://host:8080/v1``."""
    base = url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ServerError(
            f"'{url}' is not a server address; give its base URL, e.g. http://127.0.0.1:8080/v1."
        )
    if "@" in base.split("://", 1)[1].split("/", 1)[0]:
        # The URL is stored with every run and printed in messages: no credentials in it.
        raise ServerError("The server URL holds credentials; put the key in FLOWJUDGE_API_KEY "
                          "(or OPENAI_API_KEY) and give the URL without them.")
    return base if base.endswith("/v1") else base + "/v1"


class ServerConnection:
    """Requests to one server. ``base_url`` ends in ``/v1``; ``root`` is the server itself."""

    def __init__(self, base_url: str, options: ServerOptions | None = None,
                 api_key: str | None = None) -> None:
        self.base_url = normalise_base_url(base_url)
        self.root = self.base_url[: -len("/v1")]
        self.options = options or ServerOptions()
        headers = {"Accept": "application/json"}
        key = api_key if api_key is not None else api_key_from_environment()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        timeout = httpx.Timeout(self.options.read_timeout, connect=self.options.connect_timeout)
        self._client = httpx.Client(headers=headers, timeout=timeout, trust_env=False,
                                    limits=httpx.Limits(max_connections=64))
        self._open: set[httpx.Response] = set()
        self._open_lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        self._closed = True
        self.abort_all()
        self._client.close()

    def abort_all(self) -> None:
        """Close every open stream (from any thread): their readers end at once."""
        with self._open_lock:
            responses = list(self._open)
        for response in responses:
            response.close()

    def get(self, path: str, should_stop: StopCheck | None = None) -> Any:
        return self._with_retries("GET", path, None, should_stop)

    def post(self, path: str, payload: dict[str, Any], should_stop: StopCheck | None = None,
             ) -> Any:
        return self._with_retries("POST", path, payload, should_stop)

    def try_get(self, path: str) -> Any | None:
        """One GET, no retries: None when the server has no such endpoint or answers badly."""
        try:
            response = self._client.get(self._url(path))
            if response.status_code != 200:
                return None
            return response.json()
        except (httpx.HTTPError, ValueError):
            return None

    def try_post(self, path: str, payload: dict[str, Any]) -> tuple[int, Any] | None:
        """One POST, no retries: the status and the JSON answer (None when it is not JSON), or
        None when the server cannot be reached (for probing what a server is)."""
        try:
            response = self._client.post(self._url(path), json=payload)
        except httpx.HTTPError:
            return None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    def _url(self, path: str) -> str:
        return self.root + path

    def _with_retries(self, method: str, path: str, payload: dict[str, Any] | None,
                      should_stop: StopCheck | None) -> Any:
        failing_since: float | None = None
        attempt = 0
        while True:
            request = self._client.build_request(method, self._url(path), json=payload)
            try:
                response = self._send(request, False, should_stop)
            except httpx.TransportError as exc:
                problem = _describe_transport(exc)
            else:
                if response.status_code < 400:
                    return self._json(response, path)
                if response.status_code not in RETRY_STATUSES:
                    raise ServerError(self._refusal(response, path))
                problem = f"HTTP {response.status_code}"
            failing_since = failing_since or time.monotonic()
            self.pause_before_retry(failing_since, attempt, problem, should_stop)
            attempt += 1

    def stream(self, path: str, payload: dict[str, Any],
               should_stop: StopCheck | None = None,
               ) -> Generator[dict[str, Any], None, None]:
        """Server-sent events of one streamed completion, retried until it starts.

        Failures once events have arrived are raised as ``ServerRetryable``: the caller decides
        whether to run the request again (it must, to keep token ids consistent).
        """
        failing_since: float | None = None
        attempt = 0
        while True:
            request = self._client.build_request("POST", self._url(path), json=payload)
            try:
                response = self._send(request, True, should_stop)
            except httpx.TransportError as exc:
                problem = _describe_transport(exc)
            else:
                if response.status_code < 400:
                    yield from self._events(response, path, should_stop)
                    return
                response.read()
                response.close()
                if response.status_code not in RETRY_STATUSES:
                    raise ServerError(self._refusal(response, path))
                problem = f"HTTP {response.status_code}"
            failing_since = failing_since or time.monotonic()
            self.pause_before_retry(failing_since, attempt, problem, should_stop)
            attempt += 1

    def _send(self, request: httpx.Request, stream: bool,
              should_stop: StopCheck | None) -> httpx.Response:
        if self._closed:
            raise Cancelled
        future = _send_in_background(self._client, request, stream)
        while True:
            try:
                return future.result(timeout=0.05)
            except WaitTimeout:
                if self._closed or (should_stop is not None and should_stop()):
                    future.add_done_callback(_close_abandoned)
                    raise Cancelled from None

    def _events(self, response: httpx.Response, path: str,
                should_stop: StopCheck | None,
                ) -> Generator[dict[str, Any], None, None]:
        with self._open_lock:
            self._open.add(response)
        try:
            for line in response.iter_lines():
                if should_stop is not None and should_stop():
                    raise Cancelled
                if not line.startswith("data:"):
                    continue
                data = line[len("data:"):].strip()
                if data == "[DONE]":
                    return
                try:
                    event = json.loads(data)
                except ValueError:
                    raise ServerError(
                        f"The server at {self.root} sent a stream event from {path} that is not "
                        "JSON; check that it is an OpenAI-compatible server."
                    ) from None
                if isinstance(event, dict) and "error" in event:
                    raise ServerError(f"The server at {self.root} stopped the completion: "
                                      f"{_error_message(event)}.")
                if isinstance(event, dict):
                    yield event
        except (httpx.TransportError, httpx.StreamError) as exc:
            if should_stop is not None and should_stop():
                raise Cancelled from None
            raise ServerRetryable(_describe_transport(exc)) from None
        finally:
            with self._open_lock:
                self._open.discard(response)
            response.close()

    def pause_before_retry(self, failing_since: float, attempt: int, problem: str,
                           should_stop: StopCheck | None) -> None:
        if self._closed:
            raise Cancelled
        waited = time.monotonic() - failing_since
        if waited >= self.options.unreachable_after:
            raise ServerUnreachableError(self.root, self.options.unreachable_after, problem)
        pause = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2**attempt,
                    max(0.0, self.options.unreachable_after - waited))
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline:
            if should_stop is not None and should_stop():
                raise Cancelled
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _json(self, response: httpx.Response, path: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ServerError(
                f"The server at {self.root} answered {path} with something that is not JSON; "
                "check that the URL points at an OpenAI-compatible server."
            ) from None

    def _refusal(self, response: httpx.Response, path: str) -> str:
        try:
            detail = _error_message(response.json())
        except ValueError:
            detail = response.text.strip()[:200] or response.reason_phrase
        if response.status_code in (401, 403):
            hint = "set FLOWJUDGE_API_KEY (or OPENAI_API_KEY) to the server's key"
        elif response.status_code == 404:
            hint = "check the URL (the base URL up to /v1) and the model name"
        else:
            hint = "check the server's settings and the model it serves"
        return (f"The server at {self.root} refused {path} with HTTP {response.status_code} "
                f"({detail}); {hint}.")


class ServerRetryable(Exception):
    """A stream broke after it started; running the request again may succeed."""


def _send_in_background(client: httpx.Client, request: httpx.Request,
                        stream: bool) -> Future[httpx.Response]:
    """Send ``request`` from a thread of its own, so that a caller waiting for the answer can
    be cancelled at once (a long prompt on a CPU server sends nothing for minutes).

    The thread is a daemon: a request abandoned by a cancel may wait for its answer until the
    read time-out, and the process must be able to exit meanwhile (a pool's worker threads
    are joined at exit, which held `flowjudge` and the test suite for up to ten minutes).
    """
    future: Future[httpx.Response] = Future()

    def send() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(client.send(request, stream=stream))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=send, name="flowjudge-http", daemon=True).start()
    return future


def _close_abandoned(future: Future[httpx.Response]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


def _error_message(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)[:300]
        return str(error)[:300]
    return str(body)[:300]


def _describe_transport(exc: httpx.TransportError | httpx.StreamError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host unreachable"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return "connection dropped"
