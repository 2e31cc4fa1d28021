"""The warm path's hand-written shortcuts, each held to the plain implementation it stands in for.

* RS* signatures: recover-and-compare (gate.verify._pkcs1) against cryptography's ``key.verify``, on valid,
  mutated and hand-built encodings (no DigestInfo, another hash's DigestInfo, short or wrong padding);
* JSON objects: the scanner shortcut of gate.jws.parse_json_object against ``JSONDecoder.decode``;
* judged headers: a Verifier that remembers the headers it accepted decides every token as one that does not;
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
from gate.errors import Rejection
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
from tests.authorizer.authz_support import Harness, KeyRing, compact

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
