"""Sender-constrained tokens (issue 12): config keys, their parsers and the checks across them.

Keys: `dpop` (`off` | `allowed` | `required`), `dpopAlgorithms`, `dpopMaxAgeSeconds`, `publicBaseUrl`,
`dpopReplayTable`, `mtls` (`{"domainName", "certificateArn", "truststoreUri", "truststoreVersion"?}`) and
`mtlsBoundTokens` (`off` | `allowed` | `required`). stacks/config.py lists them in `_KEYS` and calls
`sender_constraint` once every key is read; stacks/sender_constraint.py turns the result into the authorizer's
environment, identity sources and challenge, the replay table and the mutual-TLS custom domain.
docs/sender-constrained.md is the user-facing side of the same decisions.

Refusals across keys, each one line naming the key to change:

* `dpop` or `mtlsBoundTokens` on with a non-zero `authorizerCacheTtlSeconds`: API Gateway would answer from a
  cached result without invoking the authorizer, so a replayed proof (or the token over another client
  certificate) would pass. The cache key cannot help: a proof is new on every request by design.
* `mtlsBoundTokens` on without `mtls`: the client certificate only reaches the authorizer through the
  mutual-TLS custom domain.
* `dpopAlgorithms`, `dpopMaxAgeSeconds`, `publicBaseUrl` (other than their defaults) or `dpopReplayTable`
  with `dpop` off: nothing would read them (the table would be a resource nobody writes).
* `mtls` with a certificate from another region than the stage's pinned region (a regional custom domain
  needs its ACM certificate in the API's region).
* gate=native with `dpop` or `mtlsBoundTokens` on: stacks/native_authorizer.py (the native JWT authorizer
  cannot check a proof or a certificate binding; under gate=auto every route stays on the Lambda).

Like stacks/config.py this module does not import aws_cdk, so config validation runs without jsii.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from stacks.rules import InvalidValueError

if TYPE_CHECKING:
    from stacks.config import Stage

MODES: Final = ("off", "allowed", "required")  # dpop and mtlsBoundTokens, as DPOP and MTLS_BOUND_TOKENS
DEFAULT_DPOP_ALGORITHMS: Final = ("ES256", "PS256", "EdDSA")
DEFAULT_DPOP_MAX_AGE_SECONDS: Final = 60
MAX_DPOP_MAX_AGE_SECONDS: Final = 600  # the authorizer's own bound (its replay memory must span the window)
EXAMPLES: Final = {
    "dpop": "required",
    "dpopAlgorithms": "ES256,EdDSA",
    "dpopMaxAgeSeconds": "60",
    "publicBaseUrl": "https://api.acme-corp.com/orders",
    "dpopReplayTable": "true",
    "mtls": '\'{"domainName": "api.acme-corp.com", "certificateArn": '
    '"arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b", '
    '"truststoreUri": "s3://acme-corp-truststores/api/truststore.pem"}\'',
    "mtlsBoundTokens": "required",
}
CACHE_TTL_EXAMPLE: Final = "0"
_MTLS_REQUIRED: Final = frozenset({"domainName", "certificateArn", "truststoreUri"})
_MTLS_MEMBERS: Final = _MTLS_REQUIRED | {"truststoreVersion"}
_DOMAIN_NAME = re.compile(r"(?=.{4,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", re.ASCII)
_CERTIFICATE_ARN = re.compile(
    r"arn:aws[a-z-]*:acm:(?P<region>[a-z]{2}(-[a-z]+)+-\d):\d{12}:certificate/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    re.ASCII,
)
_TRUSTSTORE_URI = re.compile(
    r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>[!-~]*[!-.0-~])", re.ASCII
)
_TRUSTSTORE_VERSION = re.compile(r"[!-~]{1,1024}", re.ASCII)


class SenderConfigError(Exception):
    """A problem across the sender-constraint settings; stacks/config.py turns it into its ConfigError."""

    def __init__(self, key: str, problem: str, example: str | None = None) -> None:
        super().__init__(problem)
        self.key = key
        self.problem = problem
        self.example = example  # None: the key's own `_KEYS` example


@dataclass(frozen=True)
class MutualTls:
    """The custom domain with mutual TLS (`mtls`): the certificate is imported by ARN, never looked up."""

    domain_name: str
    certificate_arn: str
    truststore_uri: str
    truststore_version: str | None = None

    @property
    def truststore_bucket(self) -> str:
        match = _TRUSTSTORE_URI.fullmatch(self.truststore_uri)
        assert match is not None
        return match["bucket"]

    @property
    def truststore_key(self) -> str:
        match = _TRUSTSTORE_URI.fullmatch(self.truststore_uri)
        assert match is not None
        return match["key"]

    @property
    def url(self) -> str:
        """The API's base URL on this domain (the stage is mapped to its root)."""
        return f"https://{self.domain_name}/"


