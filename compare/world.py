"""One API, one configuration, translated two ways, each side behind the local API Gateway emulator.

The Lambda side is the stack's shape: a REQUEST authorizer (identity sources Authorization header, verb and
route, result TTL 300 s) whose function is the gate itself, built from the environment the stack gives it and
run in-process (handler.py's contract: a Rejection is the error "Unauthorized", any other exception a function
error, a cold start prefetches the keys). The native side is the same routes with `AuthorizationType: JWT`,
the JwtConfiguration the stack would write for them, and each method's scopes. Integrations are MOCKs naming
the route; gateway responses are the stack's. Each case gets fresh sides, each with its own identity provider.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from compare.idp import LoopbackIdp
from compare.jose import KeyRing
from gate.authorizer import Authorizer
from gate.errors import Rejection
from local.gateway import LocalGateway, Request
from local.lambda_runtime import InvocationResult
from local.native_jwt import NativeJwtAuthorizer
from local.responses import ERROR_TYPE_HEADER
from local.template import load_api_model

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
NOW: Final = 1_700_000_000.0  # 2023-11-14T22:13:20Z, the clock every case starts from
API_AUDIENCE: Final = "api://orders"
CLI_CLIENT: Final = "orders-cli"  # a client whose access tokens carry no aud, matched by client_id
AUDIENCES: Final = (API_AUDIENCE, CLI_CLIENT)
SCOPE_RULES: Final = {
    "GET /orders": "orders:read",
    "POST /orders": "orders:write",
    "DELETE /orders/*": "orders:admin orders:delete",
    "GET /items/*": "items:read",
    "GET /items/admin/*": "items:admin",
    "GET /profile": "",
}
PUBLIC_ROUTES: Final = ("GET /health",)
GATE_ALGORITHMS: Final = ("RS256", "ES256", "PS256", "EdDSA")
NATIVE_ALGORITHMS: Final = ("RS256", "ES256")
TOKEN_TYPES: Final = ("at+jwt", "application/at+jwt")
REALM: Final = "jwt-gate"
REQUEST_IDENTITY_SOURCE: Final = "method.request.header.Authorization,context.httpMethod,context.resourcePath"
RESOURCE_ARN: Final = "arn:aws:execute-api:us-east-1:123456789012:local/prod"
# The stack's key-set defaults (cdk.json), written out so the report can name them.
GATE_TIMINGS: Final = {
    "LEEWAY_SECONDS": "60",
    "JWKS_CACHE_SECONDS": "600",
    "JWKS_MAX_STALE_SECONDS": "86400",
    "JWKS_TIMEOUT_SECONDS": "2",
    "JWKS_REFETCH_COOLDOWN_SECONDS": "10",
}
ERROR_TYPES: Final = {header: kind for kind, header in ERROR_TYPE_HEADER.items()}


class Clock:
    """The one clock of a side: the gate, the native model and the gateway's result cache all read it."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def gate_environment(issuer: str) -> dict[str, str]:
    """The authorizer function's environment as stacks/jwt_authorizer.py writes it for this configuration."""
    return {
        "ISSUER": issuer,
        "AUDIENCE": ",".join(AUDIENCES),
        "ALGORITHMS": ",".join(GATE_ALGORITHMS),
        "TOKEN_TYPES": ",".join(TOKEN_TYPES),
        "REQUIRED_CLAIMS": "iss,aud,exp,sub",
        "SCOPE_RULES": json.dumps(SCOPE_RULES, separators=(",", ":")),
        "RESOURCE_ARN": RESOURCE_ARN,
        **GATE_TIMINGS,
    }


def jwt_configuration(issuer: str) -> dict[str, Any]:
    """The JwtConfiguration stacks/native_authorizer.py writes (`sub` required as an additional claim)."""
    return {
        "DefaultAlgorithms": list(NATIVE_ALGORITHMS),
        "Issuers": [
            {
                "Issuer": issuer,
                "Audiences": list(AUDIENCES),
                "AdditionalClaims": [{"ClaimName": "sub", "Format": "SINGLE_STRING", "Required": True}],
            }
        ],
    }


def resource_path(rule_path: str) -> str:
    return rule_path[:-1] + "{proxy+}" if rule_path.endswith("/*") else rule_path


