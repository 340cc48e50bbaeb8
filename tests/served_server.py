"""A real llama.cpp server on loopback for tests: the ``xllamacpp`` wheel in a subprocess.

Run as a script it serves one GGUF (``python served_server.py MODEL PORT PARALLEL``) until
killed. ``LlamaServer`` starts that subprocess on a free port, waits for ``/health`` and
stops it; ``kill()`` ends it at once, as a crash would. ``LlamaCppPythonServer`` does the same
with llama-cpp-python's own server (``python -m llama_cpp.server``, one request at a time).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LlamaServer:
    """One llama.cpp server process serving ``model`` with ``parallel`` slots of 4096."""

    def __init__(self, model: Path, parallel: int = 2, port: int | None = None,
                 threads: int = 1) -> None:
        self.model = model
        self.parallel = parallel
        self.threads = threads
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process: subprocess.Popen[bytes] | None = None

    health_path = "/health"

    def command(self) -> list[str]:
        return [sys.executable, __file__, str(self.model), str(self.port), str(self.parallel),
                str(self.threads)]

    def start(self) -> LlamaServer:
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads)}
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{self.health_path}",
                                            timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("llama.cpp server did not start in time")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def props(self) -> dict[str, object]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/props", timeout=5) as answer:
            return dict(json.load(answer))


class LlamaCppPythonServer(LlamaServer):
    """llama-cpp-python's own server on loopback: one request at a time, ``n_ctx`` tokens."""

    health_path = "/v1/models"

    def __init__(self, model: Path, n_ctx: int = 4096, port: int | None = None,
                 options: tuple[str, ...] = ()) -> None:
        super().__init__(model, parallel=1, port=port)
        self.n_ctx = n_ctx
        self.options = options
        """More of the server's own command-line options."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model),
                "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
                "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads),
                "--verbose", "False", *self.options]


def _serve(model: str, port: int, parallel: int, threads: int) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model
    params.n_parallel = parallel
    params.n_ctx = 4096 * parallel
    params.port = port
    params.hostnames = ["127.0.0.1"]
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    server = xllamacpp.Server(params)
    assert server.listening_address
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
