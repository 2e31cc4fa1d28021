"""The synthesized template holds exactly what the config asks for (issue 2, item 10)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized, resource_arn


def logical_id(synth: Synthesized, resource_type: str) -> str:
    (only,) = synth.of_type(resource_type)
    return only


def function_id(synth: Synthesized, source_path: str) -> str:
    (found,) = [
        key
        for key, value in synth.of_type("AWS::Lambda::Function").items()
        if value.get("Metadata", {}).get("JwtGate:SourcePath") == source_path
    ]
    return found


def resource_paths(synth: Synthesized) -> dict[str, str]:
    """Logical id of each AWS::ApiGateway::Resource (and the API root) -> its full path."""
    resources = synth.of_type("AWS::ApiGateway::Resource")
    api_id = logical_id(synth, "AWS::ApiGateway::RestApi")

    def path_of(key: str) -> str:
        props = resources[key]["Properties"]
        parent = props["ParentId"]
        prefix = "" if parent == {"Fn::GetAtt": [api_id, "RootResourceId"]} else path_of(parent["Ref"])
        return f"{prefix}/{props['PathPart']}"

    return {key: path_of(key) for key in resources}


def methods(synth: Synthesized) -> dict[tuple[str, str], dict[str, Any]]:
    """(HTTP method, resource path) -> the Method's properties."""
    paths = resource_paths(synth)
    result = {}
    for value in synth.of_type("AWS::ApiGateway::Method").values():
        props = value["Properties"]
        resource = props["ResourceId"]
        path = "/" if "Fn::GetAtt" in resource else paths[resource["Ref"]]
        result[(props["HttpMethod"], path)] = props
    return result


def test_authorizer_is_a_request_authorizer_keyed_by_token_verb_and_route(default_synth):
    # docs/routes.md: the cache key holds the route, so a cached policy is never applied to another route.
    default_synth.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "Type": "REQUEST",
            "IdentitySource": "method.request.header.Authorization,context.httpMethod,context.resourcePath",
            "IdentityValidationExpression": Match.absent(),
            "AuthorizerResultTtlInSeconds": 300,
            "AuthorizerUri": Match.object_like(
                {"Fn::Join": Match.array_with([Match.array_with([":lambda:path/2015-03-31/functions/"])])}
            ),
        },
    )


def test_authorizer_cache_ttl_comes_from_config(variant_synth):
    variant_synth.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer", {"AuthorizerResultTtlInSeconds": 0}
    )


def test_every_method_but_public_routes_and_preflight_uses_the_jwt_authorizer(default_synth):
    authorizer = {"Ref": logical_id(default_synth, "AWS::ApiGateway::Authorizer")}
    found = methods(default_synth)
    assert {key: (p["AuthorizationType"], p.get("AuthorizerId")) for key, p in found.items()} == {
        ("GET", "/hello"): ("CUSTOM", authorizer),
        ("POST", "/hello"): ("CUSTOM", authorizer),
        ("GET", "/health"): ("NONE", None),
    }


def test_wildcard_routes_and_cors_preflight_in_variant(variant_synth):
    authorizer = {"Ref": logical_id(variant_synth, "AWS::ApiGateway::Authorizer")}
    found = methods(variant_synth)
    non_options = {
        key: (p["AuthorizationType"], p.get("AuthorizerId"))
        for key, p in found.items()
        if key[0] != "OPTIONS"
    }
    assert non_options == {
        ("GET", "/"): ("CUSTOM", authorizer),
        ("GET", "/orders"): ("CUSTOM", authorizer),
        ("ANY", "/orders/{proxy+}"): ("CUSTOM", authorizer),
        ("GET", "/status"): ("NONE", None),
        ("HEAD", "/status"): ("NONE", None),
    }
    preflight = {key[1]: p["AuthorizationType"] for key, p in found.items() if key[0] == "OPTIONS"}
    assert preflight == {"/": "NONE", "/orders": "NONE", "/orders/{proxy+}": "NONE", "/status": "NONE"}


