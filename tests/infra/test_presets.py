"""Identity-provider presets: each synthesizes (cdk-nag, cfn-lint) with the exact authorizer environment."""

from __future__ import annotations

from typing import Any

import pytest
from cfnlint.api import lint_file

from stacks.config import ConfigError, additional_issuers_json
from stacks.stages import load_config
from tests.infra.conftest import CDK_JSON_CONTEXT, Synthesized, resource_arn, synth_stack
from tests.infra.test_nag_and_lint import TOLERATED_LINT_WARNINGS

TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
ENTRA_API_APP = "6e74172b-be56-4843-9ff4-e66a39bb12e3"

PRESET_CONTEXTS: dict[str, dict[str, object]] = {
    "auth0": {
        "preset": "auth0",
        "auth0Domain": "acme.eu.auth0.com",
        "audience": "https://orders.acme-corp.com",
    },
    "cognito": {
        "preset": "cognito",
        "cognitoUserPoolId": "eu-west-1_AbCdEf123",
        "cognitoClientIds": "4f5ac2a1b3c4d5e6f7g8h9i0j1,7rbl1ecp2ukdqh3d8cs3kq0gm2",
    },
    "okta": {
        "preset": "okta",
        "oktaDomain": "acme.okta.com",
        "oktaAuthServerId": "default",
        "audience": "api://default",
    },
    "entra": {"preset": "entra", "entraTenantId": TENANT, "audience": ENTRA_API_APP},
    "keycloak": {
        "preset": "keycloak",
        "keycloakUrl": "https://sso.acme-corp.com",
        "keycloakRealm": "orders",
        "audience": "orders-web,orders-cli",
    },
}

# Everything but the provider-specific part is cdk.json's shared config.
COMMON_ENVIRONMENT = {
    "ALGORITHMS": "RS256",
    "LEEWAY_SECONDS": "60",
    "TOKEN_TYPES": "",
    "SCOPE_RULES": '{"GET /hello":"items:read","POST /hello":"items:write"}',
    "CONTEXT_CLAIMS": "",
    "JWKS_CACHE_SECONDS": "600",
    "JWKS_MAX_STALE_SECONDS": "86400",
    "JWKS_TIMEOUT_SECONDS": "2",
    "JWKS_REFETCH_COOLDOWN_SECONDS": "10",
}
EXPECTED_ENVIRONMENT: dict[str, dict[str, str]] = {
    "auth0": {
        "ISSUER": "https://acme.eu.auth0.com/",
        "JWKS_URI": "https://acme.eu.auth0.com/.well-known/jwks.json",
        "AUDIENCE": "https://orders.acme-corp.com",
        "REQUIRED_CLAIMS": "iss,aud,exp,sub",
        "SCOPE_CLAIMS": "scope,permissions",
    },
    "cognito": {
        "ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
        "JWKS_URI": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/jwks.json",
        "AUDIENCE": "4f5ac2a1b3c4d5e6f7g8h9i0j1,7rbl1ecp2ukdqh3d8cs3kq0gm2",
        "REQUIRED_CLAIMS": "iss,client_id,exp,sub",
        "AUDIENCE_CLAIM": "client_id",
        "SCOPE_CLAIMS": "scope",
        "REQUIRED_CLAIM_VALUES": '{"token_use":"access"}',
    },
    "okta": {
        "ISSUER": "https://acme.okta.com/oauth2/default",
        "JWKS_URI": "https://acme.okta.com/oauth2/default/v1/keys",
        "AUDIENCE": "api://default",
        "REQUIRED_CLAIMS": "iss,aud,exp,sub",
        "SCOPE_CLAIMS": "scp",
    },
    "entra": {
        "ISSUER": f"https://login.microsoftonline.com/{TENANT}/v2.0",
        "JWKS_URI": f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys",
        "AUDIENCE": ENTRA_API_APP,
        "REQUIRED_CLAIMS": "iss,aud,exp,sub",
        "SCOPE_CLAIMS": "scp,roles",
    },
    "keycloak": {
        "ISSUER": "https://sso.acme-corp.com/realms/orders",
        "JWKS_URI": "https://sso.acme-corp.com/realms/orders/protocol/openid-connect/certs",
        "AUDIENCE": "orders-web,orders-cli",
        "REQUIRED_CLAIMS": "iss,azp,exp,sub",
        "AUDIENCE_CLAIM": "azp",
        "SCOPE_CLAIMS": "scope",
        "REQUIRED_CLAIM_VALUES": '{"typ":"Bearer"}',
    },
}


