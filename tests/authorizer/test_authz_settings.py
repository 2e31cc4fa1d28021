"""The environment contract: defaults, and a ConfigError naming the variable for every invalid value."""

from __future__ import annotations

import json

import pytest

from gate.errors import ConfigError
from gate.settings import ScopeRule, Settings

MINIMAL = {"ISSUER": "https://idp.example.com/tenant/", "AUDIENCE": "api://orders"}


def test_defaults():
    assert Settings.from_env(MINIMAL) == Settings(
        issuer="https://idp.example.com/tenant/",
        audiences=frozenset({"api://orders"}),
        jwks_uri=None,
        discovery_uri="https://idp.example.com/tenant/.well-known/openid-configuration",
        algorithms=frozenset({"RS256"}),
        leeway_seconds=60.0,
        token_types=frozenset(),
        required_claims=("iss", "aud", "exp", "sub"),
        scope_rules=None,
        jwks_cache_seconds=600.0,
        jwks_max_stale_seconds=86400.0,
        jwks_timeout_seconds=2.0,
        jwks_refetch_cooldown_seconds=10.0,
        resource_arn=None,
        context_claims=(),
    )


def test_empty_values_mean_defaults():
    empty = dict.fromkeys(
        [
            "JWKS_URI",
            "ALGORITHMS",
            "LEEWAY_SECONDS",
            "TOKEN_TYPES",
            "REQUIRED_CLAIMS",
            "SCOPE_RULES",
            "RESOURCE_ARN",
        ],
        "",
    )
    assert Settings.from_env({**MINIMAL, **empty}) == Settings.from_env(MINIMAL)


def test_everything_set():
    settings = Settings.from_env(
        {
            **MINIMAL,
            "AUDIENCE": "api://orders, api://legacy",
            "JWKS_URI": "https://idp.example.com/keys",
            "ALGORITHMS": "RS256,ES256,EdDSA",
            "LEEWAY_SECONDS": "0.5",
            "TOKEN_TYPES": "at+jwt,Application/AT+JWT",
            "REQUIRED_CLAIMS": "iss,aud,exp,sub,client_id,iss",
            "SCOPE_RULES": json.dumps({"GET /orders/*": "orders:read  profile", "* /health": ""}),
            "JWKS_CACHE_SECONDS": "300",
            "JWKS_MAX_STALE_SECONDS": "3600",
            "JWKS_TIMEOUT_SECONDS": "0.2",
            "JWKS_REFETCH_COOLDOWN_SECONDS": "0",
            "RESOURCE_ARN": "arn:aws:execute-api:us-east-1:123456789012:abc123/*",
            "CONTEXT_CLAIMS": "azp,tenant",
        }
    )
    assert settings.audiences == frozenset({"api://orders", "api://legacy"})
    assert (settings.jwks_uri, settings.discovery_uri) == ("https://idp.example.com/keys", None)
    assert settings.algorithms == frozenset({"RS256", "ES256", "EdDSA"})
    assert settings.token_types == frozenset({"at+jwt", "application/at+jwt"})
    assert settings.required_claims == ("iss", "aud", "exp", "sub", "client_id")
    assert settings.scope_rules == (
        ScopeRule("GET", "/orders/*", frozenset({"orders:read", "profile"})),
        ScopeRule("*", "/health", frozenset()),
    )
    assert (settings.leeway_seconds, settings.jwks_timeout_seconds) == (0.5, 0.2)
    assert settings.resource_arn == "arn:aws:execute-api:us-east-1:123456789012:abc123/*"
    assert settings.context_claims == ("azp", "tenant")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ISSUER", ""),
        ("ISSUER", "http://idp.example.com"),
        ("ISSUER", "ftp://idp.example.com"),
        ("ISSUER", "https://user:pw@idp.example.com"),
        ("AUDIENCE", ""),
        ("AUDIENCE", "a,,b"),
        ("JWKS_URI", "http://idp.example.com/jwks"),
        ("JWKS_URI", "https://idp.example.com:99999/jwks"),
        ("ALGORITHMS", "none"),
        ("ALGORITHMS", "HS256"),
        ("ALGORITHMS", "RS256,rs384"),
        ("ALGORITHMS", "ES256K"),
        ("LEEWAY_SECONDS", "abc"),
        ("LEEWAY_SECONDS", "-1"),
        ("LEEWAY_SECONDS", "nan"),
        ("LEEWAY_SECONDS", "inf"),
        ("LEEWAY_SECONDS", "3601"),
        ("JWKS_TIMEOUT_SECONDS", "0"),
        ("JWKS_TIMEOUT_SECONDS", "31"),
        ("JWKS_CACHE_SECONDS", "-5"),
        ("JWKS_MAX_STALE_SECONDS", "1e999"),
        ("JWKS_REFETCH_COOLDOWN_SECONDS", "ten"),
        ("REQUIRED_CLAIMS", "iss, ,aud"),
        ("CONTEXT_CLAIMS", "a b"),
        ("SCOPE_RULES", "not json"),
        ("SCOPE_RULES", "[]"),
        ("SCOPE_RULES", "{}"),
        ("SCOPE_RULES", '{"GET /a": "x", "GET /a": "y"}'),
        ("SCOPE_RULES", '{"FETCH /a": "x"}'),
        ("SCOPE_RULES", '{"get /a": "x"}'),
        ("SCOPE_RULES", '{"GET a": "x"}'),
        ("SCOPE_RULES", '{"GET /a?b": "x"}'),
        ("SCOPE_RULES", '{"GET  /a": "x"}'),
        ("SCOPE_RULES", '{"GET /a": ["x"]}'),
        ("SCOPE_RULES", json.dumps({f"GET /r{i}": "x" for i in range(101)})),
        ("SCOPE_RULES", json.dumps({"GET /" + "a" * 400: "x"})),
        ("RESOURCE_ARN", "arn:aws:execute-api:us-east-1:123456789012:abc123"),
        ("RESOURCE_ARN", "arn:aws:lambda:us-east-1:123456789012:function/x"),
        ("RESOURCE_ARN", "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/"),
    ],
)
def test_invalid_values_fail_loudly_naming_the_variable(variable, value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**MINIMAL, variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/jwks",
        "http://localhost/jwks",
        "http://[::1]:9000/jwks",
        "http://127.8.9.10/jwks",
    ],
)
def test_plain_http_is_allowed_on_loopback_only(url):
    assert Settings.from_env({**MINIMAL, "JWKS_URI": url}).jwks_uri == url


def test_loopback_http_issuer_discovers_over_http():
    settings = Settings.from_env({**MINIMAL, "ISSUER": "http://localhost:3000"})
    assert settings.discovery_uri == "http://localhost:3000/.well-known/openid-configuration"
