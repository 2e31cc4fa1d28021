"""Identity-provider presets: tokens laid out like each provider's are allowed; the usual mistakes are not.

Claim layouts follow the providers' documentation of their access and ID tokens (Auth0, Amazon
Cognito user pools, Okta custom authorization servers, Microsoft Entra ID v2.0 endpoint, Keycloak),
minted here with real RSA keys and served from a real loopback JWKS. Issuers are the providers' real
URL shapes; only JWKS_URI points at the loopback server, because nothing else is reachable here.

The environments come from the CDK config's presets (``preset_env``), not from a copy here, so a
preset that drifts from what its provider issues fails these tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gate.authorizer import Authorizer
from gate.errors import Rejection
from gate.settings import Settings
from stacks.jwt_authorizer import authorizer_environment
from stacks.stages import load_config
from tests.authorizer.authz_support import (
    API_PREFIX,
    NOW,
    Clock,
    Harness,
    Idp,
    KeyRing,
    SigningKey,
    allow_document,
    compact,
    deny_document,
)

IAT = int(NOW) - 60
EXP = int(NOW) + 3540

AUTH0_DOMAIN = "acme.eu.auth0.com"
AUTH0_API = "https://api.acme.example/orders"
AUTH0_CLIENT = "Xk3vQm9TzL2pR7sW1yN4bC8dF6gH0jK5"

COGNITO_REGION, COGNITO_POOL = "eu-west-1", "eu-west-1_AbCdEf123"
COGNITO_CLIENT = "4mbs1cga1v6kbd2q0s8e7tq9r"
COGNITO_OTHER_CLIENT = "7ne3o9b0ajlk2uqf5j6g1m3h8"

OKTA_DOMAIN = "acme.okta.com"
OKTA_CLIENT = "0oa8f3k2l9QwErTy5d7"

ENTRA_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ENTRA_OTHER_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
ENTRA_API = "6e74172b-be56-4843-9ff4-e66a39bb12e3"  # the API's application (client) id
ENTRA_CLIENT = "a3e0c1f2-94b8-4d7c-bb21-0c5f8e6d9a47"  # the calling app's client id
GRAPH = "00000003-0000-0000-c000-000000000000"

KEYCLOAK_ISSUER = "https://sso.acme.example/realms/acme"
KEYCLOAK_CLIENT = "orders-api"


ROUTES: dict[str, dict[str, str]] = {
    "auth0": {"GET /orders": "read:orders"},
    "cognito": {"GET /orders": "orders/read"},
    "okta": {"GET /orders": "orders:read"},
    "entra": {"GET /orders": "Orders.Read", "GET /reports": "Reports.Read.All"},
    "keycloak": {"GET /orders": "orders:read"},
}
# What a user writes in cdk.json for each preset: the provider settings it asks for, and the routes.
PRESET_CONTEXT: dict[str, dict[str, object]] = {
    "auth0": {"preset": "auth0", "auth0Domain": AUTH0_DOMAIN, "audience": AUTH0_API},
    "cognito": {"preset": "cognito", "cognitoUserPoolId": COGNITO_POOL, "cognitoClientIds": [COGNITO_CLIENT]},
    "okta": {
        "preset": "okta",
        "oktaDomain": OKTA_DOMAIN,
        "oktaAuthServerId": "default",
        "audience": "api://default",
    },
    "entra": {"preset": "entra", "entraTenantId": ENTRA_TENANT, "audience": ENTRA_API},
    "keycloak": {
        "preset": "keycloak",
        "keycloakUrl": "https://sso.acme.example",
        "keycloakRealm": "acme",
        "audience": KEYCLOAK_CLIENT,
    },
}


def preset_env(provider: str, jwks_uri: str, **context: object) -> dict[str, str]:
    """The authorizer environment the stack deploys for this preset, with only the JWKS on loopback.

    Derived through the CDK config (stacks.stages.load_config -> authorizer_environment), the one
    source of truth, so these tests exercise exactly what a deployment would run.
    """
    values = {**PRESET_CONTEXT[provider], "scopeRules": ROUTES[provider], **context}
    config = load_config(values.get)
    env = authorizer_environment(config.token_rules, config.key_set, API_PREFIX)
    assert env["JWKS_URI"].startswith("https://")  # the provider's real key set URL, replaced below
    return {**env, "JWKS_URI": jwks_uri}


@dataclass(frozen=True)
class Minted:
    """A token as ``provider`` would issue it: header extras and the full payload."""

    provider: str
    payload: dict[str, Any]
    header: dict[str, Any]


def auth0(payload: dict[str, Any]) -> Minted:
    return Minted(
        "auth0", {"iss": f"https://{AUTH0_DOMAIN}/", "iat": IAT, "exp": EXP, **payload}, {"typ": "JWT"}
    )


def cognito(payload: dict[str, Any]) -> Minted:
    iss = f"https://cognito-idp.{COGNITO_REGION}.amazonaws.com/{COGNITO_POOL}"
    return Minted("cognito", {"iss": iss, "iat": IAT, "exp": EXP, "auth_time": IAT, **payload}, {})


def okta(payload: dict[str, Any]) -> Minted:
    return Minted(
        "okta",
        {"ver": 1, "iss": f"https://{OKTA_DOMAIN}/oauth2/default", "iat": IAT, "exp": EXP, **payload},
        {},
    )


def entra(payload: dict[str, Any], tenant: str = ENTRA_TENANT) -> Minted:
    base = {"iss": f"https://login.microsoftonline.com/{tenant}/v2.0", "iat": IAT, "nbf": IAT, "exp": EXP}
    return Minted("entra", {**base, "tid": tenant, "ver": "2.0", **payload}, {"typ": "JWT"})


def keycloak(payload: dict[str, Any]) -> Minted:
    return Minted("keycloak", {"iss": KEYCLOAK_ISSUER, "iat": IAT, "exp": EXP, **payload}, {"typ": "JWT"})


AUTH0_USER: dict[str, Any] = {
    "sub": "auth0|64f1c2a9b8e7d6c5b4a39281",
    "aud": [AUTH0_API, f"https://{AUTH0_DOMAIN}/userinfo"],
    "azp": AUTH0_CLIENT,
    "scope": "openid profile email read:orders",
    "permissions": ["read:orders"],
}
COGNITO_USER: dict[str, Any] = {
    "sub": "d4a8e3c2-1b7f-4e96-a5d0-8c3b2f1e9a76",
    "cognito:groups": ["buyers"],
    "version": 2,
    "client_id": COGNITO_CLIENT,
    "origin_jti": "0f4b8e1c-2d3a-4b5c-9e8f-7a6b5c4d3e2f",
    "event_id": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
    "token_use": "access",
    "scope": "openid orders/read",
    "jti": "a1b2c3d4-e5f6-4789-a0b1-c2d3e4f5a6b7",
    "username": "alice",
}
OKTA_USER: dict[str, Any] = {
    "jti": "AT.f3kLm9Qx2Rz7Wv1Yb4Nc8Ds6Gh0Jk5Tp",
    "aud": "api://default",
    "cid": OKTA_CLIENT,
    "uid": "00u1a2b3c4D5e6F7g8h9",
    "scp": ["openid", "orders:read"],
    "auth_time": IAT,
    "sub": "alice@acme.example",
}
ENTRA_USER: dict[str, Any] = {
    "aud": ENTRA_API,
    "azp": ENTRA_CLIENT,
    "azpacr": "0",
    "name": "Alice Example",
    "oid": "3f1c9a2e-7b4d-4e8f-a6c5-1d2e3f4a5b6c",
    "preferred_username": "alice@acme.example",
    "scp": "Orders.Read",
    "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
    "uti": "AbCdEfGhIjKlMnOpQrSt",
}
KEYCLOAK_USER: dict[str, Any] = {
    "auth_time": IAT,
    "jti": "onrtac:6b1e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
    "aud": "account",
    "sub": "8c2f4e6a-1b3d-4f5a-9c7e-2d4f6a8b0c1e",
    "typ": "Bearer",
    "azp": KEYCLOAK_CLIENT,
    "sid": "2a4c6e8f-0b1d-4e3f-a5b7-c9d1e3f5a7b9",
    "acr": "1",
    "realm_access": {"roles": ["default-roles-acme", "offline_access", "uma_authorization"]},
    "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
    "scope": "openid profile email orders:read",
    "email_verified": True,
    "preferred_username": "alice",
}

ALLOWED: dict[str, tuple[Minted, str, str, str, str]] = {
    # id: (token, route path called, principalId, context scope, context client_id)
    "auth0-user": (auth0(AUTH0_USER), "orders", AUTH0_USER["sub"], AUTH0_USER["scope"], ""),
    "auth0-rbac-permissions-only": (
        auth0({**AUTH0_USER, "scope": "openid profile"}),
        "orders",
        AUTH0_USER["sub"],
        "openid profile read:orders",
        "",
    ),
    "auth0-m2m": (
        auth0(
            {
                "sub": f"{AUTH0_CLIENT}@clients",
                "aud": AUTH0_API,
                "azp": AUTH0_CLIENT,
                "scope": "read:orders",
                "gty": "client-credentials",
                "permissions": ["read:orders"],
            }
        ),
        "orders",
        f"{AUTH0_CLIENT}@clients",
        "read:orders",
        "",
    ),
    "cognito-user": (
        cognito(COGNITO_USER),
        "orders",
        COGNITO_USER["sub"],
        "openid orders/read",
        COGNITO_CLIENT,
    ),
    "cognito-m2m": (
        cognito(
            {
                "sub": COGNITO_CLIENT,
                "token_use": "access",
                "scope": "orders/read",
                "version": 2,
                "client_id": COGNITO_CLIENT,
                "jti": "b2c3d4e5-f6a7-4890-b1c2-d3e4f5a6b7c8",
            }
        ),
        "orders",
        COGNITO_CLIENT,
        "orders/read",
        COGNITO_CLIENT,
    ),
    "okta-user": (okta(OKTA_USER), "orders", OKTA_USER["sub"], "openid orders:read", ""),
    "okta-m2m": (
        okta(
            {
                "jti": "AT.m2m",
                "aud": "api://default",
                "cid": OKTA_CLIENT,
                "scp": ["orders:read"],
                "sub": OKTA_CLIENT,
            }
        ),
        "orders",
        OKTA_CLIENT,
        "orders:read",
        "",
    ),
    "entra-delegated": (entra(ENTRA_USER), "orders", ENTRA_USER["sub"], "Orders.Read", ""),
    "entra-app-only": (
        entra(
            {
                "aud": ENTRA_API,
                "azp": ENTRA_CLIENT,
                "azpacr": "1",
                "idtyp": "app",
                "oid": "9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b5a",
                "roles": ["Reports.Read.All"],
                "sub": "9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b5a",
            }
        ),
        "reports",
        "9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b5a",
        "Reports.Read.All",
        "",
    ),
    "keycloak-user": (
        keycloak(KEYCLOAK_USER),
        "orders",
        KEYCLOAK_USER["sub"],
        KEYCLOAK_USER["scope"],
        KEYCLOAK_CLIENT,
    ),
    "keycloak-service-account": (
        keycloak(
            {
                "jti": "trrtcc:1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
                "aud": "account",
                "sub": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                "typ": "Bearer",
                "azp": KEYCLOAK_CLIENT,
                "scope": "orders:read profile email",
                "clientId": KEYCLOAK_CLIENT,
                "preferred_username": f"service-account-{KEYCLOAK_CLIENT}",
            }
        ),
        "orders",
        "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "orders:read profile email",
        KEYCLOAK_CLIENT,
    ),
}

# Other Cognito pools and Okta authorization servers sign with keys of their own (a kid this JWKS
# lacks); Entra signs every tenant and both token versions with the same keys, so there only the
# issuer check stands between another tenant's token and the API.
FOREIGN_KEY_CASES = frozenset({"cognito-other-pool", "okta-org-authorization-server"})
REJECTED: dict[str, tuple[Minted, str]] = {
    # id: (token, exact reason code)
    "auth0-id-token": (
        auth0(
            {
                "sub": AUTH0_USER["sub"],
                "aud": AUTH0_CLIENT,
                "nonce": "n-0S6_WzA2Mj",
                "sid": "Hx2Kc9Lm",
                "name": "alice@acme.example",
                "email": "alice@acme.example",
            }
        ),
        "audience_mismatch",
    ),
    "auth0-other-api": (
        auth0({**AUTH0_USER, "aud": ["https://api.acme.example/billing"]}),
        "audience_mismatch",
    ),
    "auth0-userinfo-only": (
        auth0({**AUTH0_USER, "aud": f"https://{AUTH0_DOMAIN}/userinfo"}),
        "audience_mismatch",
    ),
    "cognito-id-token": (
        cognito(
            {
                "sub": COGNITO_USER["sub"],
                "aud": COGNITO_CLIENT,
                "email_verified": True,
                "cognito:username": "alice",
                "origin_jti": COGNITO_USER["origin_jti"],
                "token_use": "id",
                "email": "alice@acme.example",
                "jti": "c3d4e5f6-a7b8-4901-c2d3-e4f5a6b7c8d9",
            }
        ),
        "claim_value_mismatch",
    ),
    "cognito-other-app-client": (
        cognito({**COGNITO_USER, "client_id": COGNITO_OTHER_CLIENT}),
        "audience_mismatch",
    ),
    "cognito-other-pool": (
        Minted(
            "cognito",
            {
                **cognito(COGNITO_USER).payload,
                "iss": f"https://cognito-idp.{COGNITO_REGION}.amazonaws.com/eu-west-1_Other999",
            },
            {},
        ),
        "unknown_kid",
    ),
    "okta-id-token": (
        okta(
            {
                "sub": "00u1a2b3c4D5e6F7g8h9",
                "aud": OKTA_CLIENT,
                "jti": "ID.k2Lm3Nn4Oo5Pp6Qq7Rr8",
                "amr": ["pwd"],
                "idp": "00o1a2b3c4d5e6f7g8h9",
                "nonce": "n-0S6_WzA2Mj",
                "auth_time": IAT,
                "at_hash": "9Hc3Vf2Lx8Qm",
            }
        ),
        "audience_mismatch",
    ),
    "okta-org-authorization-server": (
        Minted(
            "okta",
            {**okta(OKTA_USER).payload, "iss": f"https://{OKTA_DOMAIN}", "aud": f"https://{OKTA_DOMAIN}"},
            {},
        ),
        "unknown_kid",
    ),
    "entra-id-token": (
        entra(
            {
                "aud": ENTRA_CLIENT,
                "oid": ENTRA_USER["oid"],
                "sub": "Xy9Vb8Nm7Lk6Jh5Gf4Ds3Aq2Wz1",
                "nonce": "n-0S6_WzA2Mj",
                "name": "Alice Example",
                "preferred_username": "alice@acme.example",
                "uti": "ZyXwVuTsRqPoNmLkJiHg",
            }
        ),
        "audience_mismatch",
    ),
    "entra-graph-token": (entra({**ENTRA_USER, "aud": GRAPH, "scp": "User.Read"}), "audience_mismatch"),
    "entra-other-tenant": (entra(ENTRA_USER, tenant=ENTRA_OTHER_TENANT), "issuer_mismatch"),
    "entra-v1-token": (
        Minted(
            "entra",
            {
                **entra(ENTRA_USER).payload,
                "iss": f"https://sts.windows.net/{ENTRA_TENANT}/",
                "aud": f"api://{ENTRA_API}",
                "ver": "1.0",
            },
            {"typ": "JWT"},
        ),
        "issuer_mismatch",
    ),
    "keycloak-id-token": (
        keycloak(
            {
                "sub": KEYCLOAK_USER["sub"],
                "aud": KEYCLOAK_CLIENT,
                "typ": "ID",
                "azp": KEYCLOAK_CLIENT,
                "nonce": "n-0S6_WzA2Mj",
                "sid": KEYCLOAK_USER["sid"],
                "at_hash": "Qw8Er7Ty6Ui5",
                "email_verified": True,
                "preferred_username": "alice",
            }
        ),
        "claim_value_mismatch",
    ),
    "keycloak-refresh-token-shape": (keycloak({**KEYCLOAK_USER, "typ": "Refresh"}), "claim_value_mismatch"),
    "keycloak-other-client": (keycloak({**KEYCLOAK_USER, "azp": "billing-spa"}), "audience_mismatch"),
}


@pytest.fixture
def jwks_server(ring: KeyRing) -> Iterator[Idp]:
    server = Idp()
    server.publish(ring.rsa.with_kid("provider-key-1"), ring.rsa_next.with_kid("provider-key-2"))
    yield server
    server.close()


@pytest.fixture
def preset(jwks_server: Idp, clock: Clock) -> Callable[..., Harness]:
    """An Authorizer configured by ``provider``'s preset; ``context`` adds cdk.json keys."""

    def make(provider: str, **context: object) -> Harness:
        log: list[str] = []
        settings = Settings.from_env(preset_env(provider, jwks_server.jwks_uri, **context))
        return Harness(Authorizer(settings, clock=clock, write=log.append), jwks_server, clock, log)

    return make