def _gateway_responses() -> dict[str, Any]:
    """The stack's UNAUTHORIZED, ACCESS_DENIED, MISSING_AUTHENTICATION_TOKEN and AUTHORIZER_* responses."""

    def response(kind: str, status: int, error: str, message: str, headers: dict[str, str]) -> dict[str, Any]:
        return {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": {
                "ResponseType": kind,
                "RestApiId": {"Ref": "Api"},
                "StatusCode": str(status),
                "ResponseParameters": {f"gatewayresponse.header.{k}": f"'{v}'" for k, v in headers.items()},
                "ResponseTemplates": {"application/json": json.dumps({"error": error, "message": message})},
            },
        }

    unavailable = (
        "temporarily_unavailable",
        "Authorization is temporarily unavailable.",
        {"Retry-After": "5"},
    )
    return {
        "Unauthorized": response(
            "UNAUTHORIZED",
            401,
            "invalid_token",
            "The access token is missing, malformed, expired or not trusted.",
            {"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'},
        ),
        "AccessDenied": response(
            "ACCESS_DENIED",
            403,
            "insufficient_scope",
            "The access token does not grant this route.",
            {"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope"'},
        ),
        "MissingAuthenticationToken": response(
            "MISSING_AUTHENTICATION_TOKEN", 404, "not_found", "No route matches this method and path.", {}
        ),
        "AuthorizerFailure": response("AUTHORIZER_FAILURE", 503, *unavailable),
        "AuthorizerConfigurationError": response("AUTHORIZER_CONFIGURATION_ERROR", 503, *unavailable),
    }


def template(kind: str, issuer: str) -> dict[str, Any]:
    """The API with every route, behind the Lambda authorizer (`lambda`) or the native one (`native`)."""
    resources: dict[str, Any] = {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "compare"}},
        "Stage": {
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {"RestApiId": {"Ref": "Api"}, "StageName": "prod"},
        },
        **_gateway_responses(),
    }
    refs: dict[str, Any] = {"/": {"Fn::GetAtt": ["Api", "RootResourceId"]}}
    routes = [(key, scopes, True) for key, scopes in SCOPE_RULES.items()]
    routes += [(key, "", False) for key in PUBLIC_ROUTES]
    for index, (key, scopes, protected) in enumerate(routes):
        verb, rule_path = key.split(" ", 1)
        path = resource_path(rule_path)
        parent = "/"
        for segment in [s for s in path.split("/") if s]:
            current = parent.rstrip("/") + "/" + segment
            if current not in refs:
                logical_id = f"Resource{len(refs)}"
                resources[logical_id] = {
                    "Type": "AWS::ApiGateway::Resource",
                    "Properties": {
                        "ParentId": refs[parent],
                        "PathPart": segment,
                        "RestApiId": {"Ref": "Api"},
                    },
                }
                refs[current] = {"Ref": logical_id}
            parent = current
        method: dict[str, Any] = {
            "HttpMethod": "ANY" if verb == "*" else verb,
            "ResourceId": refs[path],
            "RestApiId": {"Ref": "Api"},
            "AuthorizationType": "NONE",
            "Integration": {
                "Type": "MOCK",
                "RequestTemplates": {"application/json": '{"statusCode": 200}'},
                "IntegrationResponses": [
                    {
                        "StatusCode": "200",
                        "ResponseTemplates": {"application/json": json.dumps({"route": key})},
                    }
                ],
            },
        }
        if protected:
            method["AuthorizerId"] = {"Ref": "Authorizer"}
            method["AuthorizationType"] = "CUSTOM" if kind == "lambda" else "JWT"
            if kind == "native" and scopes:
                method["AuthorizationScopes"] = scopes.split()
        resources[f"Method{index}"] = {"Type": "AWS::ApiGateway::Method", "Properties": method}
    if kind == "lambda":
        resources["Authorizer"] = {
            "Type": "AWS::ApiGateway::Authorizer",
            "Properties": {
                "Type": "REQUEST",
                "RestApiId": {"Ref": "Api"},
                "IdentitySource": REQUEST_IDENTITY_SOURCE,
                "AuthorizerResultTtlInSeconds": 300,
                "AuthorizerUri": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/",
                            {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]},
                            "/invocations",
                        ],
                    ]
                },
            },
        }
        resources["AuthorizerFunction"] = {
            "Type": "AWS::Lambda::Function",
            "Metadata": {"JwtGate:SourcePath": "lambda_src/authorizer"},
            "Properties": {
                "Handler": "handler.handler",
                "Environment": {"Variables": gate_environment(issuer)},
            },
        }
    else:
        resources["Authorizer"] = {
            "Type": "AWS::ApiGateway::Authorizer",
            "Properties": {
                "Type": "JWT",
                "Name": "jwt-gate-native",
                "RestApiId": {"Ref": "Api"},
                "IdentitySource": "method.request.header.Authorization",
                "JwtConfiguration": jwt_configuration(issuer),
            },
        }
    return {"Resources": resources}