@dataclass(frozen=True)
class SenderConstraint:
    """DPoP and certificate binding settings; the defaults (both off) keep the stack exactly as before."""

    dpop: str = "off"
    dpop_algorithms: tuple[str, ...] = DEFAULT_DPOP_ALGORITHMS
    dpop_max_age_seconds: int = DEFAULT_DPOP_MAX_AGE_SECONDS
    public_base_url: str | None = None
    dpop_replay_table: bool = False
    mtls: MutualTls | None = None
    mtls_bound_tokens: str = "off"

    @property
    def dpop_on(self) -> bool:
        return self.dpop != "off"

    @property
    def bound_tokens_on(self) -> bool:
        return self.mtls_bound_tokens != "off"

    @property
    def checks_every_request(self) -> bool:
        """The authorizer must see every request (result cache TTL 0): a proof or a certificate to compare."""
        return self.dpop_on or self.bound_tokens_on

    @property
    def bearer_allowed(self) -> bool:
        """Whether `Authorization: Bearer` still works (so its challenge is still offered)."""
        return self.dpop != "required"

    @property
    def expected_base_url(self) -> str | None:
        """PUBLIC_BASE_URL: `publicBaseUrl`, else the mutual-TLS domain (the only way in), else None (the
        authorizer then uses https://{requestContext.domainName}{requestContext.path})."""
        if self.public_base_url is not None:
            return self.public_base_url
        if self.mtls is not None:
            return f"https://{self.mtls.domain_name}"
        return None

    @property
    def identity_headers(self) -> tuple[str, ...]:
        """Headers API Gateway must see before it invokes the authorizer (it answers 401 itself otherwise).

        The DPoP header only under `required`: under `allowed` unbound Bearer tokens come without one, and
        an identity source they lack would lock them out.
        """
        return ("Authorization", "DPoP") if self.dpop == "required" else ("Authorization",)

    def environment(self) -> dict[str, str]:
        """The authorizer's issue-12 variables (DPOP_REPLAY_TABLE is the table's name, added by the stack);
        nothing when both bindings are off, so the default environment is unchanged."""
        environment: dict[str, str] = {}
        if self.dpop_on:
            environment["DPOP"] = self.dpop
            environment["DPOP_ALGORITHMS"] = ",".join(self.dpop_algorithms)
            environment["DPOP_MAX_AGE_SECONDS"] = str(self.dpop_max_age_seconds)
            base_url = self.expected_base_url
            if base_url is not None:
                environment["PUBLIC_BASE_URL"] = base_url
        if self.bound_tokens_on:
            environment["MTLS_BOUND_TOKENS"] = self.mtls_bound_tokens
        return environment

    def challenge(self, realm: str, error: str) -> str:
        """The WWW-Authenticate value of a gateway response: several challenges go comma-separated in one
        field value (RFC 9110 section 11.6.1; RFC 9449 section 7.2 shows Bearer and DPoP side by side),
        because a gateway response holds one static value per header name."""
        bearer = f'Bearer realm="{realm}", error="{error}"'
        if not self.dpop_on:
            return bearer
        dpop = f'DPoP realm="{realm}", error="{error}", algs="{" ".join(self.dpop_algorithms)}"'
        return f"{bearer}, {dpop}" if self.bearer_allowed else dpop


# ---- Parsers, in stacks/config.py's (raw value, key) -> value shape ----


