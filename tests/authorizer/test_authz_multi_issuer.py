"""ADDITIONAL_ISSUERS: two real loopback identity providers, each with its own audience and key set.

Issuer A is the primary (ISSUER/AUDIENCE, the ``idp`` fixture, publishing ``ring.rsa`` as kid
rsa-1 and the EC/Ed25519 keys); issuer B is an additional issuer publishing a *different* RSA key
under the same kid rsa-1 (``ring.attacker``) and ``ring.rsa_next`` as rsa-2. A key of one issuer
must never verify a token naming the other, and the token's unverified ``iss`` may only choose the
key set: nothing else of the payload counts before the signature holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from gate.errors import KeysUnavailable
from tests.authorizer.authz_support import (
    AUDIENCE,
    Harness,
    Idp,
    KeyRing,
    MakeHarness,
    b64e,
    compact,
    method_arn,
    rejection_reason,
)

TokenFor = Callable[..., str]
AUDIENCE_B = "api://orders-b"


@pytest.fixture
def idp_b(ring: KeyRing) -> Iterator[Idp]:
    server = Idp()
    server.publish(ring.attacker, ring.rsa_next)
    yield server
    server.close()


@pytest.fixture
def two(make_harness: MakeHarness, idp_b: Idp) -> Harness:
    """Issuer A primary, issuer B additional (key set by discovery); A's keys prefetched, as at cold start."""
    harness = make_harness(
        ADDITIONAL_ISSUERS=json.dumps([{"issuer": idp_b.issuer, "audience": [AUDIENCE_B, "api://shared"]}])
    )
    assert harness.authorizer.prefetch_keys() is True
    return harness


def test_each_issuer_accepts_its_own_tokens(two: Harness, idp_b: Idp, ring: KeyRing, token_for: TokenFor):
    response_a = two.call(token_for(ring.rsa))
    response_b = two.call(token_for(ring.attacker, iss=idp_b.issuer, aud=AUDIENCE_B, sub="user-b"))
    assert response_a["context"] == {
        "sub": "user-1",
        "scope": "orders:read",
        "client_id": "app-1",
        "iss": two.idp.issuer,
    }
    assert response_b["context"] == {
        "sub": "user-b",
        "scope": "orders:read",
        "client_id": "app-1",
        "iss": idp_b.issuer,
    }
    assert [(d["outcome"], d["sub"]) for d in two.decisions()] == [("allow", "user-1"), ("allow", "user-b")]


def test_any_audience_of_the_issuer_is_accepted(two: Harness, idp_b: Idp, ring: KeyRing, token_for: TokenFor):
    token = token_for(ring.rsa_next, iss=idp_b.issuer, aud=["api://elsewhere", "api://shared"])
    assert two.call(token)["principalId"] == "user-1"


def test_only_the_primary_key_set_is_prefetched(two: Harness, idp_b: Idp, ring: KeyRing, token_for: TokenFor):
    assert (
        two.idp.count("/jwks"),
        idp_b.count("/.well-known/openid-configuration"),
        idp_b.count("/jwks"),
    ) == (
        1,
        0,
        0,
    )
    two.call(token_for(ring.attacker, iss=idp_b.issuer, aud=AUDIENCE_B))
    two.call(token_for(ring.attacker, iss=idp_b.issuer, aud=AUDIENCE_B))
    # B discovered and fetched once, on first use; A untouched.
    assert (
        two.idp.count("/jwks"),
        idp_b.count("/.well-known/openid-configuration"),
        idp_b.count("/jwks"),
    ) == (
        1,
        1,
        1,
    )


