"""Deployment configuration: read once from CDK context, validated up front, then passed down as plain values.

Why validate here and not in the constructs: a bad value must stop `cdk synth` with one line that names the
key and shows a valid example, before any construct exists. Values arrive either as JSON from cdk.json or as
strings from `-c key=value`, so every parser accepts both spellings.

Why the parsers sit in a table (`_KEYS`): per-stage config blocks and identity-provider presets are layers
of raw values in front of the same table (stacks/stages.py builds the layered getter, stacks/presets.py the
preset layer); `StackConfig.from_context` only needs a getter and the selected stage.

This module deliberately does not import aws_cdk: config validation runs (and is tested) without jsii.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from stacks import backends, key_config, rules, sender_config
from stacks.backends import Backend
from stacks.key_config import KeyDelivery
from stacks.rules import MAX_SCOPE_RULES_JSON_CHARS, ROUTE_METHODS, Route
from stacks.rules import InvalidValueError as _InvalidValueError
from stacks.sender_config import SenderConstraint

__all__ = ["MAX_SCOPE_RULES_JSON_CHARS", "ROUTE_METHODS", "Route"]  # re-exported: their home is stacks.rules

ContextGetter = Callable[[str], object]
"""Reads one raw context value, None when absent (`app.node.try_get_context` has this shape)."""

SUPPORTED_ALGORITHMS: Final = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
_CLAIM_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+/-]+")  # RFC 6838 restricted-name characters (and "/")
_STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_REALM = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}")  # printable, no '"' or '\' (quoted-string safe)
_SNS_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}")
_EMAIL = re.compile(r"[^@\s'\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
# The claims the authorizer can read the audience from (AUDIENCE_CLAIM): RFC 7519 aud, RFC 9068/Cognito
# client_id, OIDC azp (Keycloak), Okta cid.
AUDIENCE_CLAIMS: Final = ("aud", "client_id", "azp", "cid")
DEFAULT_SCOPE_CLAIMS: Final = ("scope", "scp")
# Budgets inside Lambda's 4 KB environment (see MAX_SCOPE_RULES_JSON_CHARS).
MAX_ADDITIONAL_ISSUERS_JSON_CHARS: Final = 1024
MAX_REQUIRED_CLAIM_VALUES_JSON_CHARS: Final = 256
# Placeholders a production stage refuses: the shipped examples and the usual "fill me in" spellings.
_PLACEHOLDER = re.compile(
    r"your[_-]|change[_-]?me|replace[_-]?me|placeholder|<[^>]*>|\{[^}]*\}|xxx|todo|tbd",
    re.IGNORECASE,
)
_EXAMPLE_WORD = re.compile(r"(^|[^a-z0-9])example([^a-z0-9]|$)", re.IGNORECASE)
_RESERVED_TLDS: Final = ("example", "test", "invalid", "localhost", "local")
# How protected routes are authorized (docs/native-jwt.md): the Lambda authorizer everywhere (today's gate),
# API Gateway's native JWT authorizer everywhere, or per route whichever enforces that route faithfully.
GATE_MODES: Final = ("lambda", "native", "auto")


class ConfigError(ValueError):
    """A configuration value is missing or invalid; str() is the one line shown to the user."""

    def __init__(self, key: str, problem: str, example: str) -> None:
        self.key = key
        self.problem = problem
        self.example = example
        super().__init__(f'invalid config "{key}": {problem} (example: -c {key}={example})')


ClaimValue = str | int | float | bool


@dataclass(frozen=True)
class TrustedIssuer:
    """One extra issuer (multi-tenant): tokens whose `iss` equals it are checked against its own audience
    and its own key set, never the primary issuer's."""

    issuer: str
    audience: tuple[str, ...]
    jwks_uri: str | None = None


