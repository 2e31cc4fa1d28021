"""The environment contract: defaults, and a ConfigError naming the variable for every invalid value."""

from __future__ import annotations

import json

import pytest

from gate.errors import ConfigError
from gate.routes import Rule
from gate.settings import Settings, TrustedIssuer

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
        audience_claim="aud",
        scope_claims=("scope", "scp"),
        required_claim_values=(),
        additional_issuers=(),
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
            "AUDIENCE_CLAIM",
            "SCOPE_CLAIMS",
            "REQUIRED_CLAIM_VALUES",
            "ADDITIONAL_ISSUERS",
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
        Rule("GET", "/orders/*", frozenset({"orders:read", "profile"})),
        Rule("*", "/health", frozenset()),
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
        # Issue 9: exactly the routes stacks/rules.py accepts at synth (tests/infra/test_rules.py agrees).
        ("SCOPE_RULES", '{"GET /orders*": "x"}'),
        ("SCOPE_RULES", '{"GET /orders/{id}": "x"}'),
        ("SCOPE_RULES", '{"GET /a~b": "x"}'),
        ("SCOPE_RULES", '{"GET /a/*/b": "x"}'),
        ("SCOPE_RULES", '{"GET /a/": "x"}'),
        ("SCOPE_RULES", '{"GET /a/../b": "x"}'),
        ("SCOPE_RULES", '{"OPTIONS /a": "x"}'),
        ("SCOPE_RULES", '{"GET /a": "x\\"y"}'),
        ("CONTEXT_CLAIMS", "email,sub"),
        ("CONTEXT_CLAIMS", "principalId"),
        ("CONTEXT_CLAIMS", "scope"),
        ("CONTEXT_CLAIMS", "client_id"),
        ("CONTEXT_CLAIMS", "iss"),
        ("CONTEXT_CLAIMS", "integrationLatency"),
        ("PRINCIPAL_ID_FORMAT", "iss"),
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


# --- identity-provider profiles (issue 6) -----------------------------------------------------


@pytest.mark.parametrize(
    ("audience_claim", "required_claims"),
    [
        ("aud", ("iss", "aud", "exp", "sub")),
        ("client_id", ("iss", "client_id", "exp", "sub")),
        ("azp", ("iss", "azp", "exp", "sub")),
        ("cid", ("iss", "cid", "exp", "sub")),
    ],
)
def test_audience_claim_replaces_aud_in_the_default_required_claims(audience_claim, required_claims):
    settings = Settings.from_env({**MINIMAL, "AUDIENCE_CLAIM": audience_claim})
    assert (settings.audience_claim, settings.required_claims) == (audience_claim, required_claims)


def test_explicit_required_claims_win_over_the_audience_claim_default():
    settings = Settings.from_env({**MINIMAL, "AUDIENCE_CLAIM": "client_id", "REQUIRED_CLAIMS": "iss,aud,exp"})
    assert settings.required_claims == ("iss", "aud", "exp")


def test_identity_provider_variables_are_parsed():
    settings = Settings.from_env(
        {
            **MINIMAL,
            "SCOPE_CLAIMS": "scp, roles,permissions,scp",
            "REQUIRED_CLAIM_VALUES": '{"token_use":"access","ver":2,"ratio":0.5,"email_verified":true}',
            "ADDITIONAL_ISSUERS": json.dumps(
                [
                    {"issuer": "https://login.example.com/tenant-b/v2.0", "audience": ["api-b", "api-b2"]},
                    {
                        "issuer": "tenant-c",
                        "audience": ["api-c"],
                        "jwksUri": "http://127.0.0.1:9000/c/jwks",
                    },
                ]
            ),
        }
    )
    assert settings.scope_claims == ("scp", "roles", "permissions")
    assert settings.required_claim_values == (
        ("token_use", "access"),
        ("ver", 2),
        ("ratio", 0.5),
        ("email_verified", True),
    )
    assert settings.additional_issuers == (
        TrustedIssuer(
            issuer="https://login.example.com/tenant-b/v2.0",
            audiences=frozenset({"api-b", "api-b2"}),
            jwks_uri=None,
            discovery_uri="https://login.example.com/tenant-b/v2.0/.well-known/openid-configuration",
        ),
        TrustedIssuer(
            issuer="tenant-c",
            audiences=frozenset({"api-c"}),
            jwks_uri="http://127.0.0.1:9000/c/jwks",
            discovery_uri=None,
        ),
    )
    assert settings.trusted_issuers[0] == TrustedIssuer(
        issuer="https://idp.example.com/tenant/",
        audiences=frozenset({"api://orders"}),
        jwks_uri=None,
        discovery_uri="https://idp.example.com/tenant/.well-known/openid-configuration",
    )
    assert settings.trusted_issuers[1:] == settings.additional_issuers


@pytest.mark.parametrize(
    ("variable", "value"), [("REQUIRED_CLAIM_VALUES", "{}"), ("ADDITIONAL_ISSUERS", "[]")]
)
def test_empty_json_documents_mean_nothing_configured(variable, value):
    assert Settings.from_env({**MINIMAL, variable: value}) == Settings.from_env(MINIMAL)


