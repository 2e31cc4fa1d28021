"""The environment contract, parsed once at cold start into an immutable :class:`Settings`.

Every variable is validated here so that a misconfigured authorizer fails its init phase loudly
(:class:`~gate.errors.ConfigError` naming the variable) instead of starting and silently allowing or
rejecting everything. An empty value means "unset" (the default applies), because deployment tools
often render absent options as empty strings; that also means REQUIRED_CLAIMS can be narrowed but
never accidentally emptied.

Identity-provider profiles (issue 6) add four variables whose defaults keep the issue 3 behaviour:

* AUDIENCE_CLAIM [aud]: the claim that must hold one of AUDIENCE - ``aud`` (string or array), or a
  client claim (``client_id``, ``azp``, ``cid``; a string) for providers whose access tokens carry no
  usable ``aud`` (Cognito). REQUIRED_CLAIMS then defaults to ``iss,<AUDIENCE_CLAIM>,exp,sub``, so
  ``aud`` is neither required nor checked unless REQUIRED_CLAIMS or REQUIRED_CLAIM_VALUES name it.
* SCOPE_CLAIMS [scope,scp]: the claims whose scopes are united. Each is a space-separated string or
  a list of strings, except ``scope`` itself, which RFC 9068 defines as a string only (a list there
  is ignored, as before). Claim names are top-level: nested claims such as Keycloak's
  ``realm_access.roles`` are not reachable, because real claim names contain dots (Auth0's
  namespaced claims) and a path syntax would be ambiguous.
* REQUIRED_CLAIM_VALUES [{}]: claim -> exact value (string, number or boolean; type included, so
  ``true`` never equals ``1``), e.g. ``{"token_use":"access"}`` to refuse Cognito ID tokens.
* ADDITIONAL_ISSUERS [none]: ``[{"issuer": ..., "audience": [...], "jwksUri": ...?}]``, further
  trusted issuers, each with its own audiences and its own key set (discovered from its issuer
  when ``jwksUri`` is absent). ISSUER/AUDIENCE/JWKS_URI stay the primary issuer.

Issue 9 adds PRINCIPAL_ID_FORMAT [sub]: ``iss#sub`` makes ``principalId`` issuer-qualified, because two
trusted issuers may hand out the same ``sub`` (an issuer identifier has no fragment, so the first ``#``
splits it unambiguously). SCOPE_RULES keys follow gate/routes.py, the rules stacks/rules.py applies at
synth (a test holds the two to each other); CONTEXT_CLAIMS may not name a context key the gate or API
Gateway already fills.

Issue 12 adds sender-constrained tokens, all off by default (off means: not one extra step per request):

* DPOP [off]: ``off`` | ``allowed`` (unbound tokens as today; a token with ``cnf.jkt`` only as
  ``Authorization: DPoP`` with a valid proof) | ``required`` (every token DPoP-bound, with a proof);
  gate/dpop.py has the checks.
* DPOP_ALGORITHMS [ES256,PS256,EdDSA]: proof algorithms, a subset of SUPPORTED_ALGORITHMS (so never
  ``none`` or a MAC); the proof's key must fit the algorithm as a JWKS key must (gate/keys.py).
* DPOP_MAX_AGE_SECONDS [60]: how old a proof's ``iat`` may be (LEEWAY_SECONDS is the future side); at
  most 600, because the replay memory has to remember every ``jti`` that long.
* PUBLIC_BASE_URL [none]: the external base URL (custom domain and base path) the expected ``htu`` is
  built from, as ``PUBLIC_BASE_URL + event path``; without it ``https://{domainName}{requestContext.path}``.
  https (plain http on loopback hosts only, for local runs), no query, fragment or credentials; one
  trailing ``/`` is dropped.
* DPOP_REPLAY_TABLE [none]: a DynamoDB table name (or table ARN) shared by all containers for the
  ``jti`` replay check (gate/replay.py); without it each container remembers its own.
* MTLS_BOUND_TOKENS [off]: ``off`` | ``allowed`` (a token with ``cnf["x5t#S256"]`` must match the
  mutual-TLS client certificate) | ``required`` (every token must be certificate-bound); gate/binding.py.
"""