@dataclass(frozen=True)
class TokenRules:
    """What the authorizer enforces on every token (the authorizer's environment contract, typed).

    Validated on construction by the very parsers that read cdk.json (`_KEYS`), so the construct accepts
    exactly what `scopeRules` and the other keys accept, and a bad value is the same one-line ConfigError.
    """

    issuer: str
    audience: tuple[str, ...]
    scope_rules: Mapping[str, str]
    jwks_uri: str | None = None
    algorithms: tuple[str, ...] = ("RS256",)
    token_types: tuple[str, ...] = ()
    required_claims: tuple[str, ...] = ("iss", "aud", "exp", "sub")
    context_claims: tuple[str, ...] = ()
    leeway_seconds: int = 60
    audience_claim: str = "aud"
    scope_claims: tuple[str, ...] = DEFAULT_SCOPE_CLAIMS
    required_claim_values: Mapping[str, ClaimValue] = field(default_factory=lambda: MappingProxyType({}))
    additional_issuers: tuple[TrustedIssuer, ...] = ()
    principal_id_format: str = "sub"

    def __post_init__(self) -> None:
        checks: tuple[tuple[str, object], ...] = (
            ("issuer", self.issuer),
            ("audience", list(self.audience)),
            ("scopeRules", dict(self.scope_rules)),
            ("jwksUri", self.jwks_uri),
            ("algorithms", list(self.algorithms)),
            ("tokenTypes", list(self.token_types)),
            ("requiredClaims", list(self.required_claims)),
            ("contextClaims", list(self.context_claims)),
            ("leewaySeconds", self.leeway_seconds),
            ("audienceClaim", self.audience_claim),
            ("scopeClaims", list(self.scope_claims)),
            ("requiredClaimValues", dict(self.required_claim_values)),
            ("principalIdFormat", self.principal_id_format),
        )
        for key, value in checks:
            if value is not None:
                _KEYS[key].check(key, value)
        if any(extra.issuer == self.issuer for extra in self.additional_issuers):
            raise ConfigError(
                "additionalIssuers",
                f"repeats the primary issuer {self.issuer!r}",
                _KEYS["additionalIssuers"].example,
            )

    @property
    def protected_routes(self) -> tuple[Route, ...]:
        return tuple(parse_route(key, "scopeRules") for key in self.scope_rules)


@dataclass(frozen=True)
class KeySetTiming:
    """How the authorizer caches and fetches the identity provider's key set."""

    cache_seconds: int = 600
    max_stale_seconds: int = 86400
    timeout_seconds: float = 2
    refetch_cooldown_seconds: int = 10


@dataclass(frozen=True)
class Stage:
    """The deployment stage (`-c stage=NAME`): names the stack and its resources; production tightens checks.

    `account`/`region` are None unless the stage pins them; the stack is then environment-agnostic and
    deploys wherever the CLI's credentials point.
    """

    name: str = "dev"
    production: bool = False
    account: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class AlarmSettings:
    """CloudWatch alarms of the stack and where they notify (an existing topic, a new one, or nowhere)."""

    enabled: bool = True
    topic_arn: str | None = None
    email: str | None = None
    server_error_rate_percent: float = 5


