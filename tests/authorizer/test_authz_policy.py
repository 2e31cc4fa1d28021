"""Scope rules to cache-safe policies: exact documents, and one document per token for every route."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.authorizer.authz_support import API_PREFIX, Harness, KeyRing, MakeHarness, method_arn

TokenFor = Callable[..., str]
RULES = json.dumps(
    {
        "GET /orders": "orders:read",
        "GET /orders/*": "orders:read",
        "POST /orders": "orders:write",
        "DELETE /orders/*": "orders:write orders:admin",
        "* /health": "",
        "GET /": "orders:read",
    }
)


def allow(*resources: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": list(resources)}],
    }


def deny(resource: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [resource]}],
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


def test_rules_allow_exactly_the_granted_routes(ruled: Harness, ring: KeyRing, token_for: TokenFor):
    response = ruled.call(token_for(ring.rsa, scope="orders:read"))
    assert response["policyDocument"] == allow(
        f"{API_PREFIX}/GET/orders",
        f"{API_PREFIX}/GET/orders/*",
        f"{API_PREFIX}/*/health",
        f"{API_PREFIX}/GET/",
    )
    assert ruled.last_decision()["outcome"] == "allow"


@pytest.mark.parametrize(
    ("method", "path", "outcome"),
    [
        ("GET", "orders", "allow"),
        ("GET", "orders/42/items", "allow"),
        ("GET", "", "allow"),
        ("PUT", "health", "allow"),
        ("POST", "orders", "deny"),
        ("DELETE", "orders/42", "deny"),
        ("GET", "ordersx", "deny"),
        ("GET", "Orders", "deny"),
    ],
)
def test_the_same_document_serves_every_route(
    ruled: Harness, ring: KeyRing, token_for: TokenFor, method, path, outcome
):
    # API Gateway caches the policy per token and applies it to every route: it must not depend on
    # the route that happened to come first; only the log reflects this request.
    token = token_for(ring.rsa, scope="orders:read")
    first = ruled.call(token, method_arn("GET", "orders"))
    response = ruled.call(token, method_arn(method, path))
    assert response == first
    decision = ruled.last_decision()
    assert (decision["outcome"], decision["reason"]) == (
        (outcome, "ok") if outcome == "allow" else (outcome, "insufficient_scope")
    )


def test_all_scopes_grant_all_rules(ruled: Harness, ring: KeyRing, token_for: TokenFor):
    response = ruled.call(token_for(ring.rsa, scope="orders:admin orders:write orders:read"))
    assert response["policyDocument"] == allow(
        f"{API_PREFIX}/GET/orders",
        f"{API_PREFIX}/GET/orders/*",
        f"{API_PREFIX}/POST/orders",
        f"{API_PREFIX}/DELETE/orders/*",
        f"{API_PREFIX}/*/health",
        f"{API_PREFIX}/GET/",
    )


def test_nothing_granted_is_an_explicit_deny(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(SCOPE_RULES=json.dumps({"GET /orders": "orders:read"}))
    response = harness.call(token_for(ring.rsa, scope="profile"))
    assert response == {
        "principalId": "user-1",
        "policyDocument": deny(f"{API_PREFIX}/*"),
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
    assert harness.call(token_for(ring.rsa, **scope_claims))["policyDocument"] == deny(f"{API_PREFIX}/*")


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
    assert response["policyDocument"] == allow(f"{API_PREFIX}/GET/orders")
    assert response["context"]["scope"] == context_scope


def test_scp_entry_with_a_space_cannot_poison_the_scope_memo(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(SCOPE_RULES=json.dumps({"GET /orders": "a b"}))
    assert harness.call(token_for(ring.rsa, scope=None, scp=["a b"]))["policyDocument"] == allow(
        f"{API_PREFIX}/GET/orders"
    )
    assert harness.call(token_for(ring.rsa, scope="a"))["policyDocument"] == deny(f"{API_PREFIX}/*")


def test_resource_arn_is_the_policy_prefix(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(
        RESOURCE_ARN="arn:aws:execute-api:us-east-1:123456789012:abc123/*",
        SCOPE_RULES=json.dumps({"GET /orders": "orders:read"}),
    )
    response = harness.call(token_for(ring.rsa))
    assert response["policyDocument"] == allow(
        "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/orders"
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
    harness = make_harness(CONTEXT_CLAIMS="azp,tenant_no,admin,ratio,roles,address,missing,sub")
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
