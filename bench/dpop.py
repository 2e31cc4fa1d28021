"""The DPoP path (issue 12): a warm authorization with a fresh ES256 proof, against its own limit.

One client with one EC P-256 key, as a real client keeps its key: each call brings a distinct DPoP-bound
RS256 access token (``cnf.jkt`` is the key's RFC 7638 thumbprint) and a fresh proof (new ``jti``, ``iat``
now, ``ath`` of that token, ``htm``/``htu`` of ``GET /prod/orders``), all minted before the first timed
batch. The gate runs as a second Authorizer in this process with DPOP=required, fed the REQUEST event API
Gateway sends (``Authorization: DPoP <token>`` and the ``DPoP`` header); its proof window is the
authorizer's maximum (600 s), because every proof of the run is minted at its start.

The limit: what any DPoP resource server must at least do for such a request, i.e. the two signature
verifications (RSA-2048 PKCS#1 v1.5 and ECDSA P-256, both keys already loaded; the raw r||s signature
converted to DER as cryptography wants it) plus base64url and JSON parsing of both headers and payloads.
Everything the gate adds (claim checks, thumbprint, ``ath``, ``htu``, the replay memory, the policy) is
measured against it.

A contender's input is one string, so each request travels as ``"<token> <proof>"`` (no space in either).
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from bench.contenders import Contender, InProcessContender
from bench.fixtures import (
    AUDIENCE,
    CLIENT_ID,
    ISSUER,
    SCOPE,
    TOKEN_LIFETIME_SECONDS,
    b64url,
    b64url_decode,
    request_event,
)
from local.issuer import SigningKey

DOMAIN: Final = "benchapi.execute-api.us-east-1.amazonaws.com"
HTU: Final = (
    f"https://{DOMAIN}/prod/orders"  # https://{domainName}{requestContext.path}, as the gate builds it
)
MAX_AGE_SECONDS: Final = "600"
KEYS: Final = ("limit-dpop", "gate-dpop")  # case keys: the DPoP limit, then the gate on the DPoP path
LIMIT_LABEL: Final = "limit, DPoP: RS256 + ES256 verify + parse"
GATE_LABEL: Final = "handler.handler, DPoP-bound token + fresh ES256 proof"


class DpopClient:
    """One DPoP client: an EC P-256 key, tokens bound to it and fresh proofs for them."""

    def __init__(self, issuer_key: SigningKey) -> None:
        self._issuer_key = issuer_key
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.private_key.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        canonical = json.dumps(self.jwk, sort_keys=True, separators=(",", ":")).encode()  # RFC 7638
        self.thumbprint = b64url(hashlib.sha256(canonical).digest())
        self._header = b64url(json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk}).encode())
        self._serial = itertools.count()

    def token(self, now: int) -> str:
        serial = next(self._serial)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"dpop-user-{serial}",
            "client_id": CLIENT_ID,
            "scope": SCOPE,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "jti": f"dpop-bench-{serial}",
            "cnf": {"jkt": self.thumbprint},
        }
        key = self._issuer_key
        return jwt.encode(
            claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": "at+jwt"}
        )

    def proof(self, token: str, now: int) -> str:
        payload = {
            "jti": f"proof-{next(self._serial)}",
            "htm": "GET",
            "htu": HTU,
            "iat": now,
            "ath": b64url(hashlib.sha256(token.encode("ascii")).digest()),
        }
        signing_input = f"{self._header}.{b64url(json.dumps(payload).encode())}"
        der = self.private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def requests(self, count: int) -> list[str]:
        """``count`` requests, each ``"<token> <proof>"`` with its own token and proof."""
        now = int(time.time())
        pairs = []
        for _ in range(count):
            token = self.token(now)
            pairs.append(f"{token} {self.proof(token, now)}")
        return pairs


def dpop_event(request: str) -> dict[str, Any]:
    """The REQUEST event API Gateway sends for ``GET /orders`` with a DPoP-bound token and its proof, beside
    the other headers of bench.fixtures.request_event."""
    token, proof = request.split(" ")
    event = request_event(token)
    headers = {**event["headers"], "Authorization": f"DPoP {token}", "DPoP": proof}
    event["headers"] = headers
    event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    event["requestContext"]["domainName"] = DOMAIN
    return event


def make_limit(rsa_key: rsa.RSAPublicKey, ec_key: ec.EllipticCurvePublicKey) -> Callable[[str], bool]:
    pkcs1, sha256, ecdsa = padding.PKCS1v15(), hashes.SHA256(), ec.ECDSA(hashes.SHA256())

    def decide(request: str) -> bool:
        token, proof = request.split(" ")
        header, payload, signature = token.split(".")
        json.loads(b64url_decode(header))
        json.loads(b64url_decode(payload))
        rsa_key.verify(b64url_decode(signature), f"{header}.{payload}".encode(), pkcs1, sha256)
        header, payload, signature = proof.split(".")
        json.loads(b64url_decode(header))
        json.loads(b64url_decode(payload))
        raw = b64url_decode(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        ec_key.verify(der, f"{header}.{payload}".encode(), ecdsa)
        return True

    return decide


def gate_env(common: Mapping[str, str]) -> dict[str, str]:
    return {**common, "DPOP": "required", "DPOP_MAX_AGE_SECONDS": MAX_AGE_SECONDS}


def make_gate(env: Mapping[str, str]) -> Callable[[Any], object]:
    """A second authorizer beside handler.AUTHORIZER, configured for DPoP, wrapped as handler.handler is
    (``gate`` is importable once handler.py was imported from the authorizer's folder)."""
    authorizer = importlib.import_module("gate.authorizer").Authorizer.from_env(env)
    authorizer.prefetch_keys()
    rejection = importlib.import_module("gate.errors").Rejection

    def decide(event: Any) -> object:
        try:
            return authorizer.handle(event)
        except rejection:
            raise Exception("Unauthorized") from None  # what handler.handler raises

    return decide


def build_contenders(
    client: DpopClient, rsa_key: rsa.RSAPublicKey, gate: Callable[[Any], object]
) -> dict[str, Contender]:
    """The DPoP limit and ``gate`` (from :func:`make_gate`), keyed by :data:`KEYS`."""
    limit = make_limit(rsa_key, client.private_key.public_key())
    return {
        "limit-dpop": InProcessContender("limit-dpop", LIMIT_LABEL, limit, event=None),
        "gate-dpop": InProcessContender("gate-dpop", GATE_LABEL, gate, event=dpop_event),
    }