@dataclass(frozen=True)
class StackConfig:
    """Everything the stack needs, validated; build it with `stacks.stages.load_config` (layers) or
    `from_context` (already-flat values)."""

    token_rules: TokenRules
    stage: Stage = Stage()
    preset: str | None = None
    alarms: AlarmSettings = AlarmSettings()
    key_set: KeySetTiming = KeySetTiming()
    public_routes: tuple[Route, ...] = ()
    authorizer_cache_ttl_seconds: int = 300
    lambda_memory_mb: int = 512
    log_retention_days: int = 30
    throttling_rate_limit: float = 100
    throttling_burst_limit: int = 200
    tracing: bool = True
    cors_origins: tuple[str, ...] = ()
    stage_name: str = "dev"
    realm: str = "jwt-gate"
    api_gateway_account_log_role: bool = True
    backends: Mapping[str, Backend] = field(default_factory=lambda: MappingProxyType({}))
    gate: str = "lambda"
    key_delivery: KeyDelivery = field(default_factory=KeyDelivery)  # issue 13 (stacks/key_config.py)
    # Issue 12, DPoP and certificate-bound tokens (stacks/sender_config.py).
    sender_constraint: SenderConstraint = field(default_factory=SenderConstraint)

    @property
    def routes(self) -> tuple[Route, ...]:
        """Every route of the API: the scope rules' routes (protected) and the public ones."""
        return self.token_rules.protected_routes + self.public_routes

    @classmethod
    def from_context(
        cls, get: ContextGetter, *, stage: Stage | None = None, preset: str | None = None
    ) -> StackConfig:
        """Parse and validate every key; raises ConfigError for the first bad one."""
        stage = stage or Stage()
        v: dict[str, Any] = {name: spec.read(name, get) for name, spec in _KEYS.items()}
        audience_claim: str = v["audienceClaim"]
        required_claims: tuple[str, ...] = (
            tuple(dict.fromkeys(("iss", audience_claim, "exp", "sub")))
            if v["requiredClaims"] is None
            else v["requiredClaims"]
        )
        token_rules = TokenRules(
            issuer=v["issuer"],
            audience=v["audience"],
            jwks_uri=v["jwksUri"],
            algorithms=v["algorithms"],
            token_types=v["tokenTypes"],
            required_claims=required_claims,
            context_claims=v["contextClaims"],
            leeway_seconds=v["leewaySeconds"],
            scope_rules=v["scopeRules"],
            audience_claim=audience_claim,
            scope_claims=v["scopeClaims"],
            required_claim_values=v["requiredClaimValues"],
            additional_issuers=v["additionalIssuers"],
            principal_id_format=v["principalIdFormat"],
        )
        if v["alarmTopicArn"] is not None and v["alarmEmail"] is not None:
            raise ConfigError(
                "alarmEmail",
                "cannot be combined with alarmTopicArn (subscribe the address to that topic instead)",
                _KEYS["alarmEmail"].example,
            )
        if stage.production:
            _check_production(token_rules, stage.name)
        key_set = KeySetTiming(
            cache_seconds=v["jwksCacheSeconds"],
            max_stale_seconds=v["jwksMaxStaleSeconds"],
            timeout_seconds=v["jwksTimeoutSeconds"],
            refetch_cooldown_seconds=v["jwksRefetchCooldownSeconds"],
        )
        if key_set.max_stale_seconds < key_set.cache_seconds:
            raise ConfigError(
                "jwksMaxStaleSeconds",
                f"must be at least jwksCacheSeconds ({key_set.cache_seconds})",
                _KEYS["jwksMaxStaleSeconds"].example,
            )
        public_routes: tuple[Route, ...] = v["publicRoutes"]
        protected = {route.key for route in token_rules.protected_routes}
        for route in public_routes:
            if route.key in protected:
                raise ConfigError(
                    "publicRoutes",
                    f'"{route.key}" is also in scopeRules; a route is either public or protected',
                    _KEYS["publicRoutes"].example,
                )
        route_keys = protected | {route.key for route in public_routes}
        for route_key in v["backends"]:
            if route_key not in route_keys:
                raise ConfigError(
                    "backends",
                    f'"{route_key}" is not a route (the routes are the scopeRules keys and publicRoutes)',
                    _KEYS["backends"].example,
                )
        if not protected and not public_routes:
            raise ConfigError(
                "scopeRules",
                "the API needs at least one route (scopeRules keys and publicRoutes are its routes)",
                _KEYS["scopeRules"].example,
            )
        config = cls(
            token_rules=token_rules,
            stage=stage,
            preset=preset,
            alarms=AlarmSettings(
                enabled=v["alarms"],
                topic_arn=v["alarmTopicArn"],
                email=v["alarmEmail"],
                server_error_rate_percent=v["alarm5xxRatePercent"],
            ),
            key_set=key_set,
            public_routes=public_routes,
            authorizer_cache_ttl_seconds=v["authorizerCacheTtlSeconds"],
            lambda_memory_mb=v["lambdaMemoryMb"],
            log_retention_days=v["logRetentionDays"],
            throttling_rate_limit=v["throttlingRateLimit"],
            throttling_burst_limit=v["throttlingBurstLimit"],
            tracing=v["tracing"],
            cors_origins=v["corsOrigins"],
            stage_name=v["stageName"] or stage.name,
            realm=v["realm"],
            api_gateway_account_log_role=v["apiGatewayAccountLogRole"],
            backends=v["backends"],
            gate=v["gate"],
            key_delivery=_key_delivery(v, stage, key_set),
            sender_constraint=_sender_constraint(v, stage),
        )
        if config.gate != "lambda":
            # gate=native refuses what the native JWT authorizer cannot enforce, here, so the refusal is the
            # same one line as every other config error. Imported lazily: it needs aws_cdk (jsii).
            from stacks.native_authorizer import plan_gate

            plan_gate(config)
        return config


