"""Sample protected endpoint: shows what a backend behind the JWT authorizer receives.

API Gateway (Lambda proxy integration, payload 1.0) passes the authorizer's result in
`requestContext.authorizer`: `principalId` plus the context claims, flattened, and `integrationLatency`, which
API Gateway adds itself and is not a claim. Behind the native JWT authorizer (`gate=native`) the token's
claims arrive as `requestContext.authorizer.claims` instead, and are shown as they are. Public routes have
no authorizer entry, so both come back empty.
"""

from __future__ import annotations

import json
import os
from typing import Any

# Set by the stack from the corsOrigins config key (comma-separated; empty = CORS disabled).
_ALLOWED_ORIGINS = frozenset(filter(None, os.environ.get("CORS_ALLOW_ORIGINS", "").split(",")))
_NOT_CLAIMS = frozenset({"principalId", "integrationLatency"})


def _cors_headers(headers: dict[str, Any]) -> dict[str, str]:
    origin = next((value for name, value in headers.items() if name.lower() == "origin"), None)
    if "*" in _ALLOWED_ORIGINS:
        return {"Access-Control-Allow-Origin": "*"}
    if isinstance(origin, str) and origin in _ALLOWED_ORIGINS:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {}


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    request_context = event.get("requestContext") or {}
    authorizer = request_context.get("authorizer") or {}
    native_claims = authorizer.get("claims")
    claims = (
        native_claims
        if isinstance(native_claims, dict)
        else {name: value for name, value in authorizer.items() if name not in _NOT_CLAIMS}
    )
    body = {
        "route": f"{event.get('httpMethod')} {request_context.get('resourcePath', event.get('resource'))}",
        "principalId": authorizer.get("principalId"),
        "claims": claims,
    }
    return {
        "statusCode": 200,
        "headers": {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            **_cors_headers(event.get("headers") or {}),
        },
        "body": json.dumps(body, sort_keys=True),
    }
