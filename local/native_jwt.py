"""A model of API Gateway's native JWT authorizer for REST APIs, as its documentation describes it.

Independent of the gate by design (nothing from lambda_src is imported): `make compare` runs the same hostile
tokens through both, and a model built from the gate's code would only agree with it. Signatures are checked
with `cryptography` directly; the JOSE parsing here is written from the documentation's rules, not borrowed.

Every rule the model applies is in RULES with the AWS page it comes from and how firmly it is documented:

- "REST": stated on a REST API JWT authorizer page (developer guide or API reference);
- "HTTP API": stated only on the HTTP API JWT authorizer pages; applied to REST as the closest documented
  behaviour (the REST pages use the same vocabulary and say nothing different);
- "assumed": the pages are silent; the model makes the choice named in the rule, and local/README.md and
  docs/native-vs-lambda.md mark every outcome that depends on it.

Order of evaluation (rest-api-jwt-authorizer, "How a JWT authorizer validates a request";
http-api-jwt-authorizer, "Authorizing API requests"): the identity source header, decoding, the algorithm, the
key (by `kid`, from the issuer named by `iss`), the signature, then the claims, then the method's scopes.
Every failure before the scopes is 401; a valid token without any of the method's scopes is 403
(rest-api-jwt-authorizer-methods).

Keys: discovery at `{issuer}/.well-known/openid-configuration` gives `jwks_uri`; the key set is cached for at
most `key_max_age` seconds (1 hour: rest-api-jwt-authorizer-keys says "up to 1 hour on a best-effort basis";
the HTTP API page says two hours) and fetched again when a token names a key the cache does not hold.
API Gateway reads discovery when the authorizer is created; the model reads it on first use (the local issuer
starts after the gateway) and retries a failed one. Locally the model only ever contacts loopback hosts
(`loopback_fetch_json`); another issuer's keys are unavailable, as a backend off loopback is.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import ipaddress
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

DOCS: Final = "https://docs.aws.amazon.com/apigateway/latest"
REST_PAGE: Final = f"{DOCS}/developerguide/rest-api-jwt-authorizer.html"
CREATE_PAGE: Final = f"{DOCS}/developerguide/rest-api-jwt-authorizer-create.html"
METHODS_PAGE: Final = f"{DOCS}/developerguide/rest-api-jwt-authorizer-methods.html"
KEYS_PAGE: Final = f"{DOCS}/developerguide/rest-api-jwt-authorizer-keys.html"
CLAIMS_PAGE: Final = f"{DOCS}/developerguide/rest-api-jwt-authorizer-claims.html"
HTTP_PAGE: Final = f"{DOCS}/developerguide/http-api-jwt-authorizer.html"
HTTP_TROUBLESHOOTING_PAGE: Final = f"{DOCS}/developerguide/http-api-troubleshooting-jwt.html"
CONFIGURATION_INPUT_PAGE: Final = f"{DOCS}/api/API_JwtConfigurationInput.html"
ISSUER_INPUT_PAGE: Final = f"{DOCS}/api/API_JwtIssuerInput.html"
ADDITIONAL_CLAIM_PAGE: Final = f"{DOCS}/api/API_JwtAdditionalClaim.html"

ALGORITHMS: Final = {
    "RS256": ("RSA", None, hashes.SHA256),
    "RS384": ("RSA", None, hashes.SHA384),
    "RS512": ("RSA", None, hashes.SHA512),
    "ES256": ("EC", "P-256", hashes.SHA256),
    "ES384": ("EC", "P-384", hashes.SHA384),
    "ES512": ("EC", "P-521", hashes.SHA512),
}
_CURVES: Final[Mapping[str, tuple[ec.EllipticCurve, int]]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
    "P-521": (ec.SECP521R1(), 66),
}
RESERVED_CLAIM_NAMES: Final = ("iss", "aud", "exp", "nbf", "iat", "scope", "scp")
SINGLE_STRING: Final = "SINGLE_STRING"
DEFAULT_KEY_MAX_AGE: Final = 3600.0
# HTTP API JWT authorizers' limits as shared/notes record them (discovery and JWKS); the REST pages give none.
FETCH_TIMEOUT_SECONDS: Final = 1.5
MAX_DOCUMENT_BYTES: Final = 150_000
DISCOVERY_SUFFIX: Final = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class Rule:
    """One documented (or assumed) behaviour, with where it comes from."""

    code: str
    statement: str
    source: str
    evidence: str  # "REST", "HTTP API" or "assumed"


RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "identity_source",
        "The token comes from the header the authorizer names as its identity source; a request without "
        "that header, or with an empty one, is 401.",
        REST_PAGE,
        "REST",
    ),
    Rule(
        "bearer",
        "The header may hold the token alone or the token prefixed with `Bearer`.",
        HTTP_PAGE,
        "HTTP API",
    ),
    Rule(
        "bearer_spelling",
        "Only the exact prefix `Bearer ` (capital B, one space) is stripped; `bearer`, `BEARER` or extra "
        "spaces leave a value that is not a token: 401.",
        HTTP_PAGE,
        "assumed",
    ),
    Rule(
        "compact_jws",
        "A token is three base64url segments whose header and payload are JSON objects. Padding and "
        "non-zero unused bits are tolerated, and a member name given twice keeps its last value.",
        REST_PAGE,
        "assumed",
    ),
    Rule(
        "algorithm",
        "The header's `alg` must be one of the authorizer's DefaultAlgorithms, which can only hold RS256, "
        "RS384, RS512, ES256, ES384 and ES512 (so PS*, EdDSA, HS* and `none` are always 401).",
        CONFIGURATION_INPUT_PAGE,
        "REST",
    ),
    Rule(
        "issuer",
        "`iss` must equal one of the configured issuers exactly (trailing slash included); the issuer it "
        "names decides whose keys, audiences and additional claims apply.",
        CREATE_PAGE,
        "REST",
    ),
    Rule(
        "kid",
        "The header's `kid` must name a key in that issuer's key set (found through its discovery "
        "document's `jwks_uri`); a token without `kid` is 401.",
        HTTP_PAGE,
        "HTTP API",
    ),
    Rule(
        "key_cache",
        "The discovery document names the key set; keys are cached for up to 1 hour, and a token signed "
        "with a key not in the cache makes API Gateway retrieve the key set again.",
        KEYS_PAGE,
        "REST",
    ),
    Rule(
        "refetch_limit",
        "No limit on those refetches is documented; the model refetches for every unknown `kid` (the worst "
        "case for the identity provider).",
        KEYS_PAGE,
        "assumed",
    ),
    Rule(
        "keys_unavailable",
        "With no usable key set (never fetched, or older than the hour while the issuer does not answer) a "
        "token cannot be verified: 401, like any token the authorizer cannot validate. Nothing documents "
        "keeping keys past the hour, nor a 5xx for an unreachable issuer.",
        KEYS_PAGE,
        "assumed",
    ),
    Rule(
        "signature",
        "The signature must verify with that key under the header's algorithm (RSASSA-PKCS1-v1_5 for RS*, "
        "ECDSA with the curve of the algorithm for ES*).",
        HTTP_PAGE,
        "HTTP API",
    ),
    Rule(
        "audience",
        "`aud` (a string, or an array of which one entry matches) must contain one of the issuer's "
        "Audiences.",
        ISSUER_INPUT_PAGE,
        "REST",
    ),
    Rule(
        "client_id_fallback",
        "Only when the token has no `aud` is its `client_id` compared with the Audiences instead.",
        HTTP_TROUBLESHOOTING_PAGE,
        "HTTP API",
    ),
    Rule(
        "exp",
        "`exp` must be after the current time.",
        HTTP_PAGE,
        "HTTP API",
    ),
    Rule(
        "nbf",
        "`nbf`, when present, must not be after the current time.",
        HTTP_PAGE,
        "HTTP API",
    ),
    Rule(
        "numeric_dates",
        "`exp` must be present, and `exp` and `nbf` must be JSON numbers: a missing `exp`, or a date written "
        'as a string such as "9999999999", is 401.',
        HTTP_PAGE,
        "assumed",
    ),
    Rule(
        "leeway",
        "No clock-skew leeway: the dates are compared with the current time as they are.",
        HTTP_PAGE,
        "assumed",
    ),
    Rule(
        "iat",
        "`iat` is not checked for REST APIs (issue 11 lists no `iat` future check among the native "
        "semantics; the HTTP API page does require `iat` before the current time).",
        HTTP_PAGE,
        "assumed",
    ),
    Rule(
        "typ",
        "The header's `typ` is not checked (the configuration has no token-type setting), so an OpenID "
        "Connect ID token passes wherever its `iss`, `aud` and scopes fit; the HTTP API page warns of "
        "exactly this.",
        CONFIGURATION_INPUT_PAGE,
        "REST",
    ),
    Rule(
        "crit",
        "The header's `crit` is not evaluated: a token that names an extension API Gateway does not "
        "understand is not rejected for it.",
        REST_PAGE,
        "assumed",
    ),
    Rule(
        "additional_claims",
        "Each of the issuer's AdditionalClaims: absent is 401 if Required, else passes; present must be a "
        "string (format SINGLE_STRING) equal, case-sensitively, to one of ExpectedValues (any string when "
        "none are given).",
        ADDITIONAL_CLAIM_PAGE,
        "REST",
    ),
    Rule(
        "scopes",
        "With AuthorizationScopes on the method, the token's `scope` or `scp` (space-separated string or "
        "list of strings) must carry at least one of them, else 403; without them any valid token passes.",
        METHODS_PAGE,
        "REST",
    ),
    Rule(
        "claims",
        "A request let through carries the token's top-level claims to the integration: a Lambda proxy "
        "integration gets them with their JSON types (here under `requestContext.authorizer.claims`), "
        "parameter mappings get `$context.authorizer.claims.<name>` as JSON text, non-ASCII as `\\uXXXX`.",
        CLAIMS_PAGE,
        "REST",
    ),
    Rule(
        "responses",
        "401 is API Gateway's UNAUTHORIZED gateway response and 403 its ACCESS_DENIED one, customized or "
        'not; no WWW-Authenticate header of the HTTP API kind (`Bearer scope="" error="invalid_token" '
        "error_description=...`) is documented for REST APIs.",
        METHODS_PAGE,
        "assumed",
    ),
)
RULES_BY_CODE: Final = {rule.code: rule for rule in RULES}


class NativeConfigError(ValueError):
    """The JwtConfiguration cannot be created as written; the message names the member."""


@dataclass(frozen=True)
class AdditionalClaim:
    name: str
    expected_values: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class JwtIssuer:
    issuer: str
    audiences: tuple[str, ...]
    additional_claims: tuple[AdditionalClaim, ...] = ()


@dataclass(frozen=True)
class JwtAuthorizerConfig:
    """An AWS::ApiGateway::Authorizer of Type JWT, as far as the model needs it."""

    logical_id: str
    header: str
    algorithms: tuple[str, ...]
    issuers: tuple[JwtIssuer, ...]

    def with_issuer(self, index: int, issuer: str) -> JwtAuthorizerConfig:
        """The same authorizer with issuer `index` replaced (a local run points it at the local issuer)."""
        issuers = list(self.issuers)
        issuers[index] = JwtIssuer(issuer, issuers[index].audiences, issuers[index].additional_claims)
        return JwtAuthorizerConfig(self.logical_id, self.header, self.algorithms, tuple(issuers))


HEADER_SOURCE: Final = "method.request.header."


def _string_list(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise NativeConfigError(f"{where} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _issuer_url_problem(issuer: str, allow_loopback_http: bool) -> str | None:
    try:
        parts = urlsplit(issuer)
        host = parts.hostname
    except ValueError:
        return "is not a URL"
    if parts.query or parts.fragment or parts.username is not None or not host:
        return "must be an absolute URL with a host and no user information, query or fragment"
    if parts.scheme == "https" or (parts.scheme == "http" and allow_loopback_http and is_loopback(host)):
        return None
    return "must be an https URL"


def parse_authorizer(
    logical_id: str, props: Mapping[str, Any], *, allow_loopback_http: bool = True
) -> JwtAuthorizerConfig:
    """An authorizer's CloudFormation properties (`Type: JWT`, `IdentitySource`, `JwtConfiguration`) as the
    API accepts them (JwtConfigurationInput, JwtIssuerInput, JwtAdditionalClaim); NativeConfigError otherwise.

    `allow_loopback_http` admits http issuers on loopback, which API Gateway never would: tests and `make
    compare` serve their issuer on 127.0.0.1 without TLS.
    """
    where = f"authorizer {logical_id}"
    if props.get("Type") != "JWT":
        raise NativeConfigError(f"{where}: Type {props.get('Type')!r} is not JWT")
    source = props.get("IdentitySource", f"{HEADER_SOURCE}Authorization")
    if not isinstance(source, str) or not source.startswith(HEADER_SOURCE) or "," in source:
        raise NativeConfigError(f"{where}: IdentitySource {source!r} is not one request header")
    header = source.removeprefix(HEADER_SOURCE)
    if not header:
        raise NativeConfigError(f"{where}: IdentitySource names no header")
    configuration = props.get("JwtConfiguration")
    if not isinstance(configuration, Mapping):
        raise NativeConfigError(f"{where}: JwtConfiguration is missing")
    algorithms = _string_list(configuration.get("DefaultAlgorithms"), f"{where}: DefaultAlgorithms")
    for alg in algorithms:
        if alg not in ALGORITHMS:
            raise NativeConfigError(
                f"{where}: DefaultAlgorithms: {alg!r} is not one of {', '.join(ALGORITHMS)}"
            )
    raw_issuers = configuration.get("Issuers")
    if not isinstance(raw_issuers, list) or not raw_issuers:
        raise NativeConfigError(f"{where}: Issuers must be a non-empty list")
    issuers: list[JwtIssuer] = []
    for index, raw in enumerate(raw_issuers):
        at = f"{where}: Issuers[{index}]"
        if not isinstance(raw, Mapping):
            raise NativeConfigError(f"{at} is not an object")
        issuer = raw.get("Issuer")
        if not isinstance(issuer, str):
            raise NativeConfigError(f"{at}.Issuer is missing")
        problem = _issuer_url_problem(issuer, allow_loopback_http)
        if problem is not None:
            raise NativeConfigError(f"{at}.Issuer {issuer!r} {problem}")
        if any(existing.issuer == issuer for existing in issuers):
            raise NativeConfigError(f"{at}.Issuer {issuer!r} is configured twice")
        audiences = _string_list(raw.get("Audiences"), f"{at}.Audiences")
        if not audiences:
            raise NativeConfigError(f"{at}.Audiences must not be empty")
        claims = _additional_claims(raw.get("AdditionalClaims", []), f"{at}.AdditionalClaims")
        issuers.append(JwtIssuer(issuer, audiences, claims))
    return JwtAuthorizerConfig(logical_id, header, algorithms, tuple(issuers))


def _additional_claims(raw: object, where: str) -> tuple[AdditionalClaim, ...]:
    if not isinstance(raw, list):
        raise NativeConfigError(f"{where} must be a list")
    claims: list[AdditionalClaim] = []
    for index, entry in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(entry, Mapping):
            raise NativeConfigError(f"{at} is not an object")
        name = entry.get("ClaimName")
        if not isinstance(name, str) or not name or name in RESERVED_CLAIM_NAMES:
            raise NativeConfigError(
                f"{at}.ClaimName {name!r} is empty or one of {', '.join(RESERVED_CLAIM_NAMES)}"
            )
        if any(claim.name == name for claim in claims):
            raise NativeConfigError(f"{at}.ClaimName {name!r} appears twice")
        if entry.get("Format") != SINGLE_STRING:
            raise NativeConfigError(f"{at}.Format must be {SINGLE_STRING}, got {entry.get('Format')!r}")
        expected = _string_list(entry.get("ExpectedValues", []), f"{at}.ExpectedValues")
        required = entry.get("Required", False)
        if not isinstance(required, bool):
            raise NativeConfigError(f"{at}.Required must be a boolean")
        claims.append(AdditionalClaim(name, expected, required))
    return tuple(claims)


@dataclass(frozen=True)
class Verdict:
    """What the native authorizer decides: 200 (pass to the integration), 401 or 403, and why.

    `reason` is this model's code (the rule that decided); `description` reads like the HTTP API's
    `error_description`; `claims` are the verified claims when the token itself was valid (also on a 403).
    """

    status: int
    reason: str
    description: str
    rule: str
    claims: Mapping[str, Any] | None = None
    issuer: str | None = None
    kid: str | None = None

    @property
    def allowed(self) -> bool:
        return self.status == 200


# ---------------------------------------------------------------------------------------------------------
# Fetching (loopback only) and the key set


class FetchError(Exception):
    """A document could not be fetched or is not a JSON object; the message says why."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