def authorizer_environment(synth: Synthesized) -> dict[str, Any]:
    (function,) = [
        value
        for value in synth.of_type("AWS::Lambda::Function").values()
        if value["Metadata"]["JwtGate:SourcePath"] == "lambda_src/authorizer"
    ]
    environment: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return environment


@pytest.fixture(scope="module", params=sorted(PRESET_CONTEXTS))
def preset_synth(request, tmp_path_factory) -> tuple[str, Synthesized]:
    name: str = request.param
    context = {**CDK_JSON_CONTEXT, **PRESET_CONTEXTS[name]}
    return name, synth_stack(context, tmp_path_factory.mktemp(f"preset-{name}"))


def test_preset_sets_the_exact_authorizer_environment(preset_synth):
    name, synth = preset_synth
    (api,) = synth.of_type("AWS::ApiGateway::RestApi")
    assert authorizer_environment(synth) == {
        **COMMON_ENVIRONMENT,
        **EXPECTED_ENVIRONMENT[name],
        "RESOURCE_ARN": resource_arn(api, "dev"),
    }


def test_preset_stack_passes_cdk_nag_and_cfn_lint(preset_synth):
    _, synth = preset_synth
    assert synth.validation_report()["pluginReports"] == []
    findings = [m for m in lint_file(synth.template_path) if m.rule.id not in TOLERATED_LINT_WARNINGS]
    assert [f"{m.rule.id}: {m.message}" for m in findings] == []


def test_no_preset_keeps_the_issue_3_environment(default_synth):
    environment = authorizer_environment(default_synth)
    assert environment.keys().isdisjoint(
        {"AUDIENCE_CLAIM", "SCOPE_CLAIMS", "REQUIRED_CLAIM_VALUES", "ADDITIONAL_ISSUERS"}
    )


def load(**overrides: object):
    return load_config({**CDK_JSON_CONTEXT, **overrides}.get)


def test_explicit_keys_beside_the_preset_override_it():
    rules = load(**PRESET_CONTEXTS["keycloak"], audienceClaim="aud", scopeClaims="scope,roles").token_rules
    assert (rules.audience_claim, rules.scope_claims, rules.required_claims) == (
        "aud",
        ("scope", "roles"),
        ("iss", "aud", "exp", "sub"),
    )
    assert dict(rules.required_claim_values) == {"typ": "Bearer"}


def test_preset_from_the_cli_overrides_the_stage_block_issuer():
    # cdk.json's dev block sets an example issuer; -c preset=... must replace it, not silently keep it.
    assert load(**PRESET_CONTEXTS["okta"]).token_rules.issuer == "https://acme.okta.com/oauth2/default"


def test_cognito_region_defaults_from_the_pool_id_and_must_match_it():
    context = {**PRESET_CONTEXTS["cognito"], "cognitoRegion": "eu-west-1"}
    assert load(**context).token_rules.issuer.startswith("https://cognito-idp.eu-west-1.amazonaws.com/")
    with pytest.raises(ConfigError) as err:
        load(**{**context, "cognitoRegion": "us-east-1"})
    assert str(err.value) == (
        "invalid config \"cognitoRegion\": is 'us-east-1' but the user pool 'eu-west-1_AbCdEf123' lives in "
        "'eu-west-1' (example: -c cognitoRegion=eu-west-1)"
    )


