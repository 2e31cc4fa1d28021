"""Helpers shared by the authorizer tests: keys, token building, the loopback IdP, the test clock.

The identity provider is a ThreadingHTTPServer on 127.0.0.1 serving OpenID discovery and a JWKS.
It counts requests per path and can be switched to misbehave (``mode``): ``down`` (HTTP 503),
``drop`` (close the connection without answering), ``slow`` (answer after ``slow_seconds``),
``garbage`` (not JSON), ``oversized`` (a valid JWKS padded past the size cap, with a
Content-Length) and ``oversized_unsized`` (the same, without Content-Length).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm, get_default_algorithms

from gate.authorizer import Authorizer
from gate.errors import Rejection
from gate.fetch import MAX_DOCUMENT_BYTES

NOW = 1_700_000_000.0
AUDIENCE = "api://orders"
API_PREFIX = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod"
ALL_ALGORITHMS = "RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA"


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def method_arn(method: str = "GET", path: str = "orders") -> str:
    return f"{API_PREFIX}/{method}/{path}"


class Clock:
    """A wall clock the test moves by hand (the authorizer reads time only through it)."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: Any
    jwk_extra: dict[str, Any] = field(default_factory=dict)

    @property
    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if self.alg.startswith(("RS", "PS")):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif self.alg.startswith("ES"):
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        jwk.pop("key_ops", None)
        return {**jwk, "kid": self.kid, "use": "sig", **self.jwk_extra}

    def sign(self, signing_input: bytes, alg: str | None = None) -> bytes:
        return get_default_algorithms()[alg or self.alg].sign(signing_input, self.private)

    def with_kid(self, kid: str, **jwk_extra: Any) -> SigningKey:
        return SigningKey(kid=kid, alg=self.alg, private=self.private, jwk_extra=jwk_extra)


@dataclass(frozen=True)
class KeyRing:
    rsa: SigningKey
    rsa_next: SigningKey
    rsa_weak: SigningKey
    attacker: SigningKey
    es256: SigningKey
    es384: SigningKey
    es512: SigningKey
    eddsa: SigningKey


def compact(
    header: dict[str, Any] | bytes,
    payload: dict[str, Any] | bytes,
    key: SigningKey,
    alg: str | None = None,
) -> str:
    """A compact JWS signed by ``key``; raw bytes allow hostile JSON (duplicates, odd spacing)."""
    header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode()
    payload_bytes = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64e(header_bytes)}.{b64e(payload_bytes)}".encode()
    return f"{signing_input.decode()}.{b64e(key.sign(signing_input, alg))}"


class Idp:
    """The loopback identity provider; see the module docstring."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.mode = "ok"
        self.slow_seconds = 1.0
        self.discovery_issuer: str | None = None
        self.discovery_jwks_uri: str | None = None
        self.requests: dict[str, int] = {}
        self._lock = threading.Lock()
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                idp._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    @property
    def issuer(self) -> str:
        return self.base

    @property
    def jwks_uri(self) -> str:
        return f"{self.base}/jwks"

    def publish(self, *keys: SigningKey | dict[str, Any]) -> None:
        self.jwks = {"keys": [k.jwk if isinstance(k, SigningKey) else k for k in keys]}

    def count(self, path: str) -> int:
        with self._lock:
            return self.requests.get(path, 0)

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests[request.path] = self.requests.get(request.path, 0) + 1
        mode = self.mode
        if mode == "drop":
            request.close_connection = True
            request.connection.close()
            return
        if mode == "down":
            request.send_error(503)
            return
        if mode == "slow":
            time.sleep(self.slow_seconds)
        if request.path == "/.well-known/openid-configuration":
            body = json.dumps(
                {
                    "issuer": self.discovery_issuer or self.issuer,
                    "jwks_uri": self.discovery_jwks_uri or self.jwks_uri,
                }
            ).encode()
        elif request.path == "/jwks":
            body = json.dumps(self.jwks).encode()
            if mode == "garbage":
                body = b"<html>maintenance</html>"
            elif mode in ("oversized", "oversized_unsized"):
                body = json.dumps({**self.jwks, "padding": "x" * MAX_DOCUMENT_BYTES}).encode()
        else:
            request.send_error(404)
            return
        try:
            request.send_response(200)
            request.send_header("Content-Type", "application/json")
            if mode != "oversized_unsized":  # without a length the client must count what it reads
                request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        except OSError:  # the client gave up (slow mode)
            pass

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def base_env(idp: Idp, **overrides: str) -> dict[str, str]:
    env = {
        "ISSUER": idp.issuer,
        "AUDIENCE": AUDIENCE,
        "ALGORITHMS": ALL_ALGORITHMS,
        # Well below the "slow" mode's 1 s, and well above a loopback answer on a loaded 2-core CI machine
        # (0.2 s once timed out there mid-suite).
        "JWKS_TIMEOUT_SECONDS": "0.5",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@dataclass
class Harness:
    """An Authorizer wired to the loopback IdP, the test clock and a captured log."""

    authorizer: Authorizer
    idp: Idp
    clock: Clock
    log: list[str]

    def call(self, token: str, arn: str | None = None) -> dict[str, Any]:
        return self.authorizer.handle(
            {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": arn or method_arn()}
        )

    def decisions(self) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.log]
        return [line for line in lines if line["event"] == "authorizer_decision"]

    def last_decision(self) -> dict[str, Any]:
        return self.decisions()[-1]


MakeHarness = Callable[..., Harness]


def rejection_reason(harness: Harness, token: str) -> str:
    """The reason code of a rejected token, checked against the decision log line it wrote."""
    with pytest.raises(Rejection) as caught:
        harness.call(token)
    assert harness.last_decision()["outcome"] == "unauthorized"
    assert harness.last_decision()["reason"] == caught.value.reason
    return caught.value.reason


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid access-token claims for the loopback issuer at NOW; ``None`` removes a claim."""
    base: dict[str, Any] = {
        "iss": "ISSUER",
        "aud": AUDIENCE,
        "sub": "user-1",
        "client_id": "app-1",
        "scope": "orders:read",
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "jti": "jti-1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def allow_document(*resources: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": list(resources)}],
    }


