"""Scope rules to per-route policies (docs/routes.md): exact documents for the route the request reaches."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from gate.errors import Rejection
from tests.authorizer.authz_support import API_PREFIX, Harness, KeyRing, MakeHarness, method_arn

TokenFor = Callable[..., str]
RULES = json.dumps(
    {
        "GET /orders": "orders:read",
        "GET /orders/*": "orders:read",
        "GET /orders/archive": "orders:admin",
        "GET /orders/archive/*": "orders:admin",
        "POST /orders": "orders:write",
        "DELETE /orders/*": "orders:write orders:admin",
        "* /health": "",
        "GET /": "orders:read",
    }
)


def allow(*resources: str, deny_nested: tuple[str, ...] = ()) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": list(resources)}
    ]
    if deny_nested:
        statements.append({"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": list(deny_nested)})
    return {"Version": "2012-10-17", "Statement": statements}


def deny(*resources: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": list(resources)}],
    }


def arns(*suffixes: str) -> tuple[str, ...]:
    return tuple(f"{API_PREFIX}/{suffix}" for suffix in suffixes)


def request_event(token: str, verb: str, path: str, resource: str) -> dict[str, Any]:
    """A REST REQUEST authorizer event as the stack's authorizer receives it (route chosen by API Gateway)."""
    return {
        "type": "REQUEST",
        "methodArn": f"{API_PREFIX}/{verb}{path}",
        "resource": resource,
        "path": path,
        "httpMethod": verb,
        "headers": {"Authorization": f"Bearer {token}"},
        "multiValueHeaders": {"Authorization": [f"Bearer {token}"]},
        "requestContext": {"resourcePath": resource, "httpMethod": verb, "path": f"/prod{path}"},
    }


@pytest.fixture
def ruled(make_harness: MakeHarness) -> Harness:
    return make_harness(SCOPE_RULES=RULES)


