"""What an API Gateway REST authorizer event carries: the bearer token and the method ARN.

TOKEN events hold the header value in ``authorizationToken``; REQUEST events hold all headers, in
``headers`` (last value per name) and ``multiValueHeaders``. Header names are case-insensitive, so
two differently-cased Authorization headers, or one with several values, are ambiguous and rejected
rather than guessed at. The scheme is ``Bearer`` in any ASCII case, then one or more spaces, then
the token, and nothing else.
"""

from __future__ import annotations

import re
from typing import Any, Final, NamedTuple

from gate.errors import MALFORMED_AUTHORIZATION, MALFORMED_EVENT, MISSING_TOKEN, Rejection

_BEARER: Final = re.compile(r"bearer +([^ ]+)", re.IGNORECASE | re.ASCII)
# arn:<partition>:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<resource path>
_METHOD_ARN: Final = re.compile(
    r"(arn:[a-z-]+:execute-api:[^:/\s]+:[^:/\s]+:[^:/\s]+/[^/\s]+)/([^/\s]+)(/\S*)"
)


class MethodArn(NamedTuple):
    arn: str
    prefix: str  # arn:...:<apiId>/<stage>
    verb: str
    path: str  # the request path, "/" for the root


def method_arn_of(event: dict[str, Any]) -> MethodArn:
    arn = event.get("methodArn")
    if not isinstance(arn, str):
        raise Rejection(MALFORMED_EVENT)
    match = _METHOD_ARN.fullmatch(arn)
    if match is None:
        raise Rejection(MALFORMED_EVENT)
    return MethodArn(arn=arn, prefix=match.group(1), verb=match.group(2), path=match.group(3))


def bearer_token(event: dict[str, Any]) -> str:
    kind = event.get("type")
    if kind == "TOKEN":
        value = event.get("authorizationToken")
    elif kind == "REQUEST":
        value = _authorization_header(event)
    else:
        raise Rejection(MALFORMED_EVENT)
    if value is None or value == "":
        raise Rejection(MISSING_TOKEN)
    if not isinstance(value, str):
        raise Rejection(MALFORMED_EVENT)
    match = _BEARER.fullmatch(value)
    if match is None:
        raise Rejection(MALFORMED_AUTHORIZATION)
    return match.group(1)


def _authorization_header(event: dict[str, Any]) -> object:
    headers = event.get("headers")
    multi = event.get("multiValueHeaders")
    if headers is not None and not isinstance(headers, dict):
        raise Rejection(MALFORMED_EVENT)
    if multi is not None and not isinstance(multi, dict):
        raise Rejection(MALFORMED_EVENT)
    values = [v for k, v in (headers or {}).items() if isinstance(k, str) and k.lower() == "authorization"]
    if len(values) > 1:
        raise Rejection(MALFORMED_AUTHORIZATION)
    for name, listed in (multi or {}).items():
        if isinstance(name, str) and name.lower() == "authorization":
            if not isinstance(listed, list) or len(listed) > 1:
                raise Rejection(MALFORMED_AUTHORIZATION)
            if listed and values and listed[0] != values[0]:
                raise Rejection(MALFORMED_AUTHORIZATION)
            if listed and not values:
                values = listed
    return values[0] if values else None
