"""Fixtures for the local gateway: templates built by hand in the CDK's shapes, real servers, an HTTP helper.

The templates point at the test functions in tests/local/functions/ (a scripted authorizer, an echo backend)
so each gateway branch can be driven exactly; tests/local/test_local_stack.py runs the real synthesized stack.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.server import GatewayServer, build_gateway

REGION_ACCOUNT = "arn:aws:execute-api:us-east-1:123456789012"
API_ARN = f"{REGION_ACCOUNT}:local/prod"
BEARER_EXPRESSION = "^[Bb][Ee][Aa][Rr][Ee][Rr] +[-0-9A-Za-z._~+/]+=*$"
# What the stack's REQUEST authorizer synthesizes to (CDK joins the identity sources with ",").
REQUEST_IDENTITY_SOURCE = "method.request.header.Authorization,context.httpMethod,context.resourcePath"
# (verb, resource path, behind the authorizer): /hello (GET, POST), public /health, /items/{id}.
DEFAULT_ROUTES: tuple[tuple[str, str, bool], ...] = (
    ("GET", "/hello", True),
    ("POST", "/hello", True),
    ("GET", "/health", False),
    ("GET", "/items/{id}", True),
)
UNAUTHORIZED_BODY = '{"error":"invalid_token","message":"Unauthorized"}'
ACCESS_DENIED_BODY = '{"error":"insufficient_scope","message":"Forbidden"}'
FAILURE_BODY = '{"error":"temporarily_unavailable","message":"Authorization is temporarily unavailable"}'
WWW_INVALID = 'Bearer realm="test", error="invalid_token"'
WWW_SCOPE = 'Bearer realm="test", error="insufficient_scope"'


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(url: str, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Reply:
    """One real HTTP request; http.client keeps 4xx/5xx as plain replies instead of exceptions."""
    host_port = url.removeprefix("http://")
    connection = http.client.HTTPConnection(host_port, timeout=30)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def scripted_token(script: dict[str, Any]) -> str:
    """A bearer value that tells the scripted authorizer what to do (see its module docstring)."""
    raw = base64.urlsafe_b64encode(json.dumps(script).encode()).rstrip(b"=").decode()
    return f"Bearer {raw}"


def allow_all_response(principal: str = "user-1", context: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{API_ARN}/*/*"}],
        },
        "context": context or {},
    }


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "principalId": "user-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
    }


def statement(
    effect: str, resource: str | list[str], action: str | list[str] = "execute-api:Invoke"
) -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource}


def assert_unauthorized(reply: Reply) -> None:
    assert (reply.status, reply.body.decode()) == (401, UNAUTHORIZED_BODY)
    assert reply.headers["WWW-Authenticate"] == WWW_INVALID
    assert reply.headers["x-amzn-ErrorType"] == "UnauthorizedException"


def assert_access_denied(reply: Reply) -> None:
    assert (reply.status, reply.body.decode()) == (403, ACCESS_DENIED_BODY)
    assert reply.headers["WWW-Authenticate"] == WWW_SCOPE


def assert_authorizer_failure(reply: Reply) -> None:
    assert (reply.status, reply.body.decode()) == (503, FAILURE_BODY)
    assert reply.headers["Retry-After"] == "5"


def _method(resource_ref: dict[str, Any], verb: str, authorized: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "HttpMethod": verb,
        "ResourceId": resource_ref,
        "RestApiId": {"Ref": "Api"},
        "AuthorizationType": "CUSTOM" if authorized else "NONE",
        "Integration": {
            "Type": "AWS_PROXY",
            "IntegrationHttpMethod": "POST",
            "Uri": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":apigateway:",
                        {"Ref": "AWS::Region"},
                        ":lambda:path/2015-03-31/functions/",
                        {"Fn::GetAtt": ["EchoFunction", "Arn"]},
                        "/invocations",
                    ],
                ]
            },
        },
    }
    if authorized:
        props["AuthorizerId"] = {"Ref": "Authorizer"}
    return {"Type": "AWS::ApiGateway::Method", "Properties": props}


def _gateway_response(kind: str, status: str, body: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGateway::GatewayResponse",
        "Properties": {
            "ResponseType": kind,
            "RestApiId": {"Ref": "Api"},
            "StatusCode": status,
            "ResponseParameters": {f"gatewayresponse.header.{k}": f"'{v}'" for k, v in headers.items()},
            "ResponseTemplates": {"application/json": body},
        },
    }


def _api_resources(routes: tuple[tuple[str, str, bool], ...]) -> dict[str, Any]:
    """AWS::ApiGateway::Resource per path segment (parents first, as the CDK creates them) and the methods."""
    resources: dict[str, Any] = {}
    refs: dict[str, dict[str, Any]] = {"/": {"Fn::GetAtt": ["Api", "RootResourceId"]}}
    for index, (verb, path, authorized) in enumerate(routes):
        parent = "/"
        for segment in [s for s in path.split("/") if s]:
            current = parent.rstrip("/") + "/" + segment
            if current not in refs:
                logical_id = f"ApiResource{len(refs)}"
                resources[logical_id] = {
                    "Type": "AWS::ApiGateway::Resource",
                    "Properties": {
                        "ParentId": refs[parent],
                        "PathPart": segment,
                        "RestApiId": {"Ref": "Api"},
                    },
                }
                refs[current] = {"Ref": logical_id}
            parent = current
        resources[f"ApiMethod{index}"] = _method(refs[path], verb, authorized)
    return resources


def build_template(
    invocation_log: Path,
    ttl: int = 300,
    authorizer_timeout: int = 3,
    authorizer_type: str = "TOKEN",
    identity_source: str | None = None,
    routes: tuple[tuple[str, str, bool], ...] = DEFAULT_ROUTES,
) -> dict[str, Any]:
    """A template shaped like the CDK's output, with a TOKEN authorizer (header + validation expression) or a
    REQUEST authorizer (the stack's identity sources unless `identity_source` says otherwise)."""
    authorizer: dict[str, Any] = {"Type": authorizer_type, "RestApiId": {"Ref": "Api"}}
    if authorizer_type == "TOKEN":
        authorizer["IdentitySource"] = "method.request.header.Authorization"
        authorizer["IdentityValidationExpression"] = BEARER_EXPRESSION
    else:
        authorizer["IdentitySource"] = REQUEST_IDENTITY_SOURCE
    if identity_source is not None:
        authorizer["IdentitySource"] = identity_source
    return {
        "Resources": {
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "test"}},
            **_api_resources(routes),
            "Stage": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {"RestApiId": {"Ref": "Api"}, "StageName": "prod"},
            },
            "Authorizer": {
                "Type": "AWS::ApiGateway::Authorizer",
                "Properties": {
                    **authorizer,
                    "AuthorizerResultTtlInSeconds": ttl,
                    "AuthorizerUri": {
                        "Fn::Join": [
                            "",
                            [
                                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/",
                                {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]},
                                "/invocations",
                            ],
                        ]
                    },
                },
            },
            "AuthorizerFunction": {
                "Type": "AWS::Lambda::Function",
                "Metadata": {"JwtGate:SourcePath": "tests/local/functions/scripted_authorizer"},
                "Properties": {
                    "Handler": "handler.handler",
                    "Timeout": authorizer_timeout,
                    "Environment": {"Variables": {"INVOCATION_LOG": str(invocation_log)}},
                },
            },
            "EchoFunction": {
                "Type": "AWS::Lambda::Function",
                "Metadata": {"JwtGate:SourcePath": "tests/local/functions/echo_backend"},
                "Properties": {
                    "Handler": "handler.handler",
                    "MemorySize": 256,
                    "Environment": {
                        "Variables": {
                            "GREETING": "hi",
                            "RESOURCE_ARN": {
                                "Fn::Join": [
                                    "",
                                    [
                                        "arn:",
                                        {"Ref": "AWS::Partition"},
                                        ":execute-api:",
                                        {"Ref": "AWS::Region"},
                                        ":",
                                        {"Ref": "AWS::AccountId"},
                                        ":",
                                        {"Ref": "Api"},
                                        "/prod",
                                    ],
                                ]
                            },
                            "SELF_ARN": {"Fn::Sub": "${AWS::Partition}:${Api}"},
                        }
                    },
                },
            },
            "Unauthorized": _gateway_response(
                "UNAUTHORIZED",
                "401",
                UNAUTHORIZED_BODY,
                {"WWW-Authenticate": 'Bearer realm="test", error="invalid_token"'},
            ),
            "AccessDenied": _gateway_response(
                "ACCESS_DENIED",
                "403",
                ACCESS_DENIED_BODY,
                {"WWW-Authenticate": 'Bearer realm="test", error="insufficient_scope"'},
            ),
            "AuthorizerFailure": _gateway_response(
                "AUTHORIZER_FAILURE", "503", FAILURE_BODY, {"Retry-After": "5"}
            ),
        }
    }