# Annotations are not postponed (no __future__ import): typing.NamedTuple compiles every string annotation
# when it creates a class, ~0.1 ms per class on every cold start (tests/authorizer/test_authz_imports.py).
import ipaddress
import json
import math
import re
from collections.abc import Mapping
from typing import Final, NamedTuple
from urllib.parse import urlsplit

from gate.errors import ConfigError
from gate.routes import Rule, RuleError, parse_route

SUPPORTED_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_REQUIRED_CLAIMS: Final = ("iss", "aud", "exp", "sub")
AUDIENCE_CLAIMS: Final = ("aud", "azp", "cid", "client_id")
DEFAULT_SCOPE_CLAIMS: Final = ("scope", "scp")
ISSUER_MEMBERS: Final = frozenset({"issuer", "audience", "jwksUri"})

MAX_RULES: Final = 100
# API Gateway limits a policy Resource ARN to 512 characters. Without RESOURCE_ARN the prefix comes
# from the methodArn at run time; this bound covers partition, region, account, API id and a long stage.
MAX_RESOURCE_ARN: Final = 512
ASSUMED_MAX_PREFIX: Final = 200
MAX_LEEWAY_SECONDS: Final = 3600.0
MAX_TIMEOUT_SECONDS: Final = 30.0

# RESOURCE_ARN's shape as a pattern; is_resource_arn checks it by hand (read once per cold start, not worth
# compiling a regex for), and tests/authorizer/test_authz_fast_paths.py holds the two equal.
RESOURCE_ARN_SHAPE: Final = r"arn:[a-z*?-]+:execute-api:[^:/\s]*:[^:/\s]*:[^:/\s]+/[^/\s]+"
_PARTITION_CHARACTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyz*?-")
# RFC 6749 section 3.3 scope-token, and a claim name (printable ASCII, no space). Patterns as text, checked as
# character sets: no regex compiled at import (a cold start cost); tests hold the two equal.
SCOPE_TOKEN: Final = r"[\x21\x23-\x5b\x5d-\x7e]+"  # noqa: S105 - a pattern, not a secret
CLAIM_NAME: Final = r"[!-~]+"
_CLAIM_NAME_CHARACTERS: Final = frozenset(map(chr, range(0x21, 0x7F)))
_SCOPE_TOKEN_CHARACTERS: Final = _CLAIM_NAME_CHARACTERS - {'"', "\\"}
# Context keys the authorizer fills itself, and the ones API Gateway keeps for its own values in
# $context.authorizer.*: a CONTEXT_CLAIMS entry of either name would be overwritten or shadow them.
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
PRINCIPAL_ID_FORMATS: Final = ("sub", "iss#sub")
SENDER_CONSTRAINT_MODES: Final = ("off", "allowed", "required")  # DPOP and MTLS_BOUND_TOKENS
DEFAULT_DPOP_ALGORITHMS: Final = ("ES256", "PS256", "EdDSA")
MAX_DPOP_AGE_SECONDS: Final = 600.0
# DynamoDB table names (3-255 of these characters), or a table ARN (the API accepts both).
# (Pattern text, compiled on use by re's cache: only a DPoP configuration reads it.)
_DYNAMODB_TABLE: Final = r"(arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/)?[A-Za-z0-9_.-]{3,255}"


ClaimValue = str | int | float | bool


def is_resource_arn(text: str) -> bool:
    """Whether ``text`` fully matches RESOURCE_ARN_SHAPE: an API stage ARN, arn:...:<api>/<stage>."""
    if any(map(str.isspace, text)):
        return False
    head, slash, stage = text.partition("/")
    fields = head.split(":")
    return (
        bool(slash and stage)
        and "/" not in stage
        and len(fields) == 6
        and fields[0] == "arn"
        and bool(fields[1])
        and _PARTITION_CHARACTERS.issuperset(fields[1])
        and fields[2] == "execute-api"
        and bool(fields[5])
    )


def is_scope_token(text: str) -> bool:
    """Whether ``text`` fully matches SCOPE_TOKEN."""
    return bool(text) and _SCOPE_TOKEN_CHARACTERS.issuperset(text)


def is_claim_name(text: str) -> bool:
    """Whether ``text`` fully matches CLAIM_NAME."""
    return bool(text) and _CLAIM_NAME_CHARACTERS.issuperset(text)