def test_additional_issuer_with_a_jwks_uri_skips_discovery(
    make_harness: MakeHarness, idp_b: Idp, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(
        ADDITIONAL_ISSUERS=json.dumps(
            [{"issuer": "tenant-b", "audience": [AUDIENCE_B], "jwksUri": idp_b.jwks_uri}]
        )
    )
    response = harness.call(token_for(ring.rsa_next, iss="tenant-b", aud=AUDIENCE_B))
    assert response["context"]["iss"] == "tenant-b"
    assert (idp_b.count("/.well-known/openid-configuration"), idp_b.count("/jwks")) == (0, 1)


def test_audience_of_the_other_issuer_is_refused(
    two: Harness, idp_b: Idp, ring: KeyRing, token_for: TokenFor
):
    assert (
        rejection_reason(two, token_for(ring.attacker, iss=idp_b.issuer, aud=AUDIENCE)) == "audience_mismatch"
    )
    assert rejection_reason(two, token_for(ring.rsa, aud=AUDIENCE_B)) == "audience_mismatch"


def test_same_kid_from_the_other_issuers_key_set_is_a_bad_signature(
    two: Harness, idp_b: Idp, ring: KeyRing, token_for: TokenFor
):
    # Both issuers publish kid rsa-1 (different keys): each token is checked against its iss's key only.
    assert rejection_reason(two, token_for(ring.rsa, iss=idp_b.issuer, aud=AUDIENCE_B)) == "bad_signature"
    assert rejection_reason(two, token_for(ring.attacker)) == "bad_signature"


def test_kid_only_the_other_issuer_publishes_is_unknown(
    two: Harness, idp_b: Idp, ring: KeyRing, token_for: TokenFor
):
    assert rejection_reason(two, token_for(ring.es256, iss=idp_b.issuer, aud=AUDIENCE_B)) == "unknown_kid"
    assert rejection_reason(two, token_for(ring.rsa_next)) == "unknown_kid"
    # Each asked only its own provider: B once, to fill its key set on first use; A once more after the
    # prefetch, the refetch for an unknown kid.
    assert (two.idp.count("/jwks"), idp_b.count("/jwks")) == (2, 1)


@pytest.mark.parametrize(
    "iss",
    [
        pytest.param("https://evil.example.com", id="unconfigured"),
        pytest.param("ISSUER/", id="trailing-slash"),
        pytest.param("HTTP://127.0.0.1", id="case"),
        pytest.param(["ISSUER"], id="list"),
        pytest.param(None, id="absent"),
    ],
)
def test_unconfigured_iss_is_refused_before_any_key_lookup(
    two: Harness, idp_b: Idp, ring: KeyRing, token_for: TokenFor, iss
):
    issuer_a = two.idp.issuer
    if isinstance(iss, str):
        iss = iss.replace("ISSUER", issuer_a).replace("HTTP://127.0.0.1", issuer_a.upper())
    elif isinstance(iss, list):
        iss = [issuer_a]
    assert rejection_reason(two, token_for(ring.rsa, iss=iss, sub="admin")) == "issuer_mismatch"
    assert two.last_decision()["sub"] is None  # the unverified payload named a sub; it is not trusted
    assert (two.idp.count("/jwks"), idp_b.count("/jwks")) == (1, 0)


def test_forged_token_naming_a_trusted_issuer_reveals_nothing_of_its_payload(
    two: Harness, idp_b: Idp, ring: KeyRing, token_for: TokenFor
):
    header, _payload, signature = token_for(ring.attacker, iss=idp_b.issuer, aud=AUDIENCE_B).split(".")
    forged = b64e(json.dumps({"iss": idp_b.issuer, "aud": AUDIENCE_B, "sub": "admin", "scope": "*"}).encode())
    assert rejection_reason(two, f"{header}.{forged}.{signature}") == "bad_signature"
    assert two.last_decision() == {
        "event": "authorizer_decision",
        "outcome": "unauthorized",
        "reason": "bad_signature",
        "sub": None,
        "kid": "rsa-1",
        "method_arn": method_arn(),
    }


def test_unparsable_payload_is_malformed_before_any_key_lookup(two: Harness, idp_b: Idp, ring: KeyRing):
    token = compact({"alg": "RS256", "kid": "rsa-1"}, b'{"iss": ', ring.rsa)
    assert rejection_reason(two, token) == "malformed_token"
    assert (two.idp.count("/jwks"), idp_b.count("/jwks")) == (1, 0)


def test_single_issuer_never_reads_the_payload_before_the_signature(harness: Harness, ring: KeyRing):
    # The contrast to the test above: with one issuer there is nothing to choose, so a forged,
    # unparsable payload fails on its signature first.
    header, _payload, signature = compact({"alg": "RS256", "kid": "rsa-1"}, {"iss": "x"}, ring.rsa).split(".")
    unparsable = b64e(b'{"iss": ')
    assert rejection_reason(harness, f"{header}.{unparsable}.{signature}") == "bad_signature"


def test_one_issuer_down_does_not_affect_the_other(
    two: Harness, idp_b: Idp, ring: KeyRing, token_for: TokenFor
):
    idp_b.mode = "down"
    with pytest.raises(KeysUnavailable):
        two.call(token_for(ring.attacker, iss=idp_b.issuer, aud=AUDIENCE_B))
    assert two.last_decision()["reason"] == "keys_unavailable"
    failures = [json.loads(line) for line in two.log if '"jwks_refresh_failed"' in line]
    assert [(f["issuer"], f["detail"]) for f in failures] == [
        (idp_b.issuer, f"{idp_b.issuer}/.well-known/openid-configuration: HTTP 503")
    ]
    assert two.call(token_for(ring.rsa))["principalId"] == "user-1"
