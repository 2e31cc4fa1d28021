"""HTTP front end (standard library) and the one function that assembles a gateway from a template.

`build_gateway` is the seam tests use: it returns a server bound to 127.0.0.1 (port 0 picks a free one) that
runs in-process, with the same Lambda containers `python -m local` uses.
"""

from __future__ import annotations

import dataclasses
import errno
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.gateway import DecisionLog, LocalGateway, Request, stderr_decision_log
from local.key_sources import local_key_sources
from local.lambda_runtime import FunctionPool, LogSink, stderr_log_sink
from local.sender_constraints import local_sender_constraint_environment
from local.template import ApiModel, load_api_model
from local.tls import presented_client_cert

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
TLS_HANDSHAKE_SECONDS = 10.0  # `--mtls`: a client that connects and says nothing is dropped after this


class PortUnavailableError(Exception):
    """A port cannot be listened on; str() is the one line for the user (which port, and what to run)."""

    def __init__(self, port: int, role: str, cause: OSError, suggestion: str) -> None:
        self.port = port
        if cause.errno == errno.EADDRINUSE:
            problem = f"port {port}{role} is already in use (another `make local`?)"
        else:
            problem = f"cannot listen on 127.0.0.1:{port}{role} ({cause.strerror or cause})"
        super().__init__(f"{problem}; start on another port: {suggestion}")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind `port` now (as the gateway and issuer servers bind: SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port_pair(start: int, *, tries: int = 100) -> int | None:
    """The first port from `start` on that is free together with the next one (the issuer's), if any."""
    for port in range(max(start, 1024), min(start + tries, 65535)):
        if port_is_free(port) and port_is_free(port + 1):
            return port
    return None


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, gateway: LocalGateway, host: str, port: int, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        super().__init__((host, port), _Handler)
        self.gateway = gateway
        self.ssl_context = ssl_context  # HTTPS (local/tls.py), e.g. with client certificates
        self._thread: threading.Thread | None = None
        self.closers: list[Callable[[], None]] = []  # helpers that live as long as the gateway

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"{'https' if self.ssl_context else 'http'}://{host!s}:{port}"

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.ssl_context is not None:
            # The handshake runs on the request's own thread (_Handler.handle), not in the accept loop.
            connection = self.ssl_context.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def start(self) -> GatewayServer:
        """Serve on a background thread (tests, and `python -m local` which waits on signals instead)."""
        self._thread = threading.Thread(target=self.serve_forever, name="local-gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and end every Lambda container this gateway started."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self.server_close()
        self.gateway.close()
        for close in self.closers:
            close()


class _Handler(BaseHTTPRequestHandler):
    server: GatewayServer
    protocol_version = "HTTP/1.1"

    def handle(self) -> None:
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.settimeout(TLS_HANDSHAKE_SECONDS)
            try:
                self.connection.do_handshake()
            except (OSError, ValueError):  # no or an untrusted client certificate, not TLS: dropped
                self.close_connection = True
                return
            self.connection.settimeout(None)
        super().handle()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path or "/",
            query=tuple(parse_qsl(url.query, keep_blank_values=True)),
            headers=tuple(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            host=self.headers.get("Host") or "127.0.0.1",
            client_cert=presented_client_cert(self.connection),
        )
        reply = self.server.gateway.handle(request)
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve  # noqa: N815 - names fixed by BaseHTTPRequestHandler

    def log_message(self, format: str, *args: object) -> None:
        """The gateway logs one JSON decision line per request; the default access log would repeat it."""


def authorizer_function_ids(model: ApiModel) -> set[str]:
    return {a.function_id for a in model.authorizers.values()}


def issuer_overrides(model: ApiModel, issuer: str, jwks_uri: str) -> dict[str, dict[str, str]]:
    """Point every authorizer at another issuer, keeping the template's choice of discovery or JWKS_URI."""
    overrides: dict[str, dict[str, str]] = {}
    for function_id in authorizer_function_ids(model):
        env = {"ISSUER": issuer}
        if "JWKS_URI" in model.functions[function_id].environment:
            env["JWKS_URI"] = jwks_uri
        overrides[function_id] = env
    return overrides


def with_native_issuer(model: ApiModel, issuer: str) -> ApiModel:
    """Point every native JWT authorizer's first issuer (the stack's ISSUER) at another issuer; further
    issuers keep theirs (and, off loopback, never get their keys locally)."""
    if not model.jwt_authorizers:
        return model
    jwt_authorizers = {lid: config.with_issuer(0, issuer) for lid, config in model.jwt_authorizers.items()}
    return dataclasses.replace(model, jwt_authorizers=jwt_authorizers)


def build_gateway(
    template_path: Path,
    *,
    project_root: Path = PROJECT_ROOT,
    env_overrides: Mapping[str, Mapping[str, str]] | None = None,
    issuer: str | None = None,
    jwks_uri: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    log_sink: LogSink = stderr_log_sink,
    decision_log: DecisionLog = stderr_decision_log,
    clock: Callable[[], float] = time.monotonic,
    ssl_context: ssl.SSLContext | None = None,
) -> GatewayServer:
    """Build (not start) a gateway server for a template.

    `issuer`/`jwks_uri` point the authorizers at another provider (the embedded issuer, or the e2e provider);
    `env_overrides`, keyed by function logical id, is applied last. `ssl_context` serves HTTPS
    (local/tls.py: `server_context` requires client certificates from the development CA).
    """
    model = load_api_model(template_path, project_root)
    overrides: dict[str, dict[str, str]] = {}
    if issuer is not None:
        overrides = issuer_overrides(model, issuer, jwks_uri or f"{issuer}/.well-known/jwks.json")
        model = with_native_issuer(model, issuer)
    # Issue 13: the SSM extension's stand-in and the snapshot variable (local/key_sources.py).
    extension = local_key_sources(
        model,
        overrides,
        issuer=issuer,
        jwks_uri=(jwks_uri or f"{issuer}/.well-known/jwks.json") if issuer else None,
    )
    for function_id, extra in (env_overrides or {}).items():
        overrides.setdefault(function_id, {}).update(extra)
    pools = {
        lid: FunctionPool(function, overrides.get(lid, {}), log_sink)
        for lid, function in model.functions.items()
    }
    try:
        server = GatewayServer(LocalGateway(model, pools, decision_log, clock), host, port, ssl_context)
    except BaseException:
        if extension is not None:
            extension.stop()
        raise
    # Issue 12: variables that need the bound URL (local/sender_constraints.py). No container has started
    # yet, so those functions' pools are replaced in the dict the gateway holds.
    for lid, extra in local_sender_constraint_environment(model, server.url).items():
        environment = {**overrides.get(lid, {}), **extra, **(env_overrides or {}).get(lid, {})}
        pools[lid] = FunctionPool(model.functions[lid], environment, log_sink)
    if extension is not None:
        server.closers.append(extension.stop)
    return server