def mint(minted: Minted, key: SigningKey) -> str:
    return compact({"alg": "RS256", "kid": key.kid, **minted.header}, minted.payload, key)


@pytest.mark.parametrize("case", list(ALLOWED))
def test_preset_allows_the_providers_access_token(preset, ring: KeyRing, case):
    minted, path, principal, scope, client_id = ALLOWED[case]
    harness = preset(minted.provider)
    route = f"{API_PREFIX}/GET/{path}"
    # The policy speaks about the one route the request reaches (and its trailing-slash spelling).
    assert harness.call(mint(minted, ring.rsa.with_kid("provider-key-1")), route) == {
        "principalId": principal,
        "policyDocument": allow_document(route, f"{route}/"),
        "context": {"sub": principal, "scope": scope, "client_id": client_id, "iss": minted.payload["iss"]},
    }
    assert harness.last_decision()["outcome"] == "allow"


@pytest.mark.parametrize("case", list(REJECTED))
def test_preset_rejects_the_usual_mistake(preset, ring: KeyRing, case):
    minted, reason = REJECTED[case]
    harness = preset(minted.provider)
    signer = (
        ring.attacker.with_kid("elsewhere-key")
        if case in FOREIGN_KEY_CASES
        else ring.rsa_next.with_kid("provider-key-2")
    )
    with pytest.raises(Rejection) as caught:
        harness.call(mint(minted, signer), f"{API_PREFIX}/GET/orders")
    assert (caught.value.reason, harness.last_decision()["reason"]) == (reason, reason)


