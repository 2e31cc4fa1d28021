"""The warm path's hand-written shortcuts, each held to the plain implementation it stands in for.

* RS* signatures: recover-and-compare (gate.verify._pkcs1) against cryptography's ``key.verify``, on valid,
  mutated and hand-built encodings (no DigestInfo, another hash's DigestInfo, short or wrong padding);
* JSON objects: the scanner shortcut of gate.jws.parse_json_object, and its comma count in place of the
  duplicate-name hook, against ``JSONDecoder.decode`` with the hook;
* judged headers: a Verifier that remembers the headers it accepted decides every token as one that does not;
* memoized routes and decisions: a warm Authorizer answers every event as one whose memos are empty, and the
  Authorization header scan agrees with the plain scan it replaced;
* character-class rules (route segments, scope tokens, claim names, JWK members) checked without a regex,
  against their pattern text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate import jws
from gate.authorizer import ROUTE_MEMO_LIMIT
from gate.errors import Rejection
from gate.events import _authorization, header_values
from gate.jwk import BASE64URL, JwkError, load_public_key
from gate.policy import iam_pattern, iam_regex
from gate.routes import SEGMENT, is_segment
from gate.settings import (
    CLAIM_NAME,
    RESOURCE_ARN_SHAPE,
    SCOPE_TOKEN,
    is_claim_name,
    is_resource_arn,
    is_scope_token,
)
from gate.verify import _DIGEST_INFO_PREFIX, HEADER_MEMO_LIMIT, signature_checks
from tests.authorizer.authz_support import API_PREFIX, Harness, KeyRing, MakeHarness, compact, request_event

TokenFor = Callable[..., str]
PROPERTY = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
HASHES = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}


def verdict(run: Callable[[], object]) -> str:
    try:
        run()
    except (InvalidSignature, ValueError):
        return "bad"
    return "ok"


def raw_rsa_signature(private: rsa.RSAPrivateKey, encoded: bytes) -> bytes:
    """Textbook RSA over an arbitrary encoded message: lets a test sign encodings no library would build."""
    numbers = private.private_numbers()
    size = (numbers.public_numbers.n.bit_length() + 7) // 8
    value = pow(int.from_bytes(encoded.rjust(size, b"\0"), "big"), numbers.d, numbers.public_numbers.n)
    return value.to_bytes(size, "big")


def encoding(
    size: int, digest_info: bytes, *, block_type: int = 1, separator: int = 0, pad: int = 0xFF
) -> bytes:
    """EMSA-PKCS1-v1_5 (RFC 8017 section 9.2) with each part open to variation."""
    padding_length = size - 3 - len(digest_info)
    return bytes([0, block_type]) + bytes([pad]) * padding_length + bytes([separator]) + digest_info


@PROPERTY
@given(
    alg=st.sampled_from(sorted(HASHES)),
    message=st.binary(max_size=64),
    mutation=st.sampled_from(["none", "flip", "truncate", "extend", "zero", "other-message", "other-hash"]),
    where=st.integers(min_value=0, max_value=10_000),
)
def test_pkcs1_recover_and_compare_agrees_with_key_verify(
    ring: KeyRing, alg: str, message: bytes, mutation: str, where: int
):
    private = ring.rsa.private
    public = private.public_key()
    hash_alg = HASHES[alg]
    foreign: hashes.HashAlgorithm = hashes.SHA256() if alg == "RS384" else hashes.SHA384()
    signed_with = foreign if mutation == "other-hash" else hash_alg
    signed = b"x" + message if mutation == "other-message" else message
    signature = bytearray(private.sign(signed, padding.PKCS1v15(), signed_with))
    if mutation == "flip":
        signature[where % len(signature)] ^= 1 << (where % 8)
    elif mutation == "truncate":
        del signature[-1 - where % 8 :]
    elif mutation == "extend":
        signature += b"\0"
    elif mutation == "zero":
        signature = bytearray(len(signature))
    check = signature_checks(frozenset({alg}))[alg]
    ours = verdict(lambda: check(public, message, bytes(signature)))
    reference = verdict(lambda: public.verify(bytes(signature), message, padding.PKCS1v15(), hash_alg))
    assert ours == reference
    assert ours == ("ok" if mutation == "none" else "bad")


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("as specified", "ok"),
        ("digest without DigestInfo", "bad"),
        ("SHA-384 DigestInfo prefix", "bad"),
        ("block type 2", "bad"),
        ("non-FF padding byte", "bad"),
        ("non-zero separator", "bad"),
        ("trailing byte after the digest", "bad"),
    ],
)
def test_pkcs1_hand_built_encodings_get_key_verify_s_verdict(ring: KeyRing, variant: str, expected: str):
    private = ring.rsa.private
    public = private.public_key()
    size = (public.key_size + 7) // 8
    message = b"header.payload"
    digest = hashes.Hash(hashes.SHA256())
    digest.update(message)
    value = digest.finalize()
    info = _DIGEST_INFO_PREFIX["sha256"] + value
    encoded = {
        "as specified": encoding(size, info),
        "digest without DigestInfo": encoding(size, value),
        "SHA-384 DigestInfo prefix": encoding(size, _DIGEST_INFO_PREFIX["sha384"] + value),
        "block type 2": encoding(size, info, block_type=2),
        "non-FF padding byte": encoding(size, info, pad=0xFE),
        "non-zero separator": encoding(size, info, separator=1),
        "trailing byte after the digest": encoding(size, info + b"\0"),
    }[variant]
    signature = raw_rsa_signature(private, encoded)
    check = signature_checks(frozenset({"RS256"}))["RS256"]
    ours = verdict(lambda: check(public, message, signature))
    reference = verdict(lambda: public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256()))
    assert (ours, reference) == (expected, expected)


def reference_json_object(data: bytes) -> dict[str, Any]:
    """parse_json_object as it was: the decoder's own decode(), whitespace rules and all."""
    try:
        value = jws._DECODER.decode(data.decode("utf-8"))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if type(value) is not dict:
        raise ValueError("not a JSON object")
    return value