def test_methods_proxy_to_the_hello_function(default_synth):
    hello = function_id(default_synth, "lambda_src/hello")
    for props in methods(default_synth).values():
        integration = props["Integration"]
        assert (integration["Type"], integration["IntegrationHttpMethod"]) == ("AWS_PROXY", "POST")
        assert {"Fn::GetAtt": [hello, "Arn"]} in integration["Uri"]["Fn::Join"][1]


@pytest.mark.parametrize("source_path", ["lambda_src/authorizer", "lambda_src/hello"])
def test_functions_are_python_3_14_on_arm64_with_source_metadata(default_synth, source_path):
    function = default_synth.resources[function_id(default_synth, source_path)]
    props = function["Properties"]
    assert (props["Runtime"], props["Architectures"], props["Handler"]) == (
        "python3.14",
        ["arm64"],
        "handler.handler",
    )
    assert function["Metadata"]["JwtGate:SourcePath"] == source_path
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["MemorySize"] == 512


def test_authorizer_environment_is_the_contract_filled_from_cdk_json(default_synth):
    api = logical_id(default_synth, "AWS::ApiGateway::RestApi")
    function = default_synth.resources[function_id(default_synth, "lambda_src/authorizer")]
    assert function["Properties"]["Environment"]["Variables"] == {
        "ISSUER": "https://example.auth0.com/",
        "AUDIENCE": "api://jwt-gate-example",
        "ALGORITHMS": "RS256",
        "LEEWAY_SECONDS": "60",
        "TOKEN_TYPES": "",
        "REQUIRED_CLAIMS": "iss,aud,exp,sub",
        "SCOPE_RULES": '{"GET /hello":"items:read","POST /hello":"items:write"}',
        "CONTEXT_CLAIMS": "",
        "JWKS_CACHE_SECONDS": "600",
        "JWKS_MAX_STALE_SECONDS": "86400",
        "JWKS_TIMEOUT_SECONDS": "2",
        "JWKS_REFETCH_COOLDOWN_SECONDS": "10",
        "RESOURCE_ARN": resource_arn(api, "dev"),
    }


def test_authorizer_environment_follows_cli_overrides(variant_synth):
    api = logical_id(variant_synth, "AWS::ApiGateway::RestApi")
    function = variant_synth.resources[function_id(variant_synth, "lambda_src/authorizer")]
    props = function["Properties"]
    variables = props["Environment"]["Variables"]
    assert variables == {
        "ISSUER": "https://login.example.org/tenant-a/v2.0",
        "AUDIENCE": "api://orders,api://billing",
        "JWKS_URI": "https://login.example.org/tenant-a/keys",
        "ALGORITHMS": "RS256,ES256,EdDSA",
        "LEEWAY_SECONDS": "30",
        "TOKEN_TYPES": "at+jwt,application/at+jwt",
        "REQUIRED_CLAIMS": "iss,aud,exp,sub,client_id",
        "SCOPE_RULES": '{"GET /orders":"orders:read","* /orders/*":"orders:read orders:write","GET /":""}',
        "CONTEXT_CLAIMS": "email,tenant",
        "JWKS_CACHE_SECONDS": "300",
        "JWKS_MAX_STALE_SECONDS": "3600",
        "JWKS_TIMEOUT_SECONDS": "1.5",
        "JWKS_REFETCH_COOLDOWN_SECONDS": "30",
        "RESOURCE_ARN": resource_arn(api, "v2"),
    }
    assert (props["MemorySize"], "TracingConfig" in props) == (1024, False)


def test_hello_function_gets_the_cors_origins(variant_synth, default_synth):
    variant = variant_synth.resources[function_id(variant_synth, "lambda_src/hello")]
    default = default_synth.resources[function_id(default_synth, "lambda_src/hello")]
    assert variant["Properties"]["Environment"]["Variables"] == {
        "CORS_ALLOW_ORIGINS": "https://app.example.com,https://admin.example.com"
    }
    assert default["Properties"]["Environment"]["Variables"] == {"CORS_ALLOW_ORIGINS": ""}