# Parsers: each takes (raw value, key) and returns the typed value or raises _InvalidValueError.


@dataclass(frozen=True)
class _KeySpec:
    parse: Callable[[object, str], object]
    example: str
    default: object = None
    required: bool = False

    def read(self, name: str, get: ContextGetter) -> object:
        raw = get(name)
        if raw is None or raw == "":
            if self.required:
                raise ConfigError(name, "is required", self.example)
            raw = self.default
            if raw is None:
                return None
        return self.check(name, raw)

    def check(self, name: str, raw: object) -> object:
        """The parsed value, or the ConfigError naming `name` (parsers raise _InvalidValueError)."""
        try:
            return self.parse(raw, name)
        except _InvalidValueError as err:
            raise ConfigError(name, str(err), self.example) from None


def _string_list(raw: object, key: str) -> tuple[str, ...]:
    """A JSON list of strings, or a string holding a JSON list or comma-separated values (as `-c` sends)."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as err:
                raise _InvalidValueError(f"is not a valid JSON list ({err.msg})") from None
        else:
            raw = [part.strip() for part in text.split(",")] if text else []
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise _InvalidValueError("must be a list of strings or a comma-separated string")
    items = tuple(raw)
    if any(not item or item != item.strip() for item in items):
        raise _InvalidValueError("must not contain empty values or values with surrounding spaces")
    if len(set(items)) != len(items):
        raise _InvalidValueError("must not repeat a value")
    return items


def _object(raw: object) -> dict[str, object]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise _InvalidValueError(f"is not a valid JSON object ({err.msg})") from None
    if not isinstance(raw, dict):
        raise _InvalidValueError("must be a JSON object")
    return raw


def _integer(low: int, high: int) -> Callable[[object, str], int]:
    def parse(raw: object, key: str) -> int:
        if isinstance(raw, str) and re.fullmatch(r"-?[0-9]+", raw.strip()):
            raw = int(raw.strip())
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise _InvalidValueError(f"must be a whole number from {low} to {high}")
        if not low <= raw <= high:
            raise _InvalidValueError(f"must be from {low} to {high}, got {raw}")
        return raw

    return parse


def _number(low: float, high: float, *, low_inclusive: bool = True) -> Callable[[object, str], float]:
    def parse(raw: object, key: str) -> float:
        if isinstance(raw, str):
            try:
                raw = float(raw.strip())
            except ValueError:
                raise _InvalidValueError("must be a number") from None
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise _InvalidValueError("must be a number")
        too_low = raw < low or (raw == low and not low_inclusive)
        if too_low or raw > high:
            bound = "from" if low_inclusive else "greater than"
            raise _InvalidValueError(f"must be {bound} {low:g} up to {high:g}, got {raw:g}")
        return int(raw) if float(raw).is_integer() else float(raw)

    return parse


def _boolean(raw: object, key: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise _InvalidValueError("must be true or false")


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(raw: object, key: str) -> str:
    """https URL; plain http only on loopback hosts, mirroring the authorizer's own rule for local runs."""
    if not isinstance(raw, str):
        raise _InvalidValueError("must be a URL string")
    parts = urlsplit(raw)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _InvalidValueError(f"must be an https URL, got {raw!r}")
    if parts.scheme == "http" and not _is_loopback_host(parts.hostname):
        raise _InvalidValueError(
            f"must use https (plain http is only allowed on loopback hosts), got {raw!r}"
        )
    if parts.fragment or parts.username or parts.password or raw != raw.strip():
        raise _InvalidValueError(f"must be a plain URL without credentials, fragment or spaces, got {raw!r}")
    return raw


