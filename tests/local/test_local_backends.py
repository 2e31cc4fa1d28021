"""Issue 10, "backends per route", locally: the real synthesized stack with `backends` in front of a real HTTP
service on 127.0.0.1, real tokens from the development issuer, and a Lambda-ARN route answered by the sample.

One synthesis for the module: the echo service starts first (its port goes into the config), then the stack is
synthesized and served. The service answers every request with what it saw (method, path, query, headers,
body) and keeps a list of them, so a test can also prove a request never reached it.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from local.issuer import IssuerServer, KeyStore
from local.server import GatewayServer, build_gateway
from local.template import TemplateError, load_api_model
from tests.local.conftest import Reply, call
from tests.local.synth import PROJECT_ROOT, synthesize

AUDIENCE = "api://jwt-gate-example"  # cdk.json's example audience, which the template carries
ORDERS_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders:live"
CONTEXT_HEADERS = ("X-Jwt-Sub", "X-Jwt-Scope", "X-Jwt-Client-Id", "X-Jwt-Iss")
SLOW_SECONDS = 1.0


class _EchoHandler(BaseHTTPRequestHandler):
    server: EchoService
    protocol_version = "HTTP/1.1"

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        seen = {
            "method": self.command,
            "target": self.path,
            "headers": list(self.headers.items()),
            "body": self.rfile.read(length).decode() if length else "",
        }
        self.server.seen.append(seen)
        if self.path.startswith("/slow"):
            time.sleep(SLOW_SECONDS)
        body = json.dumps(seen).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", "echo")
        self.send_header("Set-Cookie", "a=1")
        self.send_header("Set-Cookie", "b=2")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _echo  # noqa: N815 - names fixed by BaseHTTPRequestHandler

    def version_string(self) -> str:
        return "echo/1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class EchoService(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self.serve_forever, name="echo-service", daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def last(self) -> dict[str, Any]:
        return self.seen[-1]


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Setup:
    template: Path
    service: EchoService
    issuer: IssuerServer
    gateway: GatewayServer
    decisions: list[dict[str, Any]] = field(default_factory=list)

    def request(
        self, method: str, path: str, scopes: tuple[str, ...] | None = None, body: bytes = b"", **headers: str
    ) -> Reply:
        all_headers = {name.replace("_", "-"): value for name, value in headers.items()}
        if scopes is not None:
            token = self.issuer.mint(AUDIENCE, scopes, subject="alice", client_id="orders-app")
            all_headers["Authorization"] = f"Bearer {token}"
        return call(self.gateway.url, method, path, all_headers, body)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    service = EchoService()
    template = synthesize(
        tmp_path_factory.mktemp("cdk.out-backends"),
        scopeRules={
            "GET /hello": "items:read",
            "POST /hello": "items:write",
            "GET /files/*": "files:read",
            "POST /orders": "orders:write",
        },
        publicRoutes=["GET /health", "GET /down", "GET /remote", "GET /slow"],
        backends={
            "GET /hello": f"{service.base}/api",
            "GET /files/*": f"{service.base}/store",
            "POST /hello": ORDERS_ARN,
            "POST /orders": f"{service.base}/orders",
            "GET /health": f"{service.base}/status",
            "GET /down": f"http://127.0.0.1:{_closed_port()}/api",
            "GET /remote": "https://orders.example.com/v1",
            "GET /slow": f"{service.base}/slow",
        },
    )
    issuer = IssuerServer(KeyStore(tmp_path_factory.mktemp("state-backends"))).start()
    decisions: list[dict[str, Any]] = []
    gateway = build_gateway(
        template,
        issuer=issuer.issuer,
        jwks_uri=issuer.jwks_uri,
        log_sink=lambda *_: None,
        decision_log=decisions.append,
    ).start()
    yield Setup(template, service, issuer, gateway, decisions)
    gateway.stop()
    issuer.stop()
    service.shutdown()
    service.server_close()


def _integration(template: dict[str, Any], uri_suffix: str) -> dict[str, Any]:
    """The Integration (in place) of the method whose literal Uri ends with `uri_suffix`."""
    for resource in template["Resources"].values():
        integration: dict[str, Any] = resource.get("Properties", {}).get("Integration", {})
        if str(integration.get("Uri", "")).endswith(uri_suffix):
            return integration
    raise AssertionError(f"no integration URI ends with {uri_suffix}")


def values(seen: dict[str, Any], name: str) -> list[str]:
    """Every value the service received for a header, its name compared case-insensitively."""
    return [value for key, value in seen["headers"] if key.lower() == name.lower()]


def test_a_literal_route_reaches_the_base_path(setup: Setup) -> None:
    reply = setup.request("GET", "/hello", ("items:read",))
    assert reply.status == 200
    assert (setup.service.last()["method"], setup.service.last()["target"]) == ("GET", "/api")


def test_a_greedy_route_appends_what_its_star_matched_and_passes_the_query(setup: Setup) -> None:
    reply = setup.request("GET", "/files/a/b?x=1", ("files:read",))
    assert reply.status == 200
    assert setup.service.last()["target"] == "/store/a/b?x=1"


def test_the_greedy_part_is_percent_encoded_again_with_its_slashes_kept(setup: Setup) -> None:
    reply = setup.request("GET", "/files/my%20file/r%C3%A9sum%C3%A9.txt?q=a%20b", ("files:read",))
    assert reply.status == 200
    assert setup.service.last()["target"] == "/store/my%20file/r%C3%A9sum%C3%A9.txt?q=a%20b"


def test_the_authorizer_context_reaches_the_service_as_x_jwt_headers(setup: Setup) -> None:
    setup.request("GET", "/hello", ("items:read", "extra"))
    seen = setup.service.last()
    assert [values(seen, name) for name in CONTEXT_HEADERS] == [
        ["alice"],
        ["items:read extra"],
        ["orders-app"],
        [setup.issuer.issuer],
    ]


def test_a_client_sent_x_jwt_header_is_replaced_never_passed_through(setup: Setup) -> None:
    setup.request("GET", "/hello", ("items:read",), X_Jwt_Sub="admin", x_jwt_scope="admin:all")
    seen = setup.service.last()
    assert (values(seen, "X-Jwt-Sub"), values(seen, "X-Jwt-Scope")) == (["alice"], ["items:read"])


def test_a_public_route_sends_the_x_jwt_headers_empty(setup: Setup) -> None:
    reply = setup.request("GET", "/health", X_Jwt_Sub="admin", X_Jwt_Iss="https://evil.example")
    seen = setup.service.last()
    assert (reply.status, seen["target"]) == (200, "/status")
    assert [values(seen, name) for name in CONTEXT_HEADERS] == [[""], [""], [""], [""]]


def test_an_unauthorized_request_never_reaches_the_service(setup: Setup) -> None:
    before = len(setup.service.seen)
    statuses = [
        setup.request("GET", "/hello").status,
        setup.request("GET", "/hello", Authorization="Bearer not-a-jwt").status,
        setup.request("GET", "/files/a", ("items:read",)).status,
    ]
    assert (statuses, len(setup.service.seen)) == ([401, 401, 403], before)


def test_method_body_and_end_to_end_headers_pass_through_hop_by_hop_ones_do_not(setup: Setup) -> None:
    reply = setup.request(
        "POST",
        "/orders?dry=1",
        ("orders:write",),
        body=b'{"item": 7}',
        Content_Type="application/json",
        X_Request_Id="r-1",
        Keep_Alive="timeout=5",
        Proxy_Authorization="Basic eDp5",
    )
    seen = setup.service.last()
    assert (reply.status, seen["method"], seen["target"], seen["body"]) == (
        201,
        "POST",
        "/orders?dry=1",
        '{"item": 7}',
    )
    assert (values(seen, "Content-Type"), values(seen, "X-Request-Id")) == (["application/json"], ["r-1"])
    assert values(seen, "Authorization")[0].startswith("Bearer ")
    assert values(seen, "Host") == [setup.service.base.removeprefix("http://")]
    assert (values(seen, "Keep-Alive"), values(seen, "Proxy-Authorization")) == ([], [])


def test_the_response_comes_back_as_the_service_sent_it(setup: Setup) -> None:
    connection = http.client.HTTPConnection(setup.gateway.url.removeprefix("http://"), timeout=30)
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        headers = response.getheaders()
        body = json.loads(response.read())
    finally:
        connection.close()
    names = [name.lower() for name, _ in headers]
    assert (response.status, body["target"]) == (200, "/status")
    assert [value for name, value in headers if name == "Set-Cookie"] == ["a=1", "b=2"]
    assert ("X-Backend", "echo") in headers
    assert ("x-amzn-Remapped-Server", "echo/1") in headers
    assert (names.count("x-amzn-requestid"), names.count("content-length")) == (1, 1)


def test_a_lambda_arn_route_is_answered_by_the_sample_function_marked_as_a_substitute(setup: Setup) -> None:
    before = len(setup.service.seen)
    reply = setup.request("POST", "/hello", ("items:write",))
    assert (reply.status, reply.json()["route"], reply.json()["principalId"]) == (200, "POST /hello", "alice")
    assert reply.headers["X-Jwt-Gate-Local-Substitute"] == ORDERS_ARN
    assert setup.decisions[-1]["substitute"] == ORDERS_ARN
    assert len(setup.service.seen) == before


def test_a_backend_that_is_down_answers_502(setup: Setup) -> None:
    reply = setup.request("GET", "/down")
    assert (reply.status, reply.json()) == (502, {"message": "Internal server error"})
    assert setup.decisions[-1]["reason"] == "integration_error"


def test_a_backend_outside_loopback_is_never_called_locally(setup: Setup) -> None:
    reply = setup.request("GET", "/remote")
    assert (reply.status, reply.json()) == (502, {"message": "Internal server error"})
    decision = setup.decisions[-1]
    assert (decision["reason"], decision["detail"]) == (
        "backend_not_loopback",
        "https://orders.example.com was not called: the local run only reaches loopback services",
    )


def test_the_startup_notices_name_the_substitute_and_the_unreachable_backend(setup: Setup) -> None:
    notices = setup.gateway.gateway.backend_notices()
    assert notices == [
        f"POST /hello -> {ORDERS_ARN}: answered by the sample function locally "
        "(response header X-Jwt-Gate-Local-Substitute)",
        "GET /remote -> https://orders.example.com/v1: not called locally (only loopback services are); "
        "answers 502",
    ]


def test_a_backend_slower_than_the_integration_timeout_answers_504(setup: Setup, tmp_path: Path) -> None:
    """The template's TimeoutInMillis (API Gateway's default and maximum is 29 s) bounds the wait."""
    template = json.loads(setup.template.read_text())
    _integration(template, "/slow")["TimeoutInMillis"] = 200
    short = tmp_path / "short-timeout.template.json"
    short.write_text(json.dumps(template))
    decisions: list[dict[str, Any]] = []
    gateway = build_gateway(
        short, issuer=setup.issuer.issuer, log_sink=lambda *_: None, decision_log=decisions.append
    ).start()
    try:
        started = time.monotonic()
        reply = call(gateway.url, "GET", "/slow")
        elapsed = time.monotonic() - started
    finally:
        gateway.stop()
    assert (reply.status, reply.json()) == (504, {"message": "Endpoint request timed out"})
    assert decisions[-1]["reason"] == "integration_timeout"
    assert elapsed < SLOW_SECONDS


QUEUE_URI = "arn:aws:apigateway:eu-west-1:sqs:path/123456789012/orders"


def _method_id(template: dict[str, Any], uri_part: str) -> str:
    """The logical id of the method whose integration URI mentions `uri_part`."""
    for logical_id, resource in template["Resources"].items():
        integration = resource.get("Properties", {}).get("Integration", {})
        if uri_part in json.dumps(integration.get("Uri", "")):
            return str(logical_id)
    raise AssertionError(f"no integration URI mentions {uri_part}")


def _without_sample(template: dict[str, Any]) -> str:
    for resource in template["Resources"].values():
        if resource.get("Metadata", {}).get("JwtGate:SourcePath") == "lambda_src/hello":
            resource["Metadata"]["JwtGate:SourcePath"] = "tests/local/functions/echo_backend"
    return _method_id(template, "function:orders")


def _header_from_request(template: dict[str, Any]) -> str:
    mappings = _integration(template, "/api")["RequestParameters"]
    mappings["integration.request.header.X-Trace"] = "method.request.header.X-Trace"
    return _method_id(template, "/api")


def _queue_integration(template: dict[str, Any]) -> str:
    method_id = _method_id(template, "function:orders")
    template["Resources"][method_id]["Properties"]["Integration"]["Uri"] = QUEUE_URI
    return method_id


def _unmapped_placeholder(template: dict[str, Any]) -> str:
    _integration(template, "/store/{proxy}")["RequestParameters"].pop("integration.request.path.proxy")
    return _method_id(template, "/store/{proxy}")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            _without_sample,
            f"invokes {ORDERS_ARN}, which is not in the template, and no function with "
            "JwtGate:SourcePath lambda_src/hello is there to stand in for it locally",
        ),
        (
            _header_from_request,
            "request parameter integration.request.header.X-Trace <- "
            "'method.request.header.X-Trace' is not emulated",
        ),
        (_queue_integration, f"AWS_PROXY integration names no Lambda function ({QUEUE_URI!r})"),
        (_unmapped_placeholder, "HTTP_PROXY URI {base}/store/{{proxy}} has no mapping for {{proxy}}"),
    ],
    ids=["no-sample-function", "header-from-request", "not-a-lambda", "unmapped-placeholder"],
)
def test_a_backend_the_local_run_cannot_serve_is_a_template_error(
    setup: Setup, tmp_path: Path, change: Callable[[dict[str, Any]], str], problem: str
) -> None:
    template = json.loads(setup.template.read_text())
    method_id = change(template)
    changed = tmp_path / "changed.template.json"
    changed.write_text(json.dumps(template))
    with pytest.raises(TemplateError) as caught:
        load_api_model(changed, PROJECT_ROOT)
    expected = problem.format(base=setup.service.base) if "{base}" in problem else problem
    assert str(caught.value) == f"method {method_id}: {expected}"
