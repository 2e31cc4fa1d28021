"""Identity-provider presets: `-c preset=NAME` plus a few provider settings derive the token rules.

Why presets: each provider shapes its access tokens differently (Cognito has no `aud`, Okta puts scopes in
`scp`, Keycloak marks access tokens with a `typ` claim, ...) and the usual mistake is a config that accepts
ID tokens or rejects every real token. A preset turns the handful of values a user knows (tenant, domain,
pool id) into the exact issuer, key set URL and claim rules; docs/identity-providers.md explains each one.

A preset only supplies values: a key set beside the preset or above it wins (stacks/stages.py has the
order), and every value still goes through the validators in stacks/config.py. Each preset sets every
claim-rule key, so no rule from a lower layer (e.g. another provider's stage block) leaks into it; for the
same reason the audience must be set beside the preset or above it (an audience from a lower layer belongs
to that layer's issuer, e.g. the example audience of cdk.json's dev block), unless the preset derives it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from stacks.config import ConfigError, ContextGetter

_HOST = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_COGNITO_POOL = re.compile(r"([a-z]{2}(?:-[a-z]+)+-\d)_[A-Za-z0-9]{1,55}")
_AWS_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")
_COGNITO_CLIENT_ID = re.compile(r"[A-Za-z0-9]{1,128}")
_OKTA_AUTH_SERVER = re.compile(r"[A-Za-z0-9]{1,64}")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KEYCLOAK_REALM = re.compile(r"[A-Za-z0-9._-]{1,255}")


@dataclass(frozen=True)
class _Settings:
    """Reads one preset's provider settings, failing with the same one-line ConfigError as other keys."""

    get: ContextGetter
    preset: str
    # Only the layers at or above the one that selected the preset: where its audience must come from.
    beside: ContextGetter

    def raw(self, key: str) -> object:
        value = self.get(key)
        return None if value == "" or value == [] else value

    def text(self, key: str, pattern: re.Pattern[str], what: str, example: str) -> str:
        value = self.raw(key)
        if value is None:
            raise ConfigError(key, f"is required with preset={self.preset}", example)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ConfigError(key, f"must be {what}, got {value!r}", example)
        return value

    def optional_text(self, key: str, pattern: re.Pattern[str], what: str, example: str) -> str | None:
        return None if self.raw(key) is None else self.text(key, pattern, what, example)

    def ids(self, key: str, pattern: re.Pattern[str], what: str, example: str) -> list[str] | None:
        value = self.raw(key)
        if value is None:
            return None
        items = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and pattern.fullmatch(i) for i in items):
            raise ConfigError(key, f"must be a list of {what}, got {value!r}", example)
        return items

    def audience_beside(self) -> object:
        value = self.beside("audience")
        return None if value == "" or value == [] else value

    def require_audience(self, meaning: str, example: str) -> None:
        """Audience has no provider-wide value for these presets; say what it is for this provider."""
        if self.audience_beside() is None:
            raise ConfigError(
                "audience",
                f"is required with preset={self.preset}, set where the preset is: {meaning}",
                example,
            )


def _auth0(s: _Settings) -> dict[str, object]:
    domain = s.text("auth0Domain", _HOST, "a host name", "acme.eu.auth0.com")
    s.require_audience("the API Identifier of your Auth0 API", "https://orders.acme-corp.com")
    return {
        "issuer": f"https://{domain}/",
        "jwksUri": f"https://{domain}/.well-known/jwks.json",
        "audienceClaim": "aud",
        # scope: space-separated; permissions: a list, when the API's RBAC adds permissions to the token.
        "scopeClaims": ["scope", "permissions"],
        "requiredClaimValues": {},
    }


def _cognito(s: _Settings) -> dict[str, object]:
    pool_id = s.text(
        "cognitoUserPoolId", _COGNITO_POOL, "a user pool id like eu-west-1_AbCdEf123", "eu-west-1_AbCdEf123"
    )
    pool_region = pool_id.split("_", 1)[0]
    region = s.optional_text("cognitoRegion", _AWS_REGION, "an AWS region", pool_region) or pool_region
    if region != pool_region:
        raise ConfigError(
            "cognitoRegion",
            f"is {region!r} but the user pool {pool_id!r} lives in {pool_region!r}",
            pool_region,
        )
    issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
    derived: dict[str, object] = {
        "issuer": issuer,
        "jwksUri": f"{issuer}/.well-known/jwks.json",
        # Cognito access tokens carry no aud: the app client is in client_id, and token_use tells an access
        # token from an ID token (whose aud is the client id, so an aud check would accept ID tokens).
        "audienceClaim": "client_id",
        "scopeClaims": ["scope"],
        "requiredClaimValues": {"token_use": "access"},
    }
    client_ids = s.ids("cognitoClientIds", _COGNITO_CLIENT_ID, "app client ids", "1example23456789abcdefghij")
    if client_ids is not None:
        derived["audience"] = client_ids
    elif s.audience_beside() is None:
        raise ConfigError(
            "cognitoClientIds",
            "is required with preset=cognito: the app client ids whose access tokens may call the API",
            "1example23456789abcdefghij",
        )
    return derived