def _optional_url(raw: object, key: str) -> str | None:
    return _url(raw, key)


def _audience(raw: object, key: str) -> tuple[str, ...]:
    items = _string_list(raw, key)
    if not items:
        raise _InvalidValueError("needs at least one audience")
    if any("," in item for item in items):
        raise _InvalidValueError(
            "values must not contain commas (the authorizer receives them comma-separated)"
        )
    return items


def _algorithms(raw: object, key: str) -> tuple[str, ...]:
    items = _string_list(raw, key)
    if not items:
        raise _InvalidValueError("needs at least one algorithm")
    for item in items:
        if item not in SUPPORTED_ALGORITHMS:
            raise _InvalidValueError(
                f"{item!r} is not supported; choose from {', '.join(SUPPORTED_ALGORITHMS)}"
            )
    return items


def _names(pattern: re.Pattern[str], what: str) -> Callable[[object, str], tuple[str, ...]]:
    def parse(raw: object, key: str) -> tuple[str, ...]:
        items = _string_list(raw, key)
        for item in items:
            if not pattern.fullmatch(item):
                raise _InvalidValueError(f"{item!r} is not a valid {what}")
        return items

    return parse


def parse_route(text: str, key: str) -> Route:
    """Parse "METHOD /path"; raises ConfigError naming `key` (used for scopeRules keys and publicRoutes)."""
    try:
        return rules.route(text)
    except _InvalidValueError as err:
        raise ConfigError(key, str(err), _KEYS[key].example) from None


def _scope_rules(raw: object, key: str) -> Mapping[str, str]:
    return rules.scope_rules(_object(raw))


def _public_routes(raw: object, key: str) -> tuple[Route, ...]:
    routes = tuple(rules.route(text) for text in _string_list(raw, key))
    return routes


def _backends(raw: object, key: str) -> Mapping[str, Backend]:
    parsed: dict[str, Backend] = {}
    for route_text, value in _object(raw).items():
        route_key = rules.route(route_text).key
        try:
            parsed[route_key] = backends.parse(value, is_loopback=_is_loopback_host)
        except _InvalidValueError as err:
            raise _InvalidValueError(f'"{route_key}": {err}') from None
    return MappingProxyType(parsed)


def _cors_origins(raw: object, key: str) -> tuple[str, ...]:
    items = _string_list(raw, key)
    if "*" in items and len(items) > 1:
        raise _InvalidValueError('"*" cannot be combined with other origins')
    for item in items:
        if item == "*":
            continue
        parts = urlsplit(item)
        if (
            parts.scheme not in ("https", "http")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or (parts.scheme == "http" and not _is_loopback_host(parts.hostname))
        ):
            raise _InvalidValueError(
                f"{item!r} must be an origin like https://app.example.com (http only for loopback)"
            )
    return items


def _pattern(pattern: re.Pattern[str], what: str) -> Callable[[object, str], str]:
    def parse(raw: object, key: str) -> str:
        if not isinstance(raw, str) or not pattern.fullmatch(raw):
            raise _InvalidValueError(f"must be {what}, got {raw!r}")
        return raw

    return parse


def _retention(raw: object, key: str) -> int:
    days = _integer(1, 3653)(raw, key)
    if days not in LOG_RETENTION_DAYS:
        raise _InvalidValueError(f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}, got {days}")
    return days


def placeholder_problem(value: str) -> str | None:
    """Why `value` looks like an example or a fill-me-in value (None when it does not)."""
    if _PLACEHOLDER.search(value):
        return "looks like a placeholder"
    host = urlsplit(value).hostname if "://" in value else None
    if host is not None:
        if _is_loopback_host(host):
            return "points at a loopback host (local runs only)"
        if host.rsplit(".", 1)[-1] in _RESERVED_TLDS or _EXAMPLE_WORD.search(host):
            return "uses an example or reserved domain"
    elif _EXAMPLE_WORD.search(value):
        return "looks like an example value"
    return None


