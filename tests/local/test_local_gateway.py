"""The API Gateway REST behaviours the local gateway reproduces, each driven over real HTTP.

The scripted authorizer does what each token tells it to, and logs every invocation to a file, so "not
invoked" and "invoked once" are counted at the function, not taken from the emulator's own bookkeeping.
"""

from __future__ import annotations

import json

import pytest

from tests.local.conftest import (
    API_ARN,
    Harness,
    allow_all_response,
    assert_access_denied,
    assert_authorizer_failure,
    assert_unauthorized,
    policy,
    scripted_token,
    statement,
)


def test_missing_identity_source_is_401_without_invoking_the_authorizer(gateway: Harness) -> None:
    assert_unauthorized(gateway.get("/hello"))
    assert gateway.invocations() == []


def test_empty_identity_source_is_401_without_invoking_the_authorizer(gateway: Harness) -> None:
    assert_unauthorized(gateway.get("/hello", authorization=""))
    assert gateway.invocations() == []


def test_validation_expression_mismatch_is_401_without_invoking_the_authorizer(gateway: Harness) -> None:
    assert_unauthorized(gateway.get("/hello", authorization="Basic dXNlcjpwYXNz"))
    assert gateway.invocations() == []


def test_validation_expression_matches_the_whole_value(gateway: Harness) -> None:
    token = scripted_token({"return": allow_all_response()})
    assert_unauthorized(gateway.get("/hello", authorization=token + " trailing"))
    assert gateway.invocations() == []


def test_scheme_case_is_accepted_by_the_validation_expression(gateway: Harness) -> None:
    token = scripted_token({"return": allow_all_response()}).replace("Bearer", "bEaReR")
    assert gateway.get("/hello", authorization=token).status == 200
    assert gateway.invocations() == [
        {"type": "TOKEN", "authorizationToken": token, "methodArn": f"{API_ARN}/GET/hello"}
    ]


def test_authorizer_result_is_cached_per_token_and_reused_for_other_routes(gateway: Harness) -> None:
    token = scripted_token({"return": allow_all_response()})
    assert gateway.get("/hello", authorization=token).status == 200
    assert gateway.get("/hello", authorization=token).status == 200
    assert gateway.get("/hello", authorization=token, method="POST").status == 200
    assert gateway.get("/items/42", authorization=token).status == 200
    assert gateway.invocations() == [
        {"type": "TOKEN", "authorizationToken": token, "methodArn": f"{API_ARN}/GET/hello"}
    ]


def test_cached_policy_for_one_route_denies_the_next_route(gateway: Harness) -> None:
    """The classic bug this project avoids: a policy naming only the first method ARN, cached for all."""
    token = scripted_token({"return": policy(statement("Allow", f"{API_ARN}/GET/hello"))})
    assert gateway.get("/hello", authorization=token).status == 200
    assert_access_denied(gateway.get("/hello", authorization=token, method="POST"))
    assert len(gateway.invocations()) == 1


def test_distinct_tokens_are_cached_separately(gateway: Harness) -> None:
    first = scripted_token({"return": allow_all_response("a")})
    second = scripted_token({"return": allow_all_response("b")})
    gateway.get("/hello", authorization=first)
    gateway.get("/hello", authorization=second)
    assert [e["authorizationToken"] for e in gateway.invocations()] == [first, second]


def test_cache_entry_expires_after_the_ttl(start_gateway) -> None:
    gateway = start_gateway(ttl=60)
    token = scripted_token({"return": allow_all_response()})
    gateway.get("/hello", authorization=token)
    gateway.clock.now += 59.9
    gateway.get("/hello", authorization=token)
    assert len(gateway.invocations()) == 1
    gateway.clock.now += 0.1
    gateway.get("/hello", authorization=token)
    assert len(gateway.invocations()) == 2


def test_ttl_zero_invokes_the_authorizer_every_time(start_gateway) -> None:
    gateway = start_gateway(ttl=0)
    token = scripted_token({"return": allow_all_response()})
    gateway.get("/hello", authorization=token)
    gateway.get("/hello", authorization=token, method="POST")
    assert [e["methodArn"] for e in gateway.invocations()] == [
        f"{API_ARN}/GET/hello",
        f"{API_ARN}/POST/hello",
    ]


def test_unauthorized_error_is_401(gateway: Harness) -> None:
    assert_unauthorized(gateway.get("/hello", authorization=scripted_token({"raise": "Unauthorized"})))


