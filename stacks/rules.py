"""The one validator for routes, scope rules and context claims at synth time.

`StackConfig` (cdk.json / `-c`) and `TokenRules` (the construct's typed input) both go through these
parsers, so a rule set the construct accepts is exactly one `scopeRules` accepts. The authorizer validates
its environment again at cold start (lambda_src/authorizer/gate/routes.py, gate/settings.py): it cannot
import this module from inside its asset, so tests/infra/test_rules.py holds the two sides to each other
over generated inputs.

Why these shapes (docs/routes.md): a rule key is a route the stack creates; segments use only what a CDK
resource path part accepts (letters, digits, `.` `_` `-` `:`, never `.`/`..` alone, which clients normalize
away), so a key never reaches CDK as a traceback; a final `/*` is the greedy `{proxy+}` resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

# OPTIONS is left out on purpose: it is CORS preflight, which API Gateway answers without authorization.
ROUTE_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "*")
# Lambda caps all environment variables of a function at 4 KB together; the scope rules are the only value
# that grows with the API, so they get a budget that leaves room for the rest of the contract.
MAX_SCOPE_RULES_JSON_CHARS: Final = 2048
# Context keys the authorizer fills itself and the ones API Gateway keeps in $context.authorizer.* (the
# authorizer refuses the same names in CONTEXT_CLAIMS).
GATE_CONTEXT_KEYS: Final = ("sub", "scope", "client_id", "iss")
API_GATEWAY_CONTEXT_KEYS: Final = (
    "principalId",
    "claims",
    "integrationLatency",
    "integrationStatus",
    "latency",
    "status",
    "error",
    "requestId",
)
# `iss#sub` makes principalId issuer-qualified (two issuers' `sub` values may collide).
PRINCIPAL_ID_FORMATS: Final = ("sub", "iss#sub")

_SEGMENT: Final = re.compile(r"[A-Za-z0-9._:-]+")
_DOT_SEGMENTS: Final = frozenset({".", ".."})
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 section 3.3 scope-token


class InvalidValueError(Exception):
    """Raised by a parser; the config layer turns it into a ConfigError naming the key and an example."""


@dataclass(frozen=True, order=True)
class Route:
    """One API route as written in config: an HTTP method (or `*` for any) and a resource path.

    A final `*` path segment stands for any deeper path; the stack creates it as a `{proxy+}` resource and the
    authorizer reads the same rule the same way (docs/routes.md).
    """

    method: str
    path: str

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def api_method(self) -> str:
        return "ANY" if self.method == "*" else self.method

    @property
    def api_path(self) -> str:
        return self.path[:-1] + "{proxy+}" if self.path.endswith("/*") else self.path


def route(text: str) -> Route:
    """Parse "METHOD /path"."""
    method, sep, path = text.partition(" ")
    if not sep or method not in ROUTE_METHODS:
        raise InvalidValueError(
            f'route {text!r} must look like "GET /path" with a method from {", ".join(ROUTE_METHODS)}'
        )
    if path == "/":
        return Route(method, path)
    segments = path.split("/")
    if segments[0] != "" or len(segments) < 2:
        raise InvalidValueError(f"route {text!r}: the path must start with /")
    body = segments[1:]
    for index, segment in enumerate(body):
        greedy = index == len(body) - 1 and segment == "*"
        if not greedy and (not _SEGMENT.fullmatch(segment) or segment in _DOT_SEGMENTS):
            raise InvalidValueError(
                f"route {text!r}: path segments may use letters, digits and . _ - : (not . or .. alone); "
                "a * is allowed only as the whole last segment"
            )
    return Route(method, path)


def scope_rules(raw: Mapping[str, object]) -> Mapping[str, str]:
    """`{"METHOD /path": "scope1 scope2" | ["scope1", ...]}` -> route key -> space-separated scopes."""
    rules: dict[str, str] = {}
    for route_text, scopes in raw.items():
        parsed = route(route_text)
        if isinstance(scopes, list) and all(isinstance(s, str) for s in scopes):
            tokens = list(scopes)
        elif isinstance(scopes, str):
            tokens = scopes.split()
        else:
            raise InvalidValueError(f"the scopes of {route_text!r} must be a space-separated string")
        for token in tokens:
            if not _SCOPE_TOKEN.fullmatch(token):
                raise InvalidValueError(f"{token!r} in {route_text!r} is not a valid scope")
        if parsed.key in rules:
            raise InvalidValueError(f"route {parsed.key!r} appears twice")
        rules[parsed.key] = " ".join(tokens)
    if not rules:
        raise InvalidValueError("needs at least one protected route")
    if len(json.dumps(rules, separators=(",", ":"))) > MAX_SCOPE_RULES_JSON_CHARS:
        raise InvalidValueError(
            f"are too large for the Lambda environment (over {MAX_SCOPE_RULES_JSON_CHARS} characters)"
        )
    return MappingProxyType(rules)


def context_claim_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Refuse claims whose context key the gate or API Gateway already fills."""
    for name in names:
        if name in GATE_CONTEXT_KEYS:
            raise InvalidValueError(f"{name!r} is always in the context already (sub, scope, client_id, iss)")
        if name in API_GATEWAY_CONTEXT_KEYS:
            raise InvalidValueError(f"{name!r} is a context key API Gateway reserves")
    return names


def principal_id_format_of(raw: object, key: str) -> str:
    if raw not in PRINCIPAL_ID_FORMATS:
        raise InvalidValueError(f"must be one of {', '.join(PRINCIPAL_ID_FORMATS)}, got {raw!r}")
    return str(raw)