class TrustedIssuer(NamedTuple):
    """One issuer whose tokens are accepted: its exact ``iss``, its audiences and where its keys live.

    Exactly one of ``jwks_uri`` and ``discovery_uri`` is set.
    """

    issuer: str
    audiences: frozenset[str]
    jwks_uri: str | None
    discovery_uri: str | None


class Settings(NamedTuple):
    issuer: str
    audiences: frozenset[str]
    jwks_uri: str | None
    discovery_uri: str | None
    algorithms: frozenset[str]
    leeway_seconds: float
    token_types: frozenset[str]
    required_claims: tuple[str, ...]
    scope_rules: tuple[Rule, ...] | None
    jwks_cache_seconds: float
    jwks_max_stale_seconds: float
    jwks_timeout_seconds: float
    jwks_refetch_cooldown_seconds: float
    resource_arn: str | None
    context_claims: tuple[str, ...]
    audience_claim: str = "aud"
    scope_claims: tuple[str, ...] = DEFAULT_SCOPE_CLAIMS
    required_claim_values: tuple[tuple[str, ClaimValue], ...] = ()
    additional_issuers: tuple[TrustedIssuer, ...] = ()
    principal_id_format: str = "sub"
    dpop: str = "off"
    dpop_algorithms: frozenset[str] = frozenset(DEFAULT_DPOP_ALGORITHMS)
    dpop_max_age_seconds: float = 60.0
    public_base_url: str | None = None
    dpop_replay_table: str | None = None
    mtls_bound_tokens: str = "off"

    @property
    def trusted_issuers(self) -> tuple[TrustedIssuer, ...]:
        """The primary issuer (ISSUER, AUDIENCE, JWKS_URI) first, then ADDITIONAL_ISSUERS."""
        primary = TrustedIssuer(self.issuer, self.audiences, self.jwks_uri, self.discovery_uri)
        return (primary, *self.additional_issuers)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        issuer = _required(env, "ISSUER")
        jwks_uri = _optional(env, "JWKS_URI")
        if jwks_uri is not None:
            _check_fetch_url("JWKS_URI", jwks_uri)
        discovery_uri = None if jwks_uri is not None else _discovery_uri("ISSUER", issuer)
        resource_arn = _resource_arn(env)
        audience_claim = _audience_claim(env)
        return cls(
            issuer=issuer,
            audiences=frozenset(_csv(env, "AUDIENCE", required=True)),
            jwks_uri=jwks_uri,
            discovery_uri=discovery_uri,
            algorithms=_algorithms(env, "ALGORITHMS", ("RS256",)),
            leeway_seconds=_seconds(env, "LEEWAY_SECONDS", 60.0, maximum=MAX_LEEWAY_SECONDS),
            token_types=frozenset(t.lower() for t in _csv(env, "TOKEN_TYPES")),
            required_claims=_claim_names(env, "REQUIRED_CLAIMS") or _default_required(audience_claim),
            scope_rules=_scope_rules(env, resource_arn),
            jwks_cache_seconds=_seconds(env, "JWKS_CACHE_SECONDS", 600.0),
            jwks_max_stale_seconds=_seconds(env, "JWKS_MAX_STALE_SECONDS", 86400.0),
            jwks_timeout_seconds=_seconds(
                env, "JWKS_TIMEOUT_SECONDS", 2.0, positive=True, maximum=MAX_TIMEOUT_SECONDS
            ),
            jwks_refetch_cooldown_seconds=_seconds(env, "JWKS_REFETCH_COOLDOWN_SECONDS", 10.0),
            resource_arn=resource_arn,
            context_claims=_context_claims(env),
            audience_claim=audience_claim,
            scope_claims=_claim_names(env, "SCOPE_CLAIMS") or DEFAULT_SCOPE_CLAIMS,
            required_claim_values=_required_claim_values(env),
            additional_issuers=_additional_issuers(env, issuer),
            principal_id_format=_principal_id_format(env),
            dpop=_mode(env, "DPOP"),
            dpop_algorithms=_algorithms(env, "DPOP_ALGORITHMS", DEFAULT_DPOP_ALGORITHMS),
            dpop_max_age_seconds=_seconds(
                env, "DPOP_MAX_AGE_SECONDS", 60.0, positive=True, maximum=MAX_DPOP_AGE_SECONDS
            ),
            public_base_url=_public_base_url(env),
            dpop_replay_table=_dynamodb_table(env, "DPOP_REPLAY_TABLE"),
            mtls_bound_tokens=_mode(env, "MTLS_BOUND_TOKENS"),
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


def _discovery_uri(variable: str, issuer: str) -> str:
    # OpenID Connect Discovery 1.0 section 4: drop one terminating "/" before appending.
    discovery_uri = issuer.removesuffix("/") + "/.well-known/openid-configuration"
    _check_fetch_url(variable, discovery_uri)
    return discovery_uri


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
        if not is_claim_name(claim):
            raise ConfigError(name, f"invalid claim name {claim!r}")
    return tuple(dict.fromkeys(names))


def _algorithms(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> frozenset[str]:
    names = _csv(env, name) or default
    for alg in names:
        if alg not in SUPPORTED_ALGORITHMS:
            raise ConfigError(
                name, f"{alg!r} is not allowed; choose from {', '.join(sorted(SUPPORTED_ALGORITHMS))}"
            )
    return frozenset(names)


def _mode(env: Mapping[str, str], name: str) -> str:
    value = _optional(env, name) or "off"
    if value not in SENDER_CONSTRAINT_MODES:
        raise ConfigError(
            name, f"{value!r} is not supported; choose from {', '.join(SENDER_CONSTRAINT_MODES)}"
        )
    return value


def _public_base_url(env: Mapping[str, str]) -> str | None:
    url = _optional(env, "PUBLIC_BASE_URL")
    if url is None:
        return None
    # The same rule as for fetched URLs: https, plain http only for loopback hosts (make local).
    problem = fetch_url_problem(url)
    if problem is None and ("?" in url or "#" in url):
        problem = "URL must not carry a query or fragment"
    if problem is not None:
        raise ConfigError("PUBLIC_BASE_URL", f"{problem}: {url!r}")
    return url.removesuffix("/")


def _dynamodb_table(env: Mapping[str, str], name: str) -> str | None:
    table = _optional(env, name)
    if table is not None and not re.fullmatch(_DYNAMODB_TABLE, table, re.ASCII):
        raise ConfigError(
            name, f"expected a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -) or ARN, got {table!r}"
        )
    return table


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
    if len(arn) > ASSUMED_MAX_PREFIX or not is_resource_arn(arn):
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


def _scope_rules(env: Mapping[str, str], resource_arn: str | None) -> tuple[Rule, ...] | None:
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
        if prefix_length + len("/DELETE/") + len(rule.path) > MAX_RESOURCE_ARN:
            raise ConfigError("SCOPE_RULES", f"route {route!r} makes a Resource ARN over {MAX_RESOURCE_ARN}")
        rules.append(rule)
    return tuple(rules)


def _scope_rule(route: str, scopes: object) -> Rule:
    try:
        method, path = parse_route(route)
    except RuleError as err:
        raise ConfigError("SCOPE_RULES", str(err)) from None
    if not isinstance(scopes, str):
        raise ConfigError("SCOPE_RULES", f"scopes of {route!r} must be a space-separated string")
    tokens = scopes.split()
    for token in tokens:
        if not is_scope_token(token):
            raise ConfigError("SCOPE_RULES", f"{token!r} in {route!r} is not a valid scope")
    return Rule(method=method, path=path, scopes=frozenset(tokens))


def _context_claims(env: Mapping[str, str]) -> tuple[str, ...]:
    names = _claim_names(env, "CONTEXT_CLAIMS")
    for name in names:
        if name in GATE_CONTEXT_KEYS or name in API_GATEWAY_CONTEXT_KEYS:
            raise ConfigError(
                "CONTEXT_CLAIMS", f"{name!r} is a context key the gate or API Gateway already uses"
            )
    return names


def _principal_id_format(env: Mapping[str, str]) -> str:
    value = _optional(env, "PRINCIPAL_ID_FORMAT") or "sub"
    if value not in PRINCIPAL_ID_FORMATS:
        choices = ", ".join(PRINCIPAL_ID_FORMATS)
        raise ConfigError("PRINCIPAL_ID_FORMAT", f"{value!r} is not supported; choose from {choices}")
    return value


def _audience_claim(env: Mapping[str, str]) -> str:
    claim = _optional(env, "AUDIENCE_CLAIM") or "aud"
    if claim not in AUDIENCE_CLAIMS:
        raise ConfigError(
            "AUDIENCE_CLAIM", f"{claim!r} is not supported; choose from {', '.join(AUDIENCE_CLAIMS)}"
        )
    return claim


def _default_required(audience_claim: str) -> tuple[str, ...]:
    # The audience claim replaces "aud": a Cognito access token has no aud and must not need one.
    return tuple(audience_claim if claim == "aud" else claim for claim in DEFAULT_REQUIRED_CLAIMS)


def _json_document(env: Mapping[str, str], name: str) -> object:
    """The variable's JSON value (None when unset); duplicate member names are refused."""
    raw = _optional(env, name)
    if raw is None:
        return None

    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        result = dict(pairs)
        if len(result) != len(pairs):
            raise ConfigError(name, f"duplicate member name in {raw!r}")
        return result

    def no_constant(constant: str) -> object:
        raise ConfigError(name, f"{constant} is not JSON")

    try:
        return json.loads(raw, object_pairs_hook=unique, parse_constant=no_constant)
    except ValueError as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(name, f"not valid JSON ({err})") from None


def _required_claim_values(env: Mapping[str, str]) -> tuple[tuple[str, ClaimValue], ...]:
    document = _json_document(env, "REQUIRED_CLAIM_VALUES")
    if document is None:
        return ()
    if not isinstance(document, dict):
        raise ConfigError("REQUIRED_CLAIM_VALUES", 'expected a JSON object {"claim": value}')
    pairs: list[tuple[str, ClaimValue]] = []
    for claim, value in document.items():
        if not is_claim_name(claim):
            raise ConfigError("REQUIRED_CLAIM_VALUES", f"invalid claim name {claim!r}")
        if not isinstance(value, str | int | float):  # bool is an int
            raise ConfigError(
                "REQUIRED_CLAIM_VALUES",
                f"value of {claim!r} must be a string, number or boolean, got {value!r}",
            )
        pairs.append((claim, value))
    return tuple(pairs)


def _additional_issuers(env: Mapping[str, str], primary: str) -> tuple[TrustedIssuer, ...]:
    name = "ADDITIONAL_ISSUERS"
    document = _json_document(env, name)
    if document is None:
        return ()
    if not isinstance(document, list):
        raise ConfigError(name, 'expected a JSON array [{"issuer": ..., "audience": [...], "jwksUri": ...}]')
    seen = {primary}
    issuers = []
    for index, entry in enumerate(document):
        where = f"entry {index}"
        if not isinstance(entry, dict) or not {"issuer", "audience"} <= entry.keys() <= ISSUER_MEMBERS:
            raise ConfigError(
                name, f"{where} must be an object with issuer, audience and optionally jwksUri, got {entry!r}"
            )
        issuer, audience, jwks_uri = entry["issuer"], entry["audience"], entry.get("jwksUri")
        if not isinstance(issuer, str) or not issuer or issuer != issuer.strip():
            raise ConfigError(name, f"{where}: issuer must be a non-empty string without surrounding spaces")
        if issuer in seen:
            raise ConfigError(name, f"{where}: issuer {issuer!r} is configured twice")
        seen.add(issuer)
        if (
            not isinstance(audience, list)
            or not audience
            or not all(isinstance(a, str) and a and a == a.strip() for a in audience)
        ):
            raise ConfigError(name, f"{where}: audience must be a non-empty array of non-empty strings")
        if jwks_uri is not None:
            if not isinstance(jwks_uri, str):
                raise ConfigError(name, f"{where}: jwksUri must be a string")
            _check_fetch_url(name, jwks_uri)
        discovery_uri = None if jwks_uri is not None else _discovery_uri(name, issuer)
        issuers.append(TrustedIssuer(issuer, frozenset(audience), jwks_uri, discovery_uri))
    return tuple(issuers)