def test_unauthorized_is_not_cached(gateway: Harness) -> None:
    token = scripted_token({"raise": "Unauthorized"})
    gateway.get("/hello", authorization=token)
    gateway.get("/hello", authorization=token)
    assert len(gateway.invocations()) == 2


def test_other_authorizer_error_is_the_authorizer_failure_response(gateway: Harness) -> None:
    reply = gateway.get("/hello", authorization=scripted_token({"raise": "keys unavailable: JWKS timed out"}))
    assert_authorizer_failure(reply)
    assert reply.headers["x-amzn-ErrorType"] == "AuthorizerFailureException"


def test_error_message_must_be_exactly_unauthorized(gateway: Harness) -> None:
    assert_authorizer_failure(gateway.get("/hello", authorization=scripted_token({"raise": "unauthorized"})))


def test_authorizer_timeout_is_the_authorizer_failure_response(start_gateway) -> None:
    gateway = start_gateway(authorizer_timeout=1)
    assert_authorizer_failure(gateway.get("/hello", authorization=scripted_token({"sleep": 5})))


@pytest.mark.parametrize(
    "response",
    [
        pytest.param("allow", id="not-an-object"),
        pytest.param({"policyDocument": allow_all_response()["policyDocument"]}, id="no-principal"),
        pytest.param({"principalId": "u"}, id="no-policy"),
        pytest.param({**allow_all_response(), "context": {"nested": {"a": 1}}}, id="context-object"),
        pytest.param({**allow_all_response(), "context": {"list": [1]}}, id="context-list"),
        pytest.param({**allow_all_response(), "context": "flat"}, id="context-not-object"),
        pytest.param(
            {"principalId": "u", "policyDocument": {"Statement": []}},
            id="policy-without-version",
        ),
        pytest.param(policy({"Effect": "Permit", "Action": "*", "Resource": "*"}), id="bad-effect"),
        pytest.param(policy({"Effect": "Allow", "Resource": "*"}), id="no-action"),
        pytest.param(policy({"Effect": "Allow", "Action": "*"}), id="no-resource"),
        pytest.param(policy({"Effect": "Allow", "Action": "*", "Resource": 5}), id="resource-not-string"),
    ],
)
def test_malformed_authorizer_response_is_the_authorizer_failure_response(gateway: Harness, response) -> None:
    assert_authorizer_failure(gateway.get("/hello", authorization=scripted_token({"return": response})))


def test_policy_not_allowing_the_method_arn_is_403(gateway: Harness) -> None:
    token = scripted_token({"return": policy(statement("Allow", f"{API_ARN}/POST/hello"))})
    reply = gateway.get("/hello", authorization=token)
    assert_access_denied(reply)
    assert reply.headers["x-amzn-ErrorType"] == "AccessDeniedException"


def test_explicit_deny_wins_over_allow(gateway: Harness) -> None:
    token = scripted_token(
        {"return": policy(statement("Allow", f"{API_ARN}/*"), statement("Deny", f"{API_ARN}/GET/hello"))}
    )
    assert_access_denied(gateway.get("/hello", authorization=token))
    assert gateway.get("/hello", authorization=token, method="POST").status == 200


@pytest.mark.parametrize(
    ("resource", "status"),
    [
        (f"{API_ARN}/GET/hello", 200),
        (f"{API_ARN}/GET/hel?o", 200),
        (f"{API_ARN}/GET/hello?", 403),
        (f"{API_ARN}/*/hello", 200),
        (f"{API_ARN}/GET/*", 200),
        ("arn:aws:execute-api:us-east-1:123456789012:local/*", 200),
        ("arn:aws:execute-api:*:*:local/prod/GET/hello", 200),
        ("*", 200),
        (f"{API_ARN}/GET/Hello", 403),
        (f"{API_ARN}/GET", 403),
        ("arn:aws:execute-api:us-east-1:123456789012:other/prod/GET/hello", 403),
    ],
)
def test_policy_resource_wildcards(gateway: Harness, resource: str, status: int) -> None:
    token = scripted_token({"return": policy(statement("Allow", resource))})
    assert gateway.get("/hello", authorization=token).status == status


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("execute-api:Invoke", 200),
        ("execute-api:*", 200),
        ("*", 200),
        ("EXECUTE-API:invoke", 200),
        (["s3:GetObject", "execute-api:Invoke"], 200),
        ("execute-api:ManageConnections", 403),
        ("s3:*", 403),
    ],
)
def test_policy_actions(gateway: Harness, action, status: int) -> None:
    token = scripted_token({"return": policy(statement("Allow", "*", action))})
    assert gateway.get("/hello", authorization=token).status == status


