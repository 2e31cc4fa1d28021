"""Signature and claims: the only path from a token string to trusted claims.

Why cryptography directly instead of ``jwt.decode``: the warm path must cost about one signature
verification, so the key object is prepared once (gate.keys) and each algorithm below is a single
cryptography call with pre-built padding/hash objects. The semantics match PyJWT's algorithm
classes (PSS salt length = digest size, ECDSA as fixed-length r||s, curve bound to the algorithm),
and the tests compare verdicts with ``jwt.decode`` on hostile inputs.

Order matters: header checks and key lookup first (no key, no further work), then the signature,
and only then is the payload parsed and any claim looked at. Numeric dates must be finite JSON
numbers (PyJWT also accepts numeric strings); ``iss`` and the audience claim (AUDIENCE_CLAIM,
``aud`` by default) are compared exactly, and both are always checked, whatever REQUIRED_CLAIMS
says, because ISSUER and AUDIENCE are mandatory. REQUIRED_CLAIM_VALUES compare type and value.

With ADDITIONAL_ISSUERS the key set must be chosen before verification, by the token's ``iss``:
that single, explicitly marked read of the unverified payload is the one exception to the order
above (see ``_key_set_by_unverified_issuer``); with one issuer the payload is not read at all.
"""

# Annotations are not postponed (no __future__ import): typing.NamedTuple compiles every string annotation
# when it creates a class, ~0.1 ms per class on every cold start (tests/authorizer/test_authz_imports.py).
import hashlib
import math
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from gate.errors import (
    AUDIENCE_MISMATCH,
    BAD_SIGNATURE,
    CLAIM_VALUE_MISMATCH,
    EXPIRED,
    INVALID_CLAIM,
    ISSUED_IN_FUTURE,
    ISSUER_MISMATCH,
    MALFORMED_TOKEN,
    MISSING_CLAIM,
    NOT_YET_VALID,
    TOKEN_TYPE_MISMATCH,
    UNSUPPORTED_ALG,
    UNSUPPORTED_CRIT,
    Rejection,
)
from gate.jws import b64url_decode, decode_compact, parse_json_object, split_compact
from gate.keys import KeySet
from gate.settings import Settings

_ABSENT: Final = object()
_new_tuple: Final = tuple.__new__
SignatureCheck = Callable[[Any, bytes, bytes], None]  # raises InvalidSignature


# The DER DigestInfo prefix of each hash, which EMSA-PKCS1-v1_5 puts before the digest (RFC 8017 section 9.2,
# note 1).
_DIGEST_INFO_PREFIX: Final[Mapping[str, bytes]] = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


def _pkcs1(hash_alg: hashes.HashAlgorithm) -> SignatureCheck:
    """RSASSA-PKCS1-v1_5 verification as RFC 8017 section 8.2.2 states it: encode, then compare.

    cryptography recovers the encoded digest (checking the 00 01 FF..FF 00 padding) and the expected encoding,
    DigestInfo prefix + digest, is compared byte for byte, so no ASN.1 is parsed. Written this way rather than
    as ``key.verify(..., PKCS1v15(), hash)`` because it is the same check for about 7% less time per token
    (hashlib's digest objects are cheaper than cryptography's); a differential property test holds it to
    ``key.verify`` on valid, mutated and foreign-hash signatures.
    """
    scheme = padding.PKCS1v15()
    prefix = _DIGEST_INFO_PREFIX[hash_alg.name]
    digest_of = getattr(hashlib, hash_alg.name)

    def check(key: Any, message: bytes, signature: bytes) -> None:
        if key.recover_data_from_signature(signature, scheme, None) != prefix + digest_of(message).digest():
            raise InvalidSignature

    return check


def _pss(hash_alg: hashes.HashAlgorithm) -> SignatureCheck:
    scheme = padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)

    def check(key: Any, message: bytes, signature: bytes) -> None:
        key.verify(signature, message, scheme, hash_alg)

    return check


def _ecdsa(hash_alg: hashes.HashAlgorithm, coordinate_bytes: int) -> SignatureCheck:
    # Imported here, and only built for configured algorithms: ECDSA() loads cryptography's OpenSSL
    # backend module, ~3 ms of a cold start that an RS256-only deployment need not pay.
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    scheme = ec.ECDSA(hash_alg)

    def check(key: Any, message: bytes, signature: bytes) -> None:
        # JWS carries r||s at fixed width (RFC 7518 section 3.4); anything else is not a signature.
        if len(signature) != 2 * coordinate_bytes:
            raise InvalidSignature
        r = int.from_bytes(signature[:coordinate_bytes], "big")
        s = int.from_bytes(signature[coordinate_bytes:], "big")
        key.verify(encode_dss_signature(r, s), message, scheme)

    return check