def outcome_of(parse: Callable[[bytes], dict[str, Any]], data: bytes) -> object:
    try:
        return ("ok", parse(data))
    except ValueError:
        return "ValueError"


JSON_PIECES = [
    "{",
    "}",
    '"a"',
    '"b"',
    ":",
    ",",
    "1",
    "1.5",
    "[",
    "]",
    "null",
    "true",
    "NaN",
    "Infinity",
    " ",
    "\t",
    "\n",
    "\r",
    "\x0b",
    "\u00a0",
    '{"a":1}',
    '{"a":1,"a":2}',
    '{"a":{"b":1,"b":2}}',
    "x",
    "\ufeff",
    '","',
    '"a,b"',
    "[1,2]",
    '{"a":1,"b":2}',
    '{"a":{"b":1},"c":2}',
    '{"a":",","a":1}',
]


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(st.sampled_from(JSON_PIECES), max_size=12))
def test_json_object_shortcut_agrees_with_decode(pieces: list[str]):
    data = "".join(pieces).encode()
    assert outcome_of(jws.parse_json_object, data) == outcome_of(reference_json_object, data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a":1}', ("ok", {"a": 1})),
        ('{"a":1} \t\r\n', ("ok", {"a": 1})),
        (' {"a":1}', ("ok", {"a": 1})),
        ('{"a":1}x', "ValueError"),
        ('{"a":1}{}', "ValueError"),
        ('{"a":1,"a":1}', "ValueError"),
        ('{"a":NaN}', "ValueError"),
        ("{", "ValueError"),
        ("", "ValueError"),
        ("[1]", "ValueError"),
        ("[" * 100_000 + "]" * 100_000, "ValueError"),
        ("{" + '"a":{' * 100_000 + "}" * 100_001, "ValueError"),
    ],
)
def test_json_object_edge_cases(text: str, expected: object):
    assert outcome_of(jws.parse_json_object, text.encode()) == expected