def parse_mode(raw: object, key: str) -> str:
    if raw not in MODES:
        raise InvalidValueError(f"must be one of {', '.join(MODES)}, got {raw!r}")
    return str(raw)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_public_base_url(raw: object, key: str) -> str:
    """The external base URL the authorizer builds `htu` from: https (http on loopback hosts only, for local
    runs), with an optional base path, no query, fragment or credentials; one trailing "/" is dropped."""
    if not isinstance(raw, str) or raw != raw.strip():
        raise InvalidValueError(f"must be a URL like {EXAMPLES['publicBaseUrl']}, got {raw!r}")
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - evaluated for its ValueError on a malformed port
    except ValueError:
        raise InvalidValueError(f"must be a URL like {EXAMPLES['publicBaseUrl']}, got {raw!r}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidValueError(f"must be an https URL, got {raw!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise InvalidValueError(f"must use https (plain http is only allowed on loopback hosts), got {raw!r}")
    if "?" in raw or "#" in raw or parts.username is not None or parts.password is not None:
        raise InvalidValueError(f"must be a base URL without query, fragment or credentials, got {raw!r}")
    return raw.removesuffix("/")


def parse_mtls(raw: object, key: str) -> MutualTls:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise InvalidValueError(f"is not a valid JSON object ({err.msg})") from None
    if not isinstance(raw, dict) or not _MTLS_REQUIRED <= raw.keys() <= _MTLS_MEMBERS:
        raise InvalidValueError(
            'must be an object with "domainName", "certificateArn", "truststoreUri" and optionally '
            '"truststoreVersion"'
        )
    domain, certificate, truststore = raw["domainName"], raw["certificateArn"], raw["truststoreUri"]
    version = raw.get("truststoreVersion")
    if not isinstance(domain, str) or not _DOMAIN_NAME.fullmatch(domain):
        raise InvalidValueError(
            f'"domainName" must be a lowercase DNS name like api.acme-corp.com, got {domain!r}'
        )
    if not isinstance(certificate, str) or not _CERTIFICATE_ARN.fullmatch(certificate):
        raise InvalidValueError(
            f'"certificateArn" must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID), '
            f"got {certificate!r}"
        )
    if not isinstance(truststore, str) or not _TRUSTSTORE_URI.fullmatch(truststore):
        raise InvalidValueError(
            f'"truststoreUri" must be an S3 object URI like s3://bucket/truststore.pem, got {truststore!r}'
        )
    if version is not None and not (isinstance(version, str) and _TRUSTSTORE_VERSION.fullmatch(version)):
        raise InvalidValueError(f'"truststoreVersion" must be an S3 object version id, got {version!r}')
    return MutualTls(domain, certificate, truststore, version)


# ---- Across keys ----


def sender_constraint(
    values: Mapping[str, object], *, stage: Stage, cache_ttl_seconds: int
) -> SenderConstraint:
    """The sender-constraint settings from parsed values (`_KEYS` names), checked against each other, the
    stage and the authorizer cache TTL; SenderConfigError names the key to change."""
    dpop = str(values["dpop"])
    algorithms = values["dpopAlgorithms"]
    assert isinstance(algorithms, tuple)
    max_age = values["dpopMaxAgeSeconds"]
    assert isinstance(max_age, int)
    base_url = values["publicBaseUrl"]
    assert base_url is None or isinstance(base_url, str)
    table = values["dpopReplayTable"]
    assert isinstance(table, bool)
    mtls = values["mtls"]
    assert mtls is None or isinstance(mtls, MutualTls)
    bound = str(values["mtlsBoundTokens"])
    if dpop == "off":
        unused = (
            ("dpopAlgorithms", algorithms != DEFAULT_DPOP_ALGORITHMS),
            ("dpopMaxAgeSeconds", max_age != DEFAULT_DPOP_MAX_AGE_SECONDS),
            ("publicBaseUrl", base_url is not None),
            ("dpopReplayTable", table),
        )
        for name, is_set in unused:
            if is_set:
                raise SenderConfigError(
                    "dpop", f"is off, but {name} is only used with dpop allowed or required"
                )
    if bound != "off" and mtls is None:
        raise SenderConfigError(
            "mtls",
            f"is required with mtlsBoundTokens={bound}: the client certificate reaches the authorizer only "
            "through the mutual-TLS custom domain",
        )
    if cache_ttl_seconds != 0:
        if dpop != "off":
            raise SenderConfigError(
                "authorizerCacheTtlSeconds",
                f"must be 0 with dpop={dpop}: a cached result would let a replayed proof through without the "
                "authorizer seeing it",
                CACHE_TTL_EXAMPLE,
            )
        if bound != "off":
            raise SenderConfigError(
                "authorizerCacheTtlSeconds",
                f"must be 0 with mtlsBoundTokens={bound}: a cached result would let the token through over "
                "another client certificate without the authorizer seeing it",
                CACHE_TTL_EXAMPLE,
            )
    if mtls is not None and stage.region is not None:
        match = _CERTIFICATE_ARN.fullmatch(mtls.certificate_arn)
        assert match is not None
        if match["region"] != stage.region:
            raise SenderConfigError(
                "mtls",
                f"the certificate is in {match['region']}, but the stage deploys to {stage.region} (a "
                "regional custom domain needs its ACM certificate in the API's region)",
            )
    return SenderConstraint(
        dpop=dpop,
        dpop_algorithms=algorithms,
        dpop_max_age_seconds=max_age,
        public_base_url=base_url,
        dpop_replay_table=table,
        mtls=mtls,
        mtls_bound_tokens=bound,
    )
