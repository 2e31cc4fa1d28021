"""AUDIENCE_CLAIM, SCOPE_CLAIMS and REQUIRED_CLAIM_VALUES: what identity-provider profiles configure.

Each variable gets its accept case and one test per way a token can fail it; the defaults are
covered by the rest of the suite (they keep the issue 3 behaviour).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.authorizer.authz_support import (
    API_PREFIX,
    KeyRing,
    MakeHarness,
    allow_document,
    claims,
    compact,
    deny_document,
    method_arn,
    rejection_reason,
)

TokenFor = Callable[..., str]


# --- AUDIENCE_CLAIM ---------------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["client_id", "azp", "cid"])
def test_client_audience_claim_accepts_a_token_without_aud(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor, claim
):
    harness = make_harness(AUDIENCE_CLAIM=claim, AUDIENCE="app-7,app-8")
    token = token_for(ring.rsa, **{"aud": None, "client_id": None, claim: "app-8"})
    assert harness.call(token) == {
        "principalId": "user-1",
        "policyDocument": allow_document(f"{API_PREFIX}/*"),
        "context": {"sub": "user-1", "scope": "orders:read", "client_id": "app-8", "iss": harness.idp.issuer},
    }
    assert harness.last_decision()["reason"] == "ok"


def test_client_audience_claim_names_the_principal_without_sub(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(AUDIENCE_CLAIM="cid", AUDIENCE="app-8", REQUIRED_CLAIMS="iss,cid,exp")
    response = harness.call(token_for(ring.rsa, aud=None, sub=None, cid="app-8"))
    assert (response["principalId"], response["context"]["client_id"]) == ("app-8", "app-8")


def test_client_audience_claim_of_another_app_is_refused(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(AUDIENCE_CLAIM="client_id", AUDIENCE="app-8")
    assert rejection_reason(harness, token_for(ring.rsa, aud=None, client_id="app-9")) == "audience_mismatch"


def test_aud_is_not_consulted_when_another_claim_carries_the_audience(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    # aud naming AUDIENCE must not stand in for the configured claim.
    harness = make_harness(AUDIENCE_CLAIM="azp", AUDIENCE="app-8")
    assert rejection_reason(harness, token_for(ring.rsa, aud="app-8", azp="app-9")) == "audience_mismatch"


def test_aud_of_another_api_is_ignored_when_another_claim_carries_the_audience(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(AUDIENCE_CLAIM="azp", AUDIENCE="app-8")
    assert harness.call(token_for(ring.rsa, aud="account", azp="app-8"))["principalId"] == "user-1"


@pytest.mark.parametrize("value", [["app-8"], 8, True, {"id": "app-8"}, "App-8", "app-8 "])
def test_client_audience_claim_must_be_exactly_a_configured_string(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor, value
):
    # Only aud may be an array; client claims are single strings, compared exactly.
    harness = make_harness(AUDIENCE_CLAIM="client_id", AUDIENCE="app-8")
    assert rejection_reason(harness, token_for(ring.rsa, aud=None, client_id=value)) == "audience_mismatch"


def test_missing_client_audience_claim_is_a_missing_claim_by_default(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(AUDIENCE_CLAIM="client_id", AUDIENCE="app-8")
    assert rejection_reason(harness, token_for(ring.rsa, client_id=None)) == "missing_claim"


def test_client_audience_claim_is_checked_even_when_not_required(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(AUDIENCE_CLAIM="client_id", AUDIENCE="app-8", REQUIRED_CLAIMS="iss,exp")
    assert rejection_reason(harness, token_for(ring.rsa, client_id=None)) == "audience_mismatch"


def test_aud_can_still_be_required_beside_a_client_audience_claim(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(
        AUDIENCE_CLAIM="client_id", AUDIENCE="app-8", REQUIRED_CLAIMS="iss,aud,client_id,exp"
    )
    assert harness.call(token_for(ring.rsa, aud="any-api", client_id="app-8"))["principalId"] == "user-1"
    assert rejection_reason(harness, token_for(ring.rsa, aud=None, client_id="app-8")) == "missing_claim"


# --- SCOPE_CLAIMS -----------------------------------------------------------------------------

READ_RULE = json.dumps({"GET /orders": "orders:read"})


def test_scope_claims_read_a_permissions_list(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(SCOPE_CLAIMS="permissions", SCOPE_RULES=READ_RULE)
    response = harness.call(token_for(ring.rsa, scope="openid", permissions=["orders:read", "orders:write"]))
    assert response["policyDocument"] == allow_document(
        f"{API_PREFIX}/GET/orders", f"{API_PREFIX}/GET/orders/"
    )
    assert response["context"]["scope"] == "orders:read orders:write"


def test_claims_not_listed_in_scope_claims_grant_nothing(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(SCOPE_CLAIMS="permissions", SCOPE_RULES=READ_RULE)
    response = harness.call(token_for(ring.rsa, scope="orders:read", scp=["orders:read"], permissions=[]))
    assert response["policyDocument"] == deny_document(
        f"{API_PREFIX}/GET/orders", f"{API_PREFIX}/GET/orders/"
    )
    assert response["context"]["scope"] == ""


def test_default_scope_claims_ignore_permissions(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(SCOPE_RULES=READ_RULE)
    response = harness.call(
        token_for(ring.rsa, scope=None, permissions=["orders:read"], roles=["orders:read"])
    )
    assert response["policyDocument"] == deny_document(
        f"{API_PREFIX}/GET/orders", f"{API_PREFIX}/GET/orders/"
    )


def test_scopes_of_all_listed_claims_are_united(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    # No single claim holds both scopes of the rule; together they do.
    harness = make_harness(
        SCOPE_CLAIMS="scope,permissions,roles",
        SCOPE_RULES=json.dumps({"DELETE /orders/*": "orders:write admin"}),
    )
    token = token_for(ring.rsa, scope="openid orders:write", permissions=["orders:write"], roles="admin")
    response = harness.call(token, method_arn("DELETE", "orders/7"))
    assert response["policyDocument"] == allow_document(f"{API_PREFIX}/DELETE/orders/?*")
    assert response["context"]["scope"] == "openid orders:write admin"


@pytest.mark.parametrize(
    ("roles", "context_scope"),
    [
        (["orders:read", 7, None, {"x": 1}], "orders:read"),
        ("orders:read profile", "orders:read profile"),
        (["orders:read profile"], "orders:read profile"),
    ],
)
def test_list_entries_that_are_not_strings_grant_nothing(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor, roles, context_scope
):
    harness = make_harness(SCOPE_CLAIMS="roles", SCOPE_RULES=READ_RULE)
    response = harness.call(token_for(ring.rsa, scope=None, roles=roles))
    assert response["policyDocument"] == allow_document(
        f"{API_PREFIX}/GET/orders", f"{API_PREFIX}/GET/orders/"
    )
    assert response["context"]["scope"] == context_scope


@pytest.mark.parametrize("roles", [{"orders:read": True}, 1, True, [["orders:read"]]])
def test_scope_claim_of_another_shape_grants_nothing(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor, roles
):
    harness = make_harness(SCOPE_CLAIMS="roles", SCOPE_RULES=READ_RULE)
    response = harness.call(token_for(ring.rsa, scope=None, roles=roles))
    assert (response["policyDocument"], response["context"]["scope"]) == (
        deny_document(f"{API_PREFIX}/GET/orders", f"{API_PREFIX}/GET/orders/"),
        "",
    )


def test_scope_stays_a_string_only_claim_when_listed(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    # RFC 9068 section 2.2.3: scope is a space-separated string; a list there is not a grant.
    harness = make_harness(SCOPE_CLAIMS="scope,roles", SCOPE_RULES=READ_RULE)
    response = harness.call(token_for(ring.rsa, scope=["orders:read"], roles=["profile"]))
    assert (response["policyDocument"], response["context"]["scope"]) == (
        deny_document(f"{API_PREFIX}/GET/orders", f"{API_PREFIX}/GET/orders/"),
        "profile",
    )


# --- REQUIRED_CLAIM_VALUES --------------------------------------------------------------------


def test_required_claim_values_that_hold_allow(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(REQUIRED_CLAIM_VALUES='{"token_use":"access","ver":2,"mfa":true,"level":1.5}')
    token = token_for(ring.rsa, token_use="access", ver=2, mfa=True, level=1.5)
    assert harness.call(token)["principalId"] == "user-1"


@pytest.mark.parametrize(
    ("required", "actual"),
    [
        pytest.param('{"token_use":"access"}', "id", id="other-string"),
        pytest.param('{"token_use":"access"}', "Access", id="case"),
        pytest.param('{"token_use":"access"}', "access ", id="trailing-space"),
        pytest.param('{"token_use":"access"}', ["access"], id="list"),
        pytest.param('{"mfa":true}', 1, id="one-for-true"),
        pytest.param('{"mfa":true}', "true", id="string-for-true"),
        pytest.param('{"ver":1}', True, id="true-for-one"),
        pytest.param('{"ver":2}', 2.0, id="float-for-int"),
        pytest.param('{"ver":2}', "2", id="string-for-int"),
        pytest.param('{"level":1.5}', 1.25, id="other-float"),
        pytest.param('{"tenant":"a"}', {"tenant": "a"}, id="object"),
    ],
)
def test_required_claim_value_compares_type_and_value(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor, required, actual
):
    harness = make_harness(REQUIRED_CLAIM_VALUES=required)
    claim = next(iter(json.loads(required)))
    assert rejection_reason(harness, token_for(ring.rsa, **{claim: actual})) == "claim_value_mismatch"


def test_absent_required_claim_value_is_a_missing_claim(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(REQUIRED_CLAIM_VALUES='{"token_use":"access"}')
    assert rejection_reason(harness, token_for(ring.rsa)) == "missing_claim"


def test_null_required_claim_value_is_a_missing_claim(make_harness: MakeHarness, ring: KeyRing):
    harness = make_harness(REQUIRED_CLAIM_VALUES='{"token_use":"access"}')
    payload: dict[str, Any] = {**claims(iss=harness.idp.issuer), "token_use": None}
    token = compact({"alg": "RS256", "kid": "rsa-1"}, payload, ring.rsa)
    assert rejection_reason(harness, token) == "missing_claim"


def test_claim_value_mismatch_is_logged_with_the_verified_subject(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(REQUIRED_CLAIM_VALUES='{"token_use":"access"}')
    rejection_reason(harness, token_for(ring.rsa, token_use="id"))
    assert harness.last_decision() == {
        "event": "authorizer_decision",
        "outcome": "unauthorized",
        "reason": "claim_value_mismatch",
        "sub": "user-1",
        "kid": "rsa-1",
        "method_arn": method_arn(),
    }


def test_claim_values_are_checked_before_audience(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    # An ID token is usually also misdirected; the kind of token is the more useful reason.
    harness = make_harness(REQUIRED_CLAIM_VALUES='{"token_use":"access"}')
    assert (
        rejection_reason(harness, token_for(ring.rsa, token_use="id", aud="app-1")) == "claim_value_mismatch"
    )


def test_claim_values_only_count_after_the_signature(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(REQUIRED_CLAIM_VALUES='{"token_use":"access"}')
    assert rejection_reason(harness, token_for(ring.attacker, token_use="access")) == "bad_signature"
