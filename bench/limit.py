"""The physical limit: what any RS256 authorizer must at least do for a token it has never seen.

One PKCS#1 v1.5 SHA-256 verify with an already-loaded RSA-2048 key, plus base64url and JSON parsing of header
and payload. No claim checks, no policy: anything the authorizer adds on top is overhead measured against
this.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bench.fixtures import b64url_decode


def make_limit(public_key: rsa.RSAPublicKey) -> Callable[[str], bool]:
    pkcs1 = padding.PKCS1v15()
    sha256 = hashes.SHA256()

    def decide(token: str) -> bool:
        header, payload, signature = token.split(".")
        json.loads(b64url_decode(header))
        json.loads(b64url_decode(payload))
        public_key.verify(b64url_decode(signature), f"{header}.{payload}".encode(), pkcs1, sha256)
        return True

    return decide
