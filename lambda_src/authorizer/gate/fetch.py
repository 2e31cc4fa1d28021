"""Bounded HTTP GET of a small JSON document (JWKS, OpenID discovery, the SSM extension's answer).

Why by hand, on a socket, and not http.client: http.client imports the email package for its header parser
(with datetime, calendar, random, locale and more), which measured 15-20 ms of every cold start on the bench
machine, where the whole floor is 80-95 ms. This client sends one kind of request and reads one kind of
response, and it keeps every read under one overall deadline (urllib's timeout bounds each socket operation,
so a server trickling one byte per second would keep a fetch alive indefinitely).
The response rules (RFC 9112):

* the status line is ``HTTP/1.x NNN reason``; up to 8 interim (1xx) responses are skipped, as RFC 9110
  section 15.2 asks; only 200 is a document (anything else is ``HTTP NNN``), and redirects are not followed
  (a JWKS endpoint that redirects is a configuration to fix, and following could downgrade https to http);
* the header section is at most 16 KiB, in CRLF- or LF-ended lines; a folded line or a line without a colon
  is refused;
* the body is framed by ``Transfer-Encoding: chunked`` (the only coding understood; it overrides any
  Content-Length, section 6.3), else by Content-Length (digits; repeated values must agree), else by the
  server closing the connection (the request says ``Connection: close``); a body that ends early is refused;
* every body is at most ``max_bytes``, counted as it arrives, whatever Content-Length or chunk sizes claim.

Proxy environment variables are not consulted; DNS resolution is not covered by the deadline (the resolver
has its own). An ASCII host name (every identity provider's, punycode included) reaches the resolver and TLS
as bytes: given a str, ``socket.getaddrinfo`` and ``ssl`` encode it with the "idna" codec, whose first use
imports encodings.idna, stringprep and unicodedata, about 3 ms of every cold start for nothing.
"""

from __future__ import annotations

import functools
import json
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

MAX_DOCUMENT_BYTES: Final = 128 * 1024
MAX_HEADER_BYTES: Final = 16 * 1024
_READ_CHUNK: Final = 16 * 1024
_HEADERS: Final = {
    "Accept": "application/jwk-set+json, application/json",
    "User-Agent": "jwt-gate-authorizer",
}
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_MAX_INTERIM_RESPONSES: Final = 8


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
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port if parts.port is not None else _DEFAULT_PORTS.get(parts.scheme)
    except ValueError as err:  # a port out of range or not a number
        raise FetchError(f"{url}: ValueError: {err}") from None
    if port is None or not host:
        raise FetchError(f"{url}: not an http or https URL")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sock: socket.socket | None = None
    try:
        request = _request(target, host, parts.port, {**_HEADERS, **headers} if headers else _HEADERS)
        sock = socket.create_connection((_ascii(host), port), timeout)  # type: ignore[arg-type]
        if parts.scheme == "https":
            _arm(sock, deadline)  # the handshake, too, within the deadline
            sock = _tls().wrap_socket(sock, server_hostname=_ascii(host))
        reader = _Reader(sock, deadline)
        reader.send(request)
        return _response_body(reader, max_bytes)
    except _ResponseError as err:
        raise FetchError(f"{url}: {err}") from None
    except TimeoutError:
        raise FetchError(f"{url}: timed out after {timeout:g} s") from None
    except (OSError, ValueError) as err:
        raise FetchError(f"{url}: {type(err).__name__}: {err}") from None
    finally:
        if sock is not None:
            sock.close()


class _ResponseError(Exception):
    """The response breaks the rules in the module docstring; the message says how (one line)."""


