"""Backends per route (issue 10): config errors, integrations in the template, cdk-nag and cfn-lint clean."""

from __future__ import annotations

from typing import Any

import pytest
from cfnlint.api import lint_file

from stacks.config import ConfigError
from tests.infra.conftest import CDK_JSON_CONTEXT, Synthesized, synth_stack
from tests.infra.test_config_validation import MINIMAL, load
from tests.infra.test_nag_and_lint import TOLERATED_LINT_WARNINGS
from tests.infra.test_stack_template import methods

ORDERS_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders:live"
BACKENDS = {
    "GET /hello": "https://orders.internal.acme-corp.com/v1/",
    "GET /files/*": "https://files.acme-corp.com:8443/store",
    "POST /hello": ORDERS_ARN,
    "GET /health": "https://status.acme-corp.com",
}
EXAMPLE = '(example: -c backends=\'{"GET /hello": "https://api.example.com/v1"}\')'


@pytest.fixture(scope="module")
def backends_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    context = {
        **CDK_JSON_CONTEXT,
        "scopeRules": {
            "GET /hello": "items:read",
            "POST /hello": "items:write",
            "GET /files/*": "files:read",
        },
        "backends": BACKENDS,
    }
    return synth_stack(context, tmp_path_factory.mktemp("backends-cdk-out"))


def headers_from(source: str) -> dict[str, str]:
    return {
        "integration.request.header.X-Jwt-Sub": f"{source}sub" if source else "''",
        "integration.request.header.X-Jwt-Scope": f"{source}scope" if source else "''",
        "integration.request.header.X-Jwt-Client-Id": f"{source}client_id" if source else "''",
        "integration.request.header.X-Jwt-Iss": f"{source}iss" if source else "''",
    }


def test_a_literal_route_proxies_to_the_base_url_with_the_authorizer_context_as_headers(backends_synth):
    method = methods(backends_synth)[("GET", "/hello")]
    assert method["Integration"] == {
        "IntegrationHttpMethod": "ANY",
        "Type": "HTTP_PROXY",
        "Uri": "https://orders.internal.acme-corp.com/v1",
        "RequestParameters": headers_from("context.authorizer."),
    }


def test_a_greedy_route_appends_what_its_star_matched(backends_synth):
    method = methods(backends_synth)[("GET", "/files/{proxy+}")]
    assert method["RequestParameters"] == {"method.request.path.proxy": True}
    assert method["Integration"] == {
        "IntegrationHttpMethod": "ANY",
        "Type": "HTTP_PROXY",
        "Uri": "https://files.acme-corp.com:8443/store/{proxy}",
        "RequestParameters": {
            **headers_from("context.authorizer."),
            "integration.request.path.proxy": "method.request.path.proxy",
        },
    }


def test_a_public_route_blanks_the_context_headers_so_callers_cannot_forge_them(backends_synth):
    method = methods(backends_synth)[("GET", "/health")]
    assert method["AuthorizationType"] == "NONE"
    assert method["Integration"]["RequestParameters"] == headers_from("")


def test_a_lambda_backend_is_a_proxy_integration_invocable_from_this_api_and_stage_only(backends_synth):
    method = methods(backends_synth)[("POST", "/hello")]
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert method["Integration"]["IntegrationHttpMethod"] == "POST"
    assert method["Integration"]["Uri"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                f":apigateway:eu-west-1:lambda:path/2015-03-31/functions/{ORDERS_ARN}/invocations",
            ],
        ]
    }
    permissions = [
        p["Properties"]
        for p in backends_synth.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == ORDERS_ARN
    ]
    (api_id,) = backends_synth.of_type("AWS::ApiGateway::RestApi")
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": ORDERS_ARN,
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":execute-api:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":",
                        {"Ref": api_id},
                        "/dev/POST/hello",
                    ],
                ]
            },
        }
    ]


def test_routes_without_a_backend_keep_the_sample_function(backends_synth):
    assert set(methods(backends_synth)) == {
        ("GET", "/hello"),
        ("POST", "/hello"),
        ("GET", "/files/{proxy+}"),
        ("GET", "/health"),
    }


def test_backends_synthesize_clean_under_cdk_nag_and_cfn_lint(backends_synth):
    assert backends_synth.validation_report()["pluginReports"] == []
    matches = lint_file(backends_synth.template_path)
    assert [f"{m.rule.id}: {m.message}" for m in matches if m.rule.id not in TOLERATED_LINT_WARNINGS] == []


def with_backends(value: Any) -> dict[str, Any]:
    return {**MINIMAL, "scopeRules": {"GET /a": "s", "* /b/*": ""}, "backends": value}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            {"GET /nope": "sample"},
            '"GET /nope" is not a route (the routes are the scopeRules keys and publicRoutes)',
        ),
        (
            {"GET /a": "http://orders.acme-corp.com"},
            "\"GET /a\": 'http://orders.acme-corp.com' must use https "
            "(plain http only on loopback hosts, for local runs)",
        ),
        (
            {"GET /a": "https://user:pw@orders.acme-corp.com"},
            "\"GET /a\": 'https://user:pw@orders.acme-corp.com' must not carry credentials",
        ),
        (
            {"GET /a": "https://orders.acme-corp.com/v1#top"},
            "\"GET /a\": 'https://orders.acme-corp.com/v1#top' "
            "must be scheme://host[:port][/base] without query or fragment",
        ),
        (
            {"GET /a": "https://orders.acme-corp.com/v1?x=1"},
            "\"GET /a\": 'https://orders.acme-corp.com/v1?x=1' "
            "must be scheme://host[:port][/base] without query or fragment",
        ),
        (
            {"GET /a": "arn:aws:lambda:eu-west-1:123:function:orders"},
            '"GET /a": '
            "'arn:aws:lambda:eu-west-1:123:function:orders' is not a Lambda function ARN "
            "(arn:aws:lambda:REGION:ACCOUNT:function:NAME[:ALIAS])",
        ),
        (
            {"GET /a": "ftp://orders.acme-corp.com"},
            '"GET /a": must be "sample", an https URL or a Lambda '
            "function ARN, got 'ftp://orders.acme-corp.com'",
        ),
        ({"GET /a": 7}, '"GET /a": must be "sample", an https URL or a Lambda function ARN, got 7'),
        (
            {"GET /a{": "sample"},
            "route 'GET /a{': path segments may use letters, digits and . _ - : (not . or .. "
            "alone); a * is allowed only as the whole last segment",
        ),
        ("[]", "must be a JSON object"),
    ],
)
def test_a_bad_backend_is_one_line_naming_the_key(value, problem):
    with pytest.raises(ConfigError) as caught:
        load(with_backends(value))
    assert str(caught.value) == f'invalid config "backends": {problem} {EXAMPLE}'


def test_plain_http_backends_are_for_loopback_services_and_valid_backends_parse():
    config = load(
        with_backends(
            {
                "GET /a": "http://127.0.0.1:8080/api",
                "* /b/*": "arn:aws:lambda:eu-west-1:123456789012:function:f",
            }
        )
    )
    assert {k: (v.kind, v.target) for k, v in config.backends.items()} == {
        "GET /a": ("http", "http://127.0.0.1:8080/api"),
        "* /b/*": ("lambda", "arn:aws:lambda:eu-west-1:123456789012:function:f"),
    }