def _check_production(rules: TokenRules, stage_name: str) -> None:
    """A production stage must trust a real identity provider and name real audiences (issue 6)."""
    checks: list[tuple[str, str]] = [("issuer", rules.issuer)]
    if rules.jwks_uri is not None:
        checks.append(("jwksUri", rules.jwks_uri))
    checks += [("audience", value) for value in rules.audience]
    for extra in rules.additional_issuers:
        checks.append(("additionalIssuers", extra.issuer))
        if extra.jwks_uri is not None:
            checks.append(("additionalIssuers", extra.jwks_uri))
        checks += [("additionalIssuers", value) for value in extra.audience]
    for key, value in checks:
        problem = placeholder_problem(value)
        if problem is not None:
            raise ConfigError(
                key,
                f"the production stage {stage_name!r} refuses {value!r}: it {problem}; set the real value",
                _KEYS[key].example,
            )


def _context_claims(raw: object, key: str) -> tuple[str, ...]:
    return rules.context_claim_names(_names(_CLAIM_NAME, "claim name")(raw, key))


def _claim_name(raw: object, key: str) -> str:
    if not isinstance(raw, str) or not _CLAIM_NAME.fullmatch(raw):
        raise _InvalidValueError(f"must be a claim name, got {raw!r}")
    return raw


def _gate(raw: object, key: str) -> str:
    if raw not in GATE_MODES:
        raise _InvalidValueError(f"must be one of {', '.join(GATE_MODES)}, got {raw!r}")
    return str(raw)


def _audience_claim(raw: object, key: str) -> str:
    if raw not in AUDIENCE_CLAIMS:
        raise _InvalidValueError(f"must be one of {', '.join(AUDIENCE_CLAIMS)}, got {raw!r}")
    return str(raw)


def _scope_claims(raw: object, key: str) -> tuple[str, ...]:
    items = _names(_CLAIM_NAME, "claim name")(raw, key)
    if not items:
        raise _InvalidValueError("needs at least one claim name")
    return items


def _required_claim_values(raw: object, key: str) -> Mapping[str, ClaimValue]:
    values: dict[str, ClaimValue] = {}
    for claim, value in _object(raw).items():
        _claim_name(claim, key)
        if not isinstance(value, str | int | float) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise _InvalidValueError(f"the value of {claim!r} must be a string, number or boolean")
        values[claim] = value
    if len(json.dumps(values, separators=(",", ":"))) > MAX_REQUIRED_CLAIM_VALUES_JSON_CHARS:
        raise _InvalidValueError(f"is too large (over {MAX_REQUIRED_CLAIM_VALUES_JSON_CHARS} characters)")
    return MappingProxyType(values)


def _additional_issuers(raw: object, key: str) -> tuple[TrustedIssuer, ...]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise _InvalidValueError(f"is not a valid JSON list ({err.msg})") from None
    if not isinstance(raw, list):
        raise _InvalidValueError("must be a JSON list of issuer objects")
    issuers: list[TrustedIssuer] = []
    for entry in raw:
        if not isinstance(entry, dict) or not {"issuer", "audience"} <= entry.keys() <= {
            "issuer",
            "audience",
            "jwksUri",
        }:
            raise _InvalidValueError(
                'each entry must be an object with "issuer", "audience" and optionally "jwksUri"'
            )
        jwks_uri = entry.get("jwksUri")
        issuers.append(
            TrustedIssuer(
                issuer=_url(entry["issuer"], key),
                audience=_audience(entry["audience"], key),
                jwks_uri=None if jwks_uri in (None, "") else _url(jwks_uri, key),
            )
        )
    if len({extra.issuer for extra in issuers}) != len(issuers):
        raise _InvalidValueError("must not list an issuer twice")
    if len(additional_issuers_json(tuple(issuers))) > MAX_ADDITIONAL_ISSUERS_JSON_CHARS:
        raise _InvalidValueError(f"is too large (over {MAX_ADDITIONAL_ISSUERS_JSON_CHARS} characters)")
    return tuple(issuers)