@pytest.mark.parametrize("provider", list(PRESET_CONTEXT))
def test_preset_rejects_a_key_the_provider_never_published(preset, ring: KeyRing, provider):
    minted = next(case[0] for case in ALLOWED.values() if case[0].provider == provider)
    harness = preset(provider)
    with pytest.raises(Rejection) as caught:
        harness.call(mint(minted, ring.attacker.with_kid("provider-key-1")), f"{API_PREFIX}/GET/orders")
    assert caught.value.reason == "bad_signature"


def test_entra_delegated_token_without_the_app_role_is_denied_the_report(preset, ring: KeyRing):
    harness = preset("entra")
    response = harness.call(
        mint(entra(ENTRA_USER), ring.rsa.with_kid("provider-key-1")), f"{API_PREFIX}/GET/reports"
    )
    assert response["policyDocument"] == deny_document(
        f"{API_PREFIX}/GET/reports", f"{API_PREFIX}/GET/reports/"
    )
    assert harness.last_decision()["reason"] == "insufficient_scope"


def test_cognito_token_without_the_custom_scope_is_denied(preset, ring: KeyRing):
    # The default Cognito sign-in scope is not a grant for the API.
    harness = preset("cognito")
    minted = cognito({**COGNITO_USER, "scope": "aws.cognito.signin.user.admin"})
    response = harness.call(mint(minted, ring.rsa.with_kid("provider-key-1")), f"{API_PREFIX}/GET/orders")
    assert response["policyDocument"] == deny_document(
        f"{API_PREFIX}/GET/orders", f"{API_PREFIX}/GET/orders/"
    )