def gateway_responses(synth: Synthesized) -> dict[str, dict[str, Any]]:
    found = {}
    for value in synth.of_type("AWS::ApiGateway::GatewayResponse").values():
        props = dict(value["Properties"])
        del props["RestApiId"]
        found[props.pop("ResponseType")] = props
    return found


WWW_AUTHENTICATE = '\'Bearer realm="{}", error="{}"\''
UNAVAILABLE_BODY = (
    '{"error": "temporarily_unavailable", "message": "Authorization is temporarily unavailable."}'
)


def test_gateway_responses_follow_rfc_6750(default_synth):
    assert gateway_responses(default_synth) == {
        "UNAUTHORIZED": {
            "StatusCode": "401",
            "ResponseParameters": {
                "gatewayresponse.header.WWW-Authenticate": WWW_AUTHENTICATE.format(
                    "jwt-gate", "invalid_token"
                )
            },
            "ResponseTemplates": {
                "application/json": '{"error": "invalid_token", "message": '
                '"The access token is missing, malformed, expired or not trusted."}'
            },
        },
        "ACCESS_DENIED": {
            "StatusCode": "403",
            "ResponseParameters": {
                "gatewayresponse.header.WWW-Authenticate": WWW_AUTHENTICATE.format(
                    "jwt-gate", "insufficient_scope"
                )
            },
            "ResponseTemplates": {
                "application/json": '{"error": "insufficient_scope", "message": '
                '"The access token does not grant this route."}'
            },
        },
        "AUTHORIZER_FAILURE": {
            "StatusCode": "503",
            "ResponseParameters": {"gatewayresponse.header.Retry-After": "'5'"},
            "ResponseTemplates": {"application/json": UNAVAILABLE_BODY},
        },
        "AUTHORIZER_CONFIGURATION_ERROR": {
            "StatusCode": "503",
            "ResponseParameters": {"gatewayresponse.header.Retry-After": "'5'"},
            "ResponseTemplates": {"application/json": UNAVAILABLE_BODY},
        },
        "MISSING_AUTHENTICATION_TOKEN": {
            "StatusCode": "404",
            "ResponseTemplates": {
                "application/json": '{"error": "not_found", "message": '
                '"No route matches this method and path."}'
            },
        },
    }


def test_gateway_responses_carry_cors_headers_when_cors_is_configured(variant_synth):
    cors = {
        "gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
        "gatewayresponse.header.Access-Control-Expose-Headers": "'WWW-Authenticate,Retry-After'",
        "gatewayresponse.header.Vary": "'Origin'",
    }
    responses = gateway_responses(variant_synth)
    assert {name: props["ResponseParameters"] for name, props in responses.items()} == {
        "UNAUTHORIZED": {
            "gatewayresponse.header.WWW-Authenticate": '\'Bearer realm="orders-api", error="invalid_token"\'',
            **cors,
        },
        "ACCESS_DENIED": {
            "gatewayresponse.header.WWW-Authenticate": WWW_AUTHENTICATE.format(
                "orders-api", "insufficient_scope"
            ),
            **cors,
        },
        "AUTHORIZER_FAILURE": {"gatewayresponse.header.Retry-After": "'5'", **cors},
        "AUTHORIZER_CONFIGURATION_ERROR": {"gatewayresponse.header.Retry-After": "'5'", **cors},
        "MISSING_AUTHENTICATION_TOKEN": cors,
        "DEFAULT_4XX": cors,
        "DEFAULT_5XX": cors,
    }


def test_api_is_regional(default_synth):
    default_synth.template.has_resource_properties(
        "AWS::ApiGateway::RestApi", {"EndpointConfiguration": {"Types": ["REGIONAL"]}}
    )


