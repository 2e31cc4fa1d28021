"""Keys, the JWKS document and token minting shared by every contender.

Every warm measurement needs tokens that no contender has seen before, so minting is cheap to call in bulk and
each token differs (``jti``, ``sub``). The attacker key signs the unknown-kid flood: a second real RSA key
whose kids the JWKS never lists, so a contender can only reject those tokens after looking the kid up.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from local.issuer import SigningKey

ISSUER = "https://idp.bench.example/"
AUDIENCE = "api://bench"
SCOPE = "orders:read"
CLIENT_ID = "bench-client"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:benchapi/prod/GET/orders"
SCOPE_RULES = {"GET /orders": SCOPE, "POST /orders": "orders:write"}
TOKEN_LIFETIME_SECONDS = 3600
EXPIRED_BY_SECONDS = 3600  # far beyond any leeway, so "expired" is the only reason to reject


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_signing_key(kid: str) -> SigningKey:
    return SigningKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def jwks_document(keys: list[SigningKey]) -> bytes:
    return json.dumps({"keys": [key.public_jwk() for key in keys]}).encode()


class TokenFactory:
    """Mints distinct RS256 tokens; a counter in ``jti`` and ``sub`` keeps every token unique."""

    def __init__(self, key: SigningKey, seed: int = 5) -> None:
        self._key = key
        self._serial = itertools.count()
        self._random = random.Random(seed)

    def _claims(self, now: int, *, expired: bool) -> dict[str, Any]:
        serial = next(self._serial)
        issued = now - EXPIRED_BY_SECONDS - TOKEN_LIFETIME_SECONDS if expired else now
        return {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"user-{serial}",
            "client_id": CLIENT_ID,
            "scope": SCOPE,
            "iat": issued,
            "exp": issued + TOKEN_LIFETIME_SECONDS,
            "jti": f"bench-{serial}",
        }

    def _sign(self, claims: dict[str, Any], key: SigningKey, kid: str) -> str:
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})

    def valid(self, count: int) -> list[str]:
        now = int(time.time())
        return [self._sign(self._claims(now, expired=False), self._key, self._key.kid) for _ in range(count)]

    def expired(self, count: int) -> list[str]:
        now = int(time.time())
        return [self._sign(self._claims(now, expired=True), self._key, self._key.kid) for _ in range(count)]

    def unknown_kid(self, count: int, attacker: SigningKey) -> list[str]:
        """Well-formed, unexpired tokens with random kids: only a JWKS lookup can tell they are not ours."""
        now = int(time.time())
        return [
            self._sign(
                self._claims(now, expired=False), attacker, f"flood-{self._random.getrandbits(64):016x}"
            )
            for _ in range(count)
        ]

    def garbage(self, count: int) -> list[str]:
        """Strings a scanner or a broken client sends: not JSON, not three segments, random base64url."""
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        shapes = []
        for index in range(count):
            blob = "".join(self._random.choices(alphabet, k=40 + index % 200))
            kind = index % 3
            if kind == 0:
                shapes.append(f"{blob[:20]}.{blob[20:]}.{blob[::-1]}")
            elif kind == 1:
                shapes.append(blob)
            else:
                shapes.append(f"{b64url(json.dumps({'alg': 'RS256'}).encode())}.{blob}")
        return shapes


def with_bad_signature(token: str) -> str:
    """The token with one signature bit flipped, still canonical base64url: only the RSA check rejects it."""
    head, body, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{body}.{b64url(bytes(raw))}"


def token_event(token: str) -> dict[str, str]:
    """The TOKEN event the peers were written for (the PyJWT reference reads ``authorizationToken``)."""
    return {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}


# The headers a regional REST endpoint passes on for a plain HTTPS client, besides Authorization: the gate
# reads every name to refuse a second spelling of Authorization: an event with that header alone flatters it.
_REQUEST_HEADERS: dict[str, str] = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate, br",
    "Host": "benchapi.execute-api.us-east-1.amazonaws.com",
    "User-Agent": "bench-client/1.0",
    "X-Amzn-Trace-Id": "Root=1-67a0c0de-0123456789abcdef01234567",
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https",
}


def request_event(token: str) -> dict[str, Any]:
    """The REQUEST event the deployed authorizer receives for ``GET /orders`` (docs/routes.md)."""
    headers = {**_REQUEST_HEADERS, "Authorization": f"Bearer {token}"}
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/orders",
        "path": "/orders",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/orders",
            "httpMethod": "GET",
            "path": "/prod/orders",
            "stage": "prod",
            "apiId": "benchapi",
            "accountId": "123456789012",
            "requestId": "bench",
            "identity": {"sourceIp": "203.0.113.9"},
        },
    }
