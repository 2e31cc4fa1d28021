"""Gate modes (issue 11, section 1): the native JWT authorizer's template, every refusal, the auto plan.

The expected JSON is written by hand from the AWS documentation, not copied from a synth:

* CloudFormation reference, AWS::ApiGateway::Authorizer JwtConfiguration {DefaultAlgorithms (required),
  Issuers (required)}, JwtIssuer {AdditionalClaims, Audiences (required), Issuer (required)},
  JwtAdditionalClaim {ClaimName (required), ExpectedValues, Format (required), Required}.
* API reference JwtConfigurationInput / JwtIssuerInput / JwtAdditionalClaim: algorithms RS256/384/512 and
  ES256/384/512; issuer an absolute https URL without user information, query or fragment, issuers unique;
  audiences non-empty; Format SINGLE_STRING only; claim names unique per issuer and never iss, aud, exp, nbf,
  iat, scope, scp; expected values non-empty.
* Developer guide rest-api-jwt-authorizer-methods: a method uses AuthorizationType JWT, AuthorizerId and,
  optionally, AuthorizationScopes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cfnlint.api import lint_file

from stacks.config import ConfigError, TokenRules, TrustedIssuer
from stacks.native_authorizer import jwt_configuration, non_public_problem, plan_gate
from stacks.stages import load_config
from tests.infra.conftest import CDK_JSON_CONTEXT, SKIP_BUNDLING, Synthesized, synth_stack
from tests.infra.test_app_entrypoint import run_app
from tests.infra.test_nag_and_lint import TOLERATED_LINT_WARNINGS, acknowledgments
from tests.infra.test_stack_template import function_id, logical_id, methods, resource_paths

HINT = "use -c gate=auto (the Lambda only where needed) or -c gate=lambda"

# The documented shape (see the module docstring): member -> required.
JWT_CONFIGURATION_MEMBERS = {"DefaultAlgorithms": True, "Issuers": True}
JWT_ISSUER_MEMBERS = {"AdditionalClaims": False, "Audiences": True, "Issuer": True}
JWT_ADDITIONAL_CLAIM_MEMBERS = {"ClaimName": True, "ExpectedValues": False, "Format": True, "Required": False}
DOCUMENTED_ALGORITHMS = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}
DOCUMENTED_FORMATS = {"SINGLE_STRING"}
RESERVED_CLAIM_NAMES = {"iss", "aud", "exp", "nbf", "iat", "scope", "scp"}

AUTO_RULES = {
    "GET /hello": "items:read",
    "POST /hello": "items:write items:admin",
    "GET /open": "",
    "* /items/*": "items:read",
    "GET /proxy": "items:read",
}
AUTO_CONTEXT: dict[str, object] = {
    **CDK_JSON_CONTEXT,
    "gate": "auto",
    "scopeRules": json.dumps(AUTO_RULES),
    "backends": '{"GET /proxy": "https://api.acme-corp.com/v1"}',
}
AUTO_LINES = [
    "gate: GET /hello -> native (scope items:read)",
    "gate: POST /hello -> lambda (needs 2 scopes: native is any-of)",
    "gate: GET /open -> native (any valid token)",
    "gate: * /items/* -> native (scope items:read)",
    "gate: GET /proxy -> lambda (HTTPS backend needs the Lambda's X-Jwt-* context)",
    "gate: GET /health -> public (publicRoutes: no authorizer)",
]
AUTO_MARKDOWN = """# Gate plan

`gate=auto`: 3 route(s) on the native JWT authorizer, 2 on the Lambda authorizer, 1 public. Why a setting \
keeps the Lambda: [docs/native-jwt.md](../docs/native-jwt.md).

