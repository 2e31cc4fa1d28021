"""Reusable construct: the JWT-validating Lambda authorizer and the API Gateway REQUEST authorizer using it.

Import it into your own stack:

    from stacks.config import TokenRules
    from stacks.jwt_authorizer import JwtAuthorizer

    gate = JwtAuthorizer(self, "Jwt", rest_api=api, stage_name="prod",
                         token_rules=TokenRules(issuer="https://idp.example.com/", audience=("api://orders",),
                                                scope_rules={"GET /orders": "orders:read"}))
    api.root.add_resource("orders").add_method("GET", integration, authorizer=gate.authorizer)

Why a REQUEST authorizer keyed by the Authorization header, the verb and the resource path: API Gateway caches
the returned policy per identity-source values, so each cached decision is about one token on one route, which
is what makes overlapping scope rules exact (docs/routes.md). Synth fails if a method carries the authorizer
but the scope rules name no route for it (it would answer 403 to everyone).

Why it needs the RestApi and stage name: the authorizer builds policies for exactly this API and stage
(RESOURCE_ARN); the Function references the API id, and the API never references the Function, so the
dependency stays one-way (no circular reference in CloudFormation).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import jsii
from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from constructs import Construct, IValidation

from stacks.config import DEFAULT_SCOPE_CLAIMS, KeySetTiming, TokenRules, additional_issuers_json
from stacks.key_config import KeyDelivery
from stacks.key_sources import AuthorizerKeys, KeyRefresher
from stacks.python_function import PROJECT_ROOT, PythonFunction
from stacks.sender_config import SenderConstraint
from stacks.sender_constraint import AuthorizerSenderConstraint

AUTHORIZER_SOURCE: Final = PROJECT_ROOT / "lambda_src" / "authorizer"
# The cache key: one decision per token, verb and route (API Gateway answers 401 without invoking the Lambda
# when the header is missing; the two context values are always present).
IDENTITY_SOURCES: Final = (
    apigw.IdentitySource.header("Authorization"),
    apigw.IdentitySource.context("httpMethod"),
    apigw.IdentitySource.context("resourcePath"),
)
# Discovery and JWKS fetches may both run on a cold start, each bounded by JWKS_TIMEOUT_SECONDS (max 4 s).
FUNCTION_TIMEOUT: Final = Duration.seconds(10)


def _seconds(value: float) -> str:
    return f"{value:g}"


def authorizer_environment(rules: TokenRules, key_set: KeySetTiming, resource_arn: str) -> dict[str, str]:
    """The authorizer's environment contract (issues 3 and 6), filled from typed config.

    The issue-6 variables are left out when they hold the authorizer's default, so a stack without
    presets keeps exactly the issue-3 environment.
    """
    environment = {
        "ISSUER": rules.issuer,
        "AUDIENCE": ",".join(rules.audience),
        "ALGORITHMS": ",".join(rules.algorithms),
        "LEEWAY_SECONDS": str(rules.leeway_seconds),
        "TOKEN_TYPES": ",".join(rules.token_types),
        "REQUIRED_CLAIMS": ",".join(rules.required_claims),
        "SCOPE_RULES": json.dumps(dict(rules.scope_rules), separators=(",", ":")),
        "CONTEXT_CLAIMS": ",".join(rules.context_claims),
        "JWKS_CACHE_SECONDS": str(key_set.cache_seconds),
        "JWKS_MAX_STALE_SECONDS": str(key_set.max_stale_seconds),
        "JWKS_TIMEOUT_SECONDS": _seconds(key_set.timeout_seconds),
        "JWKS_REFETCH_COOLDOWN_SECONDS": str(key_set.refetch_cooldown_seconds),
        "RESOURCE_ARN": resource_arn,
    }
    if rules.principal_id_format != "sub":
        environment["PRINCIPAL_ID_FORMAT"] = rules.principal_id_format
    if rules.jwks_uri is not None:
        environment["JWKS_URI"] = rules.jwks_uri
    if rules.audience_claim != "aud":
        environment["AUDIENCE_CLAIM"] = rules.audience_claim
    if rules.scope_claims != DEFAULT_SCOPE_CLAIMS:
        environment["SCOPE_CLAIMS"] = ",".join(rules.scope_claims)
    if rules.required_claim_values:
        environment["REQUIRED_CLAIM_VALUES"] = json.dumps(
            dict(rules.required_claim_values), separators=(",", ":")
        )
    if rules.additional_issuers:
        environment["ADDITIONAL_ISSUERS"] = additional_issuers_json(rules.additional_issuers)
    return environment


class JwtAuthorizer(Construct):
    """Lambda REQUEST authorizer validating OAuth2/OIDC JWT access tokens for one RestApi stage.

    Attributes: `function` (the authorizer lambda_.Function), `authorizer` (the apigw.RequestAuthorizer to
    pass to `add_method`), `log_group` (the function's log group), `keys` (where its keys come from, issue 13:
    `key_delivery`) and `key_refresher` (the SSM key refresher, with `keySource: ssm`). Issue 12: `sender`
    (DPoP and certificate binding, `sender_constraint`; with either on, the result cache TTL is 0).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: apigw.IRestApi,
        stage_name: str,
        token_rules: TokenRules,
        key_set: KeySetTiming | None = None,
        results_cache_ttl: Duration | None = None,
        memory_size_mb: int = 512,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        tracing: bool = False,
        source_dir: Path = AUTHORIZER_SOURCE,
        key_delivery: KeyDelivery | None = None,
        sender_constraint: SenderConstraint | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        key_set = key_set or KeySetTiming()
        # Issue 13: snapshot in the asset, keys from SSM, VPC placement (stacks/key_sources.py).
        self.keys = AuthorizerKeys(self, key_delivery or KeyDelivery(), token_rules)
        # Issue 12: DPoP and certificate-bound tokens (stacks/sender_constraint.py).
        self.sender = AuthorizerSenderConstraint(self, sender_constraint or SenderConstraint())
        resource_arn = Stack.of(self).format_arn(
            service="execute-api",
            resource=rest_api.rest_api_id,
            resource_name=stage_name,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        lambda_function = PythonFunction(
            self,
            "Handler",
            source_dir=source_dir,
            description="JWT access-token authorizer",
            memory_size_mb=memory_size_mb,
            timeout=FUNCTION_TIMEOUT,
            log_retention=log_retention,
            tracing=tracing,
            environment={
                **authorizer_environment(token_rules, key_set, resource_arn),
                **self.keys.environment,
                **self.sender.environment,
            },
            extra_files=self.keys.asset_files,
            function_options=self.keys.function_options(),
        )
        self.key_refresher: KeyRefresher | None = self.keys.bind(
            lambda_function,
            key_set_timeout_seconds=key_set.timeout_seconds,
            memory_size_mb=memory_size_mb,
            log_retention=log_retention,
            tracing=tracing,
        )
        self.function = lambda_function.function
        self.log_group = lambda_function.log_group
        self.sender.bind(self.function)
        self.authorizer = apigw.RequestAuthorizer(
            self,
            "RequestAuthorizer",
            handler=self.function,
            identity_sources=self.sender.identity_sources(IDENTITY_SOURCES),
            results_cache_ttl=self.sender.cache_ttl(results_cache_ttl, Duration.minutes(5)),
        )
        self.node.add_validation(_EveryMethodHasARule(rest_api, self.authorizer, token_rules))


@jsii.implements(IValidation)
class _EveryMethodHasARule:
    """A method that carries the authorizer but has no scope rule would answer 403 to every caller."""

    def __init__(
        self, rest_api: apigw.IRestApi, authorizer: apigw.RequestAuthorizer, rules: TokenRules
    ) -> None:
        self._api = rest_api
        self._authorizer_id = authorizer.authorizer_id
        self._routes = {(route.api_method, route.api_path) for route in rules.protected_routes}

    def validate(self) -> list[str]:
        methods = self._api.methods if isinstance(self._api, apigw.RestApi) else []
        problems = []
        for method in methods:
            cfn = method.node.default_child
            if not isinstance(cfn, apigw.CfnMethod) or cfn.authorizer_id != self._authorizer_id:
                continue
            if (method.http_method, method.resource.path) not in self._routes:
                problems.append(
                    f"{method.http_method} {method.resource.path} carries the JwtAuthorizer, but its scope "
                    "rules name no such route (every call would be denied): add it to the scope rules"
                )
        return problems
