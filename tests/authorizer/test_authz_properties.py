"""Property-based and differential checks.

* No header value, and no mutation of a valid token, yields an Allow unless it is the validly
  signed token itself.
* Nothing but the defined outcomes ever comes out: a response dict (allow or deny policy),
  Rejection (-> Exception("Unauthorized") in the handler) or KeysUnavailable.
* Differential against PyJWT: whatever we accept, jwt.decode with the same key, algorithms,
  issuer, audience, leeway and required claims accepts too; the catalogue at the end pins the
  inputs on which we are deliberately stricter than PyJWT.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.errors import KeysUnavailable, Rejection
from gate.events import BEARER, BEARER_OR_DPOP, SCHEME_FLAGS, bearer_token, credentials
from gate.jws import COMPACT, parse_compact
from tests.authorizer.authz_support import AUDIENCE, Harness, KeyRing, MakeHarness, compact, method_arn

TokenFor = Callable[..., str]
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def outcome(harness: Harness, event: object) -> str:
    """The decision, after checking the response shape; raises on anything undefined."""
    try:
        response = harness.authorizer.handle(event)
    except Rejection:
        return "unauthorized"
    except KeysUnavailable:
        return "error"
    assert set(response) == {"principalId", "policyDocument", "context"}
    assert isinstance(response["principalId"], str)
    assert all(isinstance(v, str | int | float | bool) for v in response["context"].values())
    statements = response["policyDocument"]["Statement"]
    assert len(statements) == 1
    assert statements[0]["Effect"] in ("Allow", "Deny")
    decision = harness.last_decision()["outcome"]
    assert decision in ("allow", "deny")
    return str(decision)


def token_event(value: str) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": value, "methodArn": method_arn()}


@PROPERTY
@given(value=st.text(max_size=300) | st.from_regex(r"(?i:bearer) +[A-Za-z0-9_.=+/-]{0,300}", fullmatch=True))
def test_no_header_value_is_allowed(harness: Harness, value: str):
    assert outcome(harness, token_event(value)) in ("unauthorized", "error")


@PROPERTY
@given(
    headers=st.dictionaries(
        st.text(max_size=20), st.text(max_size=100) | st.none() | st.integers(), max_size=5
    ),
    multi=st.none()
    | st.dictionaries(st.text(max_size=20), st.lists(st.text(max_size=50), max_size=3), max_size=3),
)
def test_no_request_headers_are_allowed(harness: Harness, headers, multi):
    event = {"type": "REQUEST", "methodArn": method_arn(), "headers": headers, "multiValueHeaders": multi}
    assert outcome(harness, event) in ("unauthorized", "error")


@PROPERTY
@given(data=st.data())
def test_only_the_unmodified_signed_token_is_allowed(
    harness: Harness, ring: KeyRing, token_for: TokenFor, data
):
    key = data.draw(st.sampled_from([ring.rsa, ring.es256, ring.eddsa]))
    token = token_for(key)
    position = data.draw(st.integers(0, len(token)))
    kind = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    char = data.draw(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "C")))
    if kind == "replace" and position < len(token):
        mutated = token[:position] + char + token[position + 1 :]
    elif kind == "insert":
        mutated = token[:position] + char + token[position:]
    else:
        mutated = token[:position] + token[position + 1 :]
    result = outcome(harness, token_event(f"Bearer {mutated}"))
    # Spaces inserted in front only widen the gap after the scheme ("Bearer" then one or more spaces).
    assert (result == "allow") == (mutated.lstrip(" ") == token)


ALGS = ["RS256", "RS384", "PS256", "ES256", "EdDSA", "HS256", "none", "NONE", "", None, 5]


@pytest.fixture
def live(make_harness: MakeHarness, clock) -> Harness:
    clock.now = time.time()  # jwt.decode reads the real clock; keep ours equal
    return make_harness(ALGORITHMS="RS256,RS384,PS256", TOKEN_TYPES="")


def dates(now: float) -> st.SearchStrategy[Any]:
    return st.sampled_from(
        [int(now) + 1000, int(now) - 1000, now + 1000.5, str(int(now) + 1000), None, True, [1], float("nan")]
    )


@PROPERTY
@given(data=st.data())
def test_accepted_tokens_are_accepted_by_pyjwt_too(live: Harness, ring: KeyRing, data):
    now = live.clock.now
    header: dict[str, Any] = {
        "alg": data.draw(st.sampled_from(ALGS)),
        "kid": data.draw(st.sampled_from(["rsa-1", "x"])),
    }
    extras: dict[str, list[Any]] = {
        "typ": ["at+jwt", "JWT", 1],
        "crit": [["exp"], [], "b64"],
        "b64": [False, True],
        "jwk": [ring.attacker.jwk],
    }
    for name, choices in extras.items():
        if data.draw(st.booleans()):
            header[name] = data.draw(st.sampled_from(choices))
    claims: dict[str, Any] = {}
    options: dict[str, st.SearchStrategy[Any]] = {
        "iss": st.sampled_from([live.idp.issuer, live.idp.issuer + "/", live.idp.issuer.upper(), 1]),
        "aud": st.sampled_from([AUDIENCE, [AUDIENCE, "x"], ["x"], AUDIENCE + "/", [AUDIENCE, 1], 3]),
        "sub": st.sampled_from(["user-1", 1, ""]),
        "exp": dates(now),
        "nbf": dates(now),
        "iat": dates(now),
    }
    for name, values in options.items():
        if data.draw(st.booleans()) or name in ("iss", "aud", "exp", "sub"):
            drawn = data.draw(values)
            if drawn is not None or data.draw(st.booleans()):
                claims[name] = drawn
    signer_alg = header["alg"] if header["alg"] in ("RS256", "RS384", "PS256") else "RS256"
    payload = json.dumps(claims, allow_nan=True).encode()
    token = compact(header, payload, ring.rsa, signer_alg)
    ours = outcome(live, token_event(f"Bearer {token}"))
    if ours == "allow":
        jwt.decode(
            token,
            ring.rsa.private.public_key(),
            algorithms=["RS256", "RS384", "PS256"],
            audience=AUDIENCE,
            issuer=live.idp.issuer,
            leeway=60,
            options={"require": ["iss", "aud", "exp", "sub"]},
        )
    else:
        assert ours == "unauthorized"


def stricter_cases(issuer: str, now: int) -> dict[str, tuple[dict[str, Any] | bytes, str]]:
    good = {"iss": issuer, "aud": AUDIENCE, "sub": "u", "exp": now + 300}
    return {
        "duplicate-claim": (json.dumps(good)[:-1].encode() + b', "sub": "admin"}', "malformed_token"),
        "numeric-string-exp": ({**good, "exp": str(now + 300)}, "invalid_claim"),
        "numeric-string-iat": ({**good, "iat": "100"}, "invalid_claim"),
        "crit-b64-true": (good, "unsupported_crit"),
        "padded": (good, "malformed_token"),
    }


@pytest.mark.parametrize(
    "case", ["duplicate-claim", "numeric-string-exp", "numeric-string-iat", "crit-b64-true", "padded"]
)
def test_where_we_are_stricter_than_pyjwt(live: Harness, ring: KeyRing, case):
    payload, reason = stricter_cases(live.idp.issuer, int(live.clock.now))[case]
    header: dict[str, Any] = {"alg": "RS256", "kid": "rsa-1"}
    if case == "crit-b64-true":
        header.update(crit=["b64"], b64=True)
    token = compact(header, payload, ring.rsa)
    if case == "padded":
        token += "=" * (-len(token.rsplit(".", 1)[1]) % 4)  # PyJWT tolerates padding (e.g. AWS ALB)
        assert token.count("=") > 0
    decoded = jwt.decode(
        token, ring.rsa.private.public_key(), algorithms=["RS256"], audience=AUDIENCE, issuer=live.idp.issuer
    )
    assert decoded["aud"] == AUDIENCE  # PyJWT accepts it ...
    with pytest.raises(Rejection) as caught:  # ... we do not
        live.call(token)
    assert caught.value.reason == reason


def test_pyjwt_and_we_agree_on_a_plain_valid_token(live: Harness, ring: KeyRing):
    now = int(live.clock.now)
    token = compact(
        {"alg": "RS256", "kid": "rsa-1"},
        {"iss": live.idp.issuer, "aud": AUDIENCE, "sub": "u", "exp": now + 300},
        ring.rsa,
    )
    assert (
        jwt.decode(token, ring.rsa.private.public_key(), algorithms=["RS256"], audience=AUDIENCE)["sub"]
        == "u"
    )
    assert live.call(token)["principalId"] == "u"


def test_b64_header_is_refused_like_pyjwt(live: Harness, ring: KeyRing):
    token = compact({"alg": "RS256", "kid": "rsa-1", "b64": False}, b"", ring.rsa)
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token, ring.rsa.private.public_key(), algorithms=["RS256"], audience=AUDIENCE)
    with pytest.raises(Rejection):
        live.call(token)


@PROPERTY
@given(
    parts=st.lists(
        st.sampled_from([*"bBeEaArR x.\t\nİ\u212a\uff42", "Bearer ", "bearer  ", "a.b.c"]), max_size=12
    )
)
def test_bearer_parsing_agrees_with_the_scheme_pattern(parts):
    # bearer_token parses by hand on the warm path; the documented rule is this pattern.
    value = "".join(parts)
    expected = re.fullmatch(BEARER, value, SCHEME_FLAGS)
    reason = None
    try:
        token: str | None = bearer_token({"type": "TOKEN", "authorizationToken": value})
    except Rejection as rejection:
        token, reason = None, rejection.reason
    if expected is None:
        assert (token, reason) == (None, "missing_token" if value == "" else "malformed_authorization")
    else:
        assert (token, reason) == (expected.group(1), None)


@PROPERTY
@given(
    parts=st.lists(
        st.sampled_from([*"bBeEaArRdDpPoO x.\t\nİ\u212a", "Bearer ", "DPoP ", "dpop  ", "DPoP", "a.b.c"]),
        max_size=12,
    )
)
def test_scheme_parsing_with_dpop_agrees_with_the_scheme_pattern(parts):
    # credentials follows the usual spellings by hand; the documented rule is this pattern.
    value = "".join(parts)
    expected = re.fullmatch(BEARER_OR_DPOP, value, SCHEME_FLAGS)
    try:
        outcome: object = tuple(credentials({"type": "TOKEN", "authorizationToken": value}))
    except Rejection as rejection:
        outcome = rejection.reason
    if expected is None:
        assert outcome == ("missing_token" if value == "" else "malformed_authorization")
    else:
        assert outcome == (expected.group(1).lower(), expected.group(2))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("DPoP a.b.c", ("dpop", "a.b.c")),  # the usual spellings, by hand
        ("Bearer a.b.c", ("bearer", "a.b.c")),
        ("DPoP   a.b.c", ("dpop", "a.b.c")),
        ("dpop a.b.c", ("dpop", "a.b.c")),  # other spellings, by the pattern
        ("BEARER a.b.c", ("bearer", "a.b.c")),
        ("DPoP a.b c", "malformed_authorization"),
        ("DPoP ", "malformed_authorization"),
        ("DPoP\ta.b.c", "malformed_authorization"),
    ],
)
def test_scheme_parsing_with_dpop_examples(value: str, expected: object):
    try:
        outcome: object = tuple(credentials({"type": "TOKEN", "authorizationToken": value}))
    except Rejection as rejection:
        outcome = rejection.reason
    assert outcome == expected


@PROPERTY
@given(parts=st.lists(st.sampled_from([*"aZ09-_.+/= \n!\x00é", "eyJhbGciOiJub25lIn0", "."]), max_size=20))
def test_compact_parsing_refuses_whatever_the_alphabet_pattern_refuses(parts):
    # parse_compact checks the alphabet without a regex on the warm path; the documented rule is COMPACT.
    text = "".join(parts)
    if re.fullmatch(COMPACT, text, re.ASCII) is None:
        with pytest.raises(Rejection) as caught:
            parse_compact(text)
        assert caught.value.reason == "malformed_token"