def _eddsa(key: Any, message: bytes, signature: bytes) -> None:
    key.verify(signature, message)


_SIGNATURE_CHECK_MAKERS: Final[Mapping[str, Callable[[], SignatureCheck]]] = {
    "RS256": lambda: _pkcs1(hashes.SHA256()),
    "RS384": lambda: _pkcs1(hashes.SHA384()),
    "RS512": lambda: _pkcs1(hashes.SHA512()),
    "PS256": lambda: _pss(hashes.SHA256()),
    "PS384": lambda: _pss(hashes.SHA384()),
    "PS512": lambda: _pss(hashes.SHA512()),
    "ES256": lambda: _ecdsa(hashes.SHA256(), 32),
    "ES384": lambda: _ecdsa(hashes.SHA384(), 48),
    "ES512": lambda: _ecdsa(hashes.SHA512(), 66),
    "EdDSA": lambda: _eddsa,
}


def signature_checks(algorithms: frozenset[str]) -> dict[str, SignatureCheck]:
    """The check for each of ``algorithms`` (a subset of settings.SUPPORTED_ALGORITHMS)."""
    return {alg: _SIGNATURE_CHECK_MAKERS[alg]() for alg in algorithms}


class VerifiedToken(NamedTuple):
    claims: dict[str, Any]
    kid: str | None
    sub: str | None
    key_source: str | None = None  # "snapshot" when verified with a deploy-time snapshot key (issue 13)


# What a header that passed every check says: kid, alg and the signature check. A plain tuple: a NamedTuple
# class costs a cold start ~0.1 ms to create.
_Header = tuple[str | None, str, SignatureCheck]


HEADER_MEMO_LIMIT: Final = 64  # judged header spellings kept; an identity provider uses one per signing key


class _Trust(NamedTuple):
    """What one trusted issuer's tokens are checked against."""

    issuer: str
    audiences: frozenset[str]
    keys: KeySet