def test_without_rules_a_valid_token_may_call_the_whole_api(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    assert harness.call(token_for(ring.rsa)) == {
        "principalId": "user-1",
        "policyDocument": allow(f"{API_PREFIX}/*"),
        "context": {"sub": "user-1", "scope": "orders:read", "client_id": "app-1", "iss": harness.idp.issuer},
    }


@pytest.mark.parametrize(
    ("scope", "verb", "path", "resource", "document", "reason", "route"),
    [
        # A literal route answers for its trailing-slash spelling too.
        (
            "orders:read",
            "GET",
            "/orders",
            "/orders",
            allow(*arns("GET/orders", "GET/orders/")),
            "ok",
            "GET /orders",
        ),
        # A greedy route: "?*" needs one character; the resources nested inside it are denied.
        (
            "orders:read",
            "GET",
            "/orders/42",
            "/orders/{proxy+}",
            allow(
                *arns("GET/orders/?*"),
                deny_nested=arns("GET/orders/archive", "GET/orders/archive/", "GET/orders/archive/?*"),
            ),
            "ok",
            "GET /orders/*",
        ),
        # "*" (ANY) becomes the request's verb, never "*" in the method slot.
        ("", "PUT", "/health", "/health", allow(*arns("PUT/health", "PUT/health/")), "ok", "* /health"),
        ("orders:read", "GET", "/", "/", allow(*arns("GET/")), "ok", "GET /"),
        # Not granted: a deny about this route only.
        (
            "orders:read",
            "GET",
            "/orders/archive",
            "/orders/archive",
            deny(*arns("GET/orders/archive", "GET/orders/archive/")),
            "insufficient_scope",
            "GET /orders/archive",
        ),
        (
            "orders:read orders:write",
            "DELETE",
            "/orders/42",
            "/orders/{proxy+}",
            deny(*arns("DELETE/orders/?*")),
            "insufficient_scope",
            "DELETE /orders/*",
        ),
        (
            "orders:read",
            "POST",
            "/orders",
            "/orders",
            deny(*arns("POST/orders", "POST/orders/")),
            "insufficient_scope",
            "POST /orders",
        ),
    ],
)
def test_the_policy_is_about_the_route_api_gateway_selected(
    ruled: Harness, ring: KeyRing, token_for: TokenFor, scope, verb, path, resource, document, reason, route
):
    token = token_for(ring.rsa, scope=scope)
    response = ruled.authorizer.handle(request_event(token, verb, path, resource))
    assert response["policyDocument"] == document
    decision = ruled.last_decision()
    outcome = "allow" if reason == "ok" else "deny"
    assert (decision["outcome"], decision["reason"], decision["route"]) == (outcome, reason, route)


def test_one_route_gets_one_document_for_every_request_that_reaches_it(
    ruled: Harness, ring: KeyRing, token_for: TokenFor
):
    # API Gateway caches per (token, verb, route): whichever request of the route came first, the cached
    # document must serve all of them.
    token = token_for(ring.rsa, scope="orders:read")
    first = ruled.authorizer.handle(request_event(token, "GET", "/orders/1", "/orders/{proxy+}"))
    again = ruled.authorizer.handle(request_event(token, "GET", "/orders/2/items/", "/orders/{proxy+}"))
    assert again == first
    assert ruled.last_decision()["outcome"] == "allow"


def test_a_route_without_a_rule_is_denied_as_not_configured(
    ruled: Harness, ring: KeyRing, token_for: TokenFor
):
    token = token_for(ring.rsa, scope="orders:read orders:write orders:admin")
    response = ruled.authorizer.handle(request_event(token, "PATCH", "/orders", "/orders"))
    assert response["policyDocument"] == deny(f"{API_PREFIX}/*")
    decision = ruled.last_decision()
    assert (decision["outcome"], decision["reason"]) == ("deny", "route_not_configured")
    assert "route" not in decision


def test_a_request_event_whose_verb_disagrees_with_its_method_arn_is_malformed(
    ruled: Harness, ring: KeyRing, token_for: TokenFor
):
    event = request_event(token_for(ring.rsa), "GET", "/orders", "/orders")
    with pytest.raises(Rejection) as caught:
        ruled.authorizer.handle({**event, "httpMethod": "POST"})
    assert (caught.value.reason, ruled.last_decision()["reason"]) == ("malformed_event", "malformed_event")


@pytest.mark.parametrize(
    ("verb", "path", "document", "reason"),
    [
        ("GET", "orders", allow(*arns("GET/orders", "GET/orders/")), "ok"),
        ("GET", "orders/", allow(*arns("GET/orders", "GET/orders/")), "ok"),
        (
            "GET",
            "orders/42/items",
            allow(
                *arns("GET/orders/?*"),
                deny_nested=arns("GET/orders/archive", "GET/orders/archive/", "GET/orders/archive/?*"),
            ),
            "ok",
        ),
        ("GET", "orders/archive/2020", deny(*arns("GET/orders/archive/?*")), "insufficient_scope"),
        ("GET", "", allow(*arns("GET/")), "ok"),
        ("PUT", "health", allow(*arns("PUT/health", "PUT/health/")), "ok"),
        ("DELETE", "orders", deny(f"{API_PREFIX}/*"), "route_not_configured"),
        ("GET", "ordersx", deny(f"{API_PREFIX}/*"), "route_not_configured"),
        ("GET", "Orders", deny(f"{API_PREFIX}/*"), "route_not_configured"),
    ],
)
def test_token_events_are_routed_by_their_method_arn(
    ruled: Harness, ring: KeyRing, token_for: TokenFor, verb, path, document, reason
):
    response = ruled.call(token_for(ring.rsa, scope="orders:read"), method_arn(verb, path))
    assert response["policyDocument"] == document
    assert ruled.last_decision()["reason"] == reason


def test_nothing_granted_is_an_explicit_deny_of_the_route(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(SCOPE_RULES=json.dumps({"GET /orders": "orders:read"}))
    response = harness.call(token_for(ring.rsa, scope="profile"))
    assert response == {
        "principalId": "user-1",
        "policyDocument": deny(*arns("GET/orders", "GET/orders/")),
        "context": {"sub": "user-1", "scope": "profile", "client_id": "app-1", "iss": harness.idp.issuer},
    }
    assert harness.last_decision()["reason"] == "insufficient_scope"


@pytest.mark.parametrize(
    "scope_claims",
    [
        {"scope": "Orders:read"},
        {"scope": "orders:read2"},
        {"scope": "orders:read\torders:write"},
        {"scope": ["orders:read"]},
        {"scope": None, "scp": 7},
        {"scope": None},
    ],
)
def test_scopes_compare_exactly(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor, scope_claims):
    harness = make_harness(SCOPE_RULES=json.dumps({"GET /orders": "orders:read"}))
    assert harness.call(token_for(ring.rsa, **scope_claims))["policyDocument"] == deny(
        *arns("GET/orders", "GET/orders/")
    )


@pytest.mark.parametrize(
    ("scope_claims", "context_scope"),
    [
        ({"scope": None, "scp": ["orders:read", "profile"]}, "orders:read profile"),
        ({"scope": None, "scp": "orders:read"}, "orders:read"),
        ({"scope": "profile", "scp": ["orders:read"]}, "profile orders:read"),
        ({"scope": "profile  orders:read"}, "profile  orders:read"),
    ],
)
def test_scp_string_or_list_grants(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor, scope_claims, context_scope
):
    harness = make_harness(SCOPE_RULES=json.dumps({"GET /orders": "orders:read"}))
    response = harness.call(token_for(ring.rsa, **scope_claims))
    assert response["policyDocument"] == allow(*arns("GET/orders", "GET/orders/"))
    assert response["context"]["scope"] == context_scope


def test_scp_entry_with_a_space_cannot_poison_the_scope_memo(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(SCOPE_RULES=json.dumps({"GET /orders": "a b"}))
    assert harness.call(token_for(ring.rsa, scope=None, scp=["a b"]))["policyDocument"] == allow(
        *arns("GET/orders", "GET/orders/")
    )
    assert harness.call(token_for(ring.rsa, scope="a"))["policyDocument"] == deny(
        *arns("GET/orders", "GET/orders/")
    )


def test_resource_arn_is_the_policy_prefix(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(
        RESOURCE_ARN="arn:aws:execute-api:us-east-1:123456789012:abc123/*",
        SCOPE_RULES=json.dumps({"GET /orders": "orders:read"}),
    )
    response = harness.call(token_for(ring.rsa))
    assert response["policyDocument"] == allow(
        "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/orders",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/orders/",
    )
    assert harness.last_decision()["outcome"] == "allow"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:execute-api:us-east-1:123456789012:other1/prod/GET/orders",
        "arn:aws:execute-api:us-east-1:999999999999:abc123/prod/GET/orders",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/test/GET/orders",
    ],
)
def test_method_arn_outside_resource_arn_is_denied(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor, arn
):
    harness = make_harness(RESOURCE_ARN=API_PREFIX)
    response = harness.call(token_for(ring.rsa), arn)
    assert response["policyDocument"] == deny(arn.rsplit("/", 2)[0] + "/*")
    decision = harness.last_decision()
    assert (decision["outcome"], decision["reason"]) == ("deny", "resource_outside_api")


def test_context_carries_only_scalar_extra_claims(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(CONTEXT_CLAIMS="azp,tenant_no,admin,ratio,roles,address,missing")
    token = token_for(
        ring.rsa,
        client_id=None,
        azp="app-9",
        tenant_no=7,
        admin=False,
        ratio=0.5,
        roles=["a"],
        address={"city": "x"},
    )
    assert harness.call(token)["context"] == {
        "sub": "user-1",
        "scope": "orders:read",
        "client_id": "",
        "iss": harness.idp.issuer,
        "azp": "app-9",
        "tenant_no": 7,
        "admin": False,
        "ratio": 0.5,
    }


def test_principal_falls_back_to_client_id(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(REQUIRED_CLAIMS="iss,aud,exp")
    assert harness.call(token_for(ring.rsa, sub=None))["principalId"] == "app-1"
    assert harness.call(token_for(ring.rsa, sub=None, client_id=None))["principalId"] == "unknown"


def test_principal_can_be_qualified_by_the_issuer(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    # Two trusted issuers may both have a user "user-1"; "iss#sub" keeps them apart (an issuer has no "#").
    harness = make_harness(PRINCIPAL_ID_FORMAT="iss#sub")
    assert harness.call(token_for(ring.rsa))["principalId"] == f"{harness.idp.issuer}#user-1"
