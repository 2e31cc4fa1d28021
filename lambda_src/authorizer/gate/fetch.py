"""Bounded HTTP GET of a small JSON document (JWKS, OpenID discovery).

Why http.client and not urllib.request: urllib's timeout bounds each socket operation, so a server
trickling one byte per second keeps a fetch alive indefinitely. Holding the socket lets every read
run against one overall deadline. Redirects are not followed (a JWKS endpoint that redirects is a
configuration to fix, and following could downgrade https to http). Proxy environment variables
are not consulted; DNS resolution is not covered by the deadline (the resolver has its own).

An ASCII host name (every identity provider's, punycode included) reaches the resolver and TLS as bytes:
given a str, ``socket.getaddrinfo`` and ``ssl`` encode it with the "idna" codec, whose first use imports
encodings.idna, stringprep and unicodedata, about 3 ms of every cold start for nothing.
"""

from __future__ import annotations

import functools
import http.client
import json
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

MAX_DOCUMENT_BYTES: Final = 128 * 1024
_READ_CHUNK: Final = 16 * 1024
_HEADERS: Final = {
    "Accept": "application/jwk-set+json, application/json",
    "User-Agent": "jwt-gate-authorizer",
}


class FetchError(Exception):
    """The document could not be obtained or is not JSON; the message is for operators."""


@functools.cache
def _tls() -> ssl.SSLContext:
    # Loading the CA bundle costs milliseconds: do it once per container, and only when needed.
    return ssl.create_default_context()


def fetch_json(
    url: str,
    *,
    timeout: float,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """GET ``url`` within ``timeout`` seconds overall and parse the body as JSON.

    ``headers`` are sent besides the usual ones (the SSM extension's token header, gate/key_sources.py);
    they never appear in an error message.
    """
    body = _fetch_bytes(url, timeout=timeout, max_bytes=max_bytes, headers=headers)
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as err:
        raise FetchError(f"{url}: response is not JSON ({type(err).__name__})") from None


def _fetch_bytes(
    url: str, *, timeout: float, max_bytes: int, headers: Mapping[str, str] | None = None
) -> bytes:
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _TlsConnection(host, parts.port, timeout=timeout, context=_tls())
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    connection._create_connection = _connect  # type: ignore[attr-defined]  # http.client's own hook
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.connect()
        sock = connection.sock
        assert sock is not None  # connect() either sets it or raises
        _arm(sock, deadline)
        connection.request("GET", target, headers={**_HEADERS, **headers} if headers else _HEADERS)
        _arm(sock, deadline)
        response = connection.getresponse()
        if response.status != 200:
            raise FetchError(f"{url}: HTTP {response.status}")
        declared = response.getheader("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(f"{url}: response larger than {max_bytes} bytes")
        chunks: list[bytes] = []
        received = 0
        while True:
            _arm(sock, deadline)
            chunk = response.read1(_READ_CHUNK)
            if not chunk:
                break
            received += len(chunk)
            if received > max_bytes:
                raise FetchError(f"{url}: response larger than {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    except FetchError:
        raise
    except TimeoutError:
        raise FetchError(f"{url}: timed out after {timeout:g} s") from None
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise FetchError(f"{url}: {type(err).__name__}: {err}") from None
    finally:
        connection.close()


def _ascii(host: str) -> str | bytes:
    return host.encode("ascii") if host.isascii() else host


def _connect(
    address: tuple[str, int], timeout: float, source_address: tuple[str, int] | None = None
) -> socket.socket:
    """socket.create_connection, with the host as bytes when it is ASCII (see the module docstring)."""
    host, port = address
    return socket.create_connection((_ascii(host), port), timeout, source_address)  # type: ignore[arg-type]


class _TlsConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        """HTTPSConnection.connect less the proxy tunnel (never used); the server name as ASCII bytes."""
        http.client.HTTPConnection.connect(self)
        assert self.sock is not None  # connect() either sets it or raises
        self.sock = _tls().wrap_socket(self.sock, server_hostname=_ascii(self.host))


def _arm(sock: socket.socket, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    sock.settimeout(remaining)
