"""The request pipeline of an API Gateway REST API with TOKEN or REQUEST Lambda authorizers and proxy methods.

Order of checks as API Gateway does them: route selection (docs/routes.md; no route is 403 Missing
Authentication Token), every identity source present and non-empty and a TOKEN header matching the validation
expression (else 401 with no authorizer call), authorizer result cache per authorizer and identity values,
authorizer invocation, IAM evaluation of the returned policy against this request's method ARN, then the
integration: Lambda proxy with payload 1.0 (the sample function standing in for a Lambda ARN outside the
template), MOCK, or HTTP proxy (local/backends.py).

Methods with AuthorizationType JWT go to the model of API Gateway's native JWT authorizer instead
(local/native_jwt.py): its 401 and 403 are the UNAUTHORIZED and ACCESS_DENIED gateway responses, and a request
it lets through carries the token's claims to the integration.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from local import backends, iam
from local.lambda_runtime import InvocationResult
from local.native_jwt import NativeJwtAuthorizer
from local.responses import Reply, render
from local.template import ApiModel, LambdaAuthorizer, Route

DecisionLog = Callable[[dict[str, Any]], None]


class FunctionInvoker(Protocol):
    """What the gateway needs of a function: local.lambda_runtime.FunctionPool, or an in-process stand-in."""

    def invoke(self, event: Any) -> InvocationResult: ...

    def close(self) -> None: ...


CacheKey = tuple[str, tuple[str, ...]]
CONTEXT_VALUE_TYPES = (str, int, float, bool)


def stderr_decision_log(record: dict[str, Any]) -> None:
    sys.stderr.write(json.dumps(record, sort_keys=True) + "\n")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    host: str = "127.0.0.1"
    client_cert: Mapping[str, Any] | None = None  # mutual TLS (local/tls.py): identity.clientCert

    def header(self, name: str) -> str | None:
        """The last value of a header, its name compared case-insensitively."""
        lowered = name.lower()
        values = [v for k, v in self.headers if k.lower() == lowered]
        return values[-1] if values else None

    def query_value(self, name: str) -> str | None:
        """The last value of a query string parameter (names are case-sensitive)."""
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else None


@dataclass(frozen=True)
class AuthorizerOutcome:
    """An authorizer's verdict as the gateway caches it: the principal, its context, and its policy; for the
    native JWT authorizer, the token's claims (with their JSON types) instead of a context and a policy."""

    principal_id: str
    context: Mapping[str, str | int | float | bool]
    policy_document: Any
    claims: Mapping[str, Any] | None = None


@dataclass
class _Match:
    route: Route
    path_parameters: dict[str, str] = field(default_factory=dict)


class _Rejection(Exception):  # noqa: N818 - control flow carrying a gateway response, not an error
    def __init__(self, response_type: str, reason: str, message: str | None) -> None:
        super().__init__(reason)
        self.response_type = response_type
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class _Resource:
    """A resource path compiled for matching, with its place in the order of specificity (lowest first)."""

    pattern: re.Pattern[str]
    specificity: tuple[Any, ...]


def _compile_resource(resource_path: str) -> _Resource:
    """Literal resources first, then ones with {param} segments (fewer first, literal segments earlier
    first), then greedy {proxy+} resources, the longest prefix first (`/x/{proxy+}` needs one more character
    after `/x/`; `/{proxy+}` matches every path but `/`)."""
    segments = resource_path.strip("/").split("/") if resource_path != "/" else []
    parts: list[str] = []
    kinds: list[int] = []
    greedy = False
    for segment in segments:
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
            greedy = True
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            kinds.append(1)
        else:
            parts.append(re.escape(segment))
            kinds.append(0)
    specificity = (greedy, -len(kinds) if greedy else 0, sum(kinds), tuple(kinds), resource_path)
    return _Resource(re.compile("/" + "/".join(parts), re.DOTALL), specificity)


def routing_path(path: str) -> str:
    """The path routes are matched against: one trailing `/` removed (the root `/` stays `/`)."""
    return path[:-1] if path.endswith("/") and path != "/" else path