def test_stage_logs_json_access_logs_with_metrics_throttling_and_tracing(default_synth):
    stage = default_synth.resources[logical_id(default_synth, "AWS::ApiGateway::Stage")]["Properties"]
    log_format = json.loads(stage["AccessLogSetting"]["Format"])
    assert log_format["status"] == "$context.status"
    assert log_format["principalId"] == "$context.authorizer.principalId"
    assert not any("header" in value or "authorizationToken" in value for value in log_format.values())
    assert (stage["StageName"], stage["TracingEnabled"]) == ("dev", True)
    assert stage["MethodSettings"] == [
        {
            "DataTraceEnabled": False,
            "HttpMethod": "*",
            "LoggingLevel": "ERROR",
            "MetricsEnabled": True,
            "ResourcePath": "/*",
            "ThrottlingBurstLimit": 200,
            "ThrottlingRateLimit": 100,
        }
    ]


def test_stage_settings_follow_cli_overrides(variant_synth):
    stage = variant_synth.resources[logical_id(variant_synth, "AWS::ApiGateway::Stage")]["Properties"]
    assert (stage["StageName"], stage["TracingEnabled"]) == ("v2", False)
    assert (
        stage["MethodSettings"][0]["ThrottlingRateLimit"],
        stage["MethodSettings"][0]["ThrottlingBurstLimit"],
    ) == (
        25.5,
        50,
    )


def test_every_log_group_is_explicit_with_retention(default_synth, variant_synth):
    assert [
        g["Properties"]["RetentionInDays"] for g in default_synth.of_type("AWS::Logs::LogGroup").values()
    ] == [
        30,
        30,
        30,
    ]
    assert [
        g["Properties"]["RetentionInDays"] for g in variant_synth.of_type("AWS::Logs::LogGroup").values()
    ] == [
        7,
        7,
        7,
    ]
    assert default_synth.of_type("Custom::LogRetention") == {}
    for function in default_synth.of_type("AWS::Lambda::Function").values():
        assert set(function["Properties"]["LoggingConfig"]["LogGroup"]) == {"Ref"}


def test_function_roles_use_no_managed_policies(default_synth):
    for role in default_synth.of_type("AWS::IAM::Role").values():
        principal = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        if principal == {"Service": "lambda.amazonaws.com"}:
            assert "ManagedPolicyArns" not in role["Properties"]


def test_account_log_role_follows_config(default_synth, variant_synth):
    assert len(default_synth.of_type("AWS::ApiGateway::Account")) == 1
    assert variant_synth.of_type("AWS::ApiGateway::Account") == {}


def test_outputs_name_the_api_url_and_the_authorizer_function(default_synth):
    outputs = default_synth.template.to_json()["Outputs"]
    authorizer = function_id(default_synth, "lambda_src/authorizer")
    assert outputs["AuthorizerFunctionName"]["Value"] == {"Ref": authorizer}
    api = logical_id(default_synth, "AWS::ApiGateway::RestApi")
    stage = logical_id(default_synth, "AWS::ApiGateway::Stage")
    region, suffix = {"Ref": "AWS::Region"}, {"Ref": "AWS::URLSuffix"}
    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Join": [
            "",
            ["https://", {"Ref": api}, ".execute-api.", region, ".", suffix, "/", {"Ref": stage}, "/"],
        ]
    }


def test_outputs_name_the_log_groups_to_tail(default_synth):
    outputs = default_synth.template.to_json()["Outputs"]
    log_groups = default_synth.of_type("AWS::Logs::LogGroup")
    authorizer_logs = next(key for key in log_groups if key.startswith("JwtAuthorizerHandlerLogs"))
    access_logs = next(key for key in log_groups if key.startswith("AccessLogs"))
    assert outputs["AuthorizerLogGroupName"]["Value"] == {"Ref": authorizer_logs}
    assert outputs["AccessLogGroupName"]["Value"] == {"Ref": access_logs}
