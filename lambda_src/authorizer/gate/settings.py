"""The environment contract, parsed once at cold start into an immutable :class:`Settings`.

Every variable is validated here so that a misconfigured authorizer fails its init phase loudly
(:class:`~gate.errors.ConfigError` naming the variable) instead of starting and silently allowing or
rejecting everything. An empty value means "unset" (the default applies), because deployment tools
often render absent options as empty strings; that also means REQUIRED_CLAIMS can be narrowed but
never accidentally emptied.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from gate.errors import ConfigError

SUPPORTED_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
HTTP_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"})
DEFAULT_REQUIRED_CLAIMS: Final = ("iss", "aud", "exp", "sub")

MAX_RULES: Final = 100
# API Gateway limits a policy Resource ARN to 512 characters. Without RESOURCE_ARN the prefix comes
# from the methodArn at run time; this bound covers partition, region, account, API id and a long stage.
MAX_RESOURCE_ARN: Final = 512
ASSUMED_MAX_PREFIX: Final = 200
MAX_LEEWAY_SECONDS: Final = 3600.0
MAX_TIMEOUT_SECONDS: Final = 30.0

_RESOURCE_ARN_SHAPE: Final = re.compile(r"arn:[a-z*?-]+:execute-api:[^:/\s]*:[^:/\s]*:[^:/\s]+/[^/\s]+")
# A rule path is an API resource path: printable, no whitespace, and no "?" (an IAM wildcard whose
# meaning the contract does not define); "*" is the only wildcard.
_RULE_PATH_SHAPE: Final = re.compile(r"/[!-~]*")
_CLAIM_NAME_SHAPE: Final = re.compile(r"[!-~]+")


@dataclass(frozen=True, slots=True)
class ScopeRule:
    """One ``"METHOD /path": "scope1 scope2"`` entry of SCOPE_RULES."""

    method: str
    path: str
    scopes: frozenset[str]

    @property
    def resource_suffix(self) -> str:
        """The part after the API/stage prefix in an execute-api ARN: ``METHOD/path-without-slash``."""
        return f"{self.method}/{self.path[1:]}"


@dataclass(frozen=True, slots=True)
class Settings:
    issuer: str
    audiences: frozenset[str]
    jwks_uri: str | None
    discovery_uri: str | None
    algorithms: frozenset[str]
    leeway_seconds: float
    token_types: frozenset[str]
    required_claims: tuple[str, ...]
    scope_rules: tuple[ScopeRule, ...] | None
    jwks_cache_seconds: float
    jwks_max_stale_seconds: float
    jwks_timeout_seconds: float
    jwks_refetch_cooldown_seconds: float
    resource_arn: str | None
    context_claims: tuple[str, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        issuer = _required(env, "ISSUER")
        jwks_uri = _optional(env, "JWKS_URI")
        discovery_uri: str | None = None
        if jwks_uri is not None:
            _check_fetch_url("JWKS_URI", jwks_uri)
        else:
            # OpenID Connect Discovery 1.0 section 4: drop one terminating "/" before appending.
            discovery_uri = issuer.removesuffix("/") + "/.well-known/openid-configuration"
            _check_fetch_url("ISSUER", discovery_uri)
        resource_arn = _resource_arn(env)
        return cls(
            issuer=issuer,
            audiences=frozenset(_csv(env, "AUDIENCE", required=True)),
            jwks_uri=jwks_uri,
            discovery_uri=discovery_uri,
            algorithms=_algorithms(env),
            leeway_seconds=_seconds(env, "LEEWAY_SECONDS", 60.0, maximum=MAX_LEEWAY_SECONDS),
            token_types=frozenset(t.lower() for t in _csv(env, "TOKEN_TYPES")),
            required_claims=_claim_names(env, "REQUIRED_CLAIMS") or DEFAULT_REQUIRED_CLAIMS,
            scope_rules=_scope_rules(env, resource_arn),
            jwks_cache_seconds=_seconds(env, "JWKS_CACHE_SECONDS", 600.0),
            jwks_max_stale_seconds=_seconds(env, "JWKS_MAX_STALE_SECONDS", 86400.0),
            jwks_timeout_seconds=_seconds(
                env, "JWKS_TIMEOUT_SECONDS", 2.0, positive=True, maximum=MAX_TIMEOUT_SECONDS
            ),
            jwks_refetch_cooldown_seconds=_seconds(env, "JWKS_REFETCH_COOLDOWN_SECONDS", 10.0),
            resource_arn=resource_arn,
            context_claims=_claim_names(env, "CONTEXT_CLAIMS"),
        )


def fetch_url_problem(url: str) -> str | None:
    """Why ``url`` may not be fetched, or None: https anywhere, plain http only on loopback hosts."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - evaluated for its ValueError on a malformed port
    except ValueError as err:
        return f"not a valid URL ({err})"
    if not host:
        return "URL has no host"
    if parts.username is not None or parts.password is not None:
        return "URL must not carry credentials"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http":
        return None if _is_loopback(host) else "plain http is only allowed for loopback hosts"
    return "URL scheme must be https"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_fetch_url(variable: str, url: str) -> None:
    problem = fetch_url_problem(url)
    if problem is not None:
        raise ConfigError(variable, f"{problem}: {url!r}")


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _required(env: Mapping[str, str], name: str) -> str:
    value = _optional(env, name)
    if value is None:
        raise ConfigError(name, "is required")
    return value


