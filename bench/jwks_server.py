"""A real JWKS endpoint on 127.0.0.1 that counts what it serves.

Each contender gets its own path (``/<name>/jwks.json``) so the flood can count the requests each one causes,
at the server, rather than trusting what a library says it did.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class _JwksHandler(BaseHTTPRequestHandler):
    server: _CountingServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if not self.path.endswith("/jwks.json"):
            self.send_error(404)
            return
        with self.server.lock:
            self.server.requests[self.path] += 1
            self.server.last_request[self.path] = time.monotonic()
        body = self.server.document
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=600")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silenced: the bench reads counts, not access logs."""


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, document: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _JwksHandler)
        self.document = document
        self.requests: Counter[str] = Counter()
        self.last_request: dict[str, float] = {}
        self.lock = threading.Lock()


class JwksServer:
    """Context manager: serves ``document`` at any ``/<name>/jwks.json`` until exit."""

    def __init__(self, document: bytes) -> None:
        self._server = _CountingServer(document)
        self._thread = threading.Thread(target=self._server.serve_forever, name="jwks-server", daemon=True)

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def uri(self, name: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{name}/jwks.json"

    def count(self, name: str) -> int:
        with self._server.lock:
            return self._server.requests[f"/{name}/jwks.json"]

    def last_request(self, name: str) -> float | None:
        """``time.monotonic()`` when ``name``'s key set was last served, or None if never."""
        with self._server.lock:
            return self._server.last_request.get(f"/{name}/jwks.json")
