"""Public keys from JWK members (RFC 7517, RFC 7518 section 6, RFC 8037), built with cryptography.

Why not PyJWT's ``RSAAlgorithm/ECAlgorithm/OKPAlgorithm.from_jwk``: importing ``jwt.algorithms``
loads all of PyJWT (its JWKS client, x509, SSH serialization, http and email helpers), about 18 ms
of every cold start, for what is a few cryptography calls. The key validation is cryptography's,
exactly as in PyJWT: ``RSAPublicNumbers.public_key()`` refuses an even or < 3 exponent and an
exponent not below the modulus, ``EllipticCurvePublicNumbers.public_key()`` refuses a point that is
not on the curve, ``from_public_bytes`` refuses a wrong length. tests/authorizer/test_authz_jwk.py
checks, with PyJWT as the oracle, that every JWK accepted here is accepted by PyJWT with the same
public numbers.

Deliberately stricter than PyJWT:

* members are base64url strings: the alphabet ``A-Z a-z 0-9 - _`` and nothing else (PyJWT also
  takes ``+``, ``/``, whitespace and stray characters, which its decoder drops), padding only
  if it is the exact amount (tolerated: harmless, and some providers pad), never empty;
* RSA: an even modulus ``n`` (cryptography, and so PyJWT, loads it; it is trivially factored);
* EC: only the JOSE curves P-256, P-384 and P-521 (PyJWT also takes secp256k1, which no algorithm
  allowed here uses).

Only public members are read: a JWK that carries private ones (``d``, ``p``, ...) yields its public
key, where PyJWT would load a private key. Leading zero octets in ``n``/``e`` are accepted, as by
PyJWT: RFC 7518 forbids them, but some providers emit them and the number is unambiguous.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey

# Coordinate length in octets for each JOSE curve (RFC 7518 section 6.2.1.2).
EC_COORDINATE_BYTES: Final = {"P-256": 32, "P-384": 48, "P-521": 66}
OKP_CURVES: Final = frozenset({"Ed25519", "Ed448"})

# A JWK member: base64url, optionally padded. BASE64URL as a pattern, checked by hand (no regex compiled at
# import, a cold start cost); tests/authorizer/test_authz_fast_paths.py holds the two equal.
BASE64URL: Final = r"([A-Za-z0-9_-]+)(=*)"
_ALPHABET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_TO_STANDARD: Final = str.maketrans("-_", "+/")


class JwkError(ValueError):
    """The JWK does not describe a usable public key; the message says which member is wrong."""


def load_public_key(jwk: Mapping[str, object]) -> PublicKey:
    """The public key described by ``jwk``'s public members; :class:`JwkError` if there is none."""
    kty = jwk.get("kty")
    if kty == "RSA":
        return _rsa(jwk)
    if kty == "EC":
        return _ec(jwk)
    if kty == "OKP":
        return _okp(jwk)
    raise JwkError(f"unsupported kty {kty!r}")


def _rsa(jwk: Mapping[str, object]) -> RSAPublicKey:
    n = int.from_bytes(_member(jwk, "n"), "big")
    e = int.from_bytes(_member(jwk, "e"), "big")
    if n % 2 == 0:  # cryptography loads it; an even modulus has a known factor, so anyone could sign
        raise JwkError("RSA modulus n is even")
    try:
        return RSAPublicNumbers(e, n).public_key()
    except ValueError as err:
        raise JwkError(f"invalid RSA public numbers ({err})") from None


def _ec(jwk: Mapping[str, object]) -> EllipticCurvePublicKey:
    # Imported here: a deployment allowing only RS* algorithms never builds an EC key.
    from cryptography.hazmat.primitives.asymmetric import ec

    crv = jwk.get("crv")
    curve: ec.EllipticCurve
    if crv == "P-256":
        curve = ec.SECP256R1()
    elif crv == "P-384":
        curve = ec.SECP384R1()
    elif crv == "P-521":
        curve = ec.SECP521R1()
    else:
        raise JwkError(f"unsupported EC crv {crv!r}")
    size = EC_COORDINATE_BYTES[crv]
    x, y = _member(jwk, "x"), _member(jwk, "y")
    if len(x) != size or len(y) != size:
        raise JwkError(f"EC coordinates must be {size} octets for {crv}")
    numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve)
    try:
        return numbers.public_key()  # checks that the point is on the curve
    except ValueError:
        raise JwkError(f"EC point is not on {crv}") from None


def _okp(jwk: Mapping[str, object]) -> Ed25519PublicKey | Ed448PublicKey:
    crv = jwk.get("crv")
    x = _member(jwk, "x")
    try:
        if crv == "Ed25519":
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

            return Ed25519PublicKey.from_public_bytes(x)
        if crv == "Ed448":
            from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey

            return Ed448PublicKey.from_public_bytes(x)
    except ValueError:
        raise JwkError(f"invalid {crv} public key") from None
    raise JwkError(f"unsupported OKP crv {crv!r}")


def _member(jwk: Mapping[str, object], name: str) -> bytes:
    """The octets of a base64url member: its alphabet only, optionally with exact padding."""
    value = jwk.get(name)
    if not isinstance(value, str):
        raise JwkError(f"member {name!r} is missing or not a string")
    body = value.rstrip("=")
    padding = value[len(body) :]
    if not body or not _ALPHABET.issuperset(body):
        raise JwkError(f"member {name!r} is not base64url")
    remainder = len(body) % 4
    if remainder == 1 or (padding and len(padding) != (4 - remainder) % 4):
        raise JwkError(f"member {name!r} has an impossible base64url length")
    return binascii.a2b_base64(body.translate(_TO_STANDARD) + "=" * (-len(body) % 4))