def deny_document(*resources: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": list(resources)}],
    }


def request_event(
    token: str, verb: str, path: str, resource: str, prefix: str = API_PREFIX
) -> dict[str, Any]:
    """A REQUEST authorizer event for ``verb path`` (path as requested) that API Gateway routed to
    ``resource`` (e.g. ``/items/{proxy+}``); the method ARN is ``<prefix>/<verb><path>``."""
    return {
        "type": "REQUEST",
        "methodArn": f"{prefix}/{verb}{path}",
        "resource": resource,
        "path": path,
        "httpMethod": verb,
        "headers": {"Authorization": f"Bearer {token}"},
        "multiValueHeaders": {"Authorization": [f"Bearer {token}"]},
        "requestContext": {"resourcePath": resource, "httpMethod": verb, "path": f"/prod{path}"},
    }


# --- sender-constrained tokens (issue 12): DPoP proofs and client certificates ----------------------

DOMAIN = "api.example.com"  # requestContext.domainName of dpop_event / certificate_event
# What a client calls for request_event(..., "/orders", ...): the stage is part of requestContext.path.
HTU = f"https://{DOMAIN}/prod/orders"
THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


def public_jwk(key: SigningKey) -> dict[str, Any]:
    """The key as a DPoP client puts it into its proofs: the public members, no kid or use."""
    return {k: v for k, v in key.jwk.items() if k not in ("kid", "use")}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint, computed independently of gate.dpop (json.dumps, sorted keys)."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64e(hashlib.sha256(canonical.encode("utf-8")).digest())


def ath_of(token: str) -> str:
    return b64e(hashlib.sha256(token.encode("ascii")).digest())


def dpop_proof(
    key: SigningKey,
    *,
    token: str | None,
    iat: float,
    htm: str = "GET",
    htu: str = HTU,
    header: dict[str, Any] | None = None,
    alg: str | None = None,
    **claim: Any,
) -> str:
    """A DPoP proof signed by ``key`` (its public JWK in the header); ``None`` removes a member.

    ``ath`` is the hash of ``token`` and ``jti`` fresh and random unless given.
    """
    full_header = {"typ": "dpop+jwt", "alg": alg or key.alg, "jwk": public_jwk(key), **(header or {})}
    payload = {
        "jti": secrets.token_urlsafe(16),
        "htm": htm,
        "htu": htu,
        "iat": iat,
        "ath": ath_of(token) if token is not None else None,
        **claim,
    }
    return compact(
        {k: v for k, v in full_header.items() if v is not None},
        {k: v for k, v in payload.items() if v is not None},
        key,
        alg,
    )


def dpop_event(
    token: str,
    *proofs: str,
    scheme: str = "DPoP",
    verb: str = "GET",
    path: str = "/orders",
    resource: str = "/orders",
    domain: str = DOMAIN,
) -> dict[str, Any]:
    """A REQUEST event with ``Authorization: <scheme> <token>`` and one DPoP header per proof."""
    event = request_event(token, verb, path, resource)
    authorization = f"{scheme} {token}"
    event["headers"] = {"Authorization": authorization, **({"DPoP": proofs[-1]} if proofs else {})}
    event["multiValueHeaders"] = {
        "Authorization": [authorization],
        **({"DPoP": list(proofs)} if proofs else {}),
    }
    event["requestContext"]["domainName"] = domain
    return event


@dataclass(frozen=True)
class ClientCertificate:
    pem: str
    x5t_s256: str  # base64url(SHA-256(DER)), from cryptography's own fingerprint


def self_signed_certificate(common_name: str) -> ClientCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2023, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2033, 1, 1, tzinfo=UTC))
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return ClientCertificate(pem=pem, x5t_s256=b64e(certificate.fingerprint(hashes.SHA256())))


def certificate_event(token: str, pem: str | None, scheme: str = "Bearer") -> dict[str, Any]:
    """A REQUEST event as API Gateway sends it from a mutual-TLS custom domain (``pem`` None: no
    clientCert at all, as from the default endpoint)."""
    event = dpop_event(token, scheme=scheme)
    identity: dict[str, Any] = {"sourceIp": "192.0.2.1"}
    if pem is not None:
        identity["clientCert"] = {
            "clientCertPem": pem,
            "subjectDN": "CN=client",
            "issuerDN": "CN=client",
            "serialNumber": "1",
            "validity": {"notBefore": "Jan 1 00:00:00 2023 GMT", "notAfter": "Jan 1 00:00:00 2033 GMT"},
        }
    event["requestContext"]["identity"] = identity
    return event


def event_rejection(harness: Harness, event: dict[str, Any]) -> str:
    """The reason code of a rejected event, checked against the decision log line it wrote."""
    with pytest.raises(Rejection) as caught:
        harness.authorizer.handle(event)
    decision = harness.last_decision()
    assert (decision["outcome"], decision["reason"]) == ("unauthorized", caught.value.reason)
    return caught.value.reason


def event_outcome(harness: Harness, event: dict[str, Any]) -> str:
    """``allow`` or ``deny`` for an event that is decided by a policy, checked against the log."""
    response = harness.authorizer.handle(event)
    effect = response["policyDocument"]["Statement"][0]["Effect"]
    outcome = harness.last_decision()["outcome"]
    assert outcome == effect.lower()
    return str(outcome)
