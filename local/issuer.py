"""Embedded development OpenID issuer: discovery, a JWKS, and RFC 9068 access tokens signed with RS256.

The authorizer treats it like any real provider (discovery, key fetch, kid lookup), so a local run exercises
the same code paths as production. Keys live in a git-ignored folder (`.local/`) so tokens minted by
`python -m local.token` verify against the running server. Rotation puts a new key first and keeps publishing
the previous one, the order providers use, so tokens signed before the rotation keep working.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEYS_FILE = "issuer-keys.json"
PUBLISHED_KEYS = 2
RSA_KEY_BITS = 2048
DEFAULT_TOKEN_TTL_SECONDS = 3600
DEFAULT_SUBJECT = "local-developer"
DEFAULT_CLIENT_ID = "local-cli"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }


def _thumbprint_kid(private_key: rsa.RSAPrivateKey) -> str:
    """RFC 7638 thumbprint: a kid derived from the key itself, so it can never name a different key."""
    numbers = private_key.public_key().public_numbers()
    members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _new_key() -> SigningKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    return SigningKey(_thumbprint_kid(private_key), private_key)


class KeyStore:
    """Signing keys on disk, newest first; re-read on change so a rotation reaches a running server."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / KEYS_FILE
        self._lock = threading.Lock()
        self._loaded_mtime: int | None = None
        self._keys: list[SigningKey] = []

    def published(self) -> list[SigningKey]:
        with self._lock:
            if not self.path.exists():
                self._write([_new_key()])
            mtime = self.path.stat().st_mtime_ns
            if mtime != self._loaded_mtime:
                self._keys = self._read()
                self._loaded_mtime = mtime
            return list(self._keys)

    def signing_key(self) -> SigningKey:
        return self.published()[0]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self.published()]}

    def rotate(self) -> SigningKey:
        """Create a new signing key, publish it first, keep the previous one published, drop older ones."""
        current = self.published()
        new_key = _new_key()
        with self._lock:
            self._write([new_key, *current][:PUBLISHED_KEYS])
        return new_key

    def _read(self) -> list[SigningKey]:
        stored = json.loads(self.path.read_text())
        keys: list[SigningKey] = []
        for entry in stored["keys"]:
            private_key = serialization.load_pem_private_key(entry["pem"].encode(), password=None)
            if not isinstance(private_key, rsa.RSAPrivateKey):
                raise ValueError(f"{self.path}: key {entry['kid']} is not an RSA key")
            keys.append(SigningKey(entry["kid"], private_key))
        if not keys:
            raise ValueError(f"{self.path} holds no keys")
        return keys

    def _write(self, keys: Sequence[SigningKey]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        entries = [
            {
                "kid": key.kid,
                "pem": key.private_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode("ascii"),
            }
            for key in keys
        ]
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"keys": entries}, handle, indent=2)
        os.replace(temporary, self.path)


def mint_access_token(
    key: SigningKey,
    *,
    issuer: str,
    audience: str,
    scopes: Sequence[str],
    subject: str = DEFAULT_SUBJECT,
    client_id: str = DEFAULT_CLIENT_ID,
    ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
    now: float | None = None,
    confirmation: Mapping[str, str] | None = None,
) -> str:
    """An RFC 9068 JWT access token: typ at+jwt; iss, aud, sub, client_id, iat, exp, jti, scope; with
    `confirmation` also `cnf` (RFC 7800), e.g. `{"jkt": ...}` (DPoP) or `{"x5t#S256": ...}` (mTLS)."""
    issued_at = int(time.time() if now is None else now)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "client_id": client_id,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        "jti": secrets.token_urlsafe(16),
        "scope": " ".join(scopes),
    }
    if confirmation:
        claims["cnf"] = dict(confirmation)
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": "at+jwt"})


def discovery_document(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "grant_types_supported": ["client_credentials"],
    }


class IssuerServer(ThreadingHTTPServer):
    """Serves discovery and the JWKS on loopback; tokens are minted in-process, no token endpoint needed."""

    daemon_threads = True

    def __init__(self, key_store: KeyStore, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _IssuerHandler)
        self.key_store = key_store
        self.requests_served = 0
        self._thread: threading.Thread | None = None

    @property
    def issuer(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def jwks_uri(self) -> str:
        return str(discovery_document(self.issuer)["jwks_uri"])

    def start(self) -> IssuerServer:
        self.key_store.published()  # create the first key before anyone asks for it
        self._thread = threading.Thread(target=self.serve_forever, name="local-issuer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self.server_close()

    def mint(self, audience: str, scopes: Sequence[str], **claims: Any) -> str:
        return mint_access_token(
            self.key_store.signing_key(), issuer=self.issuer, audience=audience, scopes=scopes, **claims
        )


class _IssuerHandler(BaseHTTPRequestHandler):
    server: IssuerServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.requests_served += 1
        if self.path == "/.well-known/openid-configuration":
            self._json(200, discovery_document(self.server.issuer))
        elif self.path == "/.well-known/jwks.json":
            self._json(200, self.server.key_store.jwks())
        else:
            self._json(404, {"error": "not_found"})

    def _json(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the gateway's decision log is the interesting one."""
