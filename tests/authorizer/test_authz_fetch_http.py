"""gate/fetch.py's HTTP/1.1 client against a loopback server that answers with scripted bytes.

Each test scripts one response (framing, headers, a fault) and asserts the document, or the exact one-line
FetchError, that the rules in gate/fetch.py's docstring call for. The server records the request bytes, so
the request itself is pinned too.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from gate.fetch import MAX_DOCUMENT_BYTES, FetchError, fetch_json

DOCUMENT = b'{"keys":[]}'


@dataclass
class ScriptedServer:
    """Answers each connection with ``pieces`` (sent ``pause`` seconds apart), then closes it."""

    pieces: list[bytes] = field(default_factory=list)
    pause: float = 0.0
    requests: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/jwks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed
                return
            with connection:
                request = b""
                while b"\r\n\r\n" not in request:
                    data = connection.recv(4096)
                    if not data:
                        break
                    request += data
                self.requests.append(request)
                try:
                    for piece in self.pieces:
                        connection.sendall(piece)
                        time.sleep(self.pause)
                except OSError:  # the client gave up
                    pass

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


def fetch_error(server: ScriptedServer, *pieces: bytes, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    server.pieces = list(pieces)
    with pytest.raises(FetchError) as caught:
        fetch_json(server.url(), timeout=2, max_bytes=max_bytes)
    prefix = f"{server.url()}: "
    message = str(caught.value)
    assert message.startswith(prefix)
    return message.removeprefix(prefix)


def test_the_request_is_one_http11_get_that_closes_the_connection(server: ScriptedServer):
    server.pieces = [b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + DOCUMENT]
    assert fetch_json(server.url("/jwks?x=1"), timeout=2, headers={"X-Token": "t"}) == {"keys": []}
    assert server.requests == [
        b"GET /jwks?x=1 HTTP/1.1\r\n"
        + f"Host: 127.0.0.1:{server.port}\r\n".encode()
        + b"Connection: close\r\n"
        b"Accept: application/jwk-set+json, application/json\r\n"
        b"User-Agent: jwt-gate-authorizer\r\n"
        b"X-Token: t\r\n"
        b"\r\n"
    ]


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + DOCUMENT, id="content-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\ncontent-length: 11, 11\r\n\r\n" + DOCUMENT, id="repeated-length"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + DOCUMENT, id="until-closed"
        ),
        pytest.param(b"HTTP/1.0 200\r\n\r\n" + DOCUMENT, id="http10-no-reason"),
        pytest.param(b"HTTP/1.1 200 OK\nContent-Length: 11\n\n" + DOCUMENT, id="bare-lf-header-lines"),
        pytest.param(
            b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + DOCUMENT,
            id="interim-responses",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4;ext=1\r\n" + DOCUMENT[:4] + b"\r\n7\r\n" + DOCUMENT[4:] + b"\r\n0\r\nX-Trailer: t\r\n\r\n",
            id="chunked-extension-trailer",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\nTransfer-Encoding: Chunked\r\n\r\n"
            b"B\r\n" + DOCUMENT + b"\r\n0\r\n\r\n",
            id="chunked-overrides-length",
        ),
    ],
)
def test_a_document_is_read_in_every_framing(server: ScriptedServer, response: bytes):
    server.pieces = [response]
    assert fetch_json(server.url(), timeout=2) == {"keys": []}


def test_a_response_in_one_byte_pieces_is_read_whole(server: ScriptedServer):
    response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nB\r\n" + DOCUMENT + b"\r\n0\r\n\r\n"
    server.pieces = [response[i : i + 1] for i in range(len(response))]
    assert fetch_json(server.url(), timeout=5) == {"keys": []}


@pytest.mark.parametrize(
    ("pieces", "error"),
    [
        pytest.param([], "connection closed before the response ended", id="closed-at-once"),
        pytest.param([b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n\r\n"], "HTTP 302", id="redirect"),
        pytest.param([b"HTTP/1.1 503 Busy\r\n\r\n"], "HTTP 503", id="unavailable"),
        pytest.param([b"HTTP/1.1 100 Continue\r\n\r\n" * 9], "HTTP 100", id="interim-only"),
        pytest.param(
            [b"SSH-2.0-OpenSSH\r\n"], "not an HTTP/1.x status line: b'SSH-2.0-OpenSSH\\r\\n'", id="not-http"
        ),
        pytest.param([b"HTTP/2 200\r\n\r\n"], "not an HTTP/1.x status line: b'HTTP/2 200\\r\\n'", id="http2"),
        pytest.param(
            [b"HTTP/1.1 2000 OK\r\n\r\n"], "not an HTTP/1.x status line: b'HTTP/1.1 2000 OK\\r\\n'", id="code"
        ),
        pytest.param([b"HTTP/1.1 200 OK" + b"x" * 20000], "status line too long", id="long-status"),
        pytest.param([b"HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n"], "folded header line", id="folded"),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n"], "malformed header line b'No colon\\r\\n'", id="no-colon"
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nName : x\r\n\r\n"],
            "malformed header line b'Name : x\\r\\n'",
            id="space-name",
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\n", *[b"X-Filler: " + b"y" * 100 + b"\r\n"] * 200],
            "header section too long",
            id="header-section",
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"],
            "unsupported Transfer-Encoding 'gzip, chunked'",
            id="coding",
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 11\r\n\r\n" + DOCUMENT],
            "invalid Content-Length '10, 11'",
            id="conflicting-length",
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"], "invalid Content-Length '-1'", id="neg"
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n" + DOCUMENT],
            "connection closed before the response ended",
            id="short-body",
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
            "invalid chunk size b'zz'",
            id="chunk-size",
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n"],
            "invalid chunk size b'-1'",
            id="negative-chunk",
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}X\r\n0\r\n\r\n"],
            "chunk not followed by CRLF",
            id="chunk-end",
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nB\r\n" + DOCUMENT + b"\r\n"],
            "connection closed before the response ended",
            id="no-last-chunk",
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n<html>x</html>"],
            "response is not JSON (JSONDecodeError)",
            id="not-json",
        ),
    ],
)
def test_a_bad_response_fails_with_one_line(server: ScriptedServer, pieces: list[bytes], error: str):
    assert fetch_error(server, *pieces) == error


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", id="declared-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\n\r\n" + b" " * 12, id="until-closed"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n"
            + b" " * 6
            + b"\r\n7\r\n"
            + b" " * 7,
            id="chunks-add-up",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n", id="huge-chunk-claim"
        ),
    ],
)
def test_a_body_over_the_cap_is_refused_whatever_its_framing(server: ScriptedServer, response: bytes):
    assert fetch_error(server, response, max_bytes=11) == "response larger than 11 bytes"


def test_a_body_at_the_cap_is_read(server: ScriptedServer):
    server.pieces = [b"HTTP/1.1 200 OK\r\n\r\n" + DOCUMENT]
    assert fetch_json(server.url(), timeout=2, max_bytes=len(DOCUMENT)) == {"keys": []}


def test_one_deadline_bounds_a_trickling_response(server: ScriptedServer):
    # every piece arrives well within the time left, but together they outlast the deadline
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + DOCUMENT
    server.pieces, server.pause = [response[i : i + 1] for i in range(len(response))], 0.05
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch_json(server.url(), timeout=0.5)
    assert str(caught.value) == f"{server.url()}: timed out after 0.5 s"
    assert time.monotonic() - started < 1.5


def test_a_header_value_with_a_line_break_is_not_sent_and_not_echoed(server: ScriptedServer):
    with pytest.raises(FetchError) as caught:
        fetch_json(server.url(), timeout=2, headers={"X-Token": "secret\r\nX-Evil: 1"})
    assert str(caught.value) == (
        f"{server.url()}: ValueError: a line break or NUL in the request line or a header"
    )
    assert server.requests == []


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://127.0.0.1/jwks", "not an http or https URL"),
        ("http:///jwks", "not an http or https URL"),
        ("http://127.0.0.1:99999/jwks", "ValueError: Port out of range 0-65535"),
    ],
)
def test_a_url_it_cannot_fetch_fails_with_one_line(url: str, error: str):
    with pytest.raises(FetchError) as caught:
        fetch_json(url, timeout=2)
    assert str(caught.value) == f"{url}: {error}"
