"""The straightforward PyJWT authorizer a team would write first: the peer the issue calls "plain PyJWT".

``PyJWKClient`` fetches and caches the key set, ``jwt.decode`` checks signature, expiry, issuer and audience.
No scope rules and a single-route policy: it does no more work than the limit needs, so its ratio is a fair
floor for "just use the library".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt

Handler = Callable[[dict[str, Any], object], dict[str, Any]]


def make_handler(jwks_uri: str, issuer: str, audience: str) -> Handler:
    client = jwt.PyJWKClient(jwks_uri)

    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        scheme, _, token = event["authorizationToken"].partition(" ")
        if scheme != "Bearer" or not token:
            raise Exception("Unauthorized")
        try:
            signing_key = client.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, signing_key.key, algorithms=["RS256"], issuer=issuer, audience=audience
            )
        except jwt.PyJWTError as error:
            raise Exception("Unauthorized") from error
        return {
            "principalId": claims["sub"],
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
                ],
            },
        }

    return handler
