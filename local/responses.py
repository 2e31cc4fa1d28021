"""API Gateway's gateway responses: the template's customizations over the built-in defaults.

Resolution follows API Gateway: the response type's own GatewayResponse if the template has one, else the
DEFAULT_4XX/DEFAULT_5XX fallback for its status class, else the built-in default. Bodies are mapping
templates; only the `$context` variables these responses actually use are substituted (see
local/README.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from local.template import GatewayResponse

BUILTIN_STATUS = {
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "AUTHORIZER_FAILURE": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
}
ERROR_TYPE_HEADER = {
    "UNAUTHORIZED": "UnauthorizedException",
    "ACCESS_DENIED": "AccessDeniedException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "AUTHORIZER_FAILURE": "AuthorizerFailureException",
    "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
}
DEFAULT_BODY_TEMPLATE = '{"message":$context.error.messageString}'


@dataclass(frozen=True)
class Reply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def render(
    response_type: str,
    message: str | None,
    customized: Mapping[str, GatewayResponse],
    request_id: str,
) -> Reply:
    builtin_status = BUILTIN_STATUS[response_type]
    fallback = customized.get("DEFAULT_4XX" if builtin_status < 500 else "DEFAULT_5XX")
    spec = customized.get(response_type) or fallback
    status = (spec.status_code if spec else None) or (fallback.status_code if fallback else None)
    template = (spec.body_template if spec else None) or DEFAULT_BODY_TEMPLATE
    body = (
        template.replace("$context.error.messageString", json.dumps(message))
        .replace("$context.error.message", message or "")
        .replace("$context.error.responseType", response_type)
        .replace("$context.requestId", request_id)
    )
    headers: dict[str, str] = {"Content-Type": "application/json"}
    headers.update(spec.headers if spec else {})
    headers["x-amzn-RequestId"] = request_id
    if response_type in ERROR_TYPE_HEADER:
        headers["x-amzn-ErrorType"] = ERROR_TYPE_HEADER[response_type]
    return Reply(status or builtin_status, tuple(headers.items()), body.encode())
