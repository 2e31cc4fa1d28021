"""Token validation: one test per rejection reason, with real RSA, EC and Ed25519 keys.

Every rejection must surface as gate.errors.Rejection with the exact reason code (the handler maps it
to Exception("Unauthorized"), see test_authz_handler.py) and must be logged as such.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

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
    rejection_reason,
)

TokenFor = Callable[..., str]


def keys_by_alg(ring: KeyRing) -> dict[str, SigningKey]:
    return {
        "RS256": ring.rsa,
        "ES256": ring.es256,
        "ES384": ring.es384,
        "ES512": ring.es512,
        "EdDSA": ring.eddsa,
    }


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
def test_every_rsa_algorithm_verifies_with_the_rsa_key(
    harness: Harness, ring: KeyRing, token_for: TokenFor, alg
):
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
    header, _payload, signature = token_for(keys_by_alg(ring)[name]).split(".")
    tampered_payload = b64e(json.dumps(claims(iss=harness.idp.issuer, sub="admin")).encode())
    assert rejection_reason(harness, f"{header}.{tampered_payload}.{signature}") == "bad_signature"


def test_token_signed_by_another_key_with_a_trusted_kid_is_a_bad_signature(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    assert rejection_reason(harness, token_for(ring.attacker)) == "bad_signature"


@pytest.mark.parametrize(
    ("name", "alg"), [("ES256", "ES384"), ("ES384", "ES256"), ("EdDSA", "ES256"), ("ES256", "RS256")]
)
def test_key_type_or_curve_not_fitting_the_alg_is_refused(harness: Harness, ring: KeyRing, name, alg):
    # The token names a trusted kid but an algorithm that key may not be used with.
    key = keys_by_alg(ring)[name]
    header = {"alg": alg, "kid": key.kid}
    signer = {"ES256": ring.es256, "ES384": ring.es384, "RS256": ring.rsa}[alg]
    forged = compact(header, claims(iss=harness.idp.issuer), signer)
    assert rejection_reason(harness, forged) == "key_alg_mismatch"


def raw_token(
    header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes, signer: SigningKey, issuer: str
) -> str:
    if isinstance(payload, dict):
        payload = {**payload, "iss": issuer} if payload.get("iss") == "ISSUER" else payload
    return compact(header, payload, signer)


# --- strict compact serialization -------------------------------------------------------------


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(lambda t: t.rsplit(".", 1)[0], id="two-segments"),
        pytest.param(lambda t: t + ".e30", id="four-segments"),
        pytest.param(lambda t: t.rsplit(".", 1)[0] + ".", id="empty-signature"),
        pytest.param(lambda t: "." + t.split(".", 1)[1], id="empty-header"),
        pytest.param(lambda t: t + "=", id="padding-on-signature"),
        pytest.param(
            lambda t: t.replace("-", "+").replace("_", "/") if ("-" in t or "_" in t) else t + "+",
            id="std-alphabet",
        ),
        pytest.param(lambda t: t.replace(".", "\t.", 1), id="tab-inside"),
        pytest.param(lambda t: "\u0430" + t[1:], id="non-ascii"),
    ],
)
def test_malformed_compact_serialization(harness: Harness, ring: KeyRing, token_for: TokenFor, mutation):
    assert rejection_reason(harness, mutation(token_for(ring.rsa))) == "malformed_token"


@pytest.mark.parametrize("segment", [0, 1, 2])
def test_non_canonical_trailing_bits_are_refused(
    harness: Harness, ring: KeyRing, token_for: TokenFor, segment
):
    # Flipping an unused low bit leaves the decoded bytes unchanged: a second spelling of the token.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for k in range(4):  # find lengths where the segment ends in a partial base64 group
        parts = token_for(ring.rsa, header={"pad": "p" * k}, sub="u" * (k + 1)).split(".")
        if len(parts[segment]) % 4:
            break
    original = parts[segment]
    respelled = original[:-1] + alphabet[alphabet.index(original[-1]) + 1]
    lenient = [base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)) for s in (original, respelled)]
    assert lenient[0] == lenient[1]
    parts[segment] = respelled
    assert rejection_reason(harness, ".".join(parts)) == "malformed_token"


def test_header_with_duplicate_member_names_is_refused(harness: Harness, ring: KeyRing):
    header = b'{"alg":"RS256","kid":"rsa-1","alg":"RS256"}'
    assert (
        rejection_reason(harness, raw_token(header, claims(), ring.rsa, harness.idp.issuer))
        == "malformed_token"
    )


def test_validly_signed_payload_with_duplicate_claims_is_refused(harness: Harness, ring: KeyRing):
    # Two parsers could read different "sub" values from this payload; refuse rather than pick one.
    payload = json.dumps(claims(iss=harness.idp.issuer))[:-1].encode() + b', "sub": "admin"}'
    assert (
        rejection_reason(harness, raw_token({"alg": "RS256", "kid": "rsa-1"}, payload, ring.rsa, ""))
        == "malformed_token"
    )


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b'{"exp": NaN}', id="nan"),
        pytest.param(b'{"exp": Infinity}', id="infinity"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"{}  x", id="trailing-data"),
        pytest.param(b"[" * 100_00 + b"]" * 100_00, id="deep-nesting"),
    ],
)
def test_validly_signed_payload_that_is_not_a_strict_json_object(harness: Harness, ring: KeyRing, payload):
    token = raw_token({"alg": "RS256", "kid": "rsa-1"}, payload, ring.rsa, "")
    assert rejection_reason(harness, token) == (
        "token_too_large" if len(token) > 16384 else "malformed_token"
    )


@pytest.mark.parametrize("header", [b"[]", b"null", b"not json", b'{"alg":"RS256","kid":"rsa-1"'])
def test_header_that_is_not_a_json_object(harness: Harness, ring: KeyRing, header):
    assert rejection_reason(harness, raw_token(header, claims(), ring.rsa, "")) == "malformed_token"


def test_oversized_token_is_refused_before_parsing(harness: Harness, ring: KeyRing, token_for: TokenFor):
    token = token_for(ring.rsa, padding="x" * 16384)
    assert rejection_reason(harness, token) == "token_too_large"
    assert harness.idp.count("/jwks") == 0  # no key lookup for it


def test_kid_that_is_not_a_string(harness: Harness, ring: KeyRing):
    token = raw_token({"alg": "RS256", "kid": 1}, claims(iss=harness.idp.issuer), ring.rsa, "")
    assert rejection_reason(harness, token) == "malformed_token"


# --- algorithm confusion ------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_in_any_case_is_refused(harness: Harness, ring: KeyRing, alg):
    header = b64e(json.dumps({"alg": alg, "kid": "rsa-1"}).encode())
    payload = b64e(json.dumps(claims(iss=harness.idp.issuer)).encode())
    assert rejection_reason(harness, f"{header}.{payload}.") == "malformed_token"  # no signature at all
    assert rejection_reason(harness, f"{header}.{payload}.{b64e(b'x')}") == "unsupported_alg"


@pytest.mark.parametrize("form", ["pem", "jwk"])
@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_signed_with_the_public_key_is_refused(harness: Harness, ring: KeyRing, form, alg):
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    public = ring.rsa.private.public_key()
    secret = (
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        if form == "pem"
        else json.dumps(ring.rsa.jwk).encode()
    )
    signing_input = (
        f"{b64e(json.dumps({'alg': alg, 'kid': 'rsa-1'}).encode())}."
        f"{b64e(json.dumps(claims(iss=harness.idp.issuer)).encode())}"
    )
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    mac = hmac.new(secret, signing_input.encode(), digest).digest()
    assert rejection_reason(harness, f"{signing_input}.{b64e(mac)}") == "unsupported_alg"


def test_alg_outside_the_configured_allow_list(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(ALGORITHMS="RS256")
    assert rejection_reason(harness, token_for(ring.es256)) == "unsupported_alg"
    assert rejection_reason(harness, token_for(ring.rsa, alg="PS256")) == "unsupported_alg"


def test_missing_alg(harness: Harness, ring: KeyRing):
    token = raw_token({"kid": "rsa-1"}, claims(iss=harness.idp.issuer), ring.rsa, "")
    assert rejection_reason(harness, token) == "unsupported_alg"


# --- keys from the token are never used ---------------------------------------------------------


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c"])
def test_key_material_in_the_header_is_ignored(harness: Harness, ring: KeyRing, token_for: TokenFor, member):
    attacker_jwk = {**ring.attacker.jwk, "kid": "rsa-1"}
    value = {
        "jwk": attacker_jwk,
        "jku": f"{harness.idp.base}/attacker-jwks",
        "x5u": f"{harness.idp.base}/attacker-cert",
        "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"],
    }[member]
    assert rejection_reason(harness, token_for(ring.attacker, header={member: value})) == "bad_signature"
    assert harness.idp.count("/attacker-jwks") == 0
    assert harness.idp.count("/attacker-cert") == 0


def test_attacker_key_with_its_own_kid_and_embedded_jwk_is_unknown(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    attacker = ring.attacker.with_kid("attacker-1")
    assert rejection_reason(harness, token_for(attacker, header={"jwk": attacker.jwk})) == "unknown_kid"


# --- crit, typ, kid -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"], "exp": 1},
        {"crit": ["b64"], "b64": True},
        {"crit": []},
        {"b64": False},
        {"crit": "x"},
    ],
)
def test_critical_extensions_are_refused(harness: Harness, ring: KeyRing, token_for: TokenFor, extra):
    assert rejection_reason(harness, token_for(ring.rsa, header=extra)) == "unsupported_crit"


@pytest.mark.parametrize(
    ("typ", "accepted"),
    [
        ("at+jwt", True),
        ("application/at+jwt", True),
        ("AT+JWT", True),
        ("JWT", False),
        (None, False),
        (["at+jwt"], False),
    ],
)
def test_token_types(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor, typ, accepted):
    harness = make_harness(TOKEN_TYPES="at+jwt,application/at+jwt")
    token = token_for(ring.rsa, header={"typ": typ})
    if accepted:
        assert harness.call(token)["principalId"] == "user-1"
    else:
        assert rejection_reason(harness, token) == "token_type_mismatch"


def test_any_typ_is_accepted_when_token_types_is_unset(harness: Harness, ring: KeyRing, token_for: TokenFor):
    assert harness.call(token_for(ring.rsa, header={"typ": "JWT"}))["principalId"] == "user-1"


def test_missing_kid_with_several_keys(harness: Harness, ring: KeyRing, token_for: TokenFor):
    assert rejection_reason(harness, token_for(ring.rsa, header={"kid": None})) == "missing_kid"


def test_missing_kid_uses_the_only_key_of_a_single_key_set(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    harness.idp.publish(ring.rsa)
    assert harness.call(token_for(ring.rsa, header={"kid": None}))["principalId"] == "user-1"


def test_unknown_kid(harness: Harness, ring: KeyRing, token_for: TokenFor):
    assert rejection_reason(harness, token_for(ring.rsa_next)) == "unknown_kid"


# --- claims ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "sub"])
def test_each_default_required_claim(harness: Harness, ring: KeyRing, token_for: TokenFor, claim):
    assert rejection_reason(harness, token_for(ring.rsa, **{claim: None})) == "missing_claim"


def test_required_claims_can_be_extended(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(REQUIRED_CLAIMS="iss,aud,exp,sub,client_id,jti")
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"
    assert rejection_reason(harness, token_for(ring.rsa, client_id=None)) == "missing_claim"


def test_required_claims_can_be_narrowed(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(REQUIRED_CLAIMS="iss,aud")
    assert harness.call(token_for(ring.rsa, exp=None, sub=None))["principalId"] == "app-1"


def test_iss_and_aud_are_checked_even_when_not_required(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(REQUIRED_CLAIMS="exp")
    assert rejection_reason(harness, token_for(ring.rsa, iss=None)) == "issuer_mismatch"
    assert rejection_reason(harness, token_for(ring.rsa, aud=None)) == "audience_mismatch"


@pytest.mark.parametrize(
    "claim",
    [
        {"exp": "1700000300"},
        {"exp": True},
        {"nbf": None},
        {"nbf": "0"},
        {"iat": [1]},
        {"iat": None},
        {"sub": 42},
    ],
)
def test_claims_of_the_wrong_type(harness: Harness, ring: KeyRing, claim):
    payload = {**claims(iss=harness.idp.issuer), **claim}
    token = raw_token({"alg": "RS256", "kid": "rsa-1"}, payload, ring.rsa, "")
    assert rejection_reason(harness, token) == "invalid_claim"


def test_non_finite_date_is_invalid(harness: Harness, ring: KeyRing):
    payload = json.dumps(claims(iss=harness.idp.issuer, exp=None))[:-1].encode() + b', "exp": 1e999}'
    token = raw_token({"alg": "RS256", "kid": "rsa-1"}, payload, ring.rsa, "")
    assert rejection_reason(harness, token) == "invalid_claim"


def test_huge_integer_date_does_not_overflow(harness: Harness, ring: KeyRing, token_for: TokenFor):
    assert harness.call(token_for(ring.rsa, exp=10**400))["principalId"] == "user-1"
    assert rejection_reason(harness, token_for(ring.rsa, nbf=10**400)) == "not_yet_valid"


EXP = int(NOW) + 300  # claims() default; LEEWAY_SECONDS defaults to 60


@pytest.mark.parametrize(
    ("at", "reason"), [(EXP + 60 - 0.001, None), (EXP + 60, "expired"), (EXP + 61, "expired")]
)
def test_exp_leeway_edges(harness: Harness, ring: KeyRing, token_for: TokenFor, at, reason):
    harness.clock.now = at
    token = token_for(ring.rsa, iat=int(NOW), exp=EXP)
    if reason is None:
        assert harness.call(token)["principalId"] == "user-1"
    else:
        assert rejection_reason(harness, token) == reason


@pytest.mark.parametrize(("claim", "reason"), [("nbf", "not_yet_valid"), ("iat", "issued_in_future")])
@pytest.mark.parametrize(("offset", "ok"), [(60, True), (60.001, False), (-3600, True)])
def test_nbf_and_iat_leeway_edges(
    harness: Harness, ring: KeyRing, token_for: TokenFor, claim, reason, offset, ok
):
    token = token_for(ring.rsa, **{claim: NOW + offset})
    if ok:
        assert harness.call(token)["principalId"] == "user-1"
    else:
        assert rejection_reason(harness, token) == reason


def test_zero_leeway_expires_exactly_at_exp(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(LEEWAY_SECONDS="0")
    token = token_for(ring.rsa, exp=EXP)
    harness.clock.now = EXP - 0.5
    assert harness.call(token)["principalId"] == "user-1"
    harness.clock.now = EXP
    assert rejection_reason(harness, token) == "expired"


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda iss: iss + "/", id="trailing-slash"),
        pytest.param(lambda iss: iss.upper(), id="case"),
        pytest.param(lambda iss: " " + iss, id="leading-space"),
        pytest.param(lambda iss: iss[:-1], id="prefix"),
        pytest.param(lambda iss: [iss], id="array"),
    ],
)
def test_issuer_must_match_exactly(harness: Harness, ring: KeyRing, token_for: TokenFor, transform):
    assert (
        rejection_reason(harness, token_for(ring.rsa, iss=transform(harness.idp.issuer))) == "issuer_mismatch"
    )


@pytest.mark.parametrize(
    "aud",
    [
        AUDIENCE + "/",
        AUDIENCE.upper(),
        AUDIENCE + " ",
        "api://other",
        ["api://other"],
        [],
        [AUDIENCE, 1],
        7,
        {"a": AUDIENCE},
    ],
)
def test_audience_must_match_exactly(harness: Harness, ring: KeyRing, token_for: TokenFor, aud):
    assert rejection_reason(harness, token_for(ring.rsa, aud=aud)) == "audience_mismatch"


@pytest.mark.parametrize("aud", [AUDIENCE, [AUDIENCE], ["api://other", AUDIENCE], ["api://second"]])
def test_audience_accepts_any_configured_value(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor, aud
):
    harness = make_harness(AUDIENCE=f"{AUDIENCE},api://second")
    assert harness.call(token_for(ring.rsa, aud=aud))["principalId"] == "user-1"


def test_weak_rsa_key_in_the_jwks_is_not_trusted(harness: Harness, ring: KeyRing, token_for: TokenFor):
    harness.idp.publish(ring.rsa, ring.rsa_weak)
    assert rejection_reason(harness, token_for(ring.rsa_weak)) == "unknown_kid"
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"