ISSUER_B = {"issuer": "https://b.example.com", "audience": ["api-b"]}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "AUDIENCE_CLAIM",
            "sub",
            "AUDIENCE_CLAIM: 'sub' is not supported; choose from aud, azp, cid, client_id",
        ),
        (
            "AUDIENCE_CLAIM",
            "Aud",
            "AUDIENCE_CLAIM: 'Aud' is not supported; choose from aud, azp, cid, client_id",
        ),
        ("SCOPE_CLAIMS", "scope,,scp", "SCOPE_CLAIMS: empty entry in comma-separated list 'scope,,scp'"),
        ("SCOPE_CLAIMS", "my scope", "SCOPE_CLAIMS: invalid claim name 'my scope'"),
        (
            "REQUIRED_CLAIM_VALUES",
            "token_use=access",
            "REQUIRED_CLAIM_VALUES: not valid JSON (Expecting value: line 1 column 1 (char 0))",
        ),
        (
            "REQUIRED_CLAIM_VALUES",
            '["token_use"]',
            'REQUIRED_CLAIM_VALUES: expected a JSON object {"claim": value}',
        ),
        (
            "REQUIRED_CLAIM_VALUES",
            '{"a":"x","a":"y"}',
            """REQUIRED_CLAIM_VALUES: duplicate member name in '{"a":"x","a":"y"}'""",
        ),
        (
            "REQUIRED_CLAIM_VALUES",
            '{"token_use":null}',
            "REQUIRED_CLAIM_VALUES: value of 'token_use' must be a string, number or boolean, got None",
        ),
        (
            "REQUIRED_CLAIM_VALUES",
            '{"groups":["admin"]}',
            "REQUIRED_CLAIM_VALUES: value of 'groups' must be a string, number or boolean, got ['admin']",
        ),
        (
            "REQUIRED_CLAIM_VALUES",
            '{"acr":{"x":1}}',
            "REQUIRED_CLAIM_VALUES: value of 'acr' must be a string, number or boolean, got {'x': 1}",
        ),
        ("REQUIRED_CLAIM_VALUES", '{"ver":NaN}', "REQUIRED_CLAIM_VALUES: NaN is not JSON"),
        ("REQUIRED_CLAIM_VALUES", '{"":"x"}', "REQUIRED_CLAIM_VALUES: invalid claim name ''"),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps(ISSUER_B),
            'ADDITIONAL_ISSUERS: expected a JSON array [{"issuer": ..., "audience": [...], "jwksUri": ...}]',
        ),
        (
            "ADDITIONAL_ISSUERS",
            '[{"issuer":"https://b.example.com"}]',
            "ADDITIONAL_ISSUERS: entry 0 must be an object with issuer, audience and optionally jwksUri, "
            "got {'issuer': 'https://b.example.com'}",
        ),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps(
                [ISSUER_B, {**ISSUER_B, "issuer": "https://c.example.com", "jwks_uri": "https://c/k"}]
            ),
            "ADDITIONAL_ISSUERS: entry 1 must be an object with issuer, audience and optionally jwksUri, "
            "got {'issuer': 'https://c.example.com', 'audience': ['api-b'], 'jwks_uri': 'https://c/k'}",
        ),
        (
            "ADDITIONAL_ISSUERS",
            '["https://b.example.com"]',
            "ADDITIONAL_ISSUERS: entry 0 must be an object with issuer, audience and optionally jwksUri, "
            "got 'https://b.example.com'",
        ),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps([{**ISSUER_B, "issuer": ""}]),
            "ADDITIONAL_ISSUERS: entry 0: issuer must be a non-empty string without surrounding spaces",
        ),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps([{**ISSUER_B, "issuer": "https://b.example.com "}]),
            "ADDITIONAL_ISSUERS: entry 0: issuer must be a non-empty string without surrounding spaces",
        ),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps([{**ISSUER_B, "issuer": "https://idp.example.com/tenant/"}]),
            "ADDITIONAL_ISSUERS: entry 0: issuer 'https://idp.example.com/tenant/' is configured twice",
        ),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps([ISSUER_B, ISSUER_B]),
            "ADDITIONAL_ISSUERS: entry 1: issuer 'https://b.example.com' is configured twice",
        ),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps([{**ISSUER_B, "audience": "api-b"}]),
            "ADDITIONAL_ISSUERS: entry 0: audience must be a non-empty array of non-empty strings",
        ),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps([{**ISSUER_B, "audience": []}]),
            "ADDITIONAL_ISSUERS: entry 0: audience must be a non-empty array of non-empty strings",
        ),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps([{**ISSUER_B, "audience": ["api-b", ""]}]),
            "ADDITIONAL_ISSUERS: entry 0: audience must be a non-empty array of non-empty strings",
        ),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps([{**ISSUER_B, "jwksUri": ["https://b.example.com/keys"]}]),
            "ADDITIONAL_ISSUERS: entry 0: jwksUri must be a string",
        ),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps([{**ISSUER_B, "jwksUri": "http://b.example.com/keys"}]),
            "ADDITIONAL_ISSUERS: plain http is only allowed for loopback hosts: 'http://b.example.com/keys'",
        ),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps([{**ISSUER_B, "issuer": "http://b.example.com"}]),
            "ADDITIONAL_ISSUERS: plain http is only allowed for loopback hosts: "
            "'http://b.example.com/.well-known/openid-configuration'",
        ),
        (
            "ADDITIONAL_ISSUERS",
            json.dumps([{**ISSUER_B, "issuer": "tenant-b"}]),
            "ADDITIONAL_ISSUERS: URL has no host: 'tenant-b/.well-known/openid-configuration'",
        ),
    ],
)
def test_invalid_identity_provider_values_fail_with_exact_messages(variable, value, message):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**MINIMAL, variable: value})
    assert (caught.value.variable, str(caught.value)) == (variable, message)