class LocalGateway:
    """Everything between the HTTP socket and the Lambda containers; safe to call from many threads."""

    def __init__(
        self,
        model: ApiModel,
        pools: Mapping[str, FunctionInvoker],
        decision_log: DecisionLog = stderr_decision_log,
        clock: Callable[[], float] = time.monotonic,
        native: Mapping[str, NativeJwtAuthorizer] | None = None,
    ) -> None:
        """`native` replaces the models of the template's JWT authorizers (by logical id), e.g. to give them a
        fixed clock; by default each is modelled with the wall clock and fetches keys over loopback."""
        self.model = model
        self.pools = pools
        self._log = decision_log
        self._clock = clock
        self.native = {
            logical_id: NativeJwtAuthorizer(config) for logical_id, config in model.jwt_authorizers.items()
        }
        self.native.update(native or {})
        self._cache: dict[CacheKey, tuple[float, AuthorizerOutcome]] = {}
        self._cache_lock = threading.Lock()
        by_path: dict[str, dict[str, Route]] = {}
        for route in model.routes:
            by_path.setdefault(route.resource_path, {})[route.http_method] = route
        self._resources = sorted(
            ((_compile_resource(path), methods) for path, methods in by_path.items()),
            key=lambda entry: entry[0].specificity,
        )

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()

    def backend_notices(self) -> list[str]:
        """One line per route whose backend a local run replaces or cannot reach, for printing at startup."""
        return backends.notices(self.model.routes)

    def method_arn(self, method: str, path: str) -> str:
        return f"{self.model.arn_prefix()}/{method}{path}"

    def handle(self, request: Request) -> Reply:
        request_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "component": "local-gateway",
            "method": request.method,
            "path": request.path,
        }
        try:
            match = self._match(request)
            record["route"] = f"{match.route.http_method} {match.route.resource_path}"
            authorizer = self._authorize(request, match, request_id, record)
            reply = self._integrate(request, match, authorizer, request_id, record)
        except _Rejection as rejection:
            record["reason"] = rejection.reason
            reply = render(
                rejection.response_type, rejection.message, self.model.gateway_responses, request_id
            )
        record["status"] = reply.status
        self._log(record)
        return reply

    def _match(self, request: Request) -> _Match:
        """docs/routes.md: the most specific matching resource, then its exact verb, else its ANY; no
        fallback to a less specific resource."""
        path = routing_path(request.path)
        for resource, methods in self._resources:
            found = resource.pattern.fullmatch(path)
            if found is None:
                continue
            route = methods.get(request.method) or methods.get("ANY")
            if route is None:
                break
            return _Match(route, dict(found.groupdict()))
        raise _Rejection("MISSING_AUTHENTICATION_TOKEN", "no_route", "Missing Authentication Token")

    def _identity(self, authorizer: LambdaAuthorizer, request: Request, route: Route) -> tuple[str, ...]:
        """The identity source values (the cache key); a missing or empty one is 401 without invoking."""
        values: list[str] = []
        for source in authorizer.identity_sources:
            value: str | None
            if source.kind == "header":
                value = request.header(source.name)
            elif source.kind == "querystring":
                value = request.query_value(source.name)
            else:
                value = {"httpMethod": request.method, "resourcePath": route.resource_path}[source.name]
            if not value:
                raise _Rejection("UNAUTHORIZED", "identity_missing", "Unauthorized")
            values.append(value)
        expression = authorizer.validation_expression
        if expression and not re.fullmatch(expression, values[0]):
            raise _Rejection("UNAUTHORIZED", "identity_validation_failed", "Unauthorized")
        return tuple(values)

    def _authorize(
        self, request: Request, match: _Match, request_id: str, record: dict[str, Any]
    ) -> AuthorizerOutcome | None:
        route = match.route
        if route.authorizer_id is None:
            record["authorizer"] = "none"
            return None
        if route.authorization_type == "JWT":
            return self._authorize_native(request, route, record)
        authorizer = self.model.authorizers[route.authorizer_id]
        identity = self._identity(authorizer, request, route)
        method_arn = self.method_arn(request.method, request.path)
        key = (authorizer.logical_id, identity)
        outcome = self._cached(authorizer, key)
        record["authorizer"] = "cached" if outcome else "invoked"
        if outcome is None:
            if authorizer.type == "TOKEN":
                event = {"type": "TOKEN", "authorizationToken": identity[0], "methodArn": method_arn}
            else:
                event = request_authorizer_event(self.model, request, match, method_arn, request_id)
            outcome = self._invoke_authorizer(authorizer, event)
            self._store(authorizer, key, outcome)
        try:
            decision = iam.evaluate(outcome.policy_document, method_arn)
        except iam.MalformedPolicyError as exc:
            raise _Rejection("AUTHORIZER_FAILURE", "authorizer_malformed_policy", None) from exc
        record["principalId"] = outcome.principal_id
        if decision is iam.Decision.EXPLICIT_DENY:
            raise _Rejection(
                "ACCESS_DENIED",
                "policy_explicit_deny",
                "User is not authorized to access this resource with an explicit deny",
            )
        if decision is iam.Decision.IMPLICIT_DENY:
            raise _Rejection(
                "ACCESS_DENIED", "policy_implicit_deny", "User is not authorized to access this resource"
            )
        return outcome

    def _authorize_native(self, request: Request, route: Route, record: dict[str, Any]) -> AuthorizerOutcome:
        """The native JWT authorizer (local/native_jwt.py): 401 UNAUTHORIZED, 403 ACCESS_DENIED, or claims."""
        assert route.authorizer_id is not None
        model = self.native[route.authorizer_id]
        verdict = model.authorize(request.header(model.config.header), route.authorization_scopes)
        record["authorizer"] = "native"
        record["nativeRule"] = verdict.rule
        if verdict.status == 401:
            record["detail"] = verdict.description
            raise _Rejection("UNAUTHORIZED", verdict.reason, "Unauthorized")
        if verdict.status == 403:
            raise _Rejection("ACCESS_DENIED", verdict.reason, "Forbidden")
        claims = dict(verdict.claims or {})
        sub = claims.get("sub")
        principal = sub if isinstance(sub, str) else ""
        record["principalId"] = principal
        return AuthorizerOutcome(principal_id=principal, context={}, policy_document=None, claims=claims)

    def _cached(self, authorizer: LambdaAuthorizer, key: CacheKey) -> AuthorizerOutcome | None:
        if authorizer.ttl_seconds <= 0:
            return None
        with self._cache_lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            expires_at, outcome = entry
            if self._clock() >= expires_at:
                del self._cache[key]
                return None
            return outcome

    def _store(self, authorizer: LambdaAuthorizer, key: CacheKey, outcome: AuthorizerOutcome) -> None:
        if authorizer.ttl_seconds > 0:
            with self._cache_lock:
                self._cache[key] = (self._clock() + authorizer.ttl_seconds, outcome)

    def _invoke_authorizer(self, authorizer: LambdaAuthorizer, event: dict[str, Any]) -> AuthorizerOutcome:
        result = self.pools[authorizer.function_id].invoke(event)
        if result.failed:
            if result.error_message == "Unauthorized":
                raise _Rejection("UNAUTHORIZED", "authorizer_unauthorized", "Unauthorized")
            raise _Rejection("AUTHORIZER_FAILURE", "authorizer_error", None)
        outcome = _parse_authorizer_response(result.payload)
        if outcome is None:
            raise _Rejection("AUTHORIZER_FAILURE", "authorizer_malformed_response", None)
        return outcome

    def _integrate(
        self,
        request: Request,
        match: _Match,
        authorizer: AuthorizerOutcome | None,
        request_id: str,
        record: dict[str, Any],
    ) -> Reply:
        route = match.route
        if route.mock is not None:
            headers = (*route.mock.headers.items(), ("x-amzn-RequestId", request_id))
            return Reply(route.mock.status_code, headers, route.mock.body.encode())
        if route.http is not None:
            return self._forward(request, match, authorizer, request_id, record)
        assert route.function_id is not None
        event = proxy_event(self.model, request, match.route, match.path_parameters, authorizer, request_id)
        result = self.pools[route.function_id].invoke(event)
        reply = None if result.failed else _proxy_reply(result.payload, request_id)
        if reply is None:
            record["reason"] = "integration_error" if result.failed else "integration_malformed_response"
            reply = _internal_error(request_id)
        if route.substitute_for is not None:
            # A Lambda ARN outside the template: the sample function answered in its place (local/README.md).
            record["substitute"] = route.substitute_for
            reply = Reply(
                reply.status, (*reply.headers, (backends.SUBSTITUTE_HEADER, route.substitute_for)), reply.body
            )
        return reply

    def _forward(
        self,
        request: Request,
        match: _Match,
        authorizer: AuthorizerOutcome | None,
        request_id: str,
        record: dict[str, Any],
    ) -> Reply:
        """An HTTP_PROXY integration (local/backends.py): no answer is 502, no answer in time 504."""
        integration = match.route.http
        assert integration is not None
        url = backends.target_url(integration, match.path_parameters)
        record["backend"] = url
        context = None
        if authorizer is not None:
            context = {k: _context_string(v) for k, v in authorizer.context.items()}
            context.update({f"claims.{k}": claim_json(v) for k, v in (authorizer.claims or {}).items()})
            context["principalId"] = authorizer.principal_id
        headers = backends.outgoing_headers(request.headers, backends.mapped_headers(integration, context))
        try:
            answer = backends.forward(
                integration,
                method=request.method,
                url=url,
                query=request.query,
                headers=headers,
                body=request.body,
            )
        except backends.BackendError as failure:
            record["reason"] = failure.reason
            record["detail"] = str(failure)
            if isinstance(failure, backends.BackendTimeout):
                message = "Endpoint request timed out"
                return render("INTEGRATION_TIMEOUT", message, self.model.gateway_responses, request_id)
            return _internal_error(request_id)
        return Reply(answer.status, (*answer.headers, ("x-amzn-RequestId", request_id)), answer.body)


