"""StackConfig: keys parse from cdk.json JSON and from `-c` strings; a bad value fails with one line."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from stacks.config import CONFIG_KEYS, ConfigError, KeySetTiming, Route, StackConfig, TokenRules

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
TOP_LEVEL: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
# The default (dev) stage's values flattened, as stacks.stages.load_config hands them to from_context.
BASE: dict[str, Any] = {
    **{k: v for k, v in TOP_LEVEL.items() if k != "stages"},
    **TOP_LEVEL["stages"]["dev"],
}
MINIMAL = {"issuer": "https://idp.example.com/", "audience": "api://orders", "scopeRules": {"GET /a": "s"}}


def load(context: dict[str, Any]) -> StackConfig:
    return StackConfig.from_context(context.get)


def with_value(key: str, value: object) -> dict[str, Any]:
    context = dict(BASE)
    if value is None:
        context.pop(key)
    else:
        context[key] = value
    return context


def test_cdk_json_example_config():
    assert load(BASE) == StackConfig(
        token_rules=TokenRules(
            issuer="https://example.auth0.com/",
            audience=("api://jwt-gate-example",),
            scope_rules=MappingProxyType({"GET /hello": "items:read", "POST /hello": "items:write"}),
        ),
        public_routes=(Route("GET", "/health"),),
    )


def test_defaults_apply_when_keys_are_absent():
    config = load(MINIMAL)
    assert config == StackConfig(
        token_rules=TokenRules(
            issuer="https://idp.example.com/",
            audience=("api://orders",),
            jwks_uri=None,
            algorithms=("RS256",),
            token_types=(),
            required_claims=("iss", "aud", "exp", "sub"),
            context_claims=(),
            leeway_seconds=60,
            scope_rules=MappingProxyType({"GET /a": "s"}),
        ),
        key_set=KeySetTiming(
            cache_seconds=600, max_stale_seconds=86400, timeout_seconds=2, refetch_cooldown_seconds=10
        ),
        public_routes=(),
        authorizer_cache_ttl_seconds=300,
        lambda_memory_mb=512,
        log_retention_days=30,
        throttling_rate_limit=100,
        throttling_burst_limit=200,
        tracing=True,
        cors_origins=(),
        stage_name="dev",
        realm="jwt-gate",
        api_gateway_account_log_role=True,
    )


# Keys a preset derives or a stage defaults: at cdk.json's top level they would override every stage block
# and preset (top-level context and -c cannot be told apart), so they live in the stage blocks.
PER_STAGE_KEYS = {
    "issuer",
    "audience",
    "jwksUri",
    "audienceClaim",
    "scopeClaims",
    "requiredClaimValues",
    "requiredClaims",
    "stageName",
    "additionalIssuers",
    "logRetentionDays",
    "alarms",
    "alarmTopicArn",
    "alarmEmail",
}


def test_cdk_json_top_level_leaves_per_stage_keys_to_the_stage_blocks():
    assert set(TOP_LEVEL) & PER_STAGE_KEYS == set()
    assert set(CONFIG_KEYS) - PER_STAGE_KEYS - {"alarm5xxRatePercent"} <= set(TOP_LEVEL)


def test_cli_strings_parse_like_json_values():
    as_json = {
        **MINIMAL,
        "audience": ["a", "b"],
        "algorithms": ["RS256", "ES256"],
        "scopeRules": {"GET /a": ["s1", "s2"], "* /b/*": ""},
        "publicRoutes": ["GET /health"],
        "leewaySeconds": 10,
        "jwksTimeoutSeconds": 1.5,
        "tracing": False,
        "corsOrigins": ["https://app.example.com"],
    }
    as_cli = {
        **MINIMAL,
        "audience": "a, b",
        "algorithms": '["RS256", "ES256"]',
        "scopeRules": '{"GET /a": "s1  s2", "* /b/*": ""}',
        "publicRoutes": "GET /health",
        "leewaySeconds": "10",
        "jwksTimeoutSeconds": "1.5",
        "tracing": "False",
        "corsOrigins": "https://app.example.com",
    }
    assert load(as_cli) == load(as_json)
    assert dict(load(as_cli).token_rules.scope_rules) == {"GET /a": "s1 s2", "* /b/*": ""}


def test_loopback_http_issuer_is_accepted_for_local_runs():
    assert (
        load({**MINIMAL, "issuer": "http://127.0.0.1:8443/"}).token_rules.issuer == "http://127.0.0.1:8443/"
    )


def test_routes_map_wildcards_to_api_gateway_resources():
    config = load(
        {**MINIMAL, "scopeRules": {"* /files/*": "f", "GET /": ""}, "publicRoutes": ["HEAD /health"]}
    )
    assert [(r.key, r.api_method, r.api_path) for r in config.routes] == [
        ("* /files/*", "ANY", "/files/{proxy+}"),
        ("GET /", "GET", "/"),
        ("HEAD /health", "HEAD", "/health"),
    ]


def test_an_api_without_protected_routes_is_rejected():
    with pytest.raises(ConfigError) as err:
        load({**MINIMAL, "scopeRules": {}, "publicRoutes": ["GET /health"]})
    assert str(err.value) == (
        'invalid config "scopeRules": needs at least one protected route '
        '(example: -c scopeRules=\'{"GET /hello": "items:read"}\')'
    )


SCOPE_EXAMPLE = '(example: -c scopeRules=\'{"GET /hello": "items:read"}\')'
ALGORITHMS = "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA"
RETENTIONS = (
    "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"
)
BIG_RULES = {f"GET /r{i:04d}": "scope:read scope:write" for i in range(80)}

INVALID = [
    ("issuer", None, "is required (example: -c issuer=https://acme.eu.auth0.com/)"),
    (
        "issuer",
        "http://idp.example.com/",
        "must use https (plain http is only allowed on loopback hosts), got 'http://idp.example.com/' "
        "(example: -c issuer=https://acme.eu.auth0.com/)",
    ),
    (
        "issuer",
        "https://user:pw@idp.example.com/",
        "must be a plain URL without credentials, fragment or spaces, got 'https://user:pw@idp.example.com/' "
        "(example: -c issuer=https://acme.eu.auth0.com/)",
    ),
    ("audience", None, "is required (example: -c audience=api://orders,api://billing)"),
    ("audience", "[]", "needs at least one audience (example: -c audience=api://orders,api://billing)"),
    (
        "audience",
        '["a,b"]',
        "values must not contain commas (the authorizer receives them comma-separated) "
        "(example: -c audience=api://orders,api://billing)",
    ),
    (
        "audience",
        ["x", " y"],
        "must not contain empty values or values with surrounding spaces "
        "(example: -c audience=api://orders,api://billing)",
    ),
    (
        "jwksUri",
        "ftp://idp.example.com/keys",
        "must be an https URL, got 'ftp://idp.example.com/keys' "
        "(example: -c jwksUri=https://acme.eu.auth0.com/.well-known/jwks.json)",
    ),
    (
        "algorithms",
        "HS256",
        f"'HS256' is not supported; choose from {ALGORITHMS} (example: -c algorithms=RS256,ES256)",
    ),
    (
        "algorithms",
        "RS256,none",
        f"'none' is not supported; choose from {ALGORITHMS} (example: -c algorithms=RS256,ES256)",
    ),
    (
        "algorithms",
        "[RS256",
        "is not a valid JSON list (Expecting value) (example: -c algorithms=RS256,ES256)",
    ),
    (
        "scopeRules",
        "{nope",
        f"is not a valid JSON object (Expecting property name enclosed in double quotes) {SCOPE_EXAMPLE}",
    ),
    ("scopeRules", "[]", f"must be a JSON object {SCOPE_EXAMPLE}"),
    (
        "scopeRules",
        '{"FETCH /x": "a"}',
        "route 'FETCH /x' must look like \"GET /path\" with a method from GET, POST, PUT, PATCH, DELETE, "
        f"HEAD, * {SCOPE_EXAMPLE}",
    ),
    ("scopeRules", '{"GET x": "a"}', f"route 'GET x': the path must start with / {SCOPE_EXAMPLE}"),
    (
        "scopeRules",
        '{"GET /a/*/b": "a"}',
        "route 'GET /a/*/b': path segments may use letters, digits and . _ - : (not . or .. alone); a * is "
        f"allowed only as the whole last segment {SCOPE_EXAMPLE}",
    ),
    (
        "scopeRules",
        '{"GET /items/{id}": "a"}',
        "route 'GET /items/{id}': path segments may use letters, digits and . _ - : (not . or .. alone); a * "
        f"is allowed only as the whole last segment {SCOPE_EXAMPLE}",
    ),
    # CDK refuses "~" in a resource path part: the one-line error comes first, never a jsii traceback.
    (
        "scopeRules",
        '{"GET /a~b": "a"}',
        "route 'GET /a~b': path segments may use letters, digits and . _ - : (not . or .. alone); a * "
        f"is allowed only as the whole last segment {SCOPE_EXAMPLE}",
    ),
    (
        "scopeRules",
        '{"GET /orders*": "a"}',
        "route 'GET /orders*': path segments may use letters, digits and . _ - : (not . or .. alone); a * "
        f"is allowed only as the whole last segment {SCOPE_EXAMPLE}",
    ),
    ("scopeRules", "{}", f"needs at least one protected route {SCOPE_EXAMPLE}"),
    (
        "contextClaims",
        "email,sub",
        "'sub' is always in the context already (sub, scope, client_id, iss) "
        "(example: -c contextClaims=email,tenant)",
    ),
    (
        "contextClaims",
        "principalId",
        "'principalId' is a context key API Gateway reserves (example: -c contextClaims=email,tenant)",
    ),
    (
        "principalIdFormat",
        "iss",
        "must be one of sub, iss#sub, got 'iss' (example: -c principalIdFormat=iss#sub)",
    ),
    ("scopeRules", '{"GET /x": "a\\"b"}', f"'a\"b' in 'GET /x' is not a valid scope {SCOPE_EXAMPLE}"),
    (
        "scopeRules",
        '{"GET /x": 5}',
        f"the scopes of 'GET /x' must be a space-separated string {SCOPE_EXAMPLE}",
    ),
    (
        "scopeRules",
        BIG_RULES,
        f"are too large for the Lambda environment (over 2048 characters) {SCOPE_EXAMPLE}",
    ),
    (
        "publicRoutes",
        '["GET /hello"]',
        '"GET /hello" is also in scopeRules; a route is either public or protected '
        "(example: -c publicRoutes='[\"GET /health\"]')",
    ),
    (
        "publicRoutes",
        "GET health",
        "route 'GET health': the path must start with / (example: -c publicRoutes='[\"GET /health\"]')",
    ),
    (
        "tokenTypes",
        "at+jwt,at jwt",
        "'at jwt' is not a valid token type (example: -c tokenTypes=at+jwt,application/at+jwt)",
    ),
    (
        "requiredClaims",
        "iss,,aud",
        "must not contain empty values or values with surrounding spaces "
        "(example: -c requiredClaims=iss,aud,exp,sub,client_id)",
    ),
    ("contextClaims", "email,email", "must not repeat a value (example: -c contextClaims=email,tenant)"),
    (
        "contextClaims",
        "e mail",
        "'e mail' is not a valid claim name (example: -c contextClaims=email,tenant)",
    ),
    ("leewaySeconds", "301", "must be from 0 to 300, got 301 (example: -c leewaySeconds=60)"),
    ("leewaySeconds", "abc", "must be a whole number from 0 to 300 (example: -c leewaySeconds=60)"),
    ("leewaySeconds", True, "must be a whole number from 0 to 300 (example: -c leewaySeconds=60)"),
    (
        "authorizerCacheTtlSeconds",
        3601,
        "must be from 0 to 3600, got 3601 (example: -c authorizerCacheTtlSeconds=300)",
    ),
    (
        "authorizerCacheTtlSeconds",
        "-1",
        "must be from 0 to 3600, got -1 (example: -c authorizerCacheTtlSeconds=300)",
    ),
    ("jwksCacheSeconds", 0, "must be from 1 to 86400, got 0 (example: -c jwksCacheSeconds=600)"),
    (
        "jwksMaxStaleSeconds",
        60,
        "must be at least jwksCacheSeconds (600) (example: -c jwksMaxStaleSeconds=86400)",
    ),
    ("jwksTimeoutSeconds", 0, "must be greater than 0 up to 4, got 0 (example: -c jwksTimeoutSeconds=2)"),
    ("jwksTimeoutSeconds", "5", "must be greater than 0 up to 4, got 5 (example: -c jwksTimeoutSeconds=2)"),
    ("jwksTimeoutSeconds", "nan", "must be a number (example: -c jwksTimeoutSeconds=2)"),
    (
        "jwksRefetchCooldownSeconds",
        "x",
        "must be a whole number from 0 to 3600 (example: -c jwksRefetchCooldownSeconds=10)",
    ),
    ("lambdaMemoryMb", 64, "must be from 128 to 10240, got 64 (example: -c lambdaMemoryMb=512)"),
    ("logRetentionDays", 10, f"must be one of {RETENTIONS}, got 10 (example: -c logRetentionDays=30)"),
    (
        "throttlingRateLimit",
        0,
        "must be greater than 0 up to 10000, got 0 (example: -c throttlingRateLimit=100)",
    ),
    ("throttlingBurstLimit", "0", "must be from 1 to 5000, got 0 (example: -c throttlingBurstLimit=200)"),
    ("tracing", "yes", "must be true or false (example: -c tracing=true)"),
    (
        "corsOrigins",
        "http://app.example.com",
        "'http://app.example.com' must be an origin like https://app.example.com (http only for loopback) "
        "(example: -c corsOrigins=https://app.example.com)",
    ),
    (
        "corsOrigins",
        "https://app.example.com/path",
        "'https://app.example.com/path' must be an origin like https://app.example.com "
        "(http only for loopback) (example: -c corsOrigins=https://app.example.com)",
    ),
    (
        "corsOrigins",
        "*,https://a.example.com",
        '"*" cannot be combined with other origins (example: -c corsOrigins=https://app.example.com)',
    ),
    (
        "stageName",
        "prod 1",
        "must be letters, digits, - or _ (up to 128), got 'prod 1' (example: -c stageName=prod)",
    ),
    (
        "realm",
        'a"b',
        "must be printable text without \" or \\ (up to 64), got 'a\"b' (example: -c realm=orders-api)",
    ),
    ("apiGatewayAccountLogRole", "1", "must be true or false (example: -c apiGatewayAccountLogRole=false)"),
]


@pytest.mark.parametrize(
    ("key", "value", "message"), INVALID, ids=[f"{key}={str(value)[:30]}" for key, value, _ in INVALID]
)
def test_invalid_value_fails_with_one_line_naming_the_key(key, value, message):
    with pytest.raises(ConfigError) as err:
        load(with_value(key, value))
    assert err.value.key == key
    assert str(err.value) == f'invalid config "{key}": {message}'
    assert "\n" not in str(err.value)
