"""End to end: a real OpenID provider (panva's oidc-provider), the real authorizer, the local gateway.

Every request is real HTTP: the client gets tokens from the provider's token endpoint, the authorizer
discovers the provider's keys over HTTP, and the gateway is driven by a real client.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import Api, Provider, rsa_jwk
from tests.local.conftest import call

pytestmark = pytest.mark.e2e

UNAUTHORIZED = (401, 'Bearer realm="jwt-gate", error="invalid_token"')
FORBIDDEN = (403, 'Bearer realm="jwt-gate", error="insufficient_scope"')


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def challenge(reply) -> tuple[int, str]:
    return reply.status, reply.headers["WWW-Authenticate"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


@pytest.fixture
def provider(new_provider: Callable[[], Provider]) -> Provider:
    return new_provider().start([rsa_jwk("key-1")])


@pytest.fixture
def api(start_api: Callable[..., Api], provider: Provider) -> Api:
    return start_api(provider)


def test_valid_token_is_200_and_the_backend_sees_its_claims(api: Api, provider: Provider) -> None:
    token = provider.token("items:read")
    reply = call(api.url, "GET", "/hello", bearer(token))
    assert reply.status == 200
    assert json.loads(reply.body) == {
        "claims": {
            "client_id": "e2e-client",
            "iss": provider.issuer,
            "scope": "items:read",
            "sub": "e2e-client",
        },
        "principalId": "e2e-client",
        "route": "GET /hello",
    }


def test_missing_token_is_401(api: Api) -> None:
    assert challenge(call(api.url, "GET", "/hello")) == UNAUTHORIZED
    assert api.authorizer_decisions() == []


@pytest.mark.parametrize(
    "garbage", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."], ids=["word", "dots", "none"]
)
def test_garbage_token_is_401(api: Api, garbage: str) -> None:
    assert challenge(call(api.url, "GET", "/hello", bearer(garbage))) == UNAUTHORIZED


def test_expired_token_is_401(new_provider: Callable[[], Provider], start_api: Callable[..., Api]) -> None:
    keys = [rsa_jwk("key-1")]
    provider = new_provider()
    provider.start(keys, clock_offset_seconds=-7200)  # the provider's clock says two hours ago
    expired = provider.token("items:read")
    provider.stop()
    provider.start(keys)  # same issuer and key, clock back to now
    api = start_api(provider)
    assert challenge(call(api.url, "GET", "/hello", bearer(expired))) == UNAUTHORIZED
    assert [d["reason"] for d in api.authorizer_decisions()] == ["expired"]
    assert call(api.url, "GET", "/hello", bearer(provider.token("items:read"))).status == 200


def test_tampered_payload_is_401(api: Api, provider: Provider) -> None:
    header, _, signature = provider.token("items:read").split(".")
    claims = claims_of(provider.token("items:read"))
    forged = b64url(json.dumps({**claims, "scope": "items:read items:write"}).encode())
    assert (
        challenge(call(api.url, "POST", "/hello", bearer(f"{header}.{forged}.{signature}"))) == UNAUTHORIZED
    )


def test_tampered_signature_is_401(api: Api, provider: Provider) -> None:
    header, payload, signature = provider.token("items:read").split(".")
    flipped = b64url(
        bytes([base64.urlsafe_b64decode(signature + "==")[0] ^ 1])
        + base64.urlsafe_b64decode(signature + "==")[1:]
    )
    assert challenge(call(api.url, "GET", "/hello", bearer(f"{header}.{payload}.{flipped}"))) == UNAUTHORIZED


def test_token_from_a_foreign_issuer_with_the_same_key_is_401(
    new_provider: Callable[[], Provider], start_api: Callable[..., Api]
) -> None:
    keys = [rsa_jwk("key-1")]
    trusted, foreign = new_provider().start(keys), new_provider().start(keys)
    api = start_api(trusted)
    token = foreign.token("items:read")
    assert challenge(call(api.url, "GET", "/hello", bearer(token))) == UNAUTHORIZED
    assert call(api.url, "GET", "/hello", bearer(trusted.token("items:read"))).status == 200


def test_token_without_the_route_scope_is_403(api: Api, provider: Provider) -> None:
    assert challenge(call(api.url, "POST", "/hello", bearer(provider.token("items:read")))) == FORBIDDEN


def test_an_allow_cached_on_one_route_is_never_applied_to_another(api: Api, provider: Provider) -> None:
    # The cache key is (token, verb, route) (docs/routes.md): each route decides once, then serves from cache.
    token = bearer(provider.token("items:write"))
    assert call(api.url, "POST", "/hello", token).status == 200
    assert challenge(call(api.url, "GET", "/hello", token)) == FORBIDDEN
    assert len(api.authorizer_decisions()) == 2
    assert challenge(call(api.url, "GET", "/hello", token)) == FORBIDDEN
    assert call(api.url, "POST", "/hello", token).status == 200
    assert len(api.authorizer_decisions()) == 2


def test_each_route_the_token_is_entitled_to_is_allowed_and_cached(api: Api, provider: Provider) -> None:
    token = bearer(provider.token("items:read items:write"))
    assert call(api.url, "GET", "/hello", token).status == 200
    assert call(api.url, "POST", "/hello", token).status == 200
    assert call(api.url, "GET", "/hello", token).status == 200
    assert len(api.authorizer_decisions()) == 2


def test_rotated_key_listed_first_is_accepted(
    new_provider: Callable[[], Provider], start_api: Callable[..., Api]
) -> None:
    old_key, new_key = rsa_jwk("key-old"), rsa_jwk("key-new")
    provider = new_provider().start([old_key])
    api = start_api(provider)  # default refetch cooldown: a new kid right after a fetch is fetched at once
    first, signed_by_old_key = provider.token("items:read"), provider.token("items:read")
    assert call(api.url, "GET", "/hello", bearer(first)).status == 200
    provider.stop()
    provider.start([new_key, old_key])
    rotated = provider.token("items:read")
    assert json.loads(base64.urlsafe_b64decode(rotated.split(".")[0] + "=="))["kid"] == "key-new"
    assert call(api.url, "GET", "/hello", bearer(rotated)).status == 200
    assert call(api.url, "GET", "/hello", bearer(signed_by_old_key)).status == 200


def test_provider_down_while_keys_are_cached_still_200(
    new_provider: Callable[[], Provider], start_api: Callable[..., Api]
) -> None:
    provider = new_provider().start([rsa_jwk("key-1")])
    api = start_api(provider)
    first, second = provider.token("items:read"), provider.token("items:read")
    assert call(api.url, "GET", "/hello", bearer(first)).status == 200
    provider.stop()
    assert call(api.url, "GET", "/hello", bearer(second)).status == 200


def test_provider_down_on_a_cold_start_is_503(
    new_provider: Callable[[], Provider], start_api: Callable[..., Api]
) -> None:
    provider = new_provider().start([rsa_jwk("key-1")])
    token = provider.token("items:read")
    provider.stop()
    api = start_api(provider)
    reply = call(api.url, "GET", "/hello", bearer(token))
    assert (reply.status, reply.headers["Retry-After"]) == (503, "5")
    assert json.loads(reply.body) == {
        "error": "temporarily_unavailable",
        "message": "Authorization is temporarily unavailable.",
    }