# Objects with names from a small set (so they repeat often), nested objects and arrays, and strings with
# commas and brackets: the cases the comma count must tell apart.
_NAMES = st.sampled_from(["a", "b", "c"])
_SCALARS = st.sampled_from(["1", "-2.5", "null", "true", '"x"', '","', '"a,b"', '"[,]"', '"{"', '""'])


def _objects(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(st.tuples(_NAMES, values), max_size=4).map(
        lambda members: "{" + ",".join(f'"{name}":{value}' for name, value in members) + "}"
    )


_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        _objects(inner), st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]")
    ),
    max_leaves=8,
)


@settings(max_examples=600, deadline=None)
@given(text=_objects(_VALUES), spacing=st.sampled_from(["", " ", "\n"]))
def test_json_object_comma_count_agrees_with_the_duplicate_hook(text: str, spacing: str):
    spaced = text.replace(",", spacing + "," + spacing) if spacing else text
    for data in (text.encode(), spaced.encode()):
        assert outcome_of(jws.parse_json_object, data) == outcome_of(reference_json_object, data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a":1,"b":2}', ("ok", {"a": 1, "b": 2})),  # counted: one comma, two names
        ('{"a":1,"a":2}', "ValueError"),  # one comma, one name kept: the hook decides
        ('{"a":",","a":1}', "ValueError"),  # a comma in a string hides nothing
        ('{"a":{"b":1,"b":2}}', "ValueError"),  # nested duplicate
        ('{"a":{"b":1},"c":2}', ("ok", {"a": {"b": 1}, "c": 2})),  # a one-member nested object counts
        ('{"a":"x,y"}', ("ok", {"a": "x,y"})),
        ('{"a":[1,1],"b":2}', ("ok", {"a": [1, 1], "b": 2})),
        ('{"a":[1],"a":2}', "ValueError"),
        ("{}", ("ok", {})),
        ('{"a":1,"b":2}  ,', "ValueError"),  # a comma after the object: not counted as a member
    ],
)
def test_json_object_comma_count_cases(text: str, expected: object):
    assert outcome_of(jws.parse_json_object, text.encode()) == expected


def decide(harness: Harness, token: str) -> str:
    try:
        harness.authorizer._verifier.verify(token)
    except Rejection as rejection:
        return rejection.reason
    return "ok"


HEADER_VARIANTS: list[dict[str, Any]] = [
    {},
    {"typ": "JWT"},
    {"typ": "AT+JWT"},
    {"alg": "HS256"},
    {"alg": "none"},
    {"kid": 7},
    {"kid": "unknown-kid"},
    {"crit": ["exp"]},
    {"b64": False},
    {"x5u": "https://example.test/"},
    {"typ": None},
]


@PROPERTY
@given(picks=st.lists(st.tuples(st.integers(0, len(HEADER_VARIANTS) - 1), st.booleans()), max_size=8))
def test_a_verifier_that_remembers_headers_decides_as_a_fresh_one(
    harness: Harness, ring: KeyRing, token_for: TokenFor, picks: list[tuple[int, bool]]
):
    for index, forged in picks:
        token = token_for(ring.attacker if forged else ring.rsa, header=HEADER_VARIANTS[index])
        remembered = decide(harness, token)
        harness.authorizer._verifier._headers.clear()
        assert decide(harness, token) == remembered


