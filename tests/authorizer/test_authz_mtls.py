"""Certificate-bound tokens (RFC 8705): one test per reason code, with real self-signed certificates.

The expected ``x5t#S256`` comes from cryptography's own certificate fingerprint (authz_support), not
from the PEM decoding under test; events carry the certificate where API Gateway puts it,
``requestContext.identity.clientCert.clientCertPem``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gate.binding import certificate_thumbprint
from gate.errors import ConfigError
from gate.settings import Settings
from tests.authorizer.authz_support import (
    ClientCertificate,
    Harness,
    KeyRing,
    MakeHarness,
    certificate_event,
    event_outcome,
    event_rejection,
    self_signed_certificate,
)

TokenFor = Callable[..., str]
MINIMAL = {"ISSUER": "https://idp.example.com/", "AUDIENCE": "api://orders"}


@pytest.fixture(scope="module")
def certificate() -> ClientCertificate:
    return self_signed_certificate("client-1")


@pytest.fixture(scope="module")
def other_certificate() -> ClientCertificate:
    return self_signed_certificate("client-2")


@pytest.fixture
def bound(token_for: TokenFor, ring: KeyRing, certificate: ClientCertificate) -> str:
    return token_for(ring.rsa, cnf={"x5t#S256": certificate.x5t_s256})


@pytest.fixture
def allowed(make_harness: MakeHarness) -> Harness:
    return make_harness(MTLS_BOUND_TOKENS="allowed")


@pytest.fixture
def required(make_harness: MakeHarness) -> Harness:
    return make_harness(MTLS_BOUND_TOKENS="required")


@pytest.mark.parametrize("mode", ["allowed", "required"])
def test_a_bound_token_over_its_certificate_is_allowed(
    make_harness: MakeHarness, bound: str, certificate: ClientCertificate, mode
):
    harness = make_harness(MTLS_BOUND_TOKENS=mode)
    assert event_outcome(harness, certificate_event(bound, certificate.pem)) == "allow"
    assert harness.last_decision()["reason"] == "ok"


def test_a_certificate_with_crlf_line_ends_is_the_same_certificate(
    allowed: Harness, bound: str, certificate: ClientCertificate
):
    assert event_outcome(allowed, certificate_event(bound, certificate.pem.replace("\n", "\r\n"))) == "allow"


def test_extra_cnf_members_are_ignored(
    allowed: Harness, token_for: TokenFor, ring: KeyRing, certificate: ClientCertificate
):
    token = token_for(ring.rsa, cnf={"x5t#S256": certificate.x5t_s256, "jkt": "unrelated"})
    assert event_outcome(allowed, certificate_event(token, certificate.pem)) == "allow"


def test_an_unbound_token_works_as_before_when_allowed(allowed: Harness, token_for: TokenFor, ring: KeyRing):
    assert event_outcome(allowed, certificate_event(token_for(ring.rsa), None)) == "allow"


# --- mtls_cert_missing -------------------------------------------------------------------------------


def test_a_bound_token_without_a_certificate_is_refused(allowed: Harness, bound: str):
    assert event_rejection(allowed, certificate_event(bound, None)) == "mtls_cert_missing"


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n",  # impossible base64 length
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    ],
)
def test_a_client_cert_that_is_not_one_pem_certificate_counts_as_missing(allowed: Harness, bound: str, pem):
    assert event_rejection(allowed, certificate_event(bound, pem)) == "mtls_cert_missing"


def test_two_certificates_count_as_missing(
    allowed: Harness, bound: str, certificate: ClientCertificate, other_certificate: ClientCertificate
):
    event = certificate_event(bound, certificate.pem + other_certificate.pem)
    assert event_rejection(allowed, event) == "mtls_cert_missing"


def test_a_token_event_carries_no_certificate(allowed: Harness, bound: str):
    event = certificate_event(bound, None)
    token_event = {"type": "TOKEN", "authorizationToken": f"Bearer {bound}", "methodArn": event["methodArn"]}
    assert event_rejection(allowed, token_event) == "mtls_cert_missing"


# --- mtls_cert_mismatch ------------------------------------------------------------------------------


def test_a_bound_token_over_another_certificate_is_refused(
    allowed: Harness, bound: str, other_certificate: ClientCertificate
):
    # The thief stole the token and connects with its own (trusted) client certificate.
    assert event_rejection(allowed, certificate_event(bound, other_certificate.pem)) == "mtls_cert_mismatch"


@pytest.mark.parametrize("value", [None, 5, "", "AAAA"])
def test_an_x5t_s256_that_is_not_the_thumbprint_is_a_mismatch(
    allowed: Harness, token_for: TokenFor, ring: KeyRing, certificate: ClientCertificate, value
):
    token = token_for(ring.rsa, cnf={"x5t#S256": value})
    assert event_rejection(allowed, certificate_event(token, certificate.pem)) == "mtls_cert_mismatch"


# --- mtls_token_not_bound, and modes -----------------------------------------------------------------


@pytest.mark.parametrize("cnf", [None, {}, {"jkt": "abc"}])
def test_required_refuses_a_token_without_x5t_s256(
    required: Harness, token_for: TokenFor, ring: KeyRing, certificate: ClientCertificate, cnf
):
    token = token_for(ring.rsa, cnf=cnf)
    assert event_rejection(required, certificate_event(token, certificate.pem)) == "mtls_token_not_bound"


def test_a_cnf_that_is_not_an_object_is_an_invalid_claim(
    allowed: Harness, token_for: TokenFor, ring: KeyRing, certificate: ClientCertificate
):
    token = token_for(ring.rsa, cnf=["x5t#S256"])
    assert event_rejection(allowed, certificate_event(token, certificate.pem)) == "invalid_claim"


def test_with_mtls_off_a_bound_token_needs_no_certificate(harness: Harness, bound: str):
    assert event_outcome(harness, certificate_event(bound, None)) == "allow"


def test_certificate_binding_and_dpop_together(
    make_harness: MakeHarness, bound: str, certificate: ClientCertificate
):
    # An unbound-for-DPoP token as Bearer under DPOP=allowed: only the certificate binding applies.
    harness = make_harness(MTLS_BOUND_TOKENS="required", DPOP="allowed")
    assert event_outcome(harness, certificate_event(bound, certificate.pem)) == "allow"
    assert event_rejection(harness, certificate_event(bound, None)) == "mtls_cert_missing"


# --- the thumbprint and the settings -----------------------------------------------------------------


def test_the_thumbprint_is_sha256_of_the_der(certificate: ClientCertificate):
    assert certificate_thumbprint(certificate.pem) == certificate.x5t_s256


@pytest.mark.parametrize("pem", [None, 5, b"bytes"])
def test_a_non_string_client_cert_has_no_thumbprint(pem):
    assert certificate_thumbprint(pem) is None


def test_mtls_default_is_off():
    assert Settings.from_env(MINIMAL).mtls_bound_tokens == "off"


@pytest.mark.parametrize("value", ["on", "true", "Allowed"])
def test_invalid_mtls_bound_tokens_names_the_variable(value):
    with pytest.raises(ConfigError, match=r"^MTLS_BOUND_TOKENS: "):
        Settings.from_env({**MINIMAL, "MTLS_BOUND_TOKENS": value})