def test_additional_issuers_are_encoded_compactly():
    extra = (
        '[{"issuer": "https://login.microsoftonline.com/t2/v2.0", "audience": "app-2"},'
        ' {"issuer": "https://login.microsoftonline.com/t3/v2.0", "audience": ["app-3"],'
        ' "jwksUri": "https://login.microsoftonline.com/t3/discovery/v2.0/keys"}]'
    )
    config = load(**PRESET_CONTEXTS["entra"], additionalIssuers=extra)
    assert additional_issuers_json(config.token_rules.additional_issuers) == (
        '[{"issuer":"https://login.microsoftonline.com/t2/v2.0","audience":["app-2"]},'
        '{"issuer":"https://login.microsoftonline.com/t3/v2.0","audience":["app-3"],'
        '"jwksUri":"https://login.microsoftonline.com/t3/discovery/v2.0/keys"}]'
    )


MISSING_OR_INVALID = [
    (
        {"preset": "okta-ish"},
        "invalid config \"preset\": must be one of auth0, cognito, okta, entra, keycloak, got 'okta-ish' "
        "(example: -c preset=cognito)",
    ),
    (
        {"preset": "auth0"},
        'invalid config "auth0Domain": is required with preset=auth0 '
        "(example: -c auth0Domain=acme.eu.auth0.com)",
    ),
    (
        {"preset": "auth0", "auth0Domain": "https://acme.auth0.com/"},
        "invalid config \"auth0Domain\": must be a host name, got 'https://acme.auth0.com/' "
        "(example: -c auth0Domain=acme.eu.auth0.com)",
    ),
    (
        {"preset": "cognito"},
        'invalid config "cognitoUserPoolId": is required with preset=cognito '
        "(example: -c cognitoUserPoolId=eu-west-1_AbCdEf123)",
    ),
    (
        {"preset": "cognito", "cognitoUserPoolId": "eu-west-1_AbCdEf123", "stages": {"dev": {}}},
        'invalid config "cognitoClientIds": is required with preset=cognito: the app client ids whose access '
        "tokens may call the API (example: -c cognitoClientIds=1example23456789abcdefghij)",
    ),
    (
        {"preset": "okta", "oktaDomain": "acme.okta.com"},
        'invalid config "oktaAuthServerId": is required with preset=okta '
        "(example: -c oktaAuthServerId=default)",
    ),
    (
        {"preset": "entra", "entraTenantId": "contoso.onmicrosoft.com"},
        "invalid config \"entraTenantId\": must be the tenant id (a GUID), got 'contoso.onmicrosoft.com' "
        "(example: -c entraTenantId=00000000-0000-0000-0000-000000000000)",
    ),
    (
        {"preset": "entra", "entraTenantId": "organizations"},
        "invalid config \"entraTenantId\": must be one tenant's id, not 'organizations' (list further "
        "tenants in additionalIssuers) (example: -c entraTenantId=00000000-0000-0000-0000-000000000000)",
    ),
    (
        {"preset": "entra", "entraTenantId": TENANT, "stages": {"dev": {}}},
        'invalid config "audience": is required with preset=entra, set where the preset is: the '
        "Application (client) ID of the API's app registration "
        "(example: -c audience=11111111-2222-3333-4444-555555555555)",
    ),
    (
        {"preset": "keycloak", "keycloakUrl": "http://sso.acme-corp.com", "keycloakRealm": "orders"},
        "invalid config \"keycloakUrl\": must be the server's https base URL, got 'http://sso.acme-corp.com' "
        "(example: -c keycloakUrl=https://sso.acme-corp.com)",
    ),
    (
        {"preset": "keycloak", "keycloakUrl": "https://sso.acme-corp.com"},
        'invalid config "keycloakRealm": is required with preset=keycloak (example: -c keycloakRealm=orders)',
    ),
]


@pytest.mark.parametrize(("overrides", "message"), MISSING_OR_INVALID)
def test_missing_or_invalid_preset_setting_fails_with_one_line(overrides, message):
    with pytest.raises(ConfigError) as err:
        load(**overrides)
    assert str(err.value) == message
