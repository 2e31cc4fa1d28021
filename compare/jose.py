"""Signing keys and compact JWS tokens for the corpus, written with `cryptography` alone.

Tokens are built from raw header and payload bytes when a case needs hostile JSON (duplicate members); the
signature is always real, made with the key named, so a rejection is about what the case changes and nothing
else.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


@dataclass(frozen=True)
class SigningKey:
    """A private key, the kid it is published under and the one algorithm it signs with."""

    kid: str
    alg: str
    private: Any

    @property
    def jwk(self) -> dict[str, str]:
        public = self.private.public_key()
        members: dict[str, str]
        if isinstance(public, rsa.RSAPublicKey):
            numbers = public.public_numbers()
            members = {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
        elif isinstance(public, ec.EllipticCurvePublicKey):
            size = (public.curve.key_size + 7) // 8
            numbers_ec = public.public_numbers()
            members = {
                "kty": "EC",
                "crv": {256: "P-256", 384: "P-384", 521: "P-521"}[public.curve.key_size],
                "x": b64url(numbers_ec.x.to_bytes(size, "big")),
                "y": b64url(numbers_ec.y.to_bytes(size, "big")),
            }
        else:
            raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
            members = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        return {**members, "kid": self.kid, "use": "sig", "alg": self.alg}

    def sign(self, signing_input: bytes) -> bytes:
        family, bits = self.alg[:2], self.alg[2:]
        if family == "RS":
            return bytes(self.private.sign(signing_input, padding.PKCS1v15(), _HASHES[bits]()))
        if family == "PS":
            digest = _HASHES[bits]()
            pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
            return bytes(self.private.sign(signing_input, pss, digest))
        if family == "ES":
            r, s = decode_dss_signature(self.private.sign(signing_input, ec.ECDSA(_HASHES[bits]())))
            size = (self.private.curve.key_size + 7) // 8
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return bytes(self.private.sign(signing_input))  # EdDSA

    def with_kid(self, kid: str) -> SigningKey:
        return SigningKey(kid, self.alg, self.private)


@dataclass(frozen=True)
class KeyRing:
    """The issuer's keys (RSA, its rotation successor, EC P-256, RSA-PSS, Ed25519) and an attacker's."""

    rsa: SigningKey
    rsa_next: SigningKey
    es256: SigningKey
    ps256: SigningKey
    eddsa: SigningKey
    attacker: SigningKey

    @classmethod
    def generate(cls) -> KeyRing:
        def rsa_key() -> rsa.RSAPrivateKey:
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)

        return cls(
            rsa=SigningKey("rsa-1", "RS256", rsa_key()),
            rsa_next=SigningKey("rsa-2", "RS256", rsa_key()),
            es256=SigningKey("ec-1", "ES256", ec.generate_private_key(ec.SECP256R1())),
            ps256=SigningKey("pss-1", "PS256", rsa_key()),
            eddsa=SigningKey("ed-1", "EdDSA", ed25519.Ed25519PrivateKey.generate()),
            attacker=SigningKey("rsa-1", "RS256", rsa_key()),
        )

    def published(self) -> list[SigningKey]:
        """What the issuer publishes before any rotation."""
        return [self.rsa, self.es256, self.ps256, self.eddsa]


def compact(
    key: SigningKey,
    payload: dict[str, Any] | bytes,
    *,
    header: dict[str, Any] | None = None,
    alg: str | None = None,
) -> str:
    """A compact JWS signed by `key`. `header` replaces the default {alg, kid, typ: at+jwt} entirely;
    `payload` as bytes is signed as written (hostile JSON)."""
    header = header if header is not None else {"alg": alg or key.alg, "kid": key.kid, "typ": "at+jwt"}
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    payload_bytes = (
        payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    )
    signing_input = f"{b64url(header_bytes)}.{b64url(payload_bytes)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"
