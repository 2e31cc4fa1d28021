"""REQUEST authorizers: identity sources, the event API Gateway sends, and the cache keyed by their values.

Same harness as test_local_gateway.py (scripted authorizer, echo backend, invocations counted at the
function); the authorizer here has the stack's identity sources: the Authorization header,
context.httpMethod and context.resourcePath, and no validation expression.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.template import IdentitySource, TemplateError, load_api_model
from tests.local.conftest import (
    API_ARN,
    Harness,
    allow_all_response,
    assert_authorizer_failure,
    assert_unauthorized,
    build_template,
    policy,
    scripted_token,
    statement,
)
from tests.local.synth import PROJECT_ROOT


def routes_invoked(gateway: Harness) -> list[tuple[str, str, str]]:
    return [(e["httpMethod"], e["resource"], e["path"]) for e in gateway.invocations()]


def load(tmp_path: Path, **template_options: Any) -> Any:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(build_template(tmp_path / "log.jsonl", **template_options)))
    return load_api_model(path, PROJECT_ROOT)


def test_identity_sources_are_read_from_the_template(tmp_path: Path) -> None:
    model = load(
        tmp_path,
        authorizer_type="REQUEST",
        identity_source="method.request.header.Authorization, method.request.querystring.key,"
        "context.httpMethod,context.resourcePath",
    )
    authorizer = model.authorizers["Authorizer"]
    assert (authorizer.type, authorizer.validation_expression, authorizer.ttl_seconds) == (
        "REQUEST",
        None,
        300,
    )
    assert authorizer.identity_sources == (
        IdentitySource("header", "Authorization"),
        IdentitySource("querystring", "key"),
        IdentitySource("context", "httpMethod"),
        IdentitySource("context", "resourcePath"),
    )


@pytest.mark.parametrize(
    "source",
    ["stageVariables.key", "context.identity.sourceIp", "method.request.path.id", "method.request.header."],
)
def test_other_identity_sources_stop_the_local_run(tmp_path: Path, source: str) -> None:
    with pytest.raises(TemplateError) as error:
        load(
            tmp_path,
            authorizer_type="REQUEST",
            identity_source=f"method.request.header.Authorization,{source}",
        )
    assert str(error.value) == f"authorizer Authorizer: identity source {source!r} is not emulated"


def test_the_event_is_the_request_and_the_route_it_reached(request_gateway: Harness) -> None:
    token = scripted_token({"return": allow_all_response()})
    reply = request_gateway.get("/items/42?x=1&x=2&y=", authorization=token, **{"X-Trace": "t1"})
    assert reply.status == 200
    [event] = request_gateway.invocations()
    context = event.pop("requestContext")
    host = request_gateway.url.removeprefix("http://")
    headers = {"Host": host, "Accept-Encoding": "identity", "Authorization": token, "X-Trace": "t1"}
    assert event == {
        "type": "REQUEST",
        "methodArn": f"{API_ARN}/GET/items/42",
        "resource": "/items/{id}",
        "path": "/items/42",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {"x": "2", "y": ""},
        "multiValueQueryStringParameters": {"x": ["1", "2"], "y": [""]},
        "pathParameters": {"id": "42"},
        "stageVariables": None,
    }
    request_id = reply.headers["x-amzn-RequestId"]
    assert {k: v for k, v in context.items() if k not in ("requestTime", "requestTimeEpoch")} == {
        "resourceId": "/items/{id}",
        "resourcePath": "/items/{id}",
        "httpMethod": "GET",
        "extendedRequestId": request_id,
        "path": "/prod/items/42",
        "accountId": "123456789012",
        "protocol": "HTTP/1.1",
        "stage": "prod",
        "domainPrefix": "127",
        "requestId": request_id,
        "identity": {"sourceIp": "127.0.0.1", "userAgent": None},
        "domainName": host,
        "apiId": "local",
    }
    backend_context = reply.json()["event"]["requestContext"]
    assert (backend_context["requestId"], backend_context["authorizer"]["principalId"]) == (
        request_id,
        "user-1",
    )


@pytest.mark.parametrize("authorization", [None, ""], ids=["missing", "empty"])
def test_missing_or_empty_header_is_401_without_invoking(
    request_gateway: Harness, authorization: str | None
) -> None:
    assert_unauthorized(request_gateway.get("/hello", authorization=authorization))
    assert request_gateway.invocations() == []
    assert request_gateway.decisions[-1]["reason"] == "identity_missing"


def test_missing_query_string_source_is_401_without_invoking(start_gateway: Callable[..., Harness]) -> None:
    gateway = start_gateway(
        authorizer_type="REQUEST",
        identity_source="method.request.header.Authorization,method.request.querystring.key",
    )
    token = scripted_token({"return": allow_all_response()})
    assert_unauthorized(gateway.get("/hello", authorization=token))
    assert_unauthorized(gateway.get("/hello?key=", authorization=token))
    assert gateway.invocations() == []
    assert gateway.get("/hello?key=k1", authorization=token).status == 200
    assert routes_invoked(gateway) == [("GET", "/hello", "/hello")]


def test_without_a_validation_expression_any_header_value_reaches_the_authorizer(
    request_gateway: Harness,
) -> None:
    assert_authorizer_failure(request_gateway.get("/hello", authorization="Basic dXNlcjpwYXNz"))
    assert len(request_gateway.invocations()) == 1


def test_same_token_and_route_reuses_the_cached_result(request_gateway: Harness) -> None:
    token = scripted_token({"return": allow_all_response()})
    assert request_gateway.get("/items/1", authorization=token).status == 200
    assert request_gateway.get("/items/2", authorization=token).status == 200
    assert request_gateway.get("/items/1/", authorization=token).status == 200
    assert routes_invoked(request_gateway) == [("GET", "/items/{id}", "/items/1")]
    assert [d["authorizer"] for d in request_gateway.decisions] == ["invoked", "cached", "cached"]


def test_same_token_on_another_route_invokes_again(request_gateway: Harness) -> None:
    token = scripted_token({"return": allow_all_response()})
    request_gateway.get("/hello", authorization=token)
    request_gateway.get("/items/1", authorization=token)
    request_gateway.get("/hello", authorization=token)
    assert routes_invoked(request_gateway) == [
        ("GET", "/hello", "/hello"),
        ("GET", "/items/{id}", "/items/1"),
    ]


def test_same_token_with_another_verb_invokes_again(request_gateway: Harness) -> None:
    token = scripted_token({"return": allow_all_response()})
    request_gateway.get("/hello", authorization=token)
    request_gateway.get("/hello", authorization=token, method="POST")
    request_gateway.get("/hello", authorization=token, method="POST")
    assert routes_invoked(request_gateway) == [("GET", "/hello", "/hello"), ("POST", "/hello", "/hello")]


def test_a_policy_for_one_route_is_not_applied_to_the_next(request_gateway: Harness) -> None:
    """The cached Allow of GET /hello never reaches POST /hello: that request gets its own decision."""
    get_only = scripted_token({"return": policy(statement("Allow", f"{API_ARN}/GET/hello"))})
    assert request_gateway.get("/hello", authorization=get_only).status == 200
    assert request_gateway.get("/hello", authorization=get_only, method="POST").status == 403
    assert len(request_gateway.invocations()) == 2


def test_ttl_zero_invokes_every_time(start_gateway: Callable[..., Harness]) -> None:
    gateway = start_gateway(authorizer_type="REQUEST", ttl=0)
    token = scripted_token({"return": allow_all_response()})
    gateway.get("/hello", authorization=token)
    gateway.get("/hello", authorization=token)
    assert routes_invoked(gateway) == [("GET", "/hello", "/hello"), ("GET", "/hello", "/hello")]