def test_only_accepted_headers_are_remembered_and_the_memo_is_bounded(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    verifier = harness.authorizer._verifier
    assert decide(harness, token_for(ring.rsa, header={"alg": "none"})) == "unsupported_alg"
    assert verifier._headers == {}
    for n in range(HEADER_MEMO_LIMIT + 5):
        assert decide(harness, token_for(ring.rsa, header={"x-n": n})) == "ok"
        assert 1 <= len(verifier._headers) <= HEADER_MEMO_LIMIT


def test_a_remembered_header_does_not_excuse_a_bad_payload(
    ring: KeyRing, harness: Harness, token_for: TokenFor
):
    token = token_for(ring.rsa)
    assert decide(harness, token) == "ok"
    header_segment = token.split(".")[0]
    header = json.loads(jws.b64url_decode(header_segment.encode()))
    assert header["kid"] == ring.rsa.kid
    tampered = compact(jws.b64url_decode(header_segment.encode()), b'{"sub":1', ring.rsa)
    assert tampered.split(".")[0] == header_segment
    assert decide(harness, tampered) == "malformed_token"
    assert decide(harness, header_segment + ".@@@." + token.split(".")[2]) == "malformed_token"


# Character-class patterns checked by hand (no regex compiled at import): each held to its pattern text.
CHARACTERS = st.text(
    alphabet=st.sampled_from([*'aZ09._:-_=+/!"\\~ \t', "\x7f", "\x20", "\u00e9", "\u212a", "\n"]), max_size=8
)


@settings(max_examples=400, deadline=None)
@given(text=CHARACTERS)
def test_hand_checked_patterns_agree_with_their_pattern_text(text: str):
    assert is_segment(text) == (re.fullmatch(SEGMENT, text) is not None)
    assert is_scope_token(text) == (re.fullmatch(SCOPE_TOKEN, text) is not None)
    assert is_claim_name(text) == (re.fullmatch(CLAIM_NAME, text) is not None)


@settings(max_examples=400, deadline=None)
@given(text=CHARACTERS)
def test_jwk_members_are_refused_exactly_where_the_base64url_pattern_refuses(text: str):
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": text}
    try:
        load_public_key(jwk)
        refused_as = None
    except JwkError as error:
        refused_as = str(error)
    if re.fullmatch(BASE64URL, text, re.ASCII) is None:
        assert refused_as == "member 'x' is not base64url"
    else:
        assert refused_as != "member 'x' is not base64url"


ARN_PIECES = [
    "arn",
    ":",
    "aws",
    "aws-cn",
    "*",
    "?",
    "AWS",
    "execute-api",
    "us-east-1",
    "123456789012",
    "api1",
    "/",
    "prod",
    "GET",
    " ",
    "\u00a0",
    "\t",
    "",
    "x",
]


def skeleton(drawn: list[str]) -> list[str]:
    """arn:<partition>:execute-api:<region>:<account>:<api>/<stage>, each piece drawn freely."""
    partition, region, account, api, stage, *rest = drawn
    return ["arn", ":", partition, ":", "execute-api", ":", region, ":", account, ":", api, "/", stage, *rest]


@settings(max_examples=600, deadline=None)
@given(
    pieces=st.one_of(
        st.lists(st.sampled_from(ARN_PIECES), max_size=14),
        st.lists(st.sampled_from(ARN_PIECES), min_size=11, max_size=11).map(skeleton),
    )
)
def test_resource_arn_check_agrees_with_its_pattern(pieces: list[str]):
    text = "".join(pieces)
    assert is_resource_arn(text) == (re.fullmatch(RESOURCE_ARN_SHAPE, text) is not None)


@pytest.mark.parametrize(
    ("resource_arn", "method_arn", "inside"),
    [
        (
            "arn:aws:execute-api:us-east-1:1:api/prod",
            "arn:aws:execute-api:us-east-1:1:api/prod/GET/orders",
            True,
        ),
        ("arn:aws:execute-api:us-east-1:1:api/prod", "arn:aws:execute-api:us-east-1:1:api/prod/", True),
        (
            "arn:aws:execute-api:us-east-1:1:api/prod",
            "arn:aws:execute-api:us-east-1:1:api/production/GET/",
            False,
        ),
        ("arn:aws:execute-api:us-east-1:1:api/prod", "arn:aws:execute-api:us-east-1:1:api/prod", False),
        ("arn:aws:execute-api:us-east-1:1:api/prod", "arn:aws:execute-api:us-east-1:1:api2/prod/GET/", False),
        ("arn:aws:execute-api:*:1:api/prod", "arn:aws:execute-api:eu-west-1:1:api/prod/GET/orders", True),
        ("arn:aws:execute-api:us-east-?:1:api/*", "arn:aws:execute-api:us-east-2:1:api/dev/GET/x", True),
        ("arn:aws:execute-api:us-east-?:1:api/*", "arn:aws:execute-api:us-west-2:1:api/dev/GET/x", False),
    ],
)
def test_inside_the_api_agrees_with_iam_matching(resource_arn: str, method_arn: str, inside: bool):
    assert (iam_pattern([resource_arn + "/*"]).fullmatch(method_arn) is not None) is inside
    assert (iam_regex([resource_arn + "/*"]).fullmatch(method_arn) is not None) is inside


RESOURCE_PIECES = ["a", "b", "/", ":", "*", "?", ".", "\n", "ab/"]


@settings(max_examples=500, deadline=None)
@given(
    resources=st.lists(
        st.lists(st.sampled_from(RESOURCE_PIECES), max_size=5).map("".join), min_size=1, max_size=3
    ),
    text=st.lists(st.sampled_from(RESOURCE_PIECES), max_size=6).map("".join),
)
def test_iam_matching_without_a_regex_agrees_with_the_regex(resources: list[str], text: str):
    # exact and prefix* resources are matched by string tests (gate/policy.py); the regex is the reference
    assert (iam_pattern(resources).fullmatch(text) is not None) == (
        iam_regex(resources).fullmatch(text) is not None
    )


# Memoized routes and decisions (gate/authorizer.py): a warm authorizer answers every event exactly as one
# whose memos are empty, whatever the scope claims hold (values of different types that compare equal, 1 and
# True, share a memo key) and whatever odd values the event's routing fields hold.

MEMO_RULES = json.dumps(
    {"GET /orders": "orders:read", "GET /orders/*": "orders:read orders:write", "* /admin": "admin"}
)
ROUTED = [
    ("GET", "/orders", "/orders"),
    ("GET", "/orders/7", "/orders/{proxy+}"),
    ("POST", "/admin", "/admin"),
    ("GET", "/elsewhere", "/elsewhere"),
]
SCOPE_VALUES = st.sampled_from(
    [
        "orders:read",
        "orders:read orders:write",
        "admin orders:read",
        "",
        " ",
        ["orders:read"],
        ["orders:write", "orders:read"],
        ["admin", 5],
        [],
        1,
        1.0,
        True,
        False,
        0,
        None,
        {"orders:read": True},
    ]
)


def answer(harness: Harness, event: object) -> tuple[object, str]:
    """The response (or the rejection's reason) and the decision line; any other exception fails the test."""
    try:
        result: object = harness.authorizer.handle(event)
    except Rejection as rejection:
        result = ("rejected", rejection.reason)
    return result, harness.log[-1]


def forget(harness: Harness) -> None:
    harness.authorizer._routed.clear()
    harness.authorizer._decided.clear()


@pytest.mark.parametrize("scope_claims", ["scope,scp", "scp", "scope,scp,roles"])  # one, two, more names
@PROPERTY
@given(
    picks=st.lists(
        st.tuples(SCOPE_VALUES, SCOPE_VALUES, SCOPE_VALUES, st.sampled_from(ROUTED), st.booleans()),
        min_size=1,
        max_size=6,
    )
)
def test_a_warm_authorizer_decides_as_a_fresh_one(
    make_harness: MakeHarness,
    ring: KeyRing,
    token_for: TokenFor,
    scope_claims: str,
    picks: list[tuple[Any, Any, Any, Any, bool]],
):
    harness = make_harness(SCOPE_RULES=MEMO_RULES, SCOPE_CLAIMS=scope_claims)
    for scope, scp, roles, (verb, path, resource), as_token_event in picks:
        token = token_for(ring.rsa, scope=scope, scp=scp, roles=roles)
        event = request_event(token, verb, path, resource)
        if as_token_event:
            event = {
                "type": "TOKEN",
                "authorizationToken": f"Bearer {token}",
                "methodArn": event["methodArn"],
            }
        remembered = answer(harness, event)
        forget(harness)
        assert answer(harness, event) == remembered


ODD_FIELDS = st.sampled_from(["TOKEN", "REQUEST", "GET", "/orders", "", None, 5, True, ["REQUEST"], {"a": 1}])


@PROPERTY
@given(kind=ODD_FIELDS, resource=ODD_FIELDS, verb=ODD_FIELDS, arn=st.sampled_from(["ok", None, ["x"], 5]))
def test_events_with_odd_routing_fields_get_one_answer(
    make_harness: MakeHarness,
    ring: KeyRing,
    token_for: TokenFor,
    kind: Any,
    resource: Any,
    verb: Any,
    arn: Any,
):
    harness = make_harness(SCOPE_RULES=MEMO_RULES)
    token = token_for(ring.rsa)
    event = request_event(token, "GET", "/orders", "/orders")
    event.update(type=kind, resource=resource, httpMethod=verb, authorizationToken=f"Bearer {token}")
    if arn != "ok":
        event["methodArn"] = arn
    first = answer(harness, event)
    assert answer(harness, event) == first  # the second time, from the memos where the event could be kept
    forget(harness)
    assert answer(harness, event) == first
    assert len(harness.log) == 3


def test_the_route_memo_is_bounded(harness: Harness, ring: KeyRing, token_for: TokenFor):
    token = token_for(ring.rsa)
    for n in range(ROUTE_MEMO_LIMIT + 5):
        harness.call(token, arn=f"{API_PREFIX}/GET/orders/{n}")
        assert 1 <= len(harness.authorizer._routed) <= ROUTE_MEMO_LIMIT


# The Authorization header scan (gate/events.py) skips names that are not strings without testing each
# name's type: held to the plain scan it replaced.


def plain_authorization(headers: dict[Any, object], multi: dict[Any, object]) -> str:
    value: object = None
    found = False
    for name, text in headers.items():
        if type(name) is str and name.lower() == "authorization":
            if found:
                raise Rejection("malformed_authorization")
            value, found = text, True
    for name, listed in multi.items():
        if type(name) is str and name.lower() == "authorization":
            if not isinstance(listed, list) or len(listed) > 1:
                raise Rejection("malformed_authorization")
            if listed:
                if found and listed[0] != value:
                    raise Rejection("malformed_authorization")
                value, found = listed[0], True
    if value is None or value == "":
        raise Rejection("missing_token")
    if not isinstance(value, str):
        raise Rejection("malformed_event")
    return value


ODD_NAMES = [5, None, ("x",) * 13, b"authorization", frozenset("authorizaton"), 13.0]
HEADER_NAMES = st.sampled_from(
    ["Authorization", "authorization", "AUTHORIZATION", "Cache-Control", "Host", *ODD_NAMES]
)
HEADER_VALUES = st.sampled_from(["Bearer a.b.c", "Bearer x.y.z", "", None, 5])


@PROPERTY
@given(
    headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4),
    multi=st.dictionaries(
        HEADER_NAMES,
        st.lists(HEADER_VALUES, max_size=2) | st.sampled_from(["Bearer a.b.c", None]),
        max_size=4,
    ),
)
def test_the_authorization_scan_agrees_with_the_plain_scan(headers: dict[Any, Any], multi: dict[Any, Any]):
    def outcome(read: Callable[[], str]) -> str:
        try:
            return read()
        except Rejection as rejection:
            return f"rejected: {rejection.reason}"

    event = {"type": "REQUEST", "headers": headers, "multiValueHeaders": multi}
    assert outcome(lambda: _authorization(event)) == outcome(lambda: plain_authorization(headers, multi))


