"""Route -> backend: the sample function, an HTTPS service (HTTP proxy) or a Lambda function (Lambda proxy).

Why the authorizer context travels as headers: an HTTP backend cannot read `requestContext.authorizer`, so
the gate maps `sub`, `scope`, `client_id` and `iss` onto `X-Jwt-*` request headers. API Gateway's parameter
mapping overwrites a header of the same name sent by the client, so a caller cannot forge them; on public
routes (no authorizer) they are mapped to empty strings for the same reason.

Why a Lambda backend gets its integration URI and permission written out here rather than through
`LambdaIntegration`: CDK only adds the invoke permission to an imported function when it can prove the account
matches, which an environment-agnostic stack cannot; the explicit permission is scoped to this API, this stage
and this route's method.

Parsing lives here too (pure Python, no jsii), so `stacks/config.py` validates values and this module builds
integrations from the same `Backend` type.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from stacks.rules import InvalidValueError

SAMPLE: Final = "sample"
# The authorizer context keys an HTTP backend receives, and the header each becomes.
CONTEXT_HEADERS: Final = (
    ("X-Jwt-Sub", "sub"),
    ("X-Jwt-Scope", "scope"),
    ("X-Jwt-Client-Id", "client_id"),
    ("X-Jwt-Iss", "iss"),
)
_LAMBDA_ARN: Final = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):(?P<account>\d{12}):"
    r"function:(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]{1,128}))?"
)


@dataclass(frozen=True)
class Backend:
    """`kind` is `sample`, `http` or `lambda`; `target` the base URL or the function ARN."""

    kind: str
    target: str = ""

    @property
    def lambda_region(self) -> str:
        match = _LAMBDA_ARN.fullmatch(self.target)
        assert match is not None  # parse() admits only matching ARNs
        return match["region"]


SAMPLE_BACKEND: Final = Backend(SAMPLE)


def parse(raw: object, *, is_loopback: Callable[[str], bool]) -> Backend:
    """One backend value; plain http only for hosts `is_loopback` accepts (local runs)."""
    if raw == SAMPLE:
        return SAMPLE_BACKEND
    if not isinstance(raw, str) or not raw:
        raise InvalidValueError(f'must be "sample", an https URL or a Lambda function ARN, got {raw!r}')
    if raw.startswith("arn:"):
        if _LAMBDA_ARN.fullmatch(raw) is None:
            raise InvalidValueError(
                f"{raw!r} is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:ALIAS])"
            )
        return Backend("lambda", raw)
    return Backend("http", _base_url(raw, is_loopback))


def _base_url(raw: str, is_loopback: Callable[[str], bool]) -> str:
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - evaluated for its ValueError on a malformed port
    except ValueError:
        raise InvalidValueError(f"{raw!r} is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidValueError(f'must be "sample", an https URL or a Lambda function ARN, got {raw!r}')
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise InvalidValueError(f"{raw!r} must use https (plain http only on loopback hosts, for local runs)")
    if parts.username is not None or parts.password is not None:
        raise InvalidValueError(f"{raw!r} must not carry credentials")
    if "?" in raw or "#" in raw or any(c.isspace() for c in raw) or "{" in raw or "}" in raw:
        raise InvalidValueError(f"{raw!r} must be scheme://host[:port][/base] without query or fragment")
    return raw.rstrip("/")
