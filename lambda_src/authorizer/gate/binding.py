"""Certificate-bound access tokens (RFC 8705 section 3), and the ``cnf`` claim both bindings read.

A certificate-bound token carries ``cnf["x5t#S256"]``, the base64url SHA-256 of the DER of the client
certificate it was issued to; it is only good over a mutual-TLS connection made with that certificate.
API Gateway terminates mutual TLS on the custom domain (the stack disables the default endpoint, or
clients could bypass it) and hands the client certificate to the authorizer as
``requestContext.identity.clientCert.clientCertPem``.

MTLS_BOUND_TOKENS ``allowed``: a token with ``x5t#S256`` must match the certificate
(``mtls_cert_missing``, ``mtls_cert_mismatch``); tokens without it work as before. ``required``: every
token must carry ``x5t#S256`` (``mtls_token_not_bound``), checked before the certificate. ``off`` builds
nothing, and then ``cnf`` is not read at all.

The thumbprint is over the DER bytes exactly as sent, so the PEM is decoded by hand (the base64 between
its armour lines) instead of parsed with ``cryptography.x509``: there is nothing to interpret, and x509
would cost every cold start its import (tests/authorizer/test_authz_imports.py). A value that is not one
PEM certificate counts as no certificate. Other ``cnf`` members (``jkt``, Keycloak's extras) are ignored
here; a ``cnf`` that is present but not a JSON object is ``invalid_claim`` wherever a binding is on,
because a binding must never be read as "unbound" by mistake.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any, Final

from gate.errors import (
    INVALID_CLAIM,
    MTLS_CERT_MISMATCH,
    MTLS_CERT_MISSING,
    MTLS_TOKEN_NOT_BOUND,
    Rejection,
)
from gate.verify import VerifiedToken

X5T_S256: Final = "x5t#S256"
_PEM_CERTIFICATE: Final = re.compile(
    r"\s*-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----\s*", re.ASCII
)
_WHITESPACE: Final = re.compile(r"\s+", re.ASCII)


def confirmation(verified: VerifiedToken) -> dict[str, Any] | None:
    """The token's ``cnf`` object (RFC 7800), None without one; a non-object is ``invalid_claim``."""
    cnf = verified.claims.get("cnf")
    if cnf is None or type(cnf) is dict:
        return cnf
    raise Rejection(INVALID_CLAIM, kid=verified.kid, sub=verified.sub)


def certificate_thumbprint(pem: object) -> str | None:
    """base64url(SHA-256(DER)) of one PEM certificate; None if ``pem`` is not one."""
    match = _PEM_CERTIFICATE.fullmatch(pem) if isinstance(pem, str) else None
    if match is None:
        return None
    try:
        der = binascii.a2b_base64(_WHITESPACE.sub("", match.group(1)), strict_mode=True)
    except binascii.Error:
        return None
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode("ascii")


def client_certificate_pem(event: dict[str, Any]) -> object:
    """``requestContext.identity.clientCert.clientCertPem``, or None where the event has no such path."""
    value: object = event
    for name in ("requestContext", "identity", "clientCert", "clientCertPem"):
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


class CertificateBinding:
    """MTLS_BOUND_TOKENS ``allowed`` or ``required``; see the module docstring."""

    def __init__(self, mode: str) -> None:
        self._required = mode == "required"

    def check(self, event: dict[str, Any], verified: VerifiedToken) -> None:
        cnf = confirmation(verified)
        if cnf is None or X5T_S256 not in cnf:  # present means bound, even as null
            if self._required:
                raise Rejection(MTLS_TOKEN_NOT_BOUND, kid=verified.kid, sub=verified.sub)
            return
        expected = cnf[X5T_S256]
        presented = certificate_thumbprint(client_certificate_pem(event))
        if presented is None:
            raise Rejection(MTLS_CERT_MISSING, kid=verified.kid, sub=verified.sub)
        if type(expected) is not str or expected != presented:
            raise Rejection(MTLS_CERT_MISMATCH, kid=verified.kid, sub=verified.sub)