def scan_outcome(read: Callable[[], str]) -> str:
    try:
        return read()
    except Rejection as rejection:
        return f"rejected: {rejection.reason}"


# The usual event's shortcut (one name of Authorization's length in each map, and one value) against events
# that nearly qualify: each would pass the shortcut if one of its conditions were dropped.
@pytest.mark.parametrize(
    ("headers", "multi", "expected"),
    [
        ({"Authorization": "Bearer a.b.c"}, {"Authorization": ["Bearer a.b.c"]}, "Bearer a.b.c"),
        (
            {"Authorization": "Bearer a.b.c", "Cache-Control": "no-cache"},
            {"Authorization": ["Bearer a.b.c"], "Cache-Control": ["no-cache"]},
            "Bearer a.b.c",
        ),
        (
            {"Authorization": "Bearer a.b.c"},
            {"Authorization": ["Bearer a.b.c"], "authorization": ["Bearer x.y.z"]},
            "rejected: malformed_authorization",
        ),
        (
            {"Authorization": "Bearer a.b.c", "AUTHORIZATION": "Bearer a.b.c"},
            {"Authorization": ["Bearer a.b.c"]},
            "rejected: malformed_authorization",
        ),
        (
            {"Authorization": "Bearer a.b.c"},
            {"Authorization": ["Bearer a.b.c", "Bearer a.b.c"]},
            "rejected: malformed_authorization",
        ),
        (
            {"Authorization": "Bearer a.b.c"},
            {"Authorization": ["Bearer x.y.z"]},
            "rejected: malformed_authorization",
        ),
        ({"Authorization": ""}, {"Authorization": [""]}, "rejected: missing_token"),
        ({"Authorization": "Bearer a.b.c"}, {"Authorization": []}, "Bearer a.b.c"),
        ({"Authorization": 5}, {"Authorization": [5]}, "rejected: malformed_event"),
    ],
)
def test_the_usual_event_shortcut_agrees_with_the_plain_scan(
    headers: dict[str, Any], multi: dict[str, Any], expected: str
):
    event = {"type": "REQUEST", "headers": headers, "multiValueHeaders": multi}
    assert scan_outcome(lambda: _authorization(event)) == expected
    assert scan_outcome(lambda: plain_authorization(headers, multi)) == expected