def test_principal_and_context_reach_the_backend_as_request_context_authorizer(gateway: Harness) -> None:
    context = {"sub": "user-1", "scope": "items:read", "admin": False, "level": 3, "ratio": 0.5}
    token = scripted_token({"return": allow_all_response("user-1", context)})
    reply = gateway.get("/hello?x=1&x=2&y=", authorization=token, **{"X-Trace": "t1"})
    event = reply.json()["event"]
    assert event["requestContext"]["authorizer"] == {
        "principalId": "user-1",
        "integrationLatency": 0,
        "sub": "user-1",
        "scope": "items:read",
        "admin": "false",
        "level": "3",
        "ratio": "0.5",
    }
    assert {k: event[k] for k in ("resource", "path", "httpMethod", "pathParameters", "stageVariables")} == {
        "resource": "/hello",
        "path": "/hello",
        "httpMethod": "GET",
        "pathParameters": None,
        "stageVariables": None,
    }
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["headers"]["X-Trace"] == "t1"
    assert event["headers"]["Authorization"] == token
    assert (event["body"], event["isBase64Encoded"]) == (None, False)
    context_fields = {k: event["requestContext"][k] for k in ("resourcePath", "httpMethod", "path", "stage")}
    assert context_fields == {
        "resourcePath": "/hello",
        "httpMethod": "GET",
        "path": "/prod/hello",
        "stage": "prod",
    }
    assert (event["requestContext"]["accountId"], event["requestContext"]["apiId"]) == (
        "123456789012",
        "local",
    )


def test_path_parameters_and_body_reach_the_backend(gateway: Harness) -> None:
    token = scripted_token({"return": allow_all_response()})
    from tests.local.conftest import call

    reply = call(gateway.url, "POST", "/hello", {"Authorization": token}, body=b'{"name":"x"}')
    assert reply.json()["event"]["body"] == '{"name":"x"}'
    item = gateway.get("/items/42", authorization=token).json()["event"]
    assert (item["resource"], item["pathParameters"]) == ("/items/{id}", {"id": "42"})


def test_backend_response_status_headers_and_body_are_passed_through(gateway: Harness) -> None:
    reply = gateway.get("/health")
    assert reply.status == 200
    assert (reply.headers["Content-Type"], reply.headers["X-Echo"]) == ("application/json", "true")
    assert json.loads(reply.body)["invocation"] >= 1


def test_public_route_skips_the_authorizer(gateway: Harness) -> None:
    event = gateway.get("/health").json()["event"]
    assert "authorizer" not in event["requestContext"]
    assert gateway.invocations() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("DELETE", "/hello"), ("GET", "/items"), ("GET", "/items/1/2"), ("GET", "/")],
)
def test_unknown_route_is_missing_authentication_token(gateway: Harness, method: str, path: str) -> None:
    reply = gateway.get(path, method=method)
    assert (reply.status, reply.json()) == (403, {"message": "Missing Authentication Token"})
    assert reply.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert gateway.invocations() == []


def test_backend_error_is_502(gateway: Harness) -> None:
    reply = gateway.get("/health", **{"X-Echo-Mode": "raise"})
    assert (reply.status, reply.json()) == (502, {"message": "Internal server error"})


def test_malformed_backend_response_is_502(gateway: Harness) -> None:
    reply = gateway.get("/health", **{"X-Echo-Mode": "malformed"})
    assert (reply.status, reply.json()) == (502, {"message": "Internal server error"})


def test_every_request_logs_one_decision_without_the_token(gateway: Harness) -> None:
    token = scripted_token({"return": policy(statement("Allow", f"{API_ARN}/POST/hello"))})
    gateway.get("/hello", authorization=token)
    gateway.get("/hello")
    assert gateway.decisions == [
        {
            "component": "local-gateway",
            "method": "GET",
            "path": "/hello",
            "route": "GET /hello",
            "authorizer": "invoked",
            "principalId": "user-1",
            "reason": "policy_implicit_deny",
            "status": 403,
        },
        {
            "component": "local-gateway",
            "method": "GET",
            "path": "/hello",
            "route": "GET /hello",
            "reason": "identity_missing",
            "status": 401,
        },
    ]
