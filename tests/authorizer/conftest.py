"""Fixtures for the authorizer tests: real keys (once per session), a real loopback identity
provider per test, a controllable clock, and a harness that wires them into an Authorizer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gate.authorizer import Authorizer
from gate.settings import Settings
from tests.authorizer.authz_support import (
    Clock,
    Harness,
    Idp,
    KeyRing,
    MakeHarness,
    SigningKey,
    base_env,
    claims,
    compact,
)


@pytest.fixture(scope="session")
def ring() -> KeyRing:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return KeyRing(
        rsa=SigningKey("rsa-1", "RS256", rsa_key),
        rsa_next=SigningKey("rsa-2", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        rsa_weak=SigningKey(
            "rsa-weak",
            "RS256",
            rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505 - must be refused
        ),
        attacker=SigningKey("rsa-1", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        es256=SigningKey("ec-256", "ES256", ec.generate_private_key(ec.SECP256R1())),
        es384=SigningKey("ec-384", "ES384", ec.generate_private_key(ec.SECP384R1())),
        es512=SigningKey("ec-521", "ES512", ec.generate_private_key(ec.SECP521R1())),
        eddsa=SigningKey("ed-1", "EdDSA", ed25519.Ed25519PrivateKey.generate()),
    )


@pytest.fixture
def idp(ring: KeyRing) -> Iterator[Idp]:
    server = Idp()
    server.publish(ring.rsa, ring.es256, ring.es384, ring.es512, ring.eddsa)
    yield server
    server.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_harness(idp: Idp, clock: Clock) -> MakeHarness:
    def make(**env: str) -> Harness:
        log: list[str] = []
        settings = Settings.from_env(base_env(idp, **env))
        return Harness(Authorizer(settings, clock=clock, write=log.append), idp, clock, log)

    return make


@pytest.fixture
def harness(make_harness: MakeHarness) -> Harness:
    return make_harness()


@pytest.fixture
def token_for(idp: Idp, clock: Clock) -> Callable[..., str]:
    """Sign ``claims`` with a key: iss is the loopback issuer, iat/exp follow the test clock."""

    def make(
        key: SigningKey, header: dict[str, Any] | None = None, alg: str | None = None, **claim: Any
    ) -> str:
        claim.setdefault("iat", int(clock.now))
        claim.setdefault("exp", int(clock.now) + 300)
        payload = claims(**claim)
        if payload.get("iss") == "ISSUER":
            payload["iss"] = idp.issuer
        full_header = {"alg": alg or key.alg, "typ": "at+jwt", "kid": key.kid, **(header or {})}
        return compact({k: v for k, v in full_header.items() if v is not None}, payload, key, alg)

    return make