def test_okta_shared_audience_can_be_pinned_to_one_client(preset, ring: KeyRing):
    # api://default is shared by every app of the org's default server; requiredClaimValues pins cid.
    harness = preset("okta", requiredClaimValues={"cid": OKTA_CLIENT})
    key = ring.rsa.with_kid("provider-key-1")
    assert harness.call(mint(okta(OKTA_USER), key))["principalId"] == OKTA_USER["sub"]
    with pytest.raises(Rejection) as caught:
        harness.call(mint(okta({**OKTA_USER, "cid": "0oaOtherApp1234567"}), key))
    assert caught.value.reason == "claim_value_mismatch"


def test_keycloak_with_an_audience_mapper_checks_aud(preset, ring: KeyRing):
    harness = preset("keycloak", audienceClaim="aud")
    key = ring.rsa.with_kid("provider-key-1")
    mapped = keycloak({**KEYCLOAK_USER, "aud": [KEYCLOAK_CLIENT, "account"], "azp": "orders-spa"})
    assert harness.call(mint(mapped, key))["principalId"] == KEYCLOAK_USER["sub"]
    with pytest.raises(Rejection) as caught:
        harness.call(mint(keycloak(KEYCLOAK_USER), key))  # aud "account" only: not for this API
    assert caught.value.reason == "audience_mismatch"
