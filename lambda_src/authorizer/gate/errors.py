"""Typed outcomes other than a policy, so each layer can say *why* without string matching.

Two failure families must never be confused, because API Gateway and clients react differently:

* :class:`Rejection` - the token (or the request carrying it) is not acceptable. The handler turns it
  into ``Exception("Unauthorized")`` (HTTP 401); a client should obtain a new token.
* :class:`KeysUnavailable` - the authorizer cannot decide because it has no usable signing keys
  (identity provider down, slow or answering garbage, with nothing usable cached). It surfaces as a
  Lambda error (API Gateway 500 ``AUTHORIZER_FAILURE``, mapped to 503 by the stack) so clients retry
  with the same, possibly perfectly good, token instead of discarding it.
  :class:`ReplayStoreUnavailable` belongs to the same family: with DPoP on, the authorizer cannot tell a
  fresh proof from a replayed one (the DynamoDB replay table cannot be reached, or the per-container
  replay memory is full), so it fails closed with a 5xx, never with an allow and never with a 401.

:class:`ConfigError` is raised at cold start only: a misconfigured authorizer must not start.
"""

from __future__ import annotations

from typing import Final

# Reason codes: the vocabulary of the decision log. Kept as constants so tests and dashboards
# can rely on the exact spelling.
MISSING_TOKEN: Final = "missing_token"  # noqa: S105 - a reason code, not a secret
MALFORMED_AUTHORIZATION: Final = "malformed_authorization"
MALFORMED_EVENT: Final = "malformed_event"
TOKEN_TOO_LARGE: Final = "token_too_large"  # noqa: S105 - a reason code, not a secret
MALFORMED_TOKEN: Final = "malformed_token"  # noqa: S105 - a reason code, not a secret
UNSUPPORTED_ALG: Final = "unsupported_alg"
UNSUPPORTED_CRIT: Final = "unsupported_crit"
TOKEN_TYPE_MISMATCH: Final = "token_type_mismatch"  # noqa: S105 - a reason code, not a secret
MISSING_KID: Final = "missing_kid"
UNKNOWN_KID: Final = "unknown_kid"
KEY_ALG_MISMATCH: Final = "key_alg_mismatch"
BAD_SIGNATURE: Final = "bad_signature"
MISSING_CLAIM: Final = "missing_claim"
INVALID_CLAIM: Final = "invalid_claim"
EXPIRED: Final = "expired"
NOT_YET_VALID: Final = "not_yet_valid"
ISSUED_IN_FUTURE: Final = "issued_in_future"
ISSUER_MISMATCH: Final = "issuer_mismatch"
AUDIENCE_MISMATCH: Final = "audience_mismatch"
CLAIM_VALUE_MISMATCH: Final = "claim_value_mismatch"  # a REQUIRED_CLAIM_VALUES entry does not hold
# Outcomes that are policies, not errors.
OK: Final = "ok"
INSUFFICIENT_SCOPE: Final = "insufficient_scope"
RESOURCE_OUTSIDE_API: Final = "resource_outside_api"
ROUTE_NOT_CONFIGURED: Final = "route_not_configured"  # no SCOPE_RULES entry for the route
ROUTE_ARN_MISMATCH: Final = "route_arn_mismatch"  # the method ARN lies outside its own route's patterns
KEYS_UNAVAILABLE: Final = "keys_unavailable"
# Sender-constrained tokens (issue 12): DPoP proofs (RFC 9449, gate/dpop.py) and certificate-bound
# tokens (RFC 8705, gate/binding.py). Every one of them is a Rejection (401) except the replay store's.
DPOP_PROOF_MISSING: Final = "dpop_proof_missing"  # Authorization: DPoP without a DPoP header
DPOP_PROOF_INVALID: Final = "dpop_proof_invalid"  # not exactly one well-formed, validly signed proof
DPOP_HTM_MISMATCH: Final = "dpop_htm_mismatch"
DPOP_HTU_MISMATCH: Final = "dpop_htu_mismatch"
DPOP_PROOF_EXPIRED: Final = "dpop_proof_expired"  # iat outside [now - DPOP_MAX_AGE_SECONDS, now + leeway]
DPOP_REPLAYED: Final = "dpop_replayed"
DPOP_ATH_MISMATCH: Final = "dpop_ath_mismatch"
DPOP_KEY_MISMATCH: Final = "dpop_key_mismatch"  # the proof key is not the token's cnf.jkt
DPOP_BOUND_TOKEN_AS_BEARER: Final = "dpop_bound_token_as_bearer"  # noqa: S105 - a reason code
DPOP_TOKEN_NOT_BOUND: Final = "dpop_token_not_bound"  # noqa: S105 - a reason code, not a secret
DPOP_REPLAY_STORE_UNAVAILABLE: Final = "dpop_replay_store_unavailable"
MTLS_CERT_MISSING: Final = "mtls_cert_missing"
MTLS_CERT_MISMATCH: Final = "mtls_cert_mismatch"
MTLS_TOKEN_NOT_BOUND: Final = "mtls_token_not_bound"  # noqa: S105 - a reason code, not a secret


class Rejection(Exception):  # noqa: N818 - names the outcome, as the contract does
    """The request is not authorized; ``reason`` is the log's reason code, never shown to clients."""

    key_source: str | None = None  # "snapshot" when a deploy-time snapshot key judged the token (issue 13)

    def __init__(self, reason: str, *, kid: str | None = None, sub: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kid = kid
        self.sub = sub


class KeysUnavailable(Exception):  # noqa: N818 - Lambda reports this name as errorType
    """No usable signing key could be obtained; the message says why (for operators, not clients).

    The message always starts with ``"Signing keys unavailable: "`` and is never ``"Unauthorized"``.
    """

    PREFIX: Final = "Signing keys unavailable: "

    def __init__(self, detail: str, *, kid: str | None = None) -> None:
        super().__init__(self.PREFIX + detail)
        self.detail = detail
        self.kid = kid


class ReplayStoreUnavailable(Exception):  # noqa: N818 - Lambda reports this name as errorType
    """The DPoP replay check could not be made; the message says why (for operators, not clients).

    Raised like :class:`KeysUnavailable` and for the same reason: the request may well be good, so it
    must not become a 401, and it can never become an allow. The message always starts with
    ``"DPoP replay store unavailable: "`` and is never ``"Unauthorized"``.
    """

    PREFIX: Final = "DPoP replay store unavailable: "

    def __init__(self, detail: str, *, kid: str | None = None, sub: str | None = None) -> None:
        super().__init__(self.PREFIX + detail)
        self.detail = detail
        self.kid = kid
        self.sub = sub


class ConfigError(ValueError):
    """The environment is invalid; the message names the variable so the fix is obvious."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
