"""Gate modes (config key `gate`): API Gateway's native JWT authorizer where it is faithful, else the Lambda.

Two parts, both here so the rules that decide "native can enforce this" and the template that relies on them
cannot drift apart:

* The plan (`plan_gate`, pure Python): per protected route, which engine authorizes it and why.
  `gate=native` refuses, with one ConfigError line naming the key, every setting the native authorizer cannot
  enforce the way the Lambda does; `gate=auto` sends such routes (for a global setting: every route) to the
  Lambda.
* The construct (`NativeJwtAuthorizer`): one `AWS::ApiGateway::Authorizer` of `Type: JWT` and the `JWT`
  method settings. aws-cdk-lib 2.275.0 has no typed property for `JwtConfiguration`, and neither cfn-lint
  1.58.0 nor the CDK's bundled CloudFormation schema knows it: the escape hatches and the two exceptions for
  that one property live in this module only.

The shapes come from the AWS documentation (checked against it, not against a deployment):

* CloudFormation: AWS::ApiGateway::Authorizer with JwtConfiguration {DefaultAlgorithms, Issuers}
  (aws-properties-apigateway-authorizer-jwtconfiguration), JwtIssuer {Issuer, Audiences, AdditionalClaims}
  (aws-properties-apigateway-authorizer-jwtissuer), JwtAdditionalClaim {ClaimName, Format, ExpectedValues,
  Required} (aws-properties-apigateway-authorizer-jwtadditionalclaim).
* API reference: JwtConfigurationInput (algorithms RS256/384/512, ES256/384/512 only; issuer URLs unique),
  JwtIssuerInput (absolute https issuer without user information, query or fragment, equal to `iss` and to
  the discovery document's `issuer`; audiences non-empty; claim names unique per issuer), JwtAdditionalClaim
  (Format SINGLE_STRING only; exact, case-sensitive match; not iss, aud, exp, nbf, iat, scope or scp).
* Developer guide: rest-api-jwt-authorizer (discovery and keys reachable from the public internet, even for
  private APIs), rest-api-jwt-authorizer-create, rest-api-jwt-authorizer-methods (AuthorizationType JWT, the
  token passes with ANY one of the method's scopes, read from `scope` or `scp`; a valid token without them
  gets 403; Lambda and JWT authorizers mix per method), rest-api-jwt-authorizer-claims (the integration sees
  `$context.authorizer.claims.<name>`, JSON-encoded), rest-api-jwt-authorizer-keys (keys cached up to 1 hour,
  refetched for an unknown key).

docs/native-jwt.md is the user-facing decision guide built on the same facts.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_apigateway as apigw
from constructs import Construct

from stacks.config import (
    DEFAULT_SCOPE_CLAIMS,
    ConfigError,
    KeySetTiming,
    StackConfig,
    TokenRules,
)
from stacks.rules import Route

NATIVE: Final = "native"
LAMBDA: Final = "lambda"
PUBLIC: Final = "public"
# JwtConfigurationInput.defaultAlgorithms: the only values the native authorizer accepts.
NATIVE_ALGORITHMS: Final = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
# rest-api-jwt-authorizer-methods: scopes come from the token's `scope` or `scp` claim.
NATIVE_SCOPE_CLAIMS: Final = frozenset(DEFAULT_SCOPE_CLAIMS)
# JwtAdditionalClaim.claimName cannot be one of these (the authorizer checks them itself, or they are scopes).
NATIVE_RESERVED_CLAIMS: Final = ("iss", "aud", "exp", "nbf", "iat", "scope", "scp")
# What the native authorizer always requires of a token (issuer, audience, expiry).
NATIVE_REQUIRED_CLAIMS: Final = ("iss", "aud", "exp")
# Claims a required-claim rule may name: JwtAdditionalClaim's only format is SINGLE_STRING, so only claims
# whose value is a string by specification keep the Lambda's "present" meaning (RFC 7519 sub and jti,
# RFC 9068 client_id, OIDC Core azp), plus those requiredClaimValues pins to a string anyway.
NATIVE_STRING_CLAIMS: Final = ("sub", "jti", "client_id", "azp")
# The header the token is read from: API Gateway's mapping-expression form, as for the other REST authorizers.
IDENTITY_SOURCE: Final = "method.request.header.Authorization"
AUTHORIZER_NAME: Final = "jwt-gate-native"
# Values the native authorizer cannot change: an explicit other value is a setting it cannot honour.
DEFAULT_LEEWAY_SECONDS: Final = 60
# Host names that never resolve on the public internet: RFC 2606 / RFC 6761 reserved names, RFC 6762 .local,
# RFC 8375 home.arpa, RFC 9476 .alt and ICANN's private-use .internal; plus the RFC 2606 example domains.
NON_PUBLIC_SUFFIXES: Final = (
    "example",
    "test",
    "invalid",
    "localhost",
    "local",
    "internal",
    "alt",
    "home.arpa",
    "example.com",
    "example.net",
    "example.org",
)
# The one cfn-lint 1.58.0 finding on the documented shape, only because its resource schema predates it:
# E3002 "Additional properties are not allowed ('JwtConfiguration' was unexpected)" on the authorizer.
# Type JWT and the methods' AuthorizationType JWT are not flagged (tests/infra/test_native_gate.py checks
# that exactly this fires, and only there).
AUTHORIZER_LINT_EXCEPTIONS: Final = ("E3002",)
# The CDK's built-in schema check (feature flag @aws-cdk/core:validateAgainstDefaultRules) reports the same
# gap as F3002 "Additional properties are not allowed ('JwtConfiguration' was unexpected)".
SCHEMA_CHECK_ACKNOWLEDGMENT: Final = "CloudFormation-Validate::F3002"
SCHEMA_CHECK_REASON: Final = (
    "JwtConfiguration is the documented property of a Type JWT authorizer (CloudFormation reference: "
    "aws-properties-apigateway-authorizer-jwtconfiguration, -jwtissuer, -jwtadditionalclaim); the schema "
    "bundled with aws-cdk-lib 2.275.0 predates it."
)
_GATE_HINT: Final = "use -c gate=auto (the Lambda only where needed) or -c gate=lambda"


class NativeGateError(ConfigError):
    """`gate=native` with a setting the native JWT authorizer cannot enforce: one line naming the key."""

    def __init__(self, key: str, what: str) -> None:
        super().__init__(key, f"gate=native cannot enforce {what}", "")
        self.args = (f'invalid config "{key}": gate=native cannot enforce {what}; {_GATE_HINT}',)


@dataclass(frozen=True)
class Finding:
    """One setting the native authorizer cannot enforce: its key, the refusal and the short plan reason."""

    key: str
    refusal: str
    reason: str


@dataclass(frozen=True)
class RoutePlan:
    """Which engine authorizes one route and why (native routes carry the method's one scope, if any)."""

    route: Route
    engine: str
    reason: str
    scopes: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        return f"gate: {self.route.key} -> {self.engine} ({self.reason})"


@dataclass(frozen=True)
class GatePlan:
    """The per-route engines of one configuration (`plan_gate`)."""

    mode: str
    routes: tuple[RoutePlan, ...]
    findings: tuple[Finding, ...] = ()

    @property
    def uses_lambda(self) -> bool:
        return any(plan.engine == LAMBDA for plan in self.routes)

    @property
    def uses_native(self) -> bool:
        return any(plan.engine == NATIVE for plan in self.routes)

    def engine_of(self, route: Route) -> RoutePlan:
        (found,) = (plan for plan in self.routes if plan.route == route)
        return found

    def lines(self) -> list[str]:
        """One line per route, as synth prints them."""
        return [plan.line for plan in self.routes]

    def markdown(self) -> str:
        """cdk.out/gate-plan.md: the same decisions as a table."""
        counts = {engine: sum(p.engine == engine for p in self.routes) for engine in (NATIVE, LAMBDA, PUBLIC)}
        out = [
            "# Gate plan",
            "",
            f"`gate={self.mode}`: {counts[NATIVE]} route(s) on the native JWT authorizer, "
            f"{counts[LAMBDA]} on the Lambda authorizer, {counts[PUBLIC]} public. "
            "Why a setting keeps the Lambda: [docs/native-jwt.md](../docs/native-jwt.md).",
            "",
            "| route | engine | why |",
            "| --- | --- | --- |",
        ]
        out += [f"| `{p.route.key}` | {p.engine} | {_cell(p.reason)} |" for p in self.routes]
        if self.findings:
            out += ["", "Settings the native authorizer cannot enforce:", ""]
            out += [f"- `{f.key}`: {_cell(f.refusal)}" for f in self.findings]
        return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def plan_gate(config: StackConfig) -> GatePlan:
    """The engine of every route under `config.gate`; NativeGateError when `gate=native` can't be honoured."""
    rules = config.token_rules
    public = tuple(RoutePlan(route, PUBLIC, "publicRoutes: no authorizer") for route in config.public_routes)
    if config.gate == LAMBDA:
        protected = tuple(RoutePlan(route, LAMBDA, "gate=lambda") for route in rules.protected_routes)
        return GatePlan(LAMBDA, protected + public)
    findings = tuple(global_findings(config))
    plans: list[RoutePlan] = []
    for route in rules.protected_routes:
        scopes = tuple(rules.scope_rules[route.key].split())
        route_findings = findings or tuple(route_findings_of(config, route, scopes))
        if config.gate == NATIVE and route_findings:
            first = route_findings[0]
            raise NativeGateError(first.key, first.refusal)
        if route_findings:
            plans.append(RoutePlan(route, LAMBDA, route_findings[0].reason))
        else:
            reason = f"scope {scopes[0]}" if scopes else "any valid token"
            plans.append(RoutePlan(route, NATIVE, reason, scopes))
    return GatePlan(config.gate, tuple(plans) + public, findings)


def global_findings(config: StackConfig) -> list[Finding]:
    """Settings that apply to every route and that the native authorizer cannot enforce, in key order."""
    rules = config.token_rules
    found: list[Finding] = []
    unsupported = [alg for alg in rules.algorithms if alg not in NATIVE_ALGORITHMS]
    if unsupported:
        names = ", ".join(unsupported)
        found.append(
            Finding(
                "algorithms",
                f"{names} (the native authorizer verifies {', '.join(NATIVE_ALGORITHMS)} only)",
                f"algorithms: {names} not native (RS/ES only)",
            )
        )
    if rules.token_types:
        found.append(
            Finding(
                "tokenTypes",
                "a typ check (the native authorizer does not read the JOSE typ header)",
                "tokenTypes: native does not check typ",
            )
        )
    if rules.audience_claim != "aud":
        found.append(
            Finding(
                "audienceClaim",
                f"the audience in {rules.audience_claim} (the native authorizer checks aud)",
                "audienceClaim: native checks aud",
            )
        )
    if rules.jwks_uri is not None:
        found.append(_fixed_jwks_uri("jwksUri", rules.issuer))
    problem = non_public_problem(rules.issuer)
    if problem is not None:
        found.append(_non_public("issuer", rules.issuer, problem))
    for extra in rules.additional_issuers:
        if extra.jwks_uri is not None:
            found.append(_fixed_jwks_uri("additionalIssuers", extra.issuer))
        problem = non_public_problem(extra.issuer)
        if problem is not None:
            found.append(_non_public("additionalIssuers", extra.issuer, problem))
    found += _required_claim_findings(rules)
    found += _required_value_findings(rules)
    if rules.context_claims:
        found.append(
            Finding(
                "contextClaims",
                "contextClaims (the native authorizer passes every claim as "
                "$context.authorizer.claims.<name>, JSON-encoded, not as the Lambda's context keys)",
                "contextClaims: native passes claims differently",
            )
        )
    if rules.principal_id_format != "sub":
        found.append(
            Finding(
                "principalIdFormat",
                f"principalIdFormat={rules.principal_id_format} (the native authorizer has no principalId "
                "setting)",
                "principalIdFormat: native has no principalId setting",
            )
        )
    if rules.leeway_seconds != DEFAULT_LEEWAY_SECONDS:
        found.append(
            Finding(
                "leewaySeconds",
                f"leewaySeconds={rules.leeway_seconds} (the native authorizer's clock skew is not "
                "configurable)",
                "leewaySeconds: native clock skew is not configurable",
            )
        )
    found += _key_set_findings(config.key_set)
    found += _key_delivery_findings(config)
    found += _sender_constraint_findings(config)
    return found


def _key_delivery_findings(config: StackConfig) -> list[Finding]:
    """Issue 13: snapshots, SSM and a VPC are how the Lambda gets keys; native fetches its own."""
    delivery = config.key_delivery
    found: list[Finding] = []
    if delivery.key_source != "idp":
        found.append(
            Finding(
                "keySource",
                f"keySource={delivery.key_source} (the native authorizer fetches discovery and keys from the "
                "public internet itself)",
                "keySource: native fetches keys itself",
            )
        )
    if delivery.snapshot is not None:
        found.append(
            Finding(
                "jwksSnapshot",
                "jwksSnapshot (the native authorizer cannot fall back to deploy-time keys)",
                "jwksSnapshot: native has no key snapshot",
            )
        )
    if delivery.vpc is not None:
        found.append(
            Finding(
                "vpc",
                "vpc (there is no function to place in it; the native authorizer needs a public issuer)",
                "vpc: native has no function to place",
            )
        )
    return found


def _sender_constraint_findings(config: StackConfig) -> list[Finding]:
    """Issue 12: a DPoP proof and a certificate binding are checked per request by the Lambda only."""
    sender = config.sender_constraint
    found: list[Finding] = []
    if sender.dpop_on:
        found.append(
            Finding(
                "dpop",
                f"dpop={sender.dpop} (the native authorizer cannot check a DPoP proof or its binding to the "
                "token)",
                "dpop: native cannot check proofs",
            )
        )
    if sender.bound_tokens_on:
        found.append(
            Finding(
                "mtlsBoundTokens",
                f"mtlsBoundTokens={sender.mtls_bound_tokens} (the native authorizer cannot compare the "
                "token's cnf x5t#S256 with the client certificate)",
                "mtlsBoundTokens: native cannot check the certificate binding",
            )
        )
    return found


def route_findings_of(config: StackConfig, route: Route, scopes: tuple[str, ...]) -> list[Finding]:
    """Why one protected route cannot be native (empty when it can), given no global finding."""
    rules = config.token_rules
    found: list[Finding] = []
    if len(scopes) > 1:
        found.append(
            Finding(
                "scopeRules",
                f'"{route.key}", which needs all of {len(scopes)} scopes ({" ".join(scopes)}) (a native '
                "method passes a token that carries any one of its scopes)",
                f"needs {len(scopes)} scopes: native is any-of",
            )
        )
    if scopes and frozenset(rules.scope_claims) != NATIVE_SCOPE_CLAIMS:
        found.append(
            Finding(
                "scopeClaims",
                f'the scopes of "{route.key}" from {",".join(rules.scope_claims)} (the native authorizer '
                "reads scopes from scope and scp)",
                "scopeClaims: native reads scope and scp",
            )
        )
    backend = config.backends.get(route.key)
    if backend is not None and backend.kind == "http":
        found.append(
            Finding(
                "backends",
                f'the HTTPS backend of "{route.key}" (its X-Jwt-* headers come from the Lambda\'s context; '
                "the native authorizer passes claims as JSON text under $context.authorizer.claims)",
                "HTTPS backend needs the Lambda's X-Jwt-* context",
            )
        )
    return found


def _fixed_jwks_uri(key: str, issuer: str) -> Finding:
    return Finding(
        key,
        f"a fixed jwksUri for {issuer!r} (the native authorizer always uses the jwks_uri of the issuer's "
        "discovery document)",
        f"{key}: native always discovers the keys",
    )


def _non_public(key: str, issuer: str, problem: str) -> Finding:
    return Finding(
        key,
        f"the issuer {issuer!r}: {problem} (the native authorizer reads discovery and keys over https from "
        "the public internet)",
        f"{key}: {problem}",
    )


def non_public_problem(issuer: str) -> str | None:
    """Why API Gateway cannot reach `issuer`'s discovery document on the public internet (None: it can)."""
    parts = urlsplit(issuer)
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme != "https":
        return "not https"
    if parts.query:
        return "it has a query string"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return None if address.is_global else "a loopback, private or reserved address"
    if host == "localhost" or host.endswith(".localhost"):
        return "a loopback host"
    if "." not in host:
        return "a host name without a public domain"
    for suffix in NON_PUBLIC_SUFFIXES:
        if host == suffix or host.endswith(f".{suffix}"):
            return f"the reserved domain {suffix}"
    return None


def _required_claim_findings(rules: TokenRules) -> list[Finding]:
    found: list[Finding] = []
    for name in NATIVE_REQUIRED_CLAIMS:
        if name not in rules.required_claims:
            found.append(
                Finding(
                    "requiredClaims",
                    f"requiredClaims without {name} (the native authorizer always requires iss, aud and exp)",
                    f"requiredClaims: native always requires {name}",
                )
            )
    for name in rules.required_claims:
        if name in NATIVE_REQUIRED_CLAIMS:
            continue
        if name in NATIVE_RESERVED_CLAIMS:
            found.append(
                Finding(
                    "requiredClaims",
                    f"the required claim {name!r} (native additional claims cannot be "
                    f"{', '.join(NATIVE_RESERVED_CLAIMS)})",
                    f"requiredClaims: native cannot require {name}",
                )
            )
        elif name not in NATIVE_STRING_CLAIMS and name not in rules.required_claim_values:
            found.append(
                Finding(
                    "requiredClaims",
                    f"the required claim {name!r} (native additional claims are single strings; only "
                    f"{', '.join(NATIVE_STRING_CLAIMS)} are strings by specification)",
                    f"requiredClaims: {name} may not be a single string",
                )
            )
    return found


def _required_value_findings(rules: TokenRules) -> list[Finding]:
    found: list[Finding] = []
    for name, value in rules.required_claim_values.items():
        if name in NATIVE_RESERVED_CLAIMS:
            found.append(
                Finding(
                    "requiredClaimValues",
                    f"a value for {name!r} (native additional claims cannot be "
                    f"{', '.join(NATIVE_RESERVED_CLAIMS)})",
                    f"requiredClaimValues: native cannot check {name}",
                )
            )
        elif not isinstance(value, str):
            found.append(
                Finding(
                    "requiredClaimValues",
                    f"{name!r} = {json.dumps(value)} (native additional claims are exact single-string "
                    "matches)",
                    f"requiredClaimValues: {name} is not a string",
                )
            )
        elif not value:
            found.append(
                Finding(
                    "requiredClaimValues",
                    f"an empty value for {name!r} (native expected values cannot be empty)",
                    f"requiredClaimValues: {name} is empty",
                )
            )
    return found


def _key_set_findings(key_set: KeySetTiming) -> list[Finding]:
    defaults = KeySetTiming()
    settings = (
        (
            "jwksCacheSeconds",
            key_set.cache_seconds,
            defaults.cache_seconds,
            "caches keys itself, up to 1 hour",
        ),
        (
            "jwksMaxStaleSeconds",
            key_set.max_stale_seconds,
            defaults.max_stale_seconds,
            "has no stale-key setting",
        ),
        (
            "jwksTimeoutSeconds",
            key_set.timeout_seconds,
            defaults.timeout_seconds,
            "has no fetch timeout setting",
        ),
        (
            "jwksRefetchCooldownSeconds",
            key_set.refetch_cooldown_seconds,
            defaults.refetch_cooldown_seconds,
            "refetches unknown keys on its own terms",
        ),
    )
    return [
        Finding(key, f"{key}={value:g} (the native authorizer {why})", f"{key}: native {why}")
        for key, value, default, why in settings
        if value != default
    ]


def additional_claims(rules: TokenRules) -> list[dict[str, Any]]:
    """JwtAdditionalClaim entries: required claims beyond iss/aud/exp, requiredClaimValues (exact strings)."""
    names = [n for n in rules.required_claims if n not in NATIVE_REQUIRED_CLAIMS]
    names += [n for n in rules.required_claim_values if n not in names]
    claims: list[dict[str, Any]] = []
    for name in names:
        claim: dict[str, Any] = {"ClaimName": name, "Format": "SINGLE_STRING"}
        if name in rules.required_claim_values:
            claim["ExpectedValues"] = [rules.required_claim_values[name]]
        claim["Required"] = True
        claims.append(claim)
    return claims


def jwt_configuration(rules: TokenRules) -> dict[str, Any]:
    """The `JwtConfiguration` property: every trusted issuer with its audiences and the same claim rules."""
    claims = additional_claims(rules)
    issuers = [(rules.issuer, rules.audience)] + [(e.issuer, e.audience) for e in rules.additional_issuers]
    entries: list[dict[str, Any]] = []
    for issuer, audiences in issuers:
        entry: dict[str, Any] = {"Issuer": issuer, "Audiences": list(audiences)}
        if claims:
            entry["AdditionalClaims"] = [dict(claim) for claim in claims]
        entries.append(entry)
    return {"DefaultAlgorithms": list(rules.algorithms), "Issuers": entries}


def _ignore_lint(resource: apigw.CfnAuthorizer, rules: Sequence[str]) -> None:
    """Silence exactly `rules` on this one resource (cfn-lint's resource-level `ignore_checks`)."""
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": list(rules)}})


class NativeJwtAuthorizer(Construct):
    """API Gateway's native JWT authorizer for one RestApi, and the method settings that attach it.

    `protect(method, scopes)` turns a method created with `AuthorizationType.NONE` into a JWT-authorized one.
    Attribute: `authorizer_id` (the Ref of the AWS::ApiGateway::Authorizer).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, rest_api: apigw.RestApi, token_rules: TokenRules
    ):
        super().__init__(scope, construct_id)
        configuration = jwt_configuration(token_rules)
        self.resource = apigw.CfnAuthorizer(
            self,
            "Resource",
            rest_api_id=rest_api.rest_api_id,
            name=AUTHORIZER_NAME,
            type="JWT",
            identity_source=IDENTITY_SOURCE,
        )
        # No typed property in aws-cdk-lib 2.275.0: AWS::ApiGateway::Authorizer JwtConfiguration, see
        # aws-properties-apigateway-authorizer-jwtconfiguration / -jwtissuer / -jwtadditionalclaim.
        self.resource.add_property_override("JwtConfiguration", configuration)
        # cfn-lint 1.58.0 and the CDK's own CloudFormation schema check predate Type JWT and JwtConfiguration
        # (documented on the pages above): silence exactly their findings on this one resource.
        _ignore_lint(self.resource, AUTHORIZER_LINT_EXCEPTIONS)
        Validations.of(self.resource).acknowledge(
            Acknowledgment(id=SCHEMA_CHECK_ACKNOWLEDGMENT, reason=SCHEMA_CHECK_REASON)
        )
        # A changed JwtConfiguration must reach the stage: the deployment's logical id hashes it (CDK only
        # hashes the typed props it knows of).
        deployment = rest_api.latest_deployment
        assert deployment is not None  # RestApi deploys by default (deploy=True), as the stack does
        self._deployment: apigw.Deployment = deployment
        deployment.add_to_logical_id(
            {"nativeJwtAuthorizer": {"identitySource": IDENTITY_SOURCE, "jwtConfiguration": configuration}}
        )
        self.authorizer_id: str = self.resource.ref

    def protect(self, method: apigw.Method, scopes: Sequence[str]) -> None:
        """AuthorizationType JWT, this authorizer and the method's scopes (rest-api-jwt-authorizer-methods).

        Set on the CfnMethod's own properties (not as raw overrides) so cdk-nag sees the real authorization.
        """
        cfn = method.node.default_child
        assert isinstance(cfn, apigw.CfnMethod)
        cfn.authorization_type = "JWT"
        cfn.authorizer_id = self.authorizer_id
        cfn.authorization_scopes = list(scopes) or None
        self._deployment.add_to_logical_id(
            {
                "nativeJwtMethod": {
                    "method": method.http_method,
                    "path": method.resource.path,
                    "scopes": list(scopes),
                }
            }
        )
