"""Backends other than the template's own functions: HTTP services (HTTP_PROXY) and Lambda ARNs.

HTTP_PROXY, as API Gateway sends it: the route's `{proxy+}` match fills the URI's `{proxy}` (decoded, then
percent-encoded again with `/` kept); the verb (the request's when the integration says ANY), query string,
headers and body pass through; the `integration.request.header.*` mappings (the authorizer context as
`X-Jwt-*`, or static values) replace any client-sent header of the same name; the response comes back as is,
with `Connection`, `Content-Length`, `Date`, `Server` and `x-amzn-RequestId` renamed `x-amzn-Remapped-*`. The
header lists are the ones API Gateway is observed to drop and remap (LocalStack, tested against AWS).
Only loopback services are called (a local run must never reach a real service); others answer 502 with the
reason in the decision log. Standard library only.

A Lambda ARN outside the template cannot be invoked locally: the sample function answers in its place
(local/template.py picks it) and the response says so in SUBSTITUTE_HEADER.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlencode, urlsplit

from local.template import HttpProxyIntegration, Route

SUBSTITUTE_HEADER = "X-Jwt-Gate-Local-Substitute"

# Not passed to the backend: hop-by-hop headers, the ones API Gateway drops before any integration, and the
# framing headers http.client writes itself. Host is set to the backend's.
_DROPPED_REQUEST = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "content-length",
        "content-md5",
        "max-forwards",
        "server",
        "www-authenticate",
        "host",
    }
)
# Not passed back to the client (hop-by-hop; http.client has already undone chunked framing).
_DROPPED_RESPONSE = frozenset({"keep-alive", "transfer-encoding", "te", "trailer", "upgrade"})
# Passed back under `x-amzn-Remapped-<name>`, as API Gateway does: the gateway sets its own.
_REMAPPED_RESPONSE = frozenset({"connection", "content-length", "date", "server", "x-amzn-requestid"})
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class BackendError(Exception):
    """The backend gave no HTTP answer: `reason` is the decision-log reason, str() the one-line detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class BackendTimeout(BackendError):  # noqa: N818 - named after API Gateway's INTEGRATION_TIMEOUT
    def __init__(self, url: str, seconds: float) -> None:
        super().__init__("integration_timeout", f"{url} did not answer within {seconds:g} s")


@dataclass(frozen=True)
class BackendReply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def is_loopback(host: str) -> bool:
    """The stack's rule for plain-http backends (stacks/config.py), here the rule for any local call."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def target_url(integration: HttpProxyIntegration, path_parameters: Mapping[str, str]) -> str:
    """The URI with each `{name}` filled from the mapped method path parameter (decoded, then percent-encoded
    with `/` kept, so a greedy match stays a path)."""
    values = {
        name: quote(unquote(path_parameters.get(source, "")), safe="/")
        for name, source in integration.path_mappings
    }
    return _PLACEHOLDER.sub(lambda found: values[found[1]], integration.uri)


def mapped_headers(integration: HttpProxyIntegration, context: Mapping[str, str] | None) -> dict[str, str]:
    """The integration's header mappings: an authorizer context value (empty when there is none), or a
    static value."""
    values: dict[str, str] = {}
    for mapping in integration.headers:
        if mapping.context_key is None:
            values[mapping.header] = mapping.static
        else:
            values[mapping.header] = (context or {}).get(mapping.context_key, "")
    return values


def outgoing_headers(
    client_headers: Iterable[tuple[str, str]], mapped: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The client's headers minus the dropped ones and any the mappings set (case-insensitively), then the
    mapped ones: a client can never pass an `X-Jwt-*` header through."""
    replaced = {name.lower() for name in mapped}
    kept = [
        (name, value)
        for name, value in client_headers
        if name.lower() not in _DROPPED_REQUEST
        and name.lower() not in replaced
        and not name.lower().startswith("proxy-")
    ]
    return [*kept, *mapped.items()]


def _reply_headers(raw: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    for name, value in raw:
        lowered = name.lower()
        if lowered in _DROPPED_RESPONSE or lowered.startswith("proxy-"):
            continue
        headers.append((f"x-amzn-Remapped-{name}" if lowered in _REMAPPED_RESPONSE else name, value))
    return tuple(headers)


def forward(
    integration: HttpProxyIntegration,
    *,
    method: str,
    url: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> BackendReply:
    """One request to the backend, answered as is; BackendError when there is no HTTP answer."""
    verb = method if integration.http_method == "ANY" else integration.http_method
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not is_loopback(host):
        raise BackendError(
            "backend_not_loopback",
            f"{parts.scheme}://{parts.netloc} was not called: the local run only reaches loopback services",
        )
    query_string = urlencode(list(query), quote_via=quote)
    target = (parts.path or "/") + (f"?{query_string}" if query_string else "")
    timeout = integration.timeout_seconds
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    try:
        connection.putrequest(verb, target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", parts.netloc)
        for name, value in headers:
            connection.putheader(name, value)
        if body or verb not in _BODYLESS_METHODS:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return BackendReply(response.status, _reply_headers(response.getheaders()), response.read())
    except TimeoutError:
        raise BackendTimeout(url, timeout) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise BackendError("integration_error", f"{url}: {exc or type(exc).__name__}") from None
    finally:
        connection.close()


def notices(routes: Iterable[Route]) -> list[str]:
    """One line per route whose backend a local run replaces (a Lambda ARN) or cannot reach (not loopback)."""
    lines: list[str] = []
    for route in routes:
        key = f"{route.http_method} {route.resource_path}"
        if route.substitute_for is not None:
            lines.append(
                f"{key} -> {route.substitute_for}: answered by the sample function locally "
                f"(response header {SUBSTITUTE_HEADER})"
            )
        elif route.http is not None and not is_loopback(urlsplit(route.http.uri).hostname or ""):
            lines.append(
                f"{key} -> {route.http.uri}: not called locally (only loopback services are); answers 502"
            )
    return lines
