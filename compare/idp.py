"""A real identity provider on 127.0.0.1: OpenID discovery and a JWKS, with every request counted.

`down = True` answers every request with 503 (an outage); the counts include those failed attempts, because
what an outage or a kid flood costs the provider is part of the comparison.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from compare.jose import SigningKey

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"


class LoopbackIdp:
    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.down = False
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        idp = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                idp._serve(self)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the counts are what matters."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="compare-idp", daemon=True)
        self._thread.start()

    @property
    def issuer(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def publish(self, *keys: SigningKey) -> None:
        with self._lock:
            self.jwks = {"keys": [key.jwk for key in keys]}

    def count(self) -> Counter[str]:
        with self._lock:
            return Counter(self.requests)

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        kind = {DISCOVERY_PATH: "discovery", JWKS_PATH: "jwks"}.get(request.path, "other")
        with self._lock:
            self.requests[kind] += 1
            down, jwks = self.down, self.jwks
        if down or kind == "other":
            request.send_error(503 if down else 404)
            return
        document = (
            {"issuer": self.issuer, "jwks_uri": self.issuer + JWKS_PATH} if kind == "discovery" else jwks
        )
        body = json.dumps(document).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