def _okta(s: _Settings) -> dict[str, object]:
    domain = s.text("oktaDomain", _HOST, "a host name", "acme.okta.com")
    server = s.text("oktaAuthServerId", _OKTA_AUTH_SERVER, "an authorization server id", "default")
    s.require_audience(
        "the Audience of the authorization server (api://default for 'default')", "api://default"
    )
    issuer = f"https://{domain}/oauth2/{server}"
    return {
        "issuer": issuer,
        "jwksUri": f"{issuer}/v1/keys",
        "audienceClaim": "aud",
        "scopeClaims": ["scp"],
        "requiredClaimValues": {},
    }


def _entra(s: _Settings) -> dict[str, object]:
    tenant = s.raw("entraTenantId")
    if isinstance(tenant, str) and tenant.lower() in ("common", "organizations", "consumers"):
        raise ConfigError(
            "entraTenantId",
            f"must be one tenant's id, not {tenant!r} (list further tenants in additionalIssuers)",
            "00000000-0000-0000-0000-000000000000",
        )
    # Tokens name the tenant by its GUID, never by a domain such as contoso.onmicrosoft.com.
    tenant = s.text("entraTenantId", _GUID, "the tenant id (a GUID)", "00000000-0000-0000-0000-000000000000")
    s.require_audience(
        "the Application (client) ID of the API's app registration", "11111111-2222-3333-4444-555555555555"
    )
    return {
        "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
        "jwksUri": f"https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys",
        "audienceClaim": "aud",
        # Delegated tokens carry scp (space-separated); app-only tokens carry roles (a list).
        "scopeClaims": ["scp", "roles"],
        "requiredClaimValues": {},
    }


def _keycloak(s: _Settings) -> dict[str, object]:
    base = s.raw("keycloakUrl")
    example = "https://sso.acme-corp.com"
    if base is None:
        raise ConfigError("keycloakUrl", "is required with preset=keycloak", example)
    parts = urlsplit(base) if isinstance(base, str) else None
    if parts is None or parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError("keycloakUrl", f"must be the server's https base URL, got {base!r}", example)
    realm = s.text("keycloakRealm", _KEYCLOAK_REALM, "a realm name", "orders")
    s.require_audience("the client id(s) of the apps allowed to call (checked in azp)", "orders-web")
    issuer = f"{str(base).rstrip('/')}/realms/{realm}"
    return {
        "issuer": issuer,
        "jwksUri": f"{issuer}/protocol/openid-connect/certs",
        # Keycloak adds aud only through an Audience mapper; azp (the client) is always there.
        "audienceClaim": "azp",
        "scopeClaims": ["scope"],
        # Access tokens carry typ "Bearer"; ID tokens "ID", refresh tokens "Refresh".
        "requiredClaimValues": {"typ": "Bearer"},
    }


PRESETS: Final[Mapping[str, Callable[[_Settings], dict[str, object]]]] = {
    "auth0": _auth0,
    "cognito": _cognito,
    "okta": _okta,
    "entra": _entra,
    "keycloak": _keycloak,
}

PRESET_SETTING_KEYS: Final = (
    "preset",
    "auth0Domain",
    "cognitoUserPoolId",
    "cognitoRegion",
    "cognitoClientIds",
    "oktaDomain",
    "oktaAuthServerId",
    "entraTenantId",
    "keycloakUrl",
    "keycloakRealm",
)
"""Context keys read by presets (beside the config keys they derive)."""


def preset_values(
    get: ContextGetter, beside: ContextGetter | None = None
) -> tuple[str | None, dict[str, object]]:
    """The selected preset's name and the raw values it derives (empty without a preset).

    `get` reads every layer; `beside` only the layers at or above the one that selects the preset (the
    audience must come from there), by default the same as `get`.
    """
    name = get("preset")
    if name is None or name == "":
        return None, {}
    if not isinstance(name, str) or name not in PRESETS:
        raise ConfigError("preset", f"must be one of {', '.join(PRESETS)}, got {name!r}", "cognito")
    return name, PRESETS[name](_Settings(get, name, beside or get))