def additional_issuers_json(issuers: tuple[TrustedIssuer, ...]) -> str:
    """ADDITIONAL_ISSUERS as the authorizer reads it: compact JSON, jwksUri only when set."""
    entries: list[dict[str, object]] = []
    for extra in issuers:
        entry: dict[str, object] = {"issuer": extra.issuer, "audience": list(extra.audience)}
        if extra.jwks_uri is not None:
            entry["jwksUri"] = extra.jwks_uri
        entries.append(entry)
    return json.dumps(entries, separators=(",", ":"))


def _key_delivery(v: Mapping[str, object], stage: Stage, key_set: KeySetTiming) -> KeyDelivery:
    """Issue 13's keys, checked across each other (stacks/key_config.py), as one-line ConfigErrors."""
    try:
        return key_config.key_delivery(
            v, stage=stage, key_set_usable_seconds=key_set.cache_seconds + key_set.max_stale_seconds
        )
    except key_config.KeyConfigError as err:
        raise ConfigError(err.key, err.problem, _KEYS[err.key].example) from None


def _sender_constraint(v: Mapping[str, object], stage: Stage) -> SenderConstraint:
    """Issue 12's keys, checked across each other and the cache TTL (stacks/sender_config.py), as one line."""
    ttl = v["authorizerCacheTtlSeconds"]
    assert isinstance(ttl, int)
    try:
        return sender_config.sender_constraint(v, stage=stage, cache_ttl_seconds=ttl)
    except sender_config.SenderConfigError as err:
        example = err.example if err.example is not None else _KEYS[err.key].example
        raise ConfigError(err.key, err.problem, example) from None


