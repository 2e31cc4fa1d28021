"""Issue 12, `make local MTLS=1`: the development CA, HTTPS with client certificates, and the certificate in
the events as API Gateway passes it (`requestContext.identity.clientCert`), to the authorizer and the backend.

The hand-built templates of tests/local/conftest.py (a scripted authorizer that logs its events, an echo
backend) show exactly what each function received.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import json
import re
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from local.server import GatewayServer, build_gateway
from local.tls import (
    DEFAULT_CLIENT,
    DevelopmentCa,
    client_cert_fields,
    client_context,
    server_context,
)
from tests.local.conftest import Reply, allow_all_response, build_template, scripted_token

OPENSSL_TIME = re.compile(r"[A-Z][a-z]{2} [ 123][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4} GMT")


def https_call(
    url: str, path: str, headers: dict[str, str], context: ssl.SSLContext, method: str = "GET"
) -> Reply:
    host, _, port = url.removeprefix("https://").partition(":")
    connection = http.client.HTTPSConnection(host, int(port), timeout=30, context=context)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


@pytest.fixture
def ca(tmp_path: Path) -> DevelopmentCa:
    return DevelopmentCa.under(tmp_path / "state")


# --- the development CA ----------------------------------------------------------------------------------


def test_the_ca_is_made_on_first_use_in_the_state_root_and_kept(ca: DevelopmentCa, tmp_path: Path) -> None:
    assert ca.directory == tmp_path / "state" / "tls"
    assert not ca.directory.exists()
    ca.ensure()
    client = ca.client()
    files = {path.name for path in ca.directory.iterdir() if not path.name.startswith(".")}
    assert files == {
        "ca.pem",
        "ca.key",
        "server.pem",
        "server.key",
        f"client-{DEFAULT_CLIENT}.pem",
        f"client-{DEFAULT_CLIENT}.key",
    }
    for key in ca.directory.glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(ca.directory.stat().st_mode) == 0o700
    again = DevelopmentCa.under(tmp_path / "state")
    assert again.ca_cert.read_bytes() == ca.ca_cert.read_bytes()
    assert again.client().cert.read_bytes() == client.cert.read_bytes()


def test_leaf_certificates_chain_to_the_ca_with_the_right_names_and_uses(ca: DevelopmentCa) -> None:
    root = x509.load_pem_x509_certificate(ca.ca_cert.read_bytes())
    server = ca.server().certificate()
    client = ca.client("alice").certificate()
    for leaf in (server, client):
        leaf.verify_directly_issued_by(root)
        assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    uses = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(uses) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert client.subject.rfc4514_string() == "O=jwt-gate local development,CN=alice"


def test_client_names_are_checked(ca: DevelopmentCa) -> None:
    with pytest.raises(ValueError, match="use a-z"):
        ca.client("../escape")


def test_an_expiring_leaf_is_renewed_and_a_new_ca_replaces_every_leaf(ca: DevelopmentCa) -> None:
    first = ca.client("bob")
    old_pem = first.cert.read_bytes()
    assert ca.client("bob").cert.read_bytes() == old_pem
    ca.ca_cert.write_text("not a certificate")
    renewed = ca.client("bob")
    root = x509.load_pem_x509_certificate(ca.ca_cert.read_bytes())
    renewed.certificate().verify_directly_issued_by(root)
    assert renewed.cert.read_bytes() != old_pem


def test_the_thumbprint_is_rfc_8705_x5t_s256(ca: DevelopmentCa) -> None:
    client = ca.client()
    der = client.certificate().public_bytes(serialization.Encoding.DER)
    digest = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert client.thumbprint() == digest
    assert len(digest) == 43


def test_client_cert_fields_have_api_gateway_s_members(ca: DevelopmentCa) -> None:
    cert = ca.client("carol").certificate()
    der = cert.public_bytes(serialization.Encoding.DER)
    fields = client_cert_fields(der)
    assert set(fields) == {"clientCertPem", "subjectDN", "issuerDN", "serialNumber", "validity"}
    assert fields["clientCertPem"].startswith("-----BEGIN CERTIFICATE-----\n")
    pem_der = ssl.PEM_cert_to_DER_cert(fields["clientCertPem"])
    assert pem_der == der
    assert fields["subjectDN"] == "O=jwt-gate local development,CN=carol"
    assert fields["issuerDN"] == "O=jwt-gate local development,CN=jwt-gate local development CA"
    assert int(fields["serialNumber"].replace(":", ""), 16) == cert.serial_number
    assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2})*", fields["serialNumber"])
    assert set(fields["validity"]) == {"notBefore", "notAfter"}
    for moment in fields["validity"].values():
        assert OPENSSL_TIME.fullmatch(moment)
    not_after = datetime.datetime.strptime(fields["validity"]["notAfter"], "%b %d %H:%M:%S %Y GMT")
    assert not_after.replace(tzinfo=datetime.UTC) == cert.not_valid_after_utc


# --- the gateway over HTTPS ------------------------------------------------------------------------------


@pytest.fixture
def tls_gateway(tmp_path: Path, ca: DevelopmentCa) -> Iterator[tuple[GatewayServer, Path]]:
    invocation_log = tmp_path / "invocations.jsonl"
    template = tmp_path / "template.json"
    template.write_text(json.dumps(build_template(invocation_log, ttl=0, authorizer_type="REQUEST")))
    server = build_gateway(
        template, log_sink=lambda *_: None, decision_log=lambda _: None, ssl_context=server_context(ca)
    ).start()
    yield server, invocation_log
    server.stop()


def invocations(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_the_client_certificate_reaches_the_authorizer_and_the_backend(
    tls_gateway: tuple[GatewayServer, Path], ca: DevelopmentCa
) -> None:
    server, log = tls_gateway
    assert server.url.startswith("https://127.0.0.1:")
    client = ca.client("dave")
    reply = https_call(
        server.url,
        "/hello",
        {"Authorization": scripted_token({"return": allow_all_response()})},
        client_context(ca, client),
    )
    assert reply.status == 200
    backend_identity = reply.json()["event"]["requestContext"]["identity"]
    (event,) = invocations(log)
    authorizer_identity = event["requestContext"]["identity"]
    expected = client_cert_fields(client.der())
    assert backend_identity["clientCert"] == authorizer_identity["clientCert"] == expected
    pem = authorizer_identity["clientCert"]["clientCertPem"]
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == client.thumbprint()
    assert event["requestContext"]["domainName"] == server.url.removeprefix("https://")


@pytest.mark.parametrize("who", ["no certificate", "another CA"])
def test_a_client_without_a_trusted_certificate_is_refused_in_the_handshake(
    tls_gateway: tuple[GatewayServer, Path], ca: DevelopmentCa, tmp_path: Path, who: str
) -> None:
    server, log = tls_gateway
    context = client_context(ca)
    if who == "another CA":
        stranger = DevelopmentCa(tmp_path / "stranger").client("dave")
        context.load_cert_chain(stranger.cert, stranger.key)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
        https_call(server.url, "/health", {}, context)
    assert invocations(log) == []
    # The server is still serving trusted clients.
    assert https_call(server.url, "/health", {}, client_context(ca, ca.client())).status == 200


def test_optional_client_certificates_let_a_client_without_one_through(
    tmp_path: Path, ca: DevelopmentCa
) -> None:
    template = tmp_path / "template.json"
    template.write_text(json.dumps(build_template(tmp_path / "log.jsonl")))
    context = server_context(ca, require_client_cert=False)
    decisions: list[dict[str, Any]] = []
    server = build_gateway(template, ssl_context=context, decision_log=decisions.append)
    server.start()
    try:
        reply = https_call(server.url, "/health", {}, client_context(ca))
        assert reply.status == 200
        assert "clientCert" not in reply.json()["event"]["requestContext"]["identity"]
        assert [d["status"] for d in decisions] == [200]
    finally:
        server.stop()


def test_plain_http_events_carry_no_client_certificate(tmp_path: Path) -> None:
    template = tmp_path / "template.json"
    template.write_text(json.dumps(build_template(tmp_path / "log.jsonl")))
    server = build_gateway(template, log_sink=lambda *_: None, decision_log=lambda _: None).start()
    try:
        host, _, port = server.url.removeprefix("http://").partition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", "/health")
        identity = json.loads(connection.getresponse().read())["event"]["requestContext"]["identity"]
        connection.close()
        assert set(identity) == {"sourceIp", "userAgent"}
    finally:
        server.stop()
