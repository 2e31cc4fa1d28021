"""Issue 12 in the stack: DPoP and certificate-bound tokens (stacks/sender_config.py, sender_constraint.py).

The config keys and every refusal across them (exact one-line messages), the authorizer's environment,
identity sources, result cache TTL, the RFC 9449 challenge in the gateway responses, the replay table and its
one IAM statement, the mutual-TLS custom domain with the default endpoint disabled, and cdk-nag / cfn-lint
staying clean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from cfnlint.api import lint_file

from gate import settings as gate_settings
from stacks.config import ConfigError, StackConfig, TokenRules
from stacks.jwt_authorizer import JwtAuthorizer
from stacks.native_authorizer import plan_gate
from stacks.sender_config import (
    DEFAULT_DPOP_ALGORITHMS,
    EXAMPLES,
    MAX_DPOP_MAX_AGE_SECONDS,
    MODES,
    MutualTls,
    SenderConstraint,
)
from stacks.stages import load_config
from tests.infra.conftest import CDK_JSON_CONTEXT, SKIP_BUNDLING, Synthesized, synth_stack
from tests.infra.test_nag_and_lint import TOLERATED_LINT_WARNINGS
from tests.infra.test_stack_template import function_id, logical_id, methods

AUTHORIZER_SOURCE = "lambda_src/authorizer"
CERTIFICATE_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b"
MTLS = {
    "domainName": "api.acme-corp.com",
    "certificateArn": CERTIFICATE_ARN,
    "truststoreUri": "s3://acme-corp-truststores/api/truststore.pem",
}
ISSUE_12_VARIABLES = {
    "DPOP",
    "DPOP_ALGORITHMS",
    "DPOP_MAX_AGE_SECONDS",
    "PUBLIC_BASE_URL",
    "DPOP_REPLAY_TABLE",
    "MTLS_BOUND_TOKENS",
}
# DPoP required with the shared replay table, CORS on (the preflight must allow the DPoP header).
DPOP_OVERRIDES: dict[str, object] = {
    "dpop": "required",
    "dpopReplayTable": "true",
    "authorizerCacheTtlSeconds": "0",
    "corsOrigins": "https://app.acme-corp.com",
}
# DPoP allowed beside Bearer, behind the mutual-TLS domain with certificate-bound tokens required.
MTLS_OVERRIDES: dict[str, object] = {
    "dpop": "allowed",
    "dpopAlgorithms": "ES256,EdDSA",
    "dpopMaxAgeSeconds": "30",
    "mtls": json.dumps(MTLS),
    "mtlsBoundTokens": "required",
    "authorizerCacheTtlSeconds": "0",
}
DPOP_CONTEXT = {**CDK_JSON_CONTEXT, **DPOP_OVERRIDES}
MTLS_CONTEXT = {**CDK_JSON_CONTEXT, **MTLS_OVERRIDES}


def load(**overrides: object) -> StackConfig:
    context = {**CDK_JSON_CONTEXT, **overrides}
    return load_config(context.get, context_keys=context)


def refusal(**overrides: object) -> str:
    with pytest.raises(ConfigError) as err:
        load(**overrides)
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.fixture(scope="module")
def dpop_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth_stack(DPOP_CONTEXT, tmp_path_factory.mktemp("dpop-cdk-out"))


@pytest.fixture(scope="module")
def mtls_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth_stack(MTLS_CONTEXT, tmp_path_factory.mktemp("mtls-cdk-out"))


def authorizer_environment(synth: Synthesized) -> dict[str, Any]:
    function = synth.resources[function_id(synth, AUTHORIZER_SOURCE)]
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def request_authorizer(synth: Synthesized) -> dict[str, Any]:
    properties: dict[str, Any] = synth.resources[logical_id(synth, "AWS::ApiGateway::Authorizer")][
        "Properties"
    ]
    return properties


def gateway_response_headers(synth: Synthesized, response_type: str) -> dict[str, str]:
    (found,) = [
        value["Properties"]["ResponseParameters"]
        for value in synth.of_type("AWS::ApiGateway::GatewayResponse").values()
        if value["Properties"]["ResponseType"] == response_type
    ]
    return dict(found)


# ---- Config: defaults, parsing, the environment contract ----


def test_off_by_default_and_the_default_stack_is_unchanged(default_synth):
    assert load().sender_constraint == SenderConstraint()
    assert SenderConstraint().environment() == {}
    assert set(authorizer_environment(default_synth)) & ISSUE_12_VARIABLES == set()
    assert request_authorizer(default_synth)["IdentitySource"] == (
        "method.request.header.Authorization,context.httpMethod,context.resourcePath"
    )
    assert request_authorizer(default_synth)["AuthorizerResultTtlInSeconds"] == 300
    assert gateway_response_headers(default_synth, "UNAUTHORIZED")[
        "gatewayresponse.header.WWW-Authenticate"
    ] == ('\'Bearer realm="jwt-gate", error="invalid_token"\'')
    for resource_type in (
        "AWS::DynamoDB::Table",
        "AWS::ApiGateway::DomainName",
        "AWS::ApiGateway::BasePathMapping",
    ):
        assert default_synth.of_type(resource_type) == {}
    api = default_synth.resources[logical_id(default_synth, "AWS::ApiGateway::RestApi")]["Properties"]
    assert "DisableExecuteApiEndpoint" not in api


def test_keys_parse_from_json_and_from_cli_strings():
    as_cli = load(**MTLS_OVERRIDES)
    as_json = load(
        dpop="allowed",
        dpopAlgorithms=["ES256", "EdDSA"],
        dpopMaxAgeSeconds=30,
        mtls=MTLS,
        mtlsBoundTokens="required",
        authorizerCacheTtlSeconds=0,
    )
    expected = SenderConstraint(
        dpop="allowed",
        dpop_algorithms=("ES256", "EdDSA"),
        dpop_max_age_seconds=30,
        mtls=MutualTls("api.acme-corp.com", CERTIFICATE_ARN, "s3://acme-corp-truststores/api/truststore.pem"),
        mtls_bound_tokens="required",
    )
    assert as_cli.sender_constraint == as_json.sender_constraint == expected
    assert expected.mtls is not None
    assert (expected.mtls.truststore_bucket, expected.mtls.truststore_key) == (
        "acme-corp-truststores",
        "api/truststore.pem",
    )
    assert load(**DPOP_OVERRIDES).sender_constraint == SenderConstraint(
        dpop="required", dpop_replay_table=True
    )
    with_version = {**MTLS, "truststoreVersion": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"}
    config = load(mtls=json.dumps(with_version))
    assert config.sender_constraint.mtls == MutualTls(
        "api.acme-corp.com",
        CERTIFICATE_ARN,
        "s3://acme-corp-truststores/api/truststore.pem",
        "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
    )
    with_base = load(
        dpop="required", authorizerCacheTtlSeconds=0, publicBaseUrl="https://api.acme-corp.com/v1/"
    )
    assert with_base.sender_constraint.public_base_url == "https://api.acme-corp.com/v1"


def test_the_stack_s_modes_and_bounds_are_the_authorizer_s():
    assert MODES == gate_settings.SENDER_CONSTRAINT_MODES
    assert DEFAULT_DPOP_ALGORITHMS == gate_settings.DEFAULT_DPOP_ALGORITHMS
    assert MAX_DPOP_MAX_AGE_SECONDS == gate_settings.MAX_DPOP_AGE_SECONDS


def test_environment_identity_headers_and_challenge_per_mode():
    required = SenderConstraint(dpop="required")
    assert required.environment() == {
        "DPOP": "required",
        "DPOP_ALGORITHMS": "ES256,PS256,EdDSA",
        "DPOP_MAX_AGE_SECONDS": "60",
    }
    assert required.identity_headers == ("Authorization", "DPoP")
    assert required.challenge("orders", "invalid_token") == (
        'DPoP realm="orders", error="invalid_token", algs="ES256 PS256 EdDSA"'
    )
    allowed = SenderConstraint(
        dpop="allowed", dpop_algorithms=("ES256",), public_base_url="https://api.acme-corp.com"
    )
    assert allowed.environment() == {
        "DPOP": "allowed",
        "DPOP_ALGORITHMS": "ES256",
        "DPOP_MAX_AGE_SECONDS": "60",
        "PUBLIC_BASE_URL": "https://api.acme-corp.com",
    }
    assert allowed.identity_headers == ("Authorization",)
    assert allowed.challenge("orders", "insufficient_scope") == (
        'Bearer realm="orders", error="insufficient_scope", '
        'DPoP realm="orders", error="insufficient_scope", algs="ES256"'
    )
    bound = SenderConstraint(
        mtls=MutualTls("api.acme-corp.com", CERTIFICATE_ARN, "s3://b-1/t.pem"), mtls_bound_tokens="allowed"
    )
    assert bound.environment() == {"MTLS_BOUND_TOKENS": "allowed"}
    assert bound.challenge("orders", "invalid_token") == 'Bearer realm="orders", error="invalid_token"'
    # Behind the mutual-TLS domain the expected htu starts with that domain, unless publicBaseUrl is set.
    assert SenderConstraint(dpop="required", mtls=bound.mtls).environment()["PUBLIC_BASE_URL"] == (
        "https://api.acme-corp.com"
    )


# ---- Refusals: one line each, naming the key to change ----

TTL_DPOP = (
    'invalid config "authorizerCacheTtlSeconds": must be 0 with dpop={mode}: a cached result would '
    "let a replayed proof through without the authorizer seeing it (example: -c authorizerCacheTtlSeconds=0)"
)
OFF_BUT = (
    'invalid config "dpop": is off, but {key} is only used with dpop allowed or required '
    "(example: -c dpop=required)"
)
MTLS_EXAMPLE = f"(example: -c mtls={EXAMPLES['mtls']})"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dpop": "required"}, TTL_DPOP.format(mode="required")),
        ({"dpop": "allowed", "authorizerCacheTtlSeconds": "60"}, TTL_DPOP.format(mode="allowed")),
        (
            {"mtls": json.dumps(MTLS), "mtlsBoundTokens": "allowed"},
            'invalid config "authorizerCacheTtlSeconds": must be 0 with mtlsBoundTokens=allowed: a '
            "cached result would let the token through over another client certificate without the "
            "authorizer seeing it (example: -c authorizerCacheTtlSeconds=0)",
        ),
        (
            {"mtlsBoundTokens": "required", "authorizerCacheTtlSeconds": "0"},
            'invalid config "mtls": is required with mtlsBoundTokens=required: the client '
            "certificate reaches the authorizer only through the mutual-TLS custom domain "
            f"{MTLS_EXAMPLE}",
        ),
        ({"dpopReplayTable": "true"}, OFF_BUT.format(key="dpopReplayTable")),
        ({"publicBaseUrl": "https://api.acme-corp.com"}, OFF_BUT.format(key="publicBaseUrl")),
        ({"dpopAlgorithms": "ES256"}, OFF_BUT.format(key="dpopAlgorithms")),
        ({"dpopMaxAgeSeconds": "30"}, OFF_BUT.format(key="dpopMaxAgeSeconds")),
        (
            {"dpop": "on"},
            "invalid config \"dpop\": must be one of off, allowed, required, got 'on' (example: -c "
            "dpop=required)",
        ),
        (
            {"mtlsBoundTokens": "true"},
            "invalid config \"mtlsBoundTokens\": must be one of off, allowed, required, got 'true' "
            "(example: -c mtlsBoundTokens=required)",
        ),
        (
            {"dpopAlgorithms": "ES256,HS256"},
            "invalid config \"dpopAlgorithms\": 'HS256' is not supported; choose from RS256, RS384, "
            "RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA (example: -c dpopAlgorithms=ES256,EdDSA)",
        ),
        (
            {"dpopAlgorithms": "none"},
            "invalid config \"dpopAlgorithms\": 'none' is not supported; choose from RS256, RS384, "
            "RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA (example: -c dpopAlgorithms=ES256,EdDSA)",
        ),
        (
            {"dpopMaxAgeSeconds": "601"},
            'invalid config "dpopMaxAgeSeconds": must be from 1 to 600, got 601 (example: -c '
            "dpopMaxAgeSeconds=60)",
        ),
        (
            {"publicBaseUrl": "http://api.acme-corp.com"},
            'invalid config "publicBaseUrl": must use https (plain http is only allowed on loopback '
            "hosts), got 'http://api.acme-corp.com' "
            "(example: -c publicBaseUrl=https://api.acme-corp.com/orders)",
        ),
        (
            {"publicBaseUrl": "https://api.acme-corp.com/v1?x=1"},
            'invalid config "publicBaseUrl": must be a base URL without query, fragment or credentials, got '
            "'https://api.acme-corp.com/v1?x=1' (example: -c publicBaseUrl=https://api.acme-corp.com/orders)",
        ),
        (
            {"mtls": '{"domainName": "api.acme-corp.com"}'},
            'invalid config "mtls": must be an object with "domainName", "certificateArn", '
            f'"truststoreUri" and optionally "truststoreVersion" {MTLS_EXAMPLE}',
        ),
        (
            {"mtls": json.dumps({**MTLS, "domainName": "API.acme-corp.com"})},
            'invalid config "mtls": "domainName" must be a lowercase DNS name like api.acme-corp.com, got '
            f"'API.acme-corp.com' {MTLS_EXAMPLE}",
        ),
        (
            {
                "mtls": json.dumps(
                    {**MTLS, "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/x"}
                )
            },
            'invalid config "mtls": "certificateArn" must be an ACM certificate ARN '
            "(arn:aws:acm:REGION:ACCOUNT:certificate/ID), got "
            "'arn:aws:acm:eu-west-1:123456789012:certificate/x' "
            f"{MTLS_EXAMPLE}",
        ),
        (
            {
                "mtls": json.dumps(
                    {**MTLS, "truststoreUri": "https://acme-corp-truststores.s3.amazonaws.com/t.pem"}
                )
            },
            'invalid config "mtls": "truststoreUri" must be an S3 object URI like '
            "s3://bucket/truststore.pem, got 'https://acme-corp-truststores.s3.amazonaws.com/t.pem' "
            f"{MTLS_EXAMPLE}",
        ),
    ],
    ids=lambda value: ",".join(value) if isinstance(value, dict) else None,
)
def test_refusals_are_one_line_naming_the_key_to_change(overrides, message):
    assert refusal(**overrides) == message


def test_a_certificate_from_another_region_than_the_stage_is_refused():
    live = {"region": "us-east-1", "issuer": "https://login.acme-corp.com/", "audience": "api://orders"}
    stages = {**CDK_JSON_CONTEXT["stages"], "live": live}
    assert refusal(stage="live", stages=stages, mtls=json.dumps(MTLS)) == (
        'invalid config "mtls": the certificate is in eu-west-1, but the stage deploys to us-east-1 '
        f"(a regional custom domain needs its ACM certificate in the API's region) {MTLS_EXAMPLE}"
    )
    eu_west = {**stages, "live": {**live, "region": "eu-west-1"}}
    assert load(stage="live", stages=eu_west, mtls=json.dumps(MTLS)).sender_constraint.mtls is not None


NATIVE_HINT = "use -c gate=auto (the Lambda only where needed) or -c gate=lambda"


def test_gate_native_refuses_dpop_and_certificate_binding_but_not_the_mtls_domain():
    assert refusal(gate="native", dpop="allowed", authorizerCacheTtlSeconds=0) == (
        'invalid config "dpop": gate=native cannot enforce dpop=allowed (the native authorizer '
        "cannot check a DPoP "
        f"proof or its binding to the token); {NATIVE_HINT}"
    )
    assert refusal(
        gate="native", mtls=json.dumps(MTLS), mtlsBoundTokens="required", authorizerCacheTtlSeconds=0
    ) == (
        'invalid config "mtlsBoundTokens": gate=native cannot enforce mtlsBoundTokens=required (the native '
        f"authorizer cannot compare the token's cnf x5t#S256 with the client certificate); {NATIVE_HINT}"
    )
    # Mutual TLS itself is API Gateway's, at the domain: the native authorizer works behind it.
    plan = plan_gate(load(gate="native", mtls=json.dumps(MTLS)))
    assert {route.engine for route in plan.routes} == {"native", "public"}


def test_gate_auto_keeps_every_route_on_the_lambda_with_dpop():
    plan = plan_gate(load(gate="auto", dpop="required", authorizerCacheTtlSeconds=0))
    assert plan.lines() == [
        "gate: GET /hello -> lambda (dpop: native cannot check proofs)",
        "gate: POST /hello -> lambda (dpop: native cannot check proofs)",
        "gate: GET /health -> public (publicRoutes: no authorizer)",
    ]
    plan = plan_gate(
        load(gate="auto", mtls=json.dumps(MTLS), mtlsBoundTokens="allowed", authorizerCacheTtlSeconds=0)
    )
    assert (
        plan.lines()[0]
        == "gate: GET /hello -> lambda (mtlsBoundTokens: native cannot check the certificate binding)"
    )


def test_the_construct_refuses_a_cached_result_with_a_binding():
    app = cdk.App(context=SKIP_BUNDLING)
    stack = cdk.Stack(app, "Construct")
    api = apigw.RestApi(stack, "Api")
    rules = TokenRules(
        issuer="https://idp.acme-corp.com/", audience=("api://orders",), scope_rules={"GET /": ""}
    )
    with pytest.raises(
        ValueError, match=r"^results_cache_ttl must be 0 with DPoP or certificate-bound tokens: "
    ):
        JwtAuthorizer(
            stack,
            "Jwt",
            rest_api=api,
            stage_name="prod",
            token_rules=rules,
            results_cache_ttl=Duration.minutes(5),
            sender_constraint=SenderConstraint(dpop="required"),
        )
    gate = JwtAuthorizer(
        stack,
        "Jwt2",
        rest_api=api,
        stage_name="prod",
        token_rules=rules,
        sender_constraint=SenderConstraint(dpop="allowed"),
    )
    api.root.add_method("GET", apigw.MockIntegration(), authorizer=gate.authorizer)
    (authorizer,) = [
        value["Properties"]
        for value in cdk.assertions.Template.from_stack(stack).to_json()["Resources"].values()
        if value["Type"] == "AWS::ApiGateway::Authorizer"
    ]
    assert authorizer["AuthorizerResultTtlInSeconds"] == 0


# ---- The template: dpop=required with the replay table ----


def test_dpop_required_environment_is_exactly_the_contract(dpop_synth):
    environment = authorizer_environment(dpop_synth)
    table = logical_id(dpop_synth, "AWS::DynamoDB::Table")
    assert {key: environment[key] for key in ISSUE_12_VARIABLES & set(environment)} == {
        "DPOP": "required",
        "DPOP_ALGORITHMS": "ES256,PS256,EdDSA",
        "DPOP_MAX_AGE_SECONDS": "60",
        "DPOP_REPLAY_TABLE": {"Ref": table},
    }
    # The authorizer accepts exactly this environment (with the table's name as CloudFormation fills it in).
    resolved = {key: value for key, value in environment.items() if isinstance(value, str)}
    resolved |= {"DPOP_REPLAY_TABLE": "JwtGate-dev-JwtAuthorizerDpopReplayTable-1A2B3C", "RESOURCE_ARN": ""}
    parsed = gate_settings.Settings.from_env(resolved)
    assert (parsed.dpop, parsed.dpop_algorithms, parsed.dpop_max_age_seconds, parsed.public_base_url) == (
        "required",
        frozenset({"ES256", "PS256", "EdDSA"}),
        60.0,
        None,
    )


def test_dpop_required_adds_the_dpop_header_to_the_identity_sources_and_caches_nothing(dpop_synth):
    authorizer = request_authorizer(dpop_synth)
    assert authorizer["IdentitySource"] == (
        ""
        "method.request.header.Authorization,context.httpMethod,context.resourcePath,method.request.header.DPoP"
    )
    assert authorizer["AuthorizerResultTtlInSeconds"] == 0


def test_dpop_required_challenges_with_dpop_only(dpop_synth):
    assert gateway_response_headers(dpop_synth, "UNAUTHORIZED")[
        "gatewayresponse.header.WWW-Authenticate"
    ] == ('\'DPoP realm="jwt-gate", error="invalid_token", algs="ES256 PS256 EdDSA"\'')
    assert gateway_response_headers(dpop_synth, "ACCESS_DENIED")[
        "gatewayresponse.header.WWW-Authenticate"
    ] == ('\'DPoP realm="jwt-gate", error="insufficient_scope", algs="ES256 PS256 EdDSA"\'')


def test_cors_preflight_allows_the_dpop_header(dpop_synth):
    options = methods(dpop_synth)[("OPTIONS", "/hello")]
    (response,) = options["Integration"]["IntegrationResponses"]
    assert response["ResponseParameters"]["method.response.header.Access-Control-Allow-Headers"] == (
        "'Authorization,Content-Type,DPoP'"
    )


def test_replay_table_is_on_demand_keyed_by_jti_with_ttl_and_recovery(dpop_synth):
    (table,) = dpop_synth.of_type("AWS::DynamoDB::Table").values()
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Delete", "Delete")
    assert table["Properties"] == {
        "AttributeDefinitions": [{"AttributeName": "jti", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "jti", "KeyType": "HASH"}],
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "Tags": [{"Key": "jwt-gate:stage", "Value": "dev"}],
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
    }


def test_the_authorizer_may_only_put_items_into_exactly_that_table(dpop_synth):
    table = logical_id(dpop_synth, "AWS::DynamoDB::Table")
    statements = [
        statement
        for policy in dpop_synth.of_type("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "dynamodb" in json.dumps(statement)
    ]
    assert statements == [
        {"Action": "dynamodb:PutItem", "Effect": "Allow", "Resource": {"Fn::GetAtt": [table, "Arn"]}}
    ]
    (policy,) = [
        policy
        for policy in dpop_synth.of_type("AWS::IAM::Policy").values()
        if "dynamodb" in json.dumps(policy["Properties"]["PolicyDocument"])
    ]
    role = dpop_synth.resources[function_id(dpop_synth, AUTHORIZER_SOURCE)]["Properties"]["Role"]
    assert policy["Properties"]["Roles"] == [{"Ref": role["Fn::GetAtt"][0]}]


# ---- The template: dpop=allowed behind the mutual-TLS domain with bound tokens ----


def test_mtls_environment_identity_sources_and_ttl(mtls_synth):
    environment = authorizer_environment(mtls_synth)
    assert {key: environment[key] for key in ISSUE_12_VARIABLES & set(environment)} == {
        "DPOP": "allowed",
        "DPOP_ALGORITHMS": "ES256,EdDSA",
        "DPOP_MAX_AGE_SECONDS": "30",
        "PUBLIC_BASE_URL": "https://api.acme-corp.com",
        "MTLS_BOUND_TOKENS": "required",
    }
    # Under "allowed" a Bearer token comes without a DPoP header: it must not be an identity source.
    authorizer = request_authorizer(mtls_synth)
    assert authorizer["IdentitySource"] == (
        "method.request.header.Authorization,context.httpMethod,context.resourcePath"
    )
    assert authorizer["AuthorizerResultTtlInSeconds"] == 0
    assert mtls_synth.of_type("AWS::DynamoDB::Table") == {}


def test_dpop_allowed_offers_both_challenges_in_one_header_value(mtls_synth):
    assert gateway_response_headers(mtls_synth, "UNAUTHORIZED")[
        "gatewayresponse.header.WWW-Authenticate"
    ] == (
        '\'Bearer realm="jwt-gate", error="invalid_token", '
        'DPoP realm="jwt-gate", error="invalid_token", algs="ES256 EdDSA"\''
    )


def test_mutual_tls_domain_is_mapped_to_the_stage_and_execute_api_is_off(mtls_synth):
    api = logical_id(mtls_synth, "AWS::ApiGateway::RestApi")
    assert mtls_synth.resources[api]["Properties"]["DisableExecuteApiEndpoint"] is True
    domain_id = logical_id(mtls_synth, "AWS::ApiGateway::DomainName")
    assert mtls_synth.resources[domain_id]["Properties"] == {
        "DomainName": "api.acme-corp.com",
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
        "MutualTlsAuthentication": {"TruststoreUri": "s3://acme-corp-truststores/api/truststore.pem"},
        "RegionalCertificateArn": CERTIFICATE_ARN,
        "SecurityPolicy": "TLS_1_2",
        "Tags": [{"Key": "jwt-gate:stage", "Value": "dev"}],
    }
    stage = logical_id(mtls_synth, "AWS::ApiGateway::Stage")
    (mapping,) = mtls_synth.of_type("AWS::ApiGateway::BasePathMapping").values()
    assert mapping["Properties"] == {
        "DomainName": {"Ref": domain_id},
        "RestApiId": {"Ref": api},
        "Stage": {"Ref": stage},
    }


def test_api_url_names_the_custom_domain(mtls_synth):
    outputs = mtls_synth.template.to_json()["Outputs"]
    assert outputs["ApiUrl"]["Value"] == "https://api.acme-corp.com/"
    domain_id = logical_id(mtls_synth, "AWS::ApiGateway::DomainName")
    assert outputs["CustomDomainTarget"]["Value"] == {"Fn::GetAtt": [domain_id, "RegionalDomainName"]}
    # No output names the disabled execute-api URL.
    assert not [name for name, output in outputs.items() if "execute-api" in json.dumps(output["Value"])]


# ---- Quality gates for both configurations ----


@pytest.mark.parametrize("synth_name", ["dpop_synth", "mtls_synth"])
def test_cdk_nag_reports_no_findings(request, synth_name):
    synth: Synthesized = request.getfixturevalue(synth_name)
    assert synth.validation_report()["pluginReports"] == []


@pytest.mark.parametrize("synth_name", ["dpop_synth", "mtls_synth"])
def test_cfn_lint_finds_no_errors(request, synth_name):
    synth: Synthesized = request.getfixturevalue(synth_name)
    matches = lint_file(Path(synth.template_path))
    assert [f"{m.rule.id}: {m.message}" for m in matches if m.rule.id not in TOLERATED_LINT_WARNINGS] == []