Fetch = Callable[[str], Mapping[str, Any]]


def loopback_fetch_json(url: str) -> Mapping[str, Any]:
    """GET a JSON object from a loopback URL; anything else (a real issuer) is never contacted locally."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not is_loopback(host):
        raise FetchError(f"{url}: not on loopback; a local run contacts no real issuer")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(host, parts.port, timeout=FETCH_TIMEOUT_SECONDS)
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=FETCH_TIMEOUT_SECONDS)
    try:
        connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        body = response.read(MAX_DOCUMENT_BYTES + 1)
        if response.status != 200:
            raise FetchError(f"{url}: HTTP {response.status}")
    except (OSError, http.client.HTTPException) as err:
        raise FetchError(f"{url}: {type(err).__name__}: {err}") from None
    finally:
        connection.close()
    if len(body) > MAX_DOCUMENT_BYTES:
        raise FetchError(f"{url}: larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = json.loads(body)
    except ValueError:
        raise FetchError(f"{url}: not JSON") from None
    if not isinstance(document, dict):
        raise FetchError(f"{url}: not a JSON object")
    return document


@dataclass(frozen=True)
class _Key:
    kty: str
    crv: str | None
    alg: str | None
    public_key: Any


def _b64url(segment: str) -> bytes:
    """Lenient base64url: padding optional, trailing bits not checked (rule compact_jws)."""
    stripped = segment.rstrip("=")
    if not stripped or any(c not in _B64URL_ALPHABET for c in stripped) or len(stripped) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


_B64URL_ALPHABET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _jwk_key(jwk: object) -> tuple[str | None, _Key] | None:
    """A usable signature key from one JWK (RSA, or EC on P-256/384/521), or None."""
    if not isinstance(jwk, dict):
        return None
    kid, kty, use, alg = jwk.get("kid"), jwk.get("kty"), jwk.get("use"), jwk.get("alg")
    if (kid is not None and not isinstance(kid, str)) or (use is not None and use != "sig"):
        return None
    if alg is not None and alg not in ALGORITHMS:
        return None
    try:
        if kty == "RSA":
            n = int.from_bytes(_b64url(jwk["n"]), "big")
            e = int.from_bytes(_b64url(jwk["e"]), "big")
            return kid, _Key("RSA", None, alg, rsa.RSAPublicNumbers(e, n).public_key())
        if kty == "EC" and jwk.get("crv") in _CURVES:
            curve, size = _CURVES[jwk["crv"]]
            x, y = _b64url(jwk["x"]), _b64url(jwk["y"])
            if len(x) != size or len(y) != size:
                return None
            point = ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + x + y)
            return kid, _Key("EC", jwk["crv"], alg, point)
    except (KeyError, TypeError, ValueError):
        return None
    return None


class IssuerKeys:
    """One issuer's signing keys: discovery once (until it works), then the JWKS, cached up to `max_age`."""

    def __init__(self, issuer: str, *, fetch: Fetch, clock: Callable[[], float], max_age: float) -> None:
        self.issuer = issuer
        self._fetch = fetch
        self._clock = clock
        self._max_age = max_age
        self._lock = threading.Lock()
        self._jwks_uri: str | None = None
        self._keys: dict[str | None, list[_Key]] = {}
        self._fetched_at: float | None = None
        self.last_error = ""
        self.requests: Counter[str] = Counter()  # "discovery" / "jwks": attempts, failed ones included

    def _get(self, kind: str, url: str) -> Mapping[str, Any]:
        self.requests[kind] += 1
        return self._fetch(url)

    def _refresh(self) -> bool:
        try:
            if self._jwks_uri is None:
                discovery_url = self.issuer.removesuffix("/") + DISCOVERY_SUFFIX
                document = self._get("discovery", discovery_url)
                if document.get("issuer") != self.issuer:
                    raise FetchError(f"{discovery_url}: names issuer {document.get('issuer')!r}")
                jwks_uri = document.get("jwks_uri")
                if not isinstance(jwks_uri, str):
                    raise FetchError(f"{discovery_url}: no jwks_uri")
                self._jwks_uri = jwks_uri
            key_set = self._get("jwks", self._jwks_uri)
        except FetchError as err:
            self.last_error = str(err)
            return False
        entries = key_set.get("keys")
        keys: dict[str | None, list[_Key]] = {}
        for entry in entries if isinstance(entries, list) else []:
            parsed = _jwk_key(entry)
            if parsed is not None:
                keys.setdefault(parsed[0], []).append(parsed[1])
        self._keys = keys
        self._fetched_at = self._clock()
        return True

    def _fresh(self) -> bool:
        return self._fetched_at is not None and 0 <= self._clock() - self._fetched_at < self._max_age

    def lookup(self, kid: str) -> list[_Key] | None:
        """The keys named `kid` (possibly none), or None when no key set is available at all."""
        with self._lock:
            refreshed = False
            if not self._fresh():
                refreshed = self._refresh()
                if not refreshed:
                    self._keys, self._fetched_at = {}, None
                    return None
            if kid in self._keys:
                return self._keys[kid]
            if not refreshed:
                self._refresh()  # a key it has not seen: retrieve the key set again (rule key_cache)
            return self._keys.get(kid, [])