class InProcessGate:
    """The authorizer function as handler.py runs it, in this process (so it shares the side's clock)."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer
        authorizer.prefetch_keys()  # the init phase of a cold start, as handler.py does at import

    def invoke(self, event: Any) -> InvocationResult:
        try:
            return InvocationResult(payload=self.authorizer.handle(event))
        except Rejection:
            return InvocationResult(error_type="Exception", error_message="Unauthorized")
        except Exception as failure:  # noqa: BLE001 - Lambda reports any other exception as a function error
            return InvocationResult(error_type=type(failure).__name__, error_message=str(failure))

    def close(self) -> None:
        """Nothing to stop: no container."""


@dataclass(frozen=True)
class Observation:
    """What one request came to: the status, API Gateway's response type ("allowed" for a 2xx) and the reason
    (the gate's decision-log reason, the native model's rule outcome, or the gateway's own)."""

    status: int
    response_type: str
    reason: str
    rule: str | None = None  # the native model's deciding rule (local/native_jwt.RULES), native side only
    route: str = ""  # the route API Gateway selected, "GET /items/{proxy+}" (empty: none)
    authorizer: str = ""  # "none" (public route), "invoked", "cached" (the Lambda) or "native"

    def short(self) -> str:
        return f"{self.status} {self.reason}"


class Side:
    """One translation of the API (`lambda` or `native`) on a fresh identity provider and clock."""

    def __init__(self, kind: str, idp: LoopbackIdp, workdir: Path) -> None:
        self.kind = kind
        self.idp = idp
        self.clock = Clock()
        self.decisions: list[dict[str, Any]] = []
        self.gate_log: list[dict[str, Any]] = []
        path = workdir / f"{kind}.json"
        path.write_text(json.dumps(template(kind, idp.issuer)))
        model = load_api_model(path, PROJECT_ROOT)
        if kind == "lambda":
            environment = model.functions["AuthorizerFunction"].environment
            gate = Authorizer.from_env(environment, clock=self.clock, write=self._gate_line)
            pools: Mapping[str, InProcessGate] = {"AuthorizerFunction": InProcessGate(gate)}
            native: dict[str, NativeJwtAuthorizer] = {}
        else:
            pools = {}
            config = model.jwt_authorizers["Authorizer"]
            native = {"Authorizer": NativeJwtAuthorizer(config, clock=self.clock)}
        self.gateway = LocalGateway(model, pools, self.decisions.append, self.clock, native)
        self._baseline: Counter[str] = Counter()

    def _gate_line(self, line: str) -> None:
        record = json.loads(line)
        if record.get("event") == "authorizer_decision":
            self.gate_log.append(record)

    def request(self, method: str, path: str, authorization: str | None) -> Observation:
        headers = (("Authorization", authorization),) if authorization is not None else ()
        logged = len(self.gate_log)
        reply = self.gateway.handle(Request(method=method, path=path, headers=headers))
        record = self.decisions[-1]
        reason = str(record.get("reason", "ok"))
        if len(self.gate_log) > logged:
            reason = str(self.gate_log[-1]["reason"])
        error_type = dict(reply.headers).get("x-amzn-ErrorType")
        response_type = ERROR_TYPES.get(error_type, "?") if error_type else "allowed"
        rule = record.get("nativeRule")
        return Observation(
            reply.status,
            response_type,
            reason,
            str(rule) if rule else None,
            str(record.get("route", "")),
            str(record.get("authorizer", "")),
        )

    def mark(self) -> None:
        """Count identity-provider requests from here on (`requests_since_mark`)."""
        self._baseline = self.idp.count()

    def requests_since_mark(self) -> int:
        now = self.idp.count()
        return sum(now[kind] - self._baseline[kind] for kind in ("discovery", "jwks"))


class World:
    """The run's keys and a temporary folder for templates; `side(kind)` is a fresh side with its own IdP."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys
        self._tmp = tempfile.TemporaryDirectory(prefix="compare-")
        self._idps: list[LoopbackIdp] = []

    def side(self, kind: str, *, idp_down: bool = False) -> Side:
        """A cold side: the gate prefetches keys as it is built (handler.py's init); the model does not."""
        idp = LoopbackIdp()
        self._idps.append(idp)
        idp.publish(*self.keys.published())
        idp.down = idp_down
        folder = Path(self._tmp.name) / f"{len(self._idps)}"
        folder.mkdir()
        return Side(kind, idp, folder)

    def close(self) -> None:
        for idp in self._idps:
            idp.close()
        self._tmp.cleanup()