class Verifier:
    def __init__(self, settings: Settings, keys: Mapping[str, KeySet], *, clock: Callable[[], float]) -> None:
        """``keys`` holds one KeySet per trusted issuer (settings.trusted_issuers), keyed by issuer."""
        self._clock = clock
        self._checks = signature_checks(settings.algorithms)
        self._token_types = settings.token_types
        self._required = settings.required_claims
        self._required_values = settings.required_claim_values
        self._leeway = settings.leeway_seconds
        self._audience_claim = settings.audience_claim
        self._audience_may_be_list = settings.audience_claim == "aud"
        self._trusted = {
            trusted.issuer: _Trust(trusted.issuer, trusted.audiences, keys[trusted.issuer])
            for trusted in settings.trusted_issuers
        }
        self._headers: dict[bytes, _Header] = {}  # header segment -> its verdict (see _judge_header)
        # With one issuer there is nothing to choose: the payload stays unread until verified.
        self._only = next(iter(self._trusted.values())) if len(self._trusted) == 1 else None

    def verify(self, token: str) -> VerifiedToken:
        """Trusted claims of ``token``, or :class:`Rejection` / :class:`KeysUnavailable`."""
        segments = split_compact(token)
        header_segment, payload_segment, signature_segment, signing_input = segments
        known = self._headers.get(header_segment)
        if known is None:
            jws = decode_compact(segments)
            known = self._judge_header(jws.header)
            if len(self._headers) >= HEADER_MEMO_LIMIT:
                self._headers.clear()
            self._headers[header_segment] = known
            payload, signature = jws.payload, jws.signature
        else:  # the header is judged already: decode the rest (as decode_compact does, without a call)
            try:
                payload, signature = b64url_decode(payload_segment), b64url_decode(signature_segment)
            except ValueError:  # binascii.Error is a ValueError
                raise Rejection(MALFORMED_TOKEN) from None
        kid, alg, check = known
        trust = self._only or self._key_set_by_unverified_issuer(payload, kid)
        key = trust.keys.key_for(kid, alg)
        try:
            try:
                check(key.public_key, signing_input, signature)
            except (InvalidSignature, ValueError):
                raise Rejection(BAD_SIGNATURE, kid=kid) from None
            try:
                claims = parse_json_object(payload)
            except ValueError:
                raise Rejection(MALFORMED_TOKEN, kid=kid) from None
            sub = self._check_claims(claims, trust, kid)
        except Rejection as rejection:
            rejection.key_source = key.source  # the decision line says which keys judged the token
            raise
        # tuple.__new__ skips the Python-level __new__ that NamedTuple generates (the warm path): same object
        return _new_tuple(VerifiedToken, (claims, kid, sub, key.source))

    def _judge_header(self, header: dict[str, Any]) -> _Header:
        """The header's kid, alg and signature check, or Rejection; remembered when it passes.

        Remembered by the header segment's exact text (the warm path then skips decoding and parsing a
        header it has judged before): every check here reads only the header and this verifier's fixed
        settings, so the same text always gets the same verdict. Rejected headers are not remembered, and
        the memo is bounded because header text comes from callers.
        """
        kid = header.get("kid")
        if kid is not None and type(kid) is not str:
            raise Rejection(MALFORMED_TOKEN)
        alg = header.get("alg")
        if type(alg) is not str or alg not in self._checks:
            raise Rejection(UNSUPPORTED_ALG, kid=kid)
        if "crit" in header or "b64" in header:  # no JWS extension is understood here
            raise Rejection(UNSUPPORTED_CRIT, kid=kid)
        if self._token_types:
            typ = header.get("typ")
            if type(typ) is not str or typ.lower() not in self._token_types:
                raise Rejection(TOKEN_TYPE_MISMATCH, kid=kid)
        return kid, alg, self._checks[alg]

    def _key_set_by_unverified_issuer(self, payload: bytes, kid: str | None) -> _Trust:
        """UNVERIFIED INPUT: picks whose key set may verify the token, from the unsigned-yet ``iss``.

        Only ``iss`` is read, only as a lookup key among the configured issuers (exact match), and
        the parsed payload is thrown away: no other claim, not even ``sub`` for the log, is used
        before the signature holds. A lying ``iss`` gains nothing - it selects a key set in which
        the signature must then verify, and afterwards ``iss`` is checked again like every claim.
        """
        try:
            iss = parse_json_object(payload).get("iss")
        except ValueError:
            raise Rejection(MALFORMED_TOKEN, kid=kid) from None
        trust = self._trusted.get(iss) if type(iss) is str else None
        if trust is None:
            raise Rejection(ISSUER_MISMATCH, kid=kid)
        return trust

    def _check_claims(self, claims: dict[str, Any], trust: _Trust, kid: str | None) -> str | None:
        sub = claims.get("sub")
        if sub is not None and type(sub) is not str:
            raise Rejection(INVALID_CLAIM, kid=kid)
        # Claim values first: they tell what kind of token this is (an ID token where an access
        # token belongs), the most useful reason when several checks would fail.
        for name, expected in self._required_values:
            value = claims.get(name)
            if value is None:
                raise Rejection(MISSING_CLAIM, kid=kid, sub=sub)
            if type(value) is not type(expected) or value != expected:
                raise Rejection(CLAIM_VALUE_MISMATCH, kid=kid, sub=sub)
        if None in map(claims.get, self._required):  # a C loop: the warm path (null counts as missing)
            raise Rejection(MISSING_CLAIM, kid=kid, sub=sub)
        iss = claims.get("iss")
        if type(iss) is not str or iss != trust.issuer:
            raise Rejection(ISSUER_MISMATCH, kid=kid, sub=sub)
        aud = claims.get(self._audience_claim)
        if not (aud in trust.audiences if type(aud) is str else self._audience_matches(aud, trust.audiences)):
            raise Rejection(AUDIENCE_MISMATCH, kid=kid, sub=sub)
        now = self._clock()
        leeway = self._leeway
        # Present means checked: a null or string date is invalid, not absent. Dates are compared
        # with "now +- leeway" (not "date + leeway") so a huge integer never overflows a float.
        # (An int date skips the _numeric_date call: the warm path.)
        exp = claims.get("exp", _ABSENT)
        if exp is not _ABSENT:
            if type(exp) is not int:
                exp = _numeric_date(exp, kid, sub)
            if exp <= now - leeway:
                raise Rejection(EXPIRED, kid=kid, sub=sub)
        nbf = claims.get("nbf", _ABSENT)
        if nbf is not _ABSENT and _numeric_date(nbf, kid, sub) > now + leeway:
            raise Rejection(NOT_YET_VALID, kid=kid, sub=sub)
        iat = claims.get("iat", _ABSENT)
        if iat is not _ABSENT:
            if type(iat) is not int:
                iat = _numeric_date(iat, kid, sub)
            if iat > now + leeway:
                raise Rejection(ISSUED_IN_FUTURE, kid=kid, sub=sub)
        return sub

    def _audience_matches(self, aud: object, audiences: frozenset[str]) -> bool:
        if type(aud) is str:
            return aud in audiences
        if type(aud) is list and self._audience_may_be_list:
            return all(type(a) is str for a in aud) and any(a in audiences for a in aud)
        return False


def _numeric_date(value: object, kid: str | None, sub: str | None) -> float:
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return value
    raise Rejection(INVALID_CLAIM, kid=kid, sub=sub)
