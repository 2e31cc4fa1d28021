"""Sender-constrained tokens in a local run (issue 12): what the gateway sets for the authorizer, and what a
client needs to make bound requests (`make token DPOP=1`, `make token MTLS=1`, the e2e tests).

Gateway side. The authorizer builds the expected DPoP `htu` as `PUBLIC_BASE_URL + event path` when
PUBLIC_BASE_URL is set, else as `https://{requestContext.domainName}{requestContext.path}`. On execute-api,
`requestContext.path` starts with `/{stage}` and the scheme is always https; locally there is no stage
prefix in the URL and the scheme may be http, so neither would name the URL the client used. When the
template's authorizer has DPOP on (or sets PUBLIC_BASE_URL, e.g. for a custom domain), the local run
therefore sets PUBLIC_BASE_URL to the local gateway's own base URL, `http://127.0.0.1:PORT` (`https://`
with `--mtls`; plain http is allowed on loopback), and the event's `path` is the path below it, as with a
base path mapping. A proof must then name the URL exactly as the gateway prints it: `localhost` for
`127.0.0.1` is `dpop_htu_mismatch`.
DPOP_REPLAY_TABLE names a DynamoDB table that does not exist locally, so it is cleared: each container keeps
its own replay memory (gate/replay.py), as without the table. An explicit override (tests with a local
DynamoDB) still wins.

Client side. :class:`DpopKey` is a client's ES256 key pair (kept in `.local/dpop-client-key.pem` for
`make token`), with its RFC 7638 thumbprint (the token's `cnf.jkt`) and RFC 9449 proofs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from local.issuer import IssuerServer
from local.template import ApiModel
from local.tls import DevelopmentCa

DPOP_CLIENT_KEY_FILE = "dpop-client-key.pem"
MODES_OFF = ("", "off")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def authorizer_modes(model: ApiModel) -> tuple[str, str]:
    """(DPOP, MTLS_BOUND_TOKENS) of the template's Lambda authorizers: the strictest, `off` when unset."""
    order = {"off": 0, "allowed": 1, "required": 2}
    dpop = mtls = "off"
    for authorizer in model.authorizers.values():
        env = model.functions[authorizer.function_id].environment
        dpop = max(dpop, env.get("DPOP") or "off", key=lambda mode: order.get(mode, 0))
        mtls = max(mtls, env.get("MTLS_BOUND_TOKENS") or "off", key=lambda mode: order.get(mode, 0))
    return dpop, mtls


def local_sender_constraint_environment(model: ApiModel, base_url: str) -> dict[str, dict[str, str]]:
    """Per authorizer function: PUBLIC_BASE_URL = the local base URL (DPoP on, or set by the template) and
    DPOP_REPLAY_TABLE cleared; nothing for functions that need neither."""
    overrides: dict[str, dict[str, str]] = {}
    for authorizer in model.authorizers.values():
        env = model.functions[authorizer.function_id].environment
        extra: dict[str, str] = {}
        if env.get("DPOP", "") not in MODES_OFF or env.get("PUBLIC_BASE_URL"):
            extra["PUBLIC_BASE_URL"] = base_url
        if env.get("DPOP_REPLAY_TABLE"):
            extra["DPOP_REPLAY_TABLE"] = ""
        if extra:
            overrides[authorizer.function_id] = extra
    return overrides


def notices(model: ApiModel, base_url: str, *, mtls: bool) -> list[str]:
    """Lines for the startup banner about DPoP and certificate-bound tokens; none when both are off."""
    dpop, bound = authorizer_modes(model)
    lines = []
    if dpop != "off":
        lines.append(
            f"DPoP {dpop}: the authorizer's PUBLIC_BASE_URL is {base_url}, so a proof's htu is "
            f"{base_url}/PATH; make token DPOP=1 [METHOD=GET URL=...] prints the two headers"
        )
    if bound != "off":
        if mtls:
            lines.append(
                f"Certificate-bound tokens {bound}: make token MTLS=1 binds a token to the development "
                "client certificate"
            )
        else:
            lines.append(
                f"Certificate-bound tokens {bound}, but no client certificates over plain HTTP: "
                "make local MTLS=1"
            )
    if mtls and bound == "off":
        lines.append("Mutual TLS: the authorizer gets the client certificate; MTLS_BOUND_TOKENS is off")
    return lines


def shown_path(path: Path) -> str:
    """`path` relative to the working directory when it is below it (shorter curl lines)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def demo_curl(
    model: ApiModel,
    issuer: IssuerServer,
    audience: str,
    scopes: Sequence[str],
    url: str,
    state_root: Path,
    mtls: bool,
) -> str | None:
    """The startup banner's curl: with `--mtls` it presents the development client certificate, and the
    token is bound to it when MTLS_BOUND_TOKENS is on. None under DPOP `required`: a proof is single-use
    and short-lived, so `make token DPOP=1` makes one per request instead."""
    dpop, bound = authorizer_modes(model)
    if dpop == "required":
        return None
    parts = ["curl", "-i"]
    confirmation: dict[str, str] = {}
    if mtls:
        ca = DevelopmentCa.under(state_root)
        client = ca.client()
        parts += ["--cacert", shown_path(ca.ca_cert), "--cert", shown_path(client.cert)]
        parts += ["--key", shown_path(client.key)]
        if bound != "off":
            confirmation["x5t#S256"] = client.thumbprint()
    token = issuer.mint(audience, scopes, confirmation=confirmation)
    parts += ["-H", f"Authorization: Bearer {token}", url]
    return " ".join(shlex.quote(part) for part in parts)


def access_token_hash(token: str) -> str:
    """The proof's `ath`: base64url(SHA-256(the access token))."""
    return _b64url(hashlib.sha256(token.encode("ascii")).digest())


def htu_of(url: str) -> str:
    """RFC 9449 `htu`: the request URL without query and fragment."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


@dataclass(frozen=True)
class DpopKey:
    """A DPoP client key (ES256, P-256): its public JWK, RFC 7638 thumbprint, and proofs."""

    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> DpopKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load_or_create(cls, path: Path) -> DpopKey:
        """The key in `path` (PEM, PKCS#8), created there (mode 0600) on first use."""
        if path.is_file():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
                raise ValueError(f"{path} is not a P-256 private key")
            return cls(key)
        created = cls.generate()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = created.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.replace(temporary, path)
        return created

    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
        }

    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint: the required members in lexicographic order, no whitespace."""
        jwk = self.public_jwk()
        canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
        return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
        extra_claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A DPoP proof JWT for one request: `htm` `method`, `htu` `url` without query and fragment, `ath`
        of `access_token` when given (a resource request; none at a token endpoint), a fresh `jti`."""
        claims: dict[str, Any] = {
            "jti": jti or secrets.token_urlsafe(16),
            "htm": method,
            "htu": htu_of(url),
            "iat": int(time.time() if iat is None else iat),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        claims.update(extra_claims or {})
        headers = {"typ": "dpop+jwt", "jwk": self.public_jwk()}
        return jwt.encode(claims, self.private_key, algorithm="ES256", headers=headers)