def _csv(env: Mapping[str, str], name: str, *, required: bool = False) -> tuple[str, ...]:
    raw = _required(env, name) if required else _optional(env, name)
    if raw is None:
        return ()
    items = tuple(item.strip() for item in raw.split(","))
    if any(not item for item in items):
        raise ConfigError(name, f"empty entry in comma-separated list {raw!r}")
    return items


def _claim_names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    names = _csv(env, name)
    for claim in names:
        if not _CLAIM_NAME_SHAPE.fullmatch(claim):
            raise ConfigError(name, f"invalid claim name {claim!r}")
    return tuple(dict.fromkeys(names))


def _algorithms(env: Mapping[str, str]) -> frozenset[str]:
    names = _csv(env, "ALGORITHMS") or ("RS256",)
    for alg in names:
        if alg not in SUPPORTED_ALGORITHMS:
            raise ConfigError(
                "ALGORITHMS", f"{alg!r} is not allowed; choose from {', '.join(sorted(SUPPORTED_ALGORITHMS))}"
            )
    return frozenset(names)


def _seconds(
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    positive: bool = False,
    maximum: float = math.inf,
) -> float:
    raw = _optional(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"not a number: {raw!r}") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0) or value > maximum:
        bound = "> 0" if positive else ">= 0"
        limit = f" and <= {maximum:g}" if math.isfinite(maximum) else ""
        raise ConfigError(name, f"must be a finite number of seconds {bound}{limit}, got {raw!r}")
    return value


def _resource_arn(env: Mapping[str, str]) -> str | None:
    arn = _optional(env, "RESOURCE_ARN")
    if arn is None:
        return None
    if len(arn) > ASSUMED_MAX_PREFIX or not _RESOURCE_ARN_SHAPE.fullmatch(arn):
        raise ConfigError(
            "RESOURCE_ARN",
            f"expected arn:<partition>:execute-api:<region>:<account>:<apiId>/<stage> "
            f"(at most {ASSUMED_MAX_PREFIX} characters), got {arn!r}",
        )
    return arn


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ConfigError("SCOPE_RULES", "duplicate route key")
    return result


def _scope_rules(env: Mapping[str, str], resource_arn: str | None) -> tuple[ScopeRule, ...] | None:
    raw = _optional(env, "SCOPE_RULES")
    if raw is None:
        return None
    try:
        document = json.loads(raw, object_pairs_hook=_reject_duplicates)
    except ValueError as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError("SCOPE_RULES", f"not valid JSON ({err})") from None
    if not isinstance(document, dict) or not document:
        raise ConfigError("SCOPE_RULES", 'expected a non-empty JSON object {"METHOD /path": "scopes"}')
    if len(document) > MAX_RULES:
        raise ConfigError("SCOPE_RULES", f"at most {MAX_RULES} rules keep the policy small")
    prefix_length = len(resource_arn) if resource_arn else ASSUMED_MAX_PREFIX
    rules = []
    for route, scopes in document.items():
        rule = _scope_rule(route, scopes)
        if prefix_length + 1 + len(rule.resource_suffix) > MAX_RESOURCE_ARN:
            raise ConfigError("SCOPE_RULES", f"route {route!r} makes a Resource ARN over {MAX_RESOURCE_ARN}")
        rules.append(rule)
    return tuple(rules)


def _scope_rule(route: str, scopes: object) -> ScopeRule:
    method, separator, path = route.partition(" ")
    if not separator or method not in HTTP_METHODS or not _RULE_PATH_SHAPE.fullmatch(path) or "?" in path:
        raise ConfigError(
            "SCOPE_RULES",
            f"route {route!r} must be 'METHOD /path' with METHOD one of {', '.join(sorted(HTTP_METHODS))} "
            "and a path without spaces or '?'",
        )
    if not isinstance(scopes, str):
        raise ConfigError("SCOPE_RULES", f"scopes of {route!r} must be a space-separated string")
    return ScopeRule(method=method, path=path, scopes=frozenset(s for s in scopes.split(" ") if s))