class FakeClock:
    """Monotonic time the test advances, so cache expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    server: GatewayServer
    invocation_log: Path
    clock: FakeClock
    function_logs: list[tuple[str, str]]
    decisions: list[dict[str, Any]]

    @property
    def url(self) -> str:
        return self.server.url

    def invocations(self) -> list[dict[str, Any]]:
        if not self.invocation_log.exists():
            return []
        return [json.loads(line) for line in self.invocation_log.read_text().splitlines()]

    def get(self, path: str, authorization: str | None = None, method: str = "GET", **headers: str) -> Reply:
        all_headers = dict(headers)
        if authorization is not None:
            all_headers["Authorization"] = authorization
        return call(self.url, method, path, all_headers)


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    servers: list[GatewayServer] = []

    def start(**template_options: Any) -> Harness:
        invocation_log = tmp_path / f"invocations-{len(servers)}.jsonl"
        template_path = tmp_path / f"template-{len(servers)}.json"
        template_path.write_text(json.dumps(build_template(invocation_log, **template_options)))
        clock = FakeClock()
        function_logs: list[tuple[str, str]] = []
        decisions: list[dict[str, Any]] = []
        server = build_gateway(
            template_path,
            log_sink=lambda name, line: function_logs.append((name, line)),
            decision_log=decisions.append,
            clock=clock,
        ).start()
        servers.append(server)
        return Harness(server, invocation_log, clock, function_logs, decisions)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def gateway(start_gateway: Callable[..., Harness]) -> Harness:
    return start_gateway()


@pytest.fixture
def request_gateway(start_gateway: Callable[..., Harness]) -> Harness:
    """The default routes behind a REQUEST authorizer with the stack's identity sources."""
    return start_gateway(authorizer_type="REQUEST")