def _internal_error(request_id: str) -> Reply:
    """502 {"message": "Internal server error"}: the integration gave no usable answer."""
    headers = (
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", "InternalServerErrorException"),
    )
    return Reply(502, headers, json.dumps({"message": "Internal server error"}).encode())


def _parse_authorizer_response(payload: Any) -> AuthorizerOutcome | None:
    """Accept only what API Gateway accepts: principalId, a policy object, and a flat primitive context."""
    if not isinstance(payload, dict):
        return None
    principal = payload.get("principalId")
    policy = payload.get("policyDocument")
    context = payload.get("context") or {}
    if not isinstance(principal, str) or not isinstance(policy, dict) or not isinstance(context, dict):
        return None
    if not all(isinstance(v, CONTEXT_VALUE_TYPES) for v in context.values()):
        return None
    return AuthorizerOutcome(principal_id=principal, context=context, policy_document=policy)


_LOWER_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9a-f]{4})")


def claim_json(value: Any) -> str:
    """A claim as parameter mappings see `$context.authorizer.claims.<name>` (rest-api-jwt-authorizer-claims):
    JSON text, so the string "42" stays `"42"` and the number stays `42`; non-ASCII as `\\u00E9` escapes."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return _LOWER_ESCAPE.sub(lambda m: m.group(1) + "\\u" + m.group(2).upper(), text)


def _context_string(value: str | int | float | bool) -> str:
    """REST API hands authorizer context to a proxy integration as strings (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _multi(pairs: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


def _request_fields(request: Request, route: Route, path_parameters: Mapping[str, str]) -> dict[str, Any]:
    """The request as both a REQUEST authorizer event and a proxy event (payload 1.0) describe it."""
    multi_headers = _multi(request.headers)
    multi_query = _multi(request.query)
    return {
        "resource": route.resource_path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
    }


def _request_context(model: ApiModel, request: Request, route: Route, request_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "resourceId": route.resource_path,
        "resourcePath": route.resource_path,
        "httpMethod": request.method,
        "extendedRequestId": request_id,
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "path": f"/{model.stage_name}{request.path}",
        "accountId": model.account,
        "protocol": "HTTP/1.1",
        "stage": model.stage_name,
        "domainPrefix": request.host.split(".")[0],
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "requestId": request_id,
        "identity": _caller_identity(request),
        "domainName": request.host,
        "apiId": model.api_id,
    }


def _caller_identity(request: Request) -> dict[str, Any]:
    identity: dict[str, Any] = {"sourceIp": request.source_ip, "userAgent": request.header("User-Agent")}
    if request.client_cert is not None:
        identity["clientCert"] = dict(request.client_cert)
    return identity


def request_authorizer_event(
    model: ApiModel, request: Request, match: _Match, method_arn: str, request_id: str
) -> dict[str, Any]:
    """The event of a REST API REQUEST authorizer: the request (no body) and the route it reached."""
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        **_request_fields(request, match.route, match.path_parameters),
        "requestContext": _request_context(model, request, match.route, request_id),
    }


def proxy_event(
    model: ApiModel,
    request: Request,
    route: Route,
    path_parameters: Mapping[str, str],
    authorizer: AuthorizerOutcome | None,
    request_id: str,
) -> dict[str, Any]:
    """A Lambda proxy integration event, payload format 1.0, as a REST API sends it."""
    try:
        body: str | None = request.body.decode("utf-8") if request.body else None
        is_base64 = False
    except UnicodeDecodeError:
        body, is_base64 = base64.b64encode(request.body).decode("ascii"), True
    request_context = _request_context(model, request, route, request_id)
    if authorizer is not None and authorizer.claims is not None:
        request_context["authorizer"] = {
            "claims": dict(authorizer.claims),
            "principalId": authorizer.principal_id,
        }
    elif authorizer is not None:
        flat = {k: _context_string(v) for k, v in authorizer.context.items()}
        request_context["authorizer"] = {
            **flat,
            "principalId": authorizer.principal_id,
            "integrationLatency": 0,
        }
    return {
        **_request_fields(request, route, path_parameters),
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _proxy_reply(payload: Any, request_id: str) -> Reply | None:
    """Translate a proxy integration response; anything API Gateway would call malformed gives None."""
    if not isinstance(payload, dict):
        return None
    status = payload.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return None
    headers: list[tuple[str, str]] = []
    single = payload.get("headers") or {}
    multi = payload.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        return None
    for name, values in multi.items():
        if not isinstance(values, list):
            return None
        headers.extend((str(name), _header_text(v)) for v in values)
    headers.extend((str(name), _header_text(v)) for name, v in single.items())
    raw_body = payload.get("body")
    if raw_body is not None and not isinstance(raw_body, str):
        return None
    if payload.get("isBase64Encoded") is True:
        body = base64.b64decode(raw_body or "")
    else:
        body = (raw_body or "").encode()
    headers.append(("x-amzn-RequestId", request_id))
    return Reply(status, tuple(headers), body)


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
