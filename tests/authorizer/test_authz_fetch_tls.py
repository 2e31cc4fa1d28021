"""gate/fetch.py over real TLS: a loopback HTTPS server with a certificate from the development CA
(local/tls.py), trusted through SSL_CERT_FILE as a custom CA bundle would be on Lambda.

The fetch hands the host to the resolver and to TLS as ASCII bytes (no "idna" codec on the cold path):
these tests show that the certificate is still checked against the name, and that a cold fetch over https
loads neither encodings.idna nor unicodedata.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.tls import DevelopmentCa

AUTHORIZER_ROOT = Path(__file__).resolve().parents[2] / "lambda_src" / "authorizer"
DOCUMENT: dict[str, list[object]] = {"keys": []}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(DOCUMENT).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read the outcome, not the server's log."""


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentCa:
    return DevelopmentCa(tmp_path_factory.mktemp("tls"))


@contextlib.contextmanager
def serving(ca: DevelopmentCa, address: str) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer((address, 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    files = ca.server()
    context.load_cert_chain(files.cert, files.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def https_port(ca: DevelopmentCa) -> Iterator[int]:
    with serving(ca, "127.0.0.1") as port:
        yield port


def fetch_in_child(url: str, ca_cert: Path) -> dict[str, object]:
    """fetch_json(url) in a fresh interpreter trusting ``ca_cert``: its result, the codec modules loaded."""
    child = f"""
import json, sys
sys.path.insert(0, {str(AUTHORIZER_ROOT)!r})
from gate.fetch import FetchError, fetch_json
try:
    outcome = fetch_json({url!r}, timeout=5)
except FetchError as error:
    outcome = "FetchError: " + str(error)
loaded = [m for m in ("encodings.idna", "stringprep", "unicodedata") if m in sys.modules]
print(json.dumps({{"outcome": outcome, "loaded": loaded}}))
"""
    env = {"PATH": os.environ.get("PATH", ""), "SSL_CERT_FILE": str(ca_cert)}
    done = subprocess.run(
        [sys.executable, "-I", "-c", child], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_an_https_fetch_checks_the_certificate_and_loads_no_idna_codec(
    ca: DevelopmentCa, https_port: int, host: str
):
    assert fetch_in_child(f"https://{host}:{https_port}/jwks.json", ca.ca_cert) == {
        "outcome": DOCUMENT,
        "loaded": [],
    }


def test_a_certificate_for_another_name_is_refused(ca: DevelopmentCa):
    # 127.0.0.2 is loopback too, but the certificate names localhost, 127.0.0.1 and ::1 only.
    with serving(ca, "127.0.0.2") as port:
        result = fetch_in_child(f"https://127.0.0.2:{port}/jwks.json", ca.ca_cert)
    assert isinstance(result["outcome"], str)
    assert result["outcome"].startswith(
        f"FetchError: https://127.0.0.2:{port}/jwks.json: SSLCertVerificationError"
    )
    assert "IP address mismatch" in result["outcome"]


def test_an_untrusted_certificate_is_refused(tmp_path: Path, https_port: int):
    other = DevelopmentCa(tmp_path / "other")
    result = fetch_in_child(f"https://localhost:{https_port}/jwks.json", other.ca_cert)
    assert isinstance(result["outcome"], str)
    assert result["outcome"].startswith(
        f"FetchError: https://localhost:{https_port}/jwks.json: SSLCertVerificationError"
    )
    assert "unable to get local issuer certificate" in result["outcome"]