def _request(target: str, host: str, port: int | None, headers: Mapping[str, str]) -> bytes:
    authority = host if port is None else f"{host}:{port}"
    if ":" in host:  # an IPv6 literal
        authority = f"[{host}]" if port is None else f"[{host}]:{port}"
    lines = [f"GET {target} HTTP/1.1", f"Host: {authority}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if any(character in line for line in lines for character in "\r\n\0"):
        # the value stays out of the message: it may be a secret (the SSM extension's token)
        raise ValueError("a line break or NUL in the request line or a header")
    # latin-1, as HTTP header bytes are; a value outside it (never sent by this gate) is a ValueError
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _response_body(reader: _Reader, max_bytes: int) -> bytes:
    for _ in range(1 + _MAX_INTERIM_RESPONSES):
        status = _status(reader.line(MAX_HEADER_BYTES, "status line"))
        if not 100 <= status < 200:
            break
        _header_fields(reader)  # an interim response (103 Early Hints, say) before the real one: skipped
    if status != 200:
        raise _ResponseError(f"HTTP {status}")
    fields = _header_fields(reader)
    coding = fields.get("transfer-encoding")
    if coding is not None:
        if coding.lower() != "chunked":
            raise _ResponseError(f"unsupported Transfer-Encoding {coding[:40]!r}")
        return _chunked(reader, max_bytes)
    declared = fields.get("content-length")
    if declared is None:
        return reader.until_closed(max_bytes)
    lengths = {value.strip() for value in declared.split(",")}
    if len(lengths) != 1 or not (length := lengths.pop()).isdigit() or not length.isascii():
        raise _ResponseError(f"invalid Content-Length {declared[:40]!r}")
    if int(length) > max_bytes:
        raise _ResponseError(f"response larger than {max_bytes} bytes")
    return reader.exactly(int(length))


def _status(line: bytes) -> int:
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if version not in (b"HTTP/1.0", b"HTTP/1.1") or not code.isdigit() or rest[3:4] not in b" \r\n":
        raise _ResponseError(f"not an HTTP/1.x status line: {line[:40]!r}")
    return int(code)


def _header_fields(reader: _Reader) -> dict[str, str]:
    """Header names (lower-cased) and values; a repeated name's values joined with ", " (RFC 9110 5.3)."""
    fields: dict[str, str] = {}
    budget = MAX_HEADER_BYTES
    while True:
        line = reader.line(budget, "header section")
        budget -= len(line)
        if line in (b"\r\n", b"\n"):
            return fields
        if line[:1] in (b" ", b"\t"):
            raise _ResponseError("folded header line")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name or name != name.strip():
            raise _ResponseError(f"malformed header line {line[:40]!r}")
        name, value = name.lower(), value.strip()
        fields[name] = f"{fields[name]}, {value}" if name in fields else value


def _chunked(reader: _Reader, max_bytes: int) -> bytes:
    """A chunked body (RFC 9112 section 7.1): chunk extensions ignored, trailer fields read and dropped."""
    body = bytearray()
    while True:
        size_field = reader.line(1024, "chunk size line").split(b";", 1)[0].strip()
        if not size_field or size_field.strip(b"0123456789abcdefABCDEF"):
            raise _ResponseError(f"invalid chunk size {size_field[:40]!r}")
        size = int(size_field, 16)
        if size == 0:
            _header_fields(reader)  # the trailer section, ended by an empty line
            return bytes(body)
        if len(body) + size > max_bytes:
            raise _ResponseError(f"response larger than {max_bytes} bytes")
        body += reader.exactly(size)
        if reader.exactly(2) != b"\r\n":
            raise _ResponseError("chunk not followed by CRLF")


class _Reader:
    """Reads from the socket in chunks, each read under what is left of the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._buffer = bytearray()

    def send(self, data: bytes) -> None:
        _arm(self._sock, self._deadline)
        self._sock.sendall(data)

    def line(self, limit: int, what: str) -> bytes:
        """The next line with its line end, at most ``limit`` bytes long (``what`` names it if it is not)."""
        while (end := self._buffer.find(b"\n", 0, limit)) < 0:
            if len(self._buffer) >= limit:
                raise _ResponseError(f"{what} too long")
            if not self._fill():
                raise _ResponseError("connection closed before the response ended")
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        return line

    def exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._fill():
                raise _ResponseError("connection closed before the response ended")
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def until_closed(self, max_bytes: int) -> bytes:
        while len(self._buffer) <= max_bytes:
            if not self._fill():
                return bytes(self._buffer)
        raise _ResponseError(f"response larger than {max_bytes} bytes")

    def _fill(self) -> bool:
        _arm(self._sock, self._deadline)
        chunk = self._sock.recv(_READ_CHUNK)
        self._buffer += chunk
        return bool(chunk)


def _ascii(host: str) -> str | bytes:
    return host.encode("ascii") if host.isascii() else host


def _arm(sock: socket.socket, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    sock.settimeout(remaining)