| route | engine | why |
| --- | --- | --- |
| `GET /hello` | native | scope items:read |
| `POST /hello` | lambda | needs 2 scopes: native is any-of |
| `GET /open` | native | any valid token |
| `* /items/*` | native | scope items:read |
| `GET /proxy` | lambda | HTTPS backend needs the Lambda's X-Jwt-* context |
| `GET /health` | public | publicRoutes: no authorizer |
"""
# A richer native configuration: two issuers, claim rules, ES384, overlapping and wildcard routes.
RICH_CONTEXT: dict[str, object] = {
    **CDK_JSON_CONTEXT,
    "gate": "native",
    "issuer": "https://login.acme-corp.com/",
    "audience": "api://orders,api://billing",
    "algorithms": "RS256,ES384",
    "requiredClaims": "iss,aud,exp,sub,client_id",
    "requiredClaimValues": '{"token_use": "access"}',
    "additionalIssuers": '[{"issuer": "https://partner.acme-corp.com/", "audience": ["api://orders"]}]',
    "scopeRules": json.dumps(
        {"GET /orders": "orders:read", "* /orders/*": "", "GET /*": "read", "GET /admin/*": "admin"}
    ),
}
RICH_CLAIMS = [
    {"ClaimName": "sub", "Format": "SINGLE_STRING", "Required": True},
    {"ClaimName": "client_id", "Format": "SINGLE_STRING", "Required": True},
    {"ClaimName": "token_use", "Format": "SINGLE_STRING", "ExpectedValues": ["access"], "Required": True},
]
RICH_CONFIGURATION = {
    "DefaultAlgorithms": ["RS256", "ES384"],
    "Issuers": [
        {
            "Issuer": "https://login.acme-corp.com/",
            "Audiences": ["api://orders", "api://billing"],
            "AdditionalClaims": RICH_CLAIMS,
        },
        {
            "Issuer": "https://partner.acme-corp.com/",
            "Audiences": ["api://orders"],
            "AdditionalClaims": RICH_CLAIMS,
        },
    ],
}


@pytest.fixture(scope="module")
def native_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth_stack({**CDK_JSON_CONTEXT, "gate": "native"}, tmp_path_factory.mktemp("native-cdk-out"))


@pytest.fixture(scope="module")
def auto_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth_stack(AUTO_CONTEXT, tmp_path_factory.mktemp("auto-cdk-out"))


@pytest.fixture(scope="module")
def rich_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth_stack(RICH_CONTEXT, tmp_path_factory.mktemp("rich-cdk-out"))


def load(**overrides: object):
    context = {**CDK_JSON_CONTEXT, **overrides}
    return load_config(context.get, context_keys=context)


def refusal(**overrides: object) -> str:
    with pytest.raises(ConfigError) as err:
        load(gate="native", **overrides)
    message = str(err.value)
    assert "\n" not in message
    return message


def native_authorizer_id(synth: Synthesized) -> str:
    (found,) = [
        key
        for key, value in synth.of_type("AWS::ApiGateway::Authorizer").items()
        if value["Properties"]["Type"] == "JWT"
    ]
    return found


def lambda_authorizer_id(synth: Synthesized) -> str:
    (found,) = [
        key
        for key, value in synth.of_type("AWS::ApiGateway::Authorizer").items()
        if value["Properties"]["Type"] == "REQUEST"
    ]
    return found


def assert_documented_jwt_configuration(configuration: dict[str, Any]) -> None:
    """Every member, type and value rule the CloudFormation and API references state."""

    def members(value: dict[str, Any], documented: dict[str, bool]) -> None:
        assert set(value) <= set(documented), set(value) - set(documented)
        assert {name for name, required in documented.items() if required} <= set(value)

    members(configuration, JWT_CONFIGURATION_MEMBERS)
    algorithms = configuration["DefaultAlgorithms"]
    assert algorithms
    assert set(algorithms) <= DOCUMENTED_ALGORITHMS
    issuers = configuration["Issuers"]
    assert issuers
    assert len({i["Issuer"] for i in issuers}) == len(issuers)
    for issuer in issuers:
        members(issuer, JWT_ISSUER_MEMBERS)
        url = urlsplit(issuer["Issuer"])
        assert (url.scheme, url.username, url.query, url.fragment) == ("https", None, "", "")
        assert url.hostname
        assert issuer["Audiences"]
        assert all(isinstance(a, str) and a for a in issuer["Audiences"])
        claims = issuer.get("AdditionalClaims", [])
        assert len({c["ClaimName"] for c in claims}) == len(claims)
        for claim in claims:
            members(claim, JWT_ADDITIONAL_CLAIM_MEMBERS)
            assert claim["ClaimName"]
            assert claim["ClaimName"] not in RESERVED_CLAIM_NAMES
            assert claim["Format"] in DOCUMENTED_FORMATS
            assert all(isinstance(v, str) and v for v in claim.get("ExpectedValues", []))
            assert isinstance(claim.get("Required", False), bool)


# The exact JSON: authorizer and methods.


def test_native_authorizer_is_the_documented_jwt_authorizer(native_synth):
    api = logical_id(native_synth, "AWS::ApiGateway::RestApi")
    authorizer = native_synth.resources[native_authorizer_id(native_synth)]
    assert authorizer == {
        "Type": "AWS::ApiGateway::Authorizer",
        "Properties": {
            "IdentitySource": "method.request.header.Authorization",
            "Name": "jwt-gate-native",
            "RestApiId": {"Ref": api},
            "Type": "JWT",
            "JwtConfiguration": {
                "DefaultAlgorithms": ["RS256"],
                "Issuers": [
                    {
                        "Issuer": "https://example.auth0.com/",
                        "Audiences": ["api://jwt-gate-example"],
                        "AdditionalClaims": [
                            {"ClaimName": "sub", "Format": "SINGLE_STRING", "Required": True}
                        ],
                    }
                ],
            },
        },
        "Metadata": {"cfn-lint": {"config": {"ignore_checks": ["E3002"]}}},
    }
    assert_documented_jwt_configuration(authorizer["Properties"]["JwtConfiguration"])


def test_issuers_audiences_algorithms_and_claim_rules_map_to_jwt_configuration(rich_synth):
    authorizer = rich_synth.resources[native_authorizer_id(rich_synth)]
    assert authorizer["Properties"]["JwtConfiguration"] == RICH_CONFIGURATION
    assert_documented_jwt_configuration(RICH_CONFIGURATION)


def test_jwt_configuration_of_token_rules():
    rules = TokenRules(
        issuer="https://login.acme-corp.com/",
        audience=("api://orders", "api://billing"),
        scope_rules={"GET /orders": "orders:read"},
        algorithms=("RS256", "ES384"),
        required_claims=("iss", "aud", "exp", "sub", "client_id"),
        required_claim_values={"token_use": "access"},
        additional_issuers=(TrustedIssuer("https://partner.acme-corp.com/", ("api://orders",)),),
    )
    assert jwt_configuration(rules) == RICH_CONFIGURATION
    # Without claim rules beyond what the authorizer always checks, AdditionalClaims is left out.
    bare = TokenRules(
        issuer="https://login.acme-corp.com/",
        audience=("api://orders",),
        scope_rules={"GET /orders": ""},
        required_claims=("iss", "aud", "exp"),
    )
    assert jwt_configuration(bare) == {
        "DefaultAlgorithms": ["RS256"],
        "Issuers": [{"Issuer": "https://login.acme-corp.com/", "Audiences": ["api://orders"]}],
    }
    assert_documented_jwt_configuration(jwt_configuration(bare))


def test_a_native_method_is_authorization_type_jwt_with_its_one_scope(native_synth):
    api = logical_id(native_synth, "AWS::ApiGateway::RestApi")
    hello = function_id(native_synth, "lambda_src/hello")
    (resource,) = [key for key, path in resource_paths(native_synth).items() if path == "/hello"]
    (method,) = [
        value
        for value in native_synth.of_type("AWS::ApiGateway::Method").values()
        if value["Properties"]["HttpMethod"] == "GET"
        and value["Properties"]["ResourceId"] == {"Ref": resource}
    ]
    uri_parts = [
        "arn:",
        {"Ref": "AWS::Partition"},
        ":apigateway:",
        {"Ref": "AWS::Region"},
        ":lambda:path/2015-03-31/functions/",
        {"Fn::GetAtt": [hello, "Arn"]},
        "/invocations",
    ]
    assert method == {
        "Type": "AWS::ApiGateway::Method",
        "Properties": {
            "AuthorizationScopes": ["items:read"],
            "AuthorizationType": "JWT",
            "AuthorizerId": {"Ref": native_authorizer_id(native_synth)},
            "HttpMethod": "GET",
            "Integration": {
                "IntegrationHttpMethod": "POST",
                "Type": "AWS_PROXY",
                "Uri": {"Fn::Join": ["", uri_parts]},
            },
            "ResourceId": {"Ref": resource},
            "RestApiId": {"Ref": api},
        },
    }


def test_native_methods_carry_their_rule_s_scope_and_any_valid_token_has_none(rich_synth):
    authorizer = {"Ref": native_authorizer_id(rich_synth)}
    found = {
        key: (p["AuthorizationType"], p.get("AuthorizerId"), p.get("AuthorizationScopes"))
        for key, p in methods(rich_synth).items()
    }
    # Overlapping rules keep route semantics: the scopes are per method, and each request reaches one method.
    assert found == {
        ("GET", "/orders"): ("JWT", authorizer, ["orders:read"]),
        ("ANY", "/orders/{proxy+}"): ("JWT", authorizer, None),
        ("GET", "/{proxy+}"): ("JWT", authorizer, ["read"]),
        ("GET", "/admin/{proxy+}"): ("JWT", authorizer, ["admin"]),
        ("GET", "/health"): ("NONE", None, None),
    }


def test_auto_mixes_native_and_lambda_authorizers_per_method(auto_synth):
    native = {"Ref": native_authorizer_id(auto_synth)}
    lambda_ = {"Ref": lambda_authorizer_id(auto_synth)}
    found = {
        key: (p["AuthorizationType"], p.get("AuthorizerId"), p.get("AuthorizationScopes"))
        for key, p in methods(auto_synth).items()
    }
    assert found == {
        ("GET", "/hello"): ("JWT", native, ["items:read"]),
        ("POST", "/hello"): ("CUSTOM", lambda_, None),
        ("GET", "/open"): ("JWT", native, None),
        ("ANY", "/items/{proxy+}"): ("JWT", native, ["items:read"]),
        ("GET", "/proxy"): ("CUSTOM", lambda_, None),
        ("GET", "/health"): ("NONE", None, None),
    }


def test_native_synth_has_no_authorizer_lambda(native_synth):
    (only,) = native_synth.of_type("AWS::Lambda::Function").values()
    assert only["Metadata"]["JwtGate:SourcePath"] == "lambda_src/hello"
    assert [
        a["Properties"]["Type"] for a in native_synth.of_type("AWS::ApiGateway::Authorizer").values()
    ] == ["JWT"]
    assert not [key for key in native_synth.resources if key.startswith("JwtAuthorizer")]
    assert not {"AuthorizerFunctionName", "AuthorizerLogGroupName"} & set(
        native_synth.template.to_json()["Outputs"]
    )
    filters = native_synth.of_type("AWS::Logs::MetricFilter").values()
    assert [f["Properties"]["MetricTransformations"][0]["MetricName"] for f in filters] == [
        "ThrottledRequests"
    ]
    alarms = sorted(
        a["Properties"]["AlarmDescription"] for a in native_synth.of_type("AWS::CloudWatch::Alarm").values()
    )
    assert alarms == [
        "[JwtGate-dev] API Gateway answered 429: the stage's throttling limits were reached.",
        "[JwtGate-dev] Lambda throttled the sample endpoint (account or function concurrency limit).",
        "[JwtGate-dev] More than 5% of API responses were 5XX.",
    ]


def test_auto_keeps_the_lambda_authorizer_only_because_a_route_needs_it(auto_synth, tmp_path):
    assert [
        f["Metadata"]["JwtGate:SourcePath"] for f in auto_synth.of_type("AWS::Lambda::Function").values()
    ] == [
        "lambda_src/authorizer",
        "lambda_src/hello",
    ]
    all_native = synth_stack(
        {**AUTO_CONTEXT, "scopeRules": '{"GET /hello": "items:read"}', "backends": "{}"}, tmp_path
    )
    assert all_native.stack.gate_plan.lines() == [
        "gate: GET /hello -> native (scope items:read)",
        "gate: GET /health -> public (publicRoutes: no authorizer)",
    ]
    assert len(all_native.of_type("AWS::Lambda::Function")) == 1


def test_changed_scopes_or_issuers_redeploy_the_stage(native_synth, tmp_path):
    def deployment(synth: Synthesized) -> str:
        return logical_id(synth, "AWS::ApiGateway::Deployment")

    scope = synth_stack(
        {
            **CDK_JSON_CONTEXT,
            "gate": "native",
            "scopeRules": '{"GET /hello": "items:list", "POST /hello": "items:write"}',
        },
        tmp_path / "scope",
    )
    audience = synth_stack(
        {
            **CDK_JSON_CONTEXT,
            "gate": "native",
            "audience": "api://other",
            "issuer": "https://example.auth0.com/",
        },
        tmp_path / "audience",
    )
    assert len({deployment(native_synth), deployment(scope), deployment(audience)}) == 3


# The default is unchanged.


def test_without_the_gate_key_the_template_is_the_lambda_gate(default_synth, tmp_path):
    context = {key: value for key, value in CDK_JSON_CONTEXT.items() if key != "gate"}
    assert CDK_JSON_CONTEXT["gate"] == "lambda"
    assert synth_stack(context, tmp_path).template.to_json() == default_synth.template.to_json()
    assert '"JWT"' not in json.dumps(default_synth.template.to_json())
    assert default_synth.stack.gate_plan.lines() == [
        "gate: GET /hello -> lambda (gate=lambda)",
        "gate: POST /hello -> lambda (gate=lambda)",
        "gate: GET /health -> public (publicRoutes: no authorizer)",
    ]


def test_gate_accepts_lambda_native_auto_only():
    with pytest.raises(ConfigError) as err:
        load(gate="hybrid")
    assert str(err.value) == (
        "invalid config \"gate\": must be one of lambda, native, auto, got 'hybrid' (example: -c gate=auto)"
    )
    assert [load(gate=mode).gate for mode in ("lambda", "native", "auto")] == ["lambda", "native", "auto"]


# cdk-nag and cfn-lint: clean, with exactly the documented exceptions.


def test_native_and_auto_are_clean_under_cdk_nag_with_one_schema_acknowledgment(
    native_synth, auto_synth, default_synth
):
    for synth in (native_synth, auto_synth):
        (report,) = synth.validation_report()["pluginReports"]
        assert (report["pluginName"], report["violations"]) == ("CloudFormation Validate", [])
        assert [
            (v["ruleName"], c["constructPath"], c["cloudFormationResource"]["propertyPaths"])
            for v in report["suppressedViolations"]
            for c in v["violatingConstructs"]
        ] == [("F3002", "JwtGate-dev/NativeJwtAuthorizer/Resource", ["Properties.JwtConfiguration"])]
    schema = ("JwtGate-dev/NativeJwtAuthorizer/Resource", "CloudFormation-Validate::F3002")
    lambda_only = {
        ("JwtGate-dev/JwtAuthorizer/Handler/Role", "AwsSolutions-IAM5[Resource::*]"),
    }
    default = set(acknowledgments(default_synth))
    assert set(acknowledgments(native_synth)) == (default - lambda_only) | {schema}
    assert set(acknowledgments(auto_synth)) == default | {schema}
    for synth in (native_synth, auto_synth):
        assert all(len(reason) >= 80 for reason in acknowledgments(synth).values())


@pytest.mark.parametrize("synth_name", ["native_synth", "auto_synth", "rich_synth"])
def test_cfn_lint_is_clean_with_exactly_the_documented_exception(request, synth_name, tmp_path):
    synth: Synthesized = request.getfixturevalue(synth_name)
    authorizer = native_authorizer_id(synth)
    assert [
        m.rule.id for m in lint_file(synth.template_path) if m.rule.id not in TOLERATED_LINT_WARNINGS
    ] == []
    silenced = {
        key: value["Metadata"]["cfn-lint"]
        for key, value in synth.resources.items()
        if "cfn-lint" in value.get("Metadata", {})
    }
    assert silenced == {authorizer: {"config": {"ignore_checks": ["E3002"]}}}
    # Without the exception exactly that one finding appears, on the documented property.
    template = synth.template.to_json()
    del template["Resources"][authorizer]["Metadata"]
    bare = tmp_path / "bare.template.json"
    bare.write_text(json.dumps(template))
    found = [(m.rule.id, m.path_string) for m in lint_file(bare) if m.rule.id not in TOLERATED_LINT_WARNINGS]
    assert found == [("E3002", f"Resources/{authorizer}/Properties/JwtConfiguration")]


# Every refusal of gate=native: one line naming the key.

ISSUER_REASON = "(the native authorizer reads discovery and keys over https from the public internet)"


@pytest.mark.parametrize(
    ("overrides", "key", "what"),
    [
        (
            {"algorithms": "RS256,PS256,EdDSA"},
            "algorithms",
            "PS256, EdDSA (the native authorizer verifies RS256, RS384, RS512, ES256, ES384, ES512 only)",
        ),
        (
            {"tokenTypes": "at+jwt"},
            "tokenTypes",
            "a typ check (the native authorizer does not read the JOSE typ header)",
        ),
        (
            {"audienceClaim": "client_id"},
            "audienceClaim",
            "the audience in client_id (the native authorizer checks aud)",
        ),
        (
            {"jwksUri": "https://example.auth0.com/.well-known/jwks.json"},
            "jwksUri",
            "a fixed jwksUri for 'https://example.auth0.com/' (the native authorizer always uses the "
            "jwks_uri of the issuer's discovery document)",
        ),
        (
            {
                "additionalIssuers": '[{"issuer": "https://partner.acme-corp.com/", "audience": ["api://x"], '
                '"jwksUri": "https://partner.acme-corp.com/keys"}]'
            },
            "additionalIssuers",
            "a fixed jwksUri for 'https://partner.acme-corp.com/' (the native authorizer always uses the "
            "jwks_uri of the issuer's discovery document)",
        ),
        (
            {"additionalIssuers": '[{"issuer": "https://partner.test/", "audience": ["api://x"]}]'},
            "additionalIssuers",
            f"the issuer 'https://partner.test/': the reserved domain test {ISSUER_REASON}",
        ),
        (
            {"requiredClaims": "iss,aud,sub"},
            "requiredClaims",
            "requiredClaims without exp (the native authorizer always requires iss, aud and exp)",
        ),
        (
            {"requiredClaims": "iss,aud,exp,iat"},
            "requiredClaims",
            "the required claim 'iat' (native additional claims cannot be iss, aud, exp, nbf, iat, scope, "
            "scp)",
        ),
        (
            {"requiredClaims": "iss,aud,exp,sub,roles"},
            "requiredClaims",
            "the required claim 'roles' (native additional claims are single strings; only sub, jti, "
            "client_id, azp are strings by specification)",
        ),
        (
            {"requiredClaimValues": '{"email_verified": true}'},
            "requiredClaimValues",
            "'email_verified' = true (native additional claims are exact single-string matches)",
        ),
        (
            {"requiredClaimValues": '{"tier": 2}'},
            "requiredClaimValues",
            "'tier' = 2 (native additional claims are exact single-string matches)",
        ),
        (
            {"requiredClaimValues": '{"token_use": ""}'},
            "requiredClaimValues",
            "an empty value for 'token_use' (native expected values cannot be empty)",
        ),
        (
            {"requiredClaimValues": '{"scp": "admin"}'},
            "requiredClaimValues",
            "a value for 'scp' (native additional claims cannot be iss, aud, exp, nbf, iat, scope, scp)",
        ),
        (
            {"contextClaims": "email"},
            "contextClaims",
            "contextClaims (the native authorizer passes every claim as $context.authorizer.claims.<name>, "
            "JSON-encoded, not as the Lambda's context keys)",
        ),
        (
            {"principalIdFormat": "iss#sub"},
            "principalIdFormat",
            "principalIdFormat=iss#sub (the native authorizer has no principalId setting)",
        ),
        (
            {"leewaySeconds": "30"},
            "leewaySeconds",
            "leewaySeconds=30 (the native authorizer's clock skew is not configurable)",
        ),
        (
            {"jwksCacheSeconds": "300"},
            "jwksCacheSeconds",
            "jwksCacheSeconds=300 (the native authorizer caches keys itself, up to 1 hour)",
        ),
        (
            {"jwksMaxStaleSeconds": "3600"},
            "jwksMaxStaleSeconds",
            "jwksMaxStaleSeconds=3600 (the native authorizer has no stale-key setting)",
        ),
        (
            {"jwksTimeoutSeconds": "1.5"},
            "jwksTimeoutSeconds",
            "jwksTimeoutSeconds=1.5 (the native authorizer has no fetch timeout setting)",
        ),
        (
            {"jwksRefetchCooldownSeconds": "30"},
            "jwksRefetchCooldownSeconds",
            "jwksRefetchCooldownSeconds=30 (the native authorizer refetches unknown keys on its own terms)",
        ),
        (
            {
                "keySource": "ssm",
                "parametersExtensionLayerArn": "arn:aws:lambda:eu-west-1:015030872274:layer:"
                "AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:11",
            },
            "keySource",
            "keySource=ssm (the native authorizer fetches discovery and keys from the public internet "
            "itself)",
        ),
        (
            {"vpc": '{"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0123456789abcdef0"]}'},
            "vpc",
            "vpc (there is no function to place in it; the native authorizer needs a public issuer)",
        ),
        (
            {"scopeRules": '{"GET /hello": "items:read items:write"}'},
            "scopeRules",
            '"GET /hello", which needs all of 2 scopes (items:read items:write) (a native method passes a '
            "token that carries any one of its scopes)",
        ),
        (
            {"scopeClaims": "scope"},
            "scopeClaims",
            'the scopes of "GET /hello" from scope (the native authorizer reads scopes from scope and scp)',
        ),
        (
            {"scopeClaims": "scope,permissions"},
            "scopeClaims",
            'the scopes of "GET /hello" from scope,permissions (the native authorizer reads scopes from '
            "scope and scp)",
        ),
        (
            {"backends": '{"POST /hello": "https://api.acme-corp.com/v1"}'},
            "backends",
            'the HTTPS backend of "POST /hello" (its X-Jwt-* headers come from the Lambda\'s context; the '
            "native authorizer passes claims as JSON text under $context.authorizer.claims)",
        ),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else None,
)
def test_gate_native_refuses_what_it_cannot_enforce(overrides, key, what):
    assert refusal(**overrides) == f'invalid config "{key}": gate=native cannot enforce {what}; {HINT}'


@pytest.mark.parametrize(
    ("issuer", "problem"),
    [
        ("http://localhost:8443/", "not https"),
        ("https://localhost/", "a loopback host"),
        ("https://127.0.0.1:8443/", "a loopback, private or reserved address"),
        ("https://10.1.2.3/", "a loopback, private or reserved address"),
        ("https://[::1]/", "a loopback, private or reserved address"),
        ("https://idp/", "a host name without a public domain"),
        ("https://login.example.org/tenant-a/v2.0", "the reserved domain example.org"),
        ("https://idp.corp.internal/", "the reserved domain internal"),
        ("https://idp.test/", "the reserved domain test"),
        ("https://idp.acme-corp.com/?tenant=a", "it has a query string"),
    ],
)
def test_gate_native_refuses_issuers_that_cannot_be_public(issuer, problem):
    what = f"the issuer '{issuer}': {problem} {ISSUER_REASON}"
    assert refusal(issuer=issuer, audience="api://orders") == (
        f'invalid config "issuer": gate=native cannot enforce {what}; {HINT}'
    )


def test_public_issuers_pass():
    for issuer in (
        "https://example.auth0.com/",  # an Auth0 tenant named "example", not a reserved domain
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
        "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
        "https://8.8.8.8/",
    ):
        assert non_public_problem(issuer) is None, issuer


def test_presets_pin_settings_native_cannot_honour():
    okta = {
        "preset": "okta",
        "oktaDomain": "acme.okta.com",
        "oktaAuthServerId": "default",
        "audience": "api://default",
    }
    assert refusal(**okta).startswith('invalid config "jwksUri": gate=native cannot enforce a fixed jwksUri')
    plan = plan_gate(load(gate="auto", **okta))
    assert plan.lines()[0] == "gate: GET /hello -> lambda (jwksUri: native always discovers the keys)"


def test_faithful_settings_pass_native():
    config = load(
        gate="native",
        scopeRules='{"GET /": "", "GET /a": "a", "GET /*": "read", "GET /a/*": "admin"}',
        scopeClaims="scp,scope",
        requiredClaims="iss,aud,exp,sub,jti,client_id,azp,tenant",
        requiredClaimValues='{"tenant": "acme"}',
        backends='{"GET /a": "arn:aws:lambda:eu-west-1:123456789012:function:orders"}',
        authorizerCacheTtlSeconds="0",
        leewaySeconds="60",
    )
    assert {p.engine for p in plan_gate(config).routes} == {"native", "public"}


# gate=auto: the plan lines and cdk.out/gate-plan.md.


def test_auto_plan_lines_and_markdown():
    plan = plan_gate(load(**{key: AUTO_CONTEXT[key] for key in ("gate", "scopeRules", "backends")}))
    assert plan.lines() == AUTO_LINES
    assert plan.markdown() == AUTO_MARKDOWN


def test_a_global_reason_puts_every_route_on_the_lambda_with_the_reason_on_each_line():
    plan = plan_gate(load(gate="auto", tokenTypes="at+jwt", contextClaims="email"))
    assert plan.lines() == [
        "gate: GET /hello -> lambda (tokenTypes: native does not check typ)",
        "gate: POST /hello -> lambda (tokenTypes: native does not check typ)",
        "gate: GET /health -> public (publicRoutes: no authorizer)",
    ]
    assert plan.markdown().endswith(
        "| `GET /hello` | lambda | tokenTypes: native does not check typ |\n"
        "| `POST /hello` | lambda | tokenTypes: native does not check typ |\n"
        "| `GET /health` | public | publicRoutes: no authorizer |\n"
        "\n"
        "Settings the native authorizer cannot enforce:\n"
        "\n"
        "- `tokenTypes`: a typ check (the native authorizer does not read the JOSE typ header)\n"
        "- `contextClaims`: contextClaims (the native authorizer passes every claim as "
        "$context.authorizer.claims.<name>, JSON-encoded, not as the Lambda's context keys)\n"
    )


def test_synth_prints_the_auto_plan_and_writes_gate_plan_md(tmp_path):
    result = run_app({**AUTO_CONTEXT, **SKIP_BUNDLING}, tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "",
        "".join(f"{line}\n" for line in AUTO_LINES),
    )
    assert (tmp_path / "gate-plan.md").read_text() == AUTO_MARKDOWN


def test_native_refusal_ends_synth_with_one_line(tmp_path):
    result = run_app(
        {**CDK_JSON_CONTEXT, **SKIP_BUNDLING, "gate": "native", "tokenTypes": "at+jwt"}, tmp_path
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        'error: invalid config "tokenTypes": gate=native cannot enforce a typ check (the native authorizer '
        f"does not read the JOSE typ header); {HINT}\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_the_default_synth_prints_nothing_and_writes_the_lambda_plan(tmp_path):
    result = run_app({**CDK_JSON_CONTEXT, **SKIP_BUNDLING}, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    plan = (tmp_path / "gate-plan.md").read_text()
    assert (
        "`gate=lambda`: 0 route(s) on the native JWT authorizer, 2 on the Lambda authorizer, 1 public."
        in plan
    )
    assert Path(tmp_path / "JwtGate-dev.template.json").exists()
