"""TLS with client certificates for `make local MTLS=1` (issue 12): a development CA and what API Gateway
hands the authorizer about the client certificate.

API Gateway terminates mutual TLS on a custom domain whose truststore names the CAs it accepts, and passes the
client certificate to a REST API's Lambda authorizer and proxy integrations as
`requestContext.identity.clientCert` (rest-api-mutual-tls): `clientCertPem`, `subjectDN`, `issuerDN`,
`serialNumber` and `validity` (`notBefore`, `notAfter`). Locally:

* :class:`DevelopmentCa` keeps a CA, a server certificate for `127.0.0.1`/`localhost`/`::1` and client
  certificates in the git-ignored `.local/tls/`, all made with `cryptography` on first use (ECDSA P-256; keys
  mode 0600). It is shared by every local instance, so a client certificate works against any of them.
* :func:`server_context` is the gateway's `ssl.SSLContext`: the server certificate, and the CA as the only
  truststore entry. With client certificates required (the default, as on an mTLS custom domain) a client
  without one, or with one from another CA, fails the handshake and never reaches the gateway.
* :func:`client_cert_fields` turns the certificate the client presented into the event's `clientCert` object.
  AWS documents the member names and shows the values only by example; the formats here are assumptions:
  the DNs in RFC 4514 form (`CN=local-client,O=jwt-gate local development`), the serial number as
  colon-separated lower-case hex bytes, the dates as OpenSSL prints them (`May 28 12:30:02 2019 GMT`).
  `clientCertPem` holds the DER exactly as sent, so its SHA-256 is the certificate's RFC 8705 `x5t#S256`.
"""

from __future__ import annotations

import base64
import datetime
import fcntl
import hashlib
import ipaddress
import os
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TLS_DIR = "tls"
DEFAULT_CLIENT = "local-client"
ORGANIZATION = "jwt-gate local development"
CA_DAYS = 3650
LEAF_DAYS = 825  # the longest leaf lifetime clients commonly accept
RENEW_BEFORE = datetime.timedelta(days=1)
_CLIENT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True)
class CertificateFiles:
    """A certificate and its private key, as PEM files (what `curl --cert/--key` takes)."""

    cert: Path
    key: Path

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert.read_bytes())

    def der(self) -> bytes:
        return self.certificate().public_bytes(serialization.Encoding.DER)

    def thumbprint(self) -> str:
        """RFC 8705 `x5t#S256`: base64url(SHA-256(DER)), unpadded."""
        return base64.urlsafe_b64encode(hashlib.sha256(self.der()).digest()).rstrip(b"=").decode("ascii")


class DevelopmentCa:
    """The development CA in `directory` (`.local/tls/`), created on first use; see the module docstring."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def under(cls, state_root: Path) -> DevelopmentCa:
        return cls(state_root / TLS_DIR)

    @property
    def ca_cert(self) -> Path:
        """The CA certificate: the truststore of the local gateway, and `curl --cacert`."""
        self.ensure()
        return self.directory / "ca.pem"

    def ensure(self) -> None:
        """Create the CA and the server certificate if missing (or about to expire)."""
        with self._locked():
            self._ca()
            self._leaf("server", server=True)

    def server(self) -> CertificateFiles:
        self.ensure()
        return self._files("server")

    def client(self, name: str = DEFAULT_CLIENT) -> CertificateFiles:
        """A client certificate with subject CN=`name` (a-z, 0-9, `-`), made on first use."""
        if not _CLIENT_NAME.fullmatch(name):
            raise ValueError(f"client certificate name {name!r}: use a-z, 0-9 and -")
        with self._locked():
            self._ca()
            self._leaf(f"client-{name}", common_name=name)
        return self._files(f"client-{name}")

    def _files(self, stem: str) -> CertificateFiles:
        return CertificateFiles(self.directory / f"{stem}.pem", self.directory / f"{stem}.key")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Two instances starting at once must not make two CAs (one's certificates would not verify).
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        files = self._files("ca")
        if _usable(files):
            return files.certificate(), _load_key(files.key)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "jwt-gate local development CA"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            ]
        )
        now = _now()
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        # A new CA invalidates every leaf signed by an old one.
        for old in self.directory.glob("*.pem"):
            old.unlink()
        _write(files.key, _key_pem(key), private=True)
        _write(files.cert, cert.public_bytes(serialization.Encoding.PEM), private=False)
        return cert, key

    def _leaf(self, stem: str, *, common_name: str = "localhost", server: bool = False) -> None:
        files = self._files(stem)
        if _usable(files):
            return
        ca_cert, ca_key = self._ca()
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                    ]
                )
            )
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if server:
            names: list[x509.GeneralName] = [
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")),
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        _write(files.key, _key_pem(key), private=True)
        _write(files.cert, cert.public_bytes(serialization.Encoding.PEM), private=False)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _usable(files: CertificateFiles) -> bool:
    if not (files.cert.is_file() and files.key.is_file()):
        return False
    try:
        cert = files.certificate()
    except ValueError:
        return False
    return cert.not_valid_after_utc - RENEW_BEFORE > _now()


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} is not an EC private key")
    return key


def _write(path: Path, data: bytes, *, private: bool) -> None:
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def server_context(ca: DevelopmentCa, *, require_client_cert: bool = True) -> ssl.SSLContext:
    """The local gateway's TLS: the development server certificate; client certificates from the CA only.

    `require_client_cert=False` asks for a certificate but lets a client without one through (then the event
    has no `clientCert`); a certificate from another CA still fails the handshake.
    """
    server = ca.server()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(server.cert, server.key)
    context.load_verify_locations(cafile=ca.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context


def client_context(ca: DevelopmentCa, client: CertificateFiles | None = None) -> ssl.SSLContext:
    """A client's TLS: trusts the development CA, presents `client` if given (tests, local tools)."""
    context = ssl.create_default_context(cafile=str(ca.ca_cert))
    if client is not None:
        context.load_cert_chain(client.cert, client.key)
    return context


def _openssl_time(moment: datetime.datetime) -> str:
    """`May 28 12:30:02 2019 GMT`, the day padded with a space as OpenSSL prints it (`Aug  5 ...`)."""
    return f"{moment:%b} {moment.day:>2} {moment:%H:%M:%S %Y} GMT"


def client_cert_fields(der: bytes) -> dict[str, Any]:
    """`requestContext.identity.clientCert` for a client certificate presented as `der`."""
    cert = x509.load_der_x509_certificate(der)
    serial = cert.serial_number.to_bytes((cert.serial_number.bit_length() + 7) // 8 or 1, "big")
    return {
        "clientCertPem": ssl.DER_cert_to_PEM_cert(der),
        "subjectDN": cert.subject.rfc4514_string(),
        "issuerDN": cert.issuer.rfc4514_string(),
        "serialNumber": ":".join(f"{byte:02x}" for byte in serial),
        "validity": {
            "notBefore": _openssl_time(cert.not_valid_before_utc),
            "notAfter": _openssl_time(cert.not_valid_after_utc),
        },
    }


def presented_client_cert(connection: object) -> dict[str, Any] | None:
    """The `clientCert` object for a TLS connection's verified client certificate; None without one."""
    if not isinstance(connection, ssl.SSLSocket):
        return None
    der = connection.getpeercert(binary_form=True)
    return client_cert_fields(der) if der else None
