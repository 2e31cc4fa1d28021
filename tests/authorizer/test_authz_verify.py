"""Token validation: one test per rejection reason, with real RSA, EC and Ed25519 keys.

Every rejection must surface as gate.errors.Rejection with the exact reason code (the handler maps it
to Exception("Unauthorized"), see test_authz_handler.py) and must be logged as such.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from gate.errors import Rejection
from tests.authorizer.authz_support import (
    AUDIENCE,
    NOW,
    Harness,
    KeyRing,
    MakeHarness,
    SigningKey,
    b64e,
    claims,
    compact,
)

TokenFor = Callable[..., str]


def rejected(harness: Harness, token: str) -> str:
    with pytest.raises(Rejection) as caught:
        harness.call(token)
    assert harness.last_decision()["outcome"] == "unauthorized"
    assert harness.last_decision()["reason"] == caught.value.reason
    return caught.value.reason


def keys_by_alg(ring: KeyRing) -> dict[str, SigningKey]:
    return {"RS256": ring.rsa, "ES256": ring.es256, "ES384": ring.es384, "ES512": ring.es512, "EdDSA": ring.eddsa}


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
def test_every_rsa_algorithm_verifies_with_the_rsa_key(harness: Harness, ring: KeyRing, token_for: TokenFor, alg):
    response = harness.call(token_for(ring.rsa, alg=alg))
    assert response["principalId"] == "user-1"
    assert harness.last_decision()["outcome"] == "allow"


@pytest.mark.parametrize("name", ["ES256", "ES384", "ES512", "EdDSA"])
def test_ec_and_ed25519_keys_verify(harness: Harness, ring: KeyRing, token_for: TokenFor, name):
    harness.call(token_for(keys_by_alg(ring)[name]))
    assert harness.last_decision() == {
        "event": "authorizer_decision",
        "outcome": "allow",
        "reason": "ok",
        "sub": "user-1",
        "kid": keys_by_alg(ring)[name].kid,
        "method_arn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/orders",
    }


@pytest.mark.parametrize("name", ["RS256", "ES256", "ES384", "ES512", "EdDSA"])
def test_bad_signature_for_each_key_type(harness: Harness, ring: KeyRing, token_for: TokenFor, name):
    header, payload, signature = token_for(keys_by_alg(ring)[name]).split(".")
    tampered_payload = b64e(json.dumps(claims(iss=harness.idp.issuer, sub="admin")).encode())
    assert rejected(harness, f"{header}.{tampered_payload}.{signature}") == "bad_signature"


def test_token_signed_by_another_key_with_a_trusted_kid_is_a_bad_signature(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    assert rejected(harness, token_for(ring.attacker)) == "bad_signature"


@pytest.mark.parametrize(("name", "alg"), [("ES256", "ES384"), ("ES384", "ES256"), ("EdDSA", "ES256"), ("ES256", "RS256")])
def test_key_type_or_curve_not_fitting_the_alg_is_refused(harness: Harness, ring: KeyRing, name, alg):
    # The token names a trusted kid but an algorithm that key may not be used with.
    key = keys_by_alg(ring)[name]
    header = {"alg": alg, "kid": key.kid}
    signer = {"ES256": ring.es256, "ES384": ring.es384, "RS256": ring.rsa}[alg]
    forged = compact(header, claims(iss=harness.idp.issuer), signer)
    assert rejected(harness, forged) == "key_alg_mismatch"