_KEYS: Final[dict[str, _KeySpec]] = {
    "issuer": _KeySpec(_url, "https://acme.eu.auth0.com/", required=True),
    "audience": _KeySpec(_audience, "api://orders,api://billing", required=True),
    "jwksUri": _KeySpec(_optional_url, "https://acme.eu.auth0.com/.well-known/jwks.json"),
    "algorithms": _KeySpec(_algorithms, "RS256,ES256", ["RS256"]),
    "scopeRules": _KeySpec(_scope_rules, '\'{"GET /hello": "items:read"}\'', {}),
    "publicRoutes": _KeySpec(_public_routes, "'[\"GET /health\"]'", []),
    "tokenTypes": _KeySpec(_names(_MEDIA_TYPE, "token type"), "at+jwt,application/at+jwt", []),
    # Default: iss, exp, sub and the audience claim (so iss,aud,exp,sub unless audienceClaim changes it).
    "requiredClaims": _KeySpec(_names(_CLAIM_NAME, "claim name"), "iss,aud,exp,sub,client_id"),
    "contextClaims": _KeySpec(_context_claims, "email,tenant", []),
    "leewaySeconds": _KeySpec(_integer(0, 300), "60", 60),
    "authorizerCacheTtlSeconds": _KeySpec(_integer(0, 3600), "300", 300),
    "jwksCacheSeconds": _KeySpec(_integer(1, 86400), "600", 600),
    "jwksMaxStaleSeconds": _KeySpec(_integer(1, 604800), "86400", 86400),
    "jwksTimeoutSeconds": _KeySpec(_number(0, 4, low_inclusive=False), "2", 2),
    "jwksRefetchCooldownSeconds": _KeySpec(_integer(0, 3600), "10", 10),
    "lambdaMemoryMb": _KeySpec(_integer(128, 10240), "512", 512),
    "logRetentionDays": _KeySpec(_retention, "30", 30),
    "throttlingRateLimit": _KeySpec(_number(0, 10000, low_inclusive=False), "100", 100),
    "throttlingBurstLimit": _KeySpec(_integer(1, 5000), "200", 200),
    "tracing": _KeySpec(_boolean, "true", True),
    "corsOrigins": _KeySpec(_cors_origins, "https://app.example.com", []),
    # Default: the deployment stage's name (-c stage=NAME).
    "stageName": _KeySpec(_pattern(_STAGE_NAME, "letters, digits, - or _ (up to 128)"), "prod"),
    "realm": _KeySpec(
        _pattern(_REALM, 'printable text without " or \\ (up to 64)'), "orders-api", "jwt-gate"
    ),
    "apiGatewayAccountLogRole": _KeySpec(_boolean, "false", True),
    "audienceClaim": _KeySpec(_audience_claim, "client_id", "aud"),
    "scopeClaims": _KeySpec(_scope_claims, "scope,permissions", list(DEFAULT_SCOPE_CLAIMS)),
    "requiredClaimValues": _KeySpec(_required_claim_values, '\'{"token_use":"access"}\'', {}),
    "additionalIssuers": _KeySpec(
        _additional_issuers,
        '\'[{"issuer":"https://partner.eu.auth0.com/","audience":["api://orders"]}]\'',
        [],
    ),
    "principalIdFormat": _KeySpec(rules.principal_id_format_of, "iss#sub", "sub"),
    "backends": _KeySpec(_backends, '\'{"GET /hello": "https://api.example.com/v1"}\'', {}),
    "alarms": _KeySpec(_boolean, "false", True),
    "alarmTopicArn": _KeySpec(
        _pattern(_SNS_TOPIC_ARN, "an SNS topic ARN"), "arn:aws:sns:eu-west-1:123456789012:ops-alerts"
    ),
    "alarmEmail": _KeySpec(_pattern(_EMAIL, "an email address"), "ops@acme-corp.com"),
    "alarm5xxRatePercent": _KeySpec(_number(0, 100, low_inclusive=False), "5", 5),
    "gate": _KeySpec(_gate, "auto", "lambda"),
    # Issue 13, where the keys come from (stacks/key_config.py; the snapshot file itself is checked at synth).
    "keySource": _KeySpec(key_config.parse_key_source, key_config.EXAMPLES["keySource"], "idp"),
    "keyRefreshMinutes": _KeySpec(_integer(1, 1440), key_config.EXAMPLES["keyRefreshMinutes"], 5),
    "parametersExtensionLayerArn": _KeySpec(
        key_config.parse_layer_arn, key_config.EXAMPLES["parametersExtensionLayerArn"]
    ),
    "jwksSnapshot": _KeySpec(key_config.parse_snapshot_path, key_config.EXAMPLES["jwksSnapshot"]),
    "jwksSnapshotMaxAgeSeconds": _KeySpec(
        _integer(60, 7776000), key_config.EXAMPLES["jwksSnapshotMaxAgeSeconds"], 604800
    ),
    "vpc": _KeySpec(key_config.parse_vpc, key_config.EXAMPLES["vpc"]),
    # Issue 12, sender-constrained tokens (stacks/sender_config.py; docs/sender-constrained.md).
    "dpop": _KeySpec(sender_config.parse_mode, sender_config.EXAMPLES["dpop"], "off"),
    "dpopAlgorithms": _KeySpec(
        _algorithms, sender_config.EXAMPLES["dpopAlgorithms"], list(sender_config.DEFAULT_DPOP_ALGORITHMS)
    ),
    "dpopMaxAgeSeconds": _KeySpec(
        _integer(1, sender_config.MAX_DPOP_MAX_AGE_SECONDS),
        sender_config.EXAMPLES["dpopMaxAgeSeconds"],
        sender_config.DEFAULT_DPOP_MAX_AGE_SECONDS,
    ),
    "publicBaseUrl": _KeySpec(sender_config.parse_public_base_url, sender_config.EXAMPLES["publicBaseUrl"]),
    "dpopReplayTable": _KeySpec(_boolean, sender_config.EXAMPLES["dpopReplayTable"], False),
    "mtls": _KeySpec(sender_config.parse_mtls, sender_config.EXAMPLES["mtls"]),
    "mtlsBoundTokens": _KeySpec(sender_config.parse_mode, sender_config.EXAMPLES["mtlsBoundTokens"], "off"),
}

CONFIG_KEYS: Final = tuple(_KEYS)
"""Every context key this app reads, in documentation order."""