# ---------------------------------------------------------------------------------------------------------
# The authorizer


def _signature_ok(alg: str, key: _Key, signing_input: bytes, signature: bytes) -> bool:
    kty, crv, hash_type = ALGORITHMS[alg]
    if key.kty != kty or (crv is not None and key.crv != crv) or (key.alg is not None and key.alg != alg):
        return False
    try:
        if kty == "RSA":
            key.public_key.verify(signature, signing_input, padding.PKCS1v15(), hash_type())
        else:
            size = _CURVES[crv or ""][1]
            if len(signature) != 2 * size:
                return False
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            key.public_key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hash_type()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def token_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """The scopes of `scope` and `scp`, each a space-separated string or a list of strings (rule scopes)."""
    found: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(part for entry in value if isinstance(entry, str) for part in entry.split())
    return frozenset(found)


def bearer_token(value: str) -> str:
    """The token in an identity source value: after `Bearer `, else the value itself (rule bearer)."""
    return value[len("Bearer ") :] if value.startswith("Bearer ") else value


@dataclass
class NativeJwtAuthorizer:
    """One JWT authorizer of the API: `authorize(header value, method scopes)` gives the Verdict."""

    config: JwtAuthorizerConfig
    clock: Callable[[], float] = time.time
    fetch: Fetch = loopback_fetch_json
    key_max_age: float = DEFAULT_KEY_MAX_AGE
    _keys: dict[str, IssuerKeys] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for issuer in self.config.issuers:
            self._keys[issuer.issuer] = IssuerKeys(
                issuer.issuer, fetch=self.fetch, clock=self.clock, max_age=self.key_max_age
            )

    def requests(self) -> Counter[str]:
        """Discovery and JWKS requests made so far, over every issuer (for `make compare`)."""
        total: Counter[str] = Counter()
        for keys in self._keys.values():
            total.update(keys.requests)
        return total

    def authorize(self, header_value: str | None, method_scopes: Sequence[str] = ()) -> Verdict:
        """The verdict for one request: its identity source value and the method's AuthorizationScopes."""
        try:
            return self._authorize(header_value, method_scopes)
        except _Refused as refused:
            return Verdict(
                401, refused.reason, refused.description, refused.rule, None, refused.issuer, refused.kid
            )

    def _authorize(self, header_value: str | None, method_scopes: Sequence[str]) -> Verdict:
        if not header_value:
            raise _Refused("missing_token", "identity_source", f"no {self.config.header} header")
        token = bearer_token(header_value)
        parts = token.split(".")
        try:
            if len(parts) != 3:
                raise ValueError("not three segments")
            header = json.loads(_b64url(parts[0]))
            payload = json.loads(_b64url(parts[1]))
            signature = _b64url(parts[2])
            if not isinstance(header, dict) or not isinstance(payload, dict):
                raise ValueError("not JSON objects")
        except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
            raise _Refused("malformed_token", "compact_jws", "the token is not a signed JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.config.algorithms:
            raise _Refused("unsupported_alg", "algorithm", f"the signing algorithm {alg!r} is not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise _Refused("missing_kid", "kid", "the token has no kid")
        iss = payload.get("iss")
        trusted = next((i for i in self.config.issuers if isinstance(iss, str) and i.issuer == iss), None)
        if trusted is None:
            raise _Refused("issuer_not_trusted", "issuer", "the token does not have a valid issuer", kid)
        candidates = self._keys[trusted.issuer].lookup(kid)
        if candidates is None:
            description = "the signing keys could not be retrieved"
            raise _Refused("keys_unavailable", "keys_unavailable", description, kid, trusted.issuer)
        if not candidates:
            raise _Refused("unknown_kid", "kid", "no key in the key set has this kid", kid, trusted.issuer)
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
        if not any(_signature_ok(alg, key, signing_input, signature) for key in candidates):
            raise _Refused("bad_signature", "signature", "the signature does not verify", kid, trusted.issuer)
        self._check_claims(payload, trusted, kid)
        if method_scopes and not token_scopes(payload) & set(method_scopes):
            description = "the token has none of the method's scopes"
            return Verdict(403, "insufficient_scope", description, "scopes", payload, trusted.issuer, kid)
        return Verdict(
            200, "ok", "", "scopes" if method_scopes else "signature", payload, trusted.issuer, kid
        )

    def _check_claims(self, claims: dict[str, Any], trusted: JwtIssuer, kid: str) -> None:
        """Audience, dates and the issuer's additional claims; _Refused on the first that fails."""

        def refuse(reason: str, rule: str, description: str) -> _Refused:
            return _Refused(reason, rule, description, kid, trusted.issuer)

        if not _audiences_of(claims) & set(trusted.audiences):
            raise refuse("audience_mismatch", "audience", "the token does not have a valid audience")
        now = self.clock()
        exp = _number(claims.get("exp"))
        if exp is None:
            raise refuse("invalid_exp", "numeric_dates", "the token has no numeric exp")
        if exp <= now:
            raise refuse("expired", "exp", "the token has expired")
        if "nbf" in claims:
            nbf = _number(claims["nbf"])
            if nbf is None:
                raise refuse("invalid_nbf", "numeric_dates", "the token's nbf is not a number")
            if nbf > now:
                raise refuse("not_yet_valid", "nbf", "the token is not valid yet")
        for rule in trusted.additional_claims:
            if rule.name not in claims:
                if rule.required:
                    raise refuse("additional_claim_missing", "additional_claims", f"no {rule.name} claim")
                continue
            value = claims[rule.name]
            if not isinstance(value, str) or (rule.expected_values and value not in rule.expected_values):
                raise refuse("additional_claim_mismatch", "additional_claims", f"{rule.name} does not match")


class _Refused(Exception):  # noqa: N818 - control flow carrying a 401 verdict, not an error
    def __init__(
        self, reason: str, rule: str, description: str, kid: str | None = None, issuer: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason, self.rule, self.description, self.kid, self.issuer = (
            reason,
            rule,
            description,
            kid,
            issuer,
        )


def _audiences_of(claims: Mapping[str, Any]) -> set[str]:
    """`aud` (a string, or the strings of an array); `client_id` only without `aud` (rule audience)."""
    if "aud" not in claims:
        client_id = claims.get("client_id")
        return {client_id} if isinstance(client_id, str) else set()
    aud = claims["aud"]
    if isinstance(aud, str):
        return {aud}
    return {a for a in aud if isinstance(a, str)} if isinstance(aud, list) else set()
