"""The request pipeline of an API Gateway REST API with a TOKEN Lambda authorizer and Lambda proxy methods.

Order of checks as API Gateway does them: route lookup (an unknown route or method is 403 Missing
Authentication Token), identity source present and matching the validation expression (else 401 with no
authorizer call), authorizer result cache per identity value, authorizer invocation, IAM evaluation of the
returned policy against this request's method ARN, then the Lambda proxy integration with payload 1.0.
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
from typing import Any

from local import iam
from local.lambda_runtime import FunctionPool
from local.responses import Reply, render
from local.template import ApiModel, Route, TokenAuthorizer

DecisionLog = Callable[[dict[str, Any]], None]
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

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        values = [v for k, v in self.headers if k.lower() == lowered]
        return values[-1] if values else None


@dataclass(frozen=True)
class AuthorizerOutcome:
    """An authorizer's verdict as the gateway caches it: the principal, its context, and its policy."""

    principal_id: str
    context: Mapping[str, str | int | float | bool]
    policy_document: Any


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


def _path_pattern(resource_path: str) -> tuple[re.Pattern[str], int]:
    """Compile a resource path; the rank orders literal matches before {param} before {proxy+}."""
    parts: list[str] = []
    rank = 0
    for segment in resource_path.strip("/").split("/") if resource_path != "/" else []:
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
            rank += 100
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            rank += 1
        else:
            parts.append(re.escape(segment))
    return re.compile("/" + "/".join(parts)), rank


class LocalGateway:
    """Everything between the HTTP socket and the Lambda containers; safe to call from many threads."""

    def __init__(
        self,
        model: ApiModel,
        pools: Mapping[str, FunctionPool],
        decision_log: DecisionLog = stderr_decision_log,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self.pools = pools
        self._log = decision_log
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, AuthorizerOutcome]] = {}
        self._cache_lock = threading.Lock()
        self._patterns = {r.resource_path: _path_pattern(r.resource_path) for r in model.routes}

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()

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
            authorizer = self._authorize(request, match.route, record)
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
        path = request.path if request.path == "/" else request.path.rstrip("/")
        candidates: list[tuple[int, _Match]] = []
        for route in self.model.routes:
            pattern, rank = self._patterns[route.resource_path]
            found = pattern.fullmatch(path)
            if found and route.http_method in (request.method, "ANY"):
                exact_method = 0 if route.http_method == request.method else 1
                candidates.append((rank * 2 + exact_method, _Match(route, dict(found.groupdict()))))
        if not candidates:
            raise _Rejection("MISSING_AUTHENTICATION_TOKEN", "no_route", "Missing Authentication Token")
        return min(candidates, key=lambda c: c[0])[1]

    def _authorize(self, request: Request, route: Route, record: dict[str, Any]) -> AuthorizerOutcome | None:
        if route.authorizer_id is None:
            record["authorizer"] = "none"
            return None
        authorizer = self.model.authorizers[route.authorizer_id]
        identity = request.header(authorizer.header_name)
        if not identity:
            raise _Rejection("UNAUTHORIZED", "identity_missing", "Unauthorized")
        expression = authorizer.validation_expression
        if expression and not re.fullmatch(expression, identity):
            raise _Rejection("UNAUTHORIZED", "identity_validation_failed", "Unauthorized")
        method_arn = self.method_arn(request.method, request.path)
        outcome = self._cached(authorizer, identity)
        record["authorizer"] = "cached" if outcome else "invoked"
        if outcome is None:
            outcome = self._invoke_authorizer(authorizer, identity, method_arn)
            self._store(authorizer, identity, outcome)
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

    def _cached(self, authorizer: TokenAuthorizer, identity: str) -> AuthorizerOutcome | None:
        if authorizer.ttl_seconds <= 0:
            return None
        with self._cache_lock:
            entry = self._cache.get((authorizer.logical_id, identity))
            if entry is None:
                return None
            expires_at, outcome = entry
            if self._clock() >= expires_at:
                del self._cache[(authorizer.logical_id, identity)]
                return None
            return outcome

    def _store(self, authorizer: TokenAuthorizer, identity: str, outcome: AuthorizerOutcome) -> None:
        if authorizer.ttl_seconds > 0:
            with self._cache_lock:
                expires_at = self._clock() + authorizer.ttl_seconds
                self._cache[(authorizer.logical_id, identity)] = (expires_at, outcome)

    def _invoke_authorizer(
        self, authorizer: TokenAuthorizer, identity: str, method_arn: str
    ) -> AuthorizerOutcome:
        event = {"type": "TOKEN", "authorizationToken": identity, "methodArn": method_arn}
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
        assert route.function_id is not None
        event = proxy_event(self.model, request, match.route, match.path_parameters, authorizer, request_id)
        result = self.pools[route.function_id].invoke(event)
        reply = None if result.failed else _proxy_reply(result.payload, request_id)
        if reply is None:
            record["reason"] = "integration_error" if result.failed else "integration_malformed_response"
            body = json.dumps({"message": "Internal server error"}).encode()
            headers = (
                ("Content-Type", "application/json"),
                ("x-amzn-RequestId", request_id),
                ("x-amzn-ErrorType", "InternalServerErrorException"),
            )
            return Reply(502, headers, body)
        return reply


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


def _context_string(value: str | int | float | bool) -> str:
    """REST API hands authorizer context to a proxy integration as strings (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def proxy_event(
    model: ApiModel,
    request: Request,
    route: Route,
    path_parameters: Mapping[str, str],
    authorizer: AuthorizerOutcome | None,
    request_id: str,
) -> dict[str, Any]:
    """A Lambda proxy integration event, payload format 1.0, as a REST API sends it."""
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in request.query:
        multi_query.setdefault(name, []).append(value)
    try:
        body: str | None = request.body.decode("utf-8") if request.body else None
        is_base64 = False
    except UnicodeDecodeError:
        body, is_base64 = base64.b64encode(request.body).decode("ascii"), True
    now = datetime.now(UTC)
    request_context: dict[str, Any] = {
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
        "identity": {"sourceIp": request.source_ip, "userAgent": request.header("User-Agent")},
        "domainName": request.host,
        "apiId": model.api_id,
    }
    if authorizer is not None:
        flat = {k: _context_string(v) for k, v in authorizer.context.items()}
        request_context["authorizer"] = {
            **flat,
            "principalId": authorizer.principal_id,
            "integrationLatency": 0,
        }
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