def plain_header_values(event: dict[str, Any], name: str) -> list[str]:
    """header_values as it was: lower() on every name."""
    if event.get("type") != "REQUEST":
        return []
    headers, multi = event.get("headers") or {}, event.get("multiValueHeaders") or {}
    values: list[str] = []
    for key, listed in multi.items():
        if isinstance(key, str) and key.lower() == name:
            if not isinstance(listed, list):
                raise Rejection("malformed_event")
            for value in listed:
                if not isinstance(value, str):
                    raise Rejection("malformed_event")
                values.append(value)
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            if not isinstance(value, str):
                raise Rejection("malformed_event")
            if value not in values:
                values.append(value)
    return values


def header_values_outcome(
    values: Callable[[dict[str, Any], str], list[str]], event: dict[str, Any]
) -> object:
    try:
        return values(event, "dpop")
    except Rejection as rejection:
        return rejection.reason


# Spellings of DPoP, other four-letter names, and names whose lower() changes length or lands on ASCII
_DPOP_NAMES = st.sampled_from(
    ["DPoP", "dpop", "DPOP", "Host", "dpo", "dpopx", "\u0130dpop", "d\u0130op", "\u212a"]
)
_HEADER_VALUES = st.one_of(st.sampled_from(["p1", "p2"]), st.none())


@settings(max_examples=400, deadline=None)
@given(
    headers=st.dictionaries(_DPOP_NAMES, _HEADER_VALUES, max_size=4),
    multi=st.dictionaries(
        _DPOP_NAMES, st.one_of(st.lists(_HEADER_VALUES, max_size=2), st.just("p1")), max_size=4
    ),
)
def test_header_values_agrees_with_lower_on_every_name(
    headers: dict[str, str | None], multi: dict[str, list[str | None] | str]
):
    event = {"type": "REQUEST", "headers": headers, "multiValueHeaders": multi}
    assert header_values_outcome(header_values, event) == header_values_outcome(plain_header_values, event)
