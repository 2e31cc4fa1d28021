"""End to end, issue 12: DPoP-bound (RFC 9449) and certificate-bound (RFC 8705) tokens from a real provider.

panva's oidc-provider (tests/e2e/provider.mjs with PROVIDER_DPOP and PROVIDER_MTLS_*) issues the tokens: a
DPoP-bound one when the token request carries a proof (`cnf.jkt`), a certificate-bound one to the mTLS client
over its HTTPS listener, found through discovery's `mtls_endpoint_aliases` (`cnf["x5t#S256"]`). The stack is
synthesized with the real config keys (`dpop`, `mtls`, `mtlsBoundTokens`, `authorizerCacheTtlSeconds=0`), so
the authorizer's environment, its identity sources, its result TTL and the 401 challenge are the template's.
The local gateway serves it over HTTP, or over HTTPS with client certificates from a development CA
(local/tls.py), and sets PUBLIC_BASE_URL to its own base URL, so a proof's `htu` is the URL the client used
(local/sender_constraints.py). Every request is real HTTP(S); each 401 is checked for its status, its
challenge and the reason code in the authorizer's own decision line.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from local.sender_constraints import DpopKey
from local.server import GatewayServer, build_gateway
from local.template import load_api_model
from local.tls import CertificateFiles, DevelopmentCa, client_context, server_context
from tests.e2e.conftest import CLIENT_ID, CLIENT_SECRET, RESOURCE, Provider, free_port, rsa_jwk
from tests.local.conftest import Reply
from tests.local.synth import PROJECT_ROOT, synthesize

pytestmark = pytest.mark.e2e

MTLS_CLIENT_ID = "e2e-mtls-client"
SCOPES = "items:read items:write"
BEARER_CHALLENGE = 'Bearer realm="jwt-gate", error="invalid_token"'
DPOP_CHALLENGE = 'DPoP realm="jwt-gate", error="invalid_token", algs="ES256 PS256 EdDSA"'
MTLS_DOMAIN = {
    "domainName": "api.e2e.test",
    "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b",
    "truststoreUri": "s3://e2e-truststores/truststore.pem",
}


# --- templates: the stack as `make synth CONTEXT='-c dpop=...'` writes it ---------------------------------


def _synth(factory: pytest.TempPathFactory, **context: Any) -> Path:
    # With a sender constraint, synth refuses a non-zero result TTL (a cached allow would skip the check).
    return synthesize(factory.mktemp("cdk.out"), authorizerCacheTtlSeconds=0, **context)


@pytest.fixture(scope="module")
def dpop_required(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synth(tmp_path_factory, dpop="required")


@pytest.fixture(scope="module")
def dpop_allowed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synth(tmp_path_factory, dpop="allowed")


@pytest.fixture(scope="module")
def mtls_required(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synth(tmp_path_factory, mtls=MTLS_DOMAIN, mtlsBoundTokens="required")


@pytest.fixture(scope="module")
def mtls_allowed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synth(tmp_path_factory, mtls=MTLS_DOMAIN, mtlsBoundTokens="allowed")


def challenge_of(template: Path) -> str:
    responses = load_api_model(template, PROJECT_ROOT).gateway_responses
    return responses["UNAUTHORIZED"].headers["WWW-Authenticate"]


def test_the_templates_carry_the_sender_constraint_settings(
    dpop_required: Path, dpop_allowed: Path, mtls_required: Path
) -> None:
    """What the rest relies on: the stack's own environment, identity sources, TTL and challenges."""
    for template, identity, challenge in (
        (dpop_required, "method.request.header.DPoP", DPOP_CHALLENGE),
        (dpop_allowed, None, f"{BEARER_CHALLENGE}, {DPOP_CHALLENGE}"),
        (mtls_required, None, BEARER_CHALLENGE),
    ):
        model = load_api_model(template, PROJECT_ROOT)
        (authorizer,) = model.authorizers.values()
        assert authorizer.ttl_seconds == 0
        sources = [source.expression for source in authorizer.identity_sources]
        assert (identity in sources) if identity else "method.request.header.DPoP" not in sources
        assert challenge_of(template) == challenge
    environment = load_api_model(dpop_required, PROJECT_ROOT).functions
    assert any(f.environment.get("DPOP") == "required" for f in environment.values())
    environment = load_api_model(mtls_required, PROJECT_ROOT).functions
    assert any(f.environment.get("MTLS_BOUND_TOKENS") == "required" for f in environment.values())


# --- the provider, the development CA, the gateway -------------------------------------------------------


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentCa:
    return DevelopmentCa(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def provider(
    tmp_path_factory: pytest.TempPathFactory, ca: DevelopmentCa, audience: str
) -> Iterator[Provider]:
    server = ca.server()
    running = Provider(free_port(), audience, tmp_path_factory.mktemp("provider"))
    running.start(
        [rsa_jwk("key-1")],
        environment={
            "PROVIDER_DPOP": "1",
            "PROVIDER_MTLS_PORT": str(free_port()),
            "PROVIDER_MTLS_CERT": str(server.cert),
            "PROVIDER_MTLS_KEY": str(server.key),
            "PROVIDER_MTLS_CA": str(ca.ca_cert),
            "PROVIDER_MTLS_CLIENT_ID": MTLS_CLIENT_ID,
        },
    )
    yield running
    running.stop()


def _token_response(
    url: str, client_id: str, headers: dict[str, str], context: ssl.SSLContext | None = None
) -> dict[str, Any]:
    """client_credentials with the resource indicator, over real HTTP(S), as an API client does."""
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "scope": SCOPES, "resource": RESOURCE}
    ).encode()
    basic = base64.b64encode(f"{client_id}:{CLIENT_SECRET}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - a loopback URL built from our own ports
        url,
        data=form,
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
            **headers,
        },
    )
    with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
        document: dict[str, Any] = json.loads(response.read())
    return document


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def dpop_token(provider: Provider, key: DpopKey) -> str:
    """A DPoP-bound token: the token request carries a proof for the provider's token endpoint."""
    endpoint = f"{provider.issuer}/token"
    response = _token_response(endpoint, CLIENT_ID, {"DPoP": key.proof("POST", endpoint)})
    assert response["token_type"] == "DPoP"
    token = str(response["access_token"])
    assert claims_of(token)["cnf"] == {"jkt": key.thumbprint()}
    return token


def unbound_token(provider: Provider) -> str:
    response = _token_response(f"{provider.issuer}/token", CLIENT_ID, {})
    assert response["token_type"] == "Bearer"
    token = str(response["access_token"])
    assert "cnf" not in claims_of(token)
    return token


def certificate_token(provider: Provider, ca: DevelopmentCa, client: CertificateFiles) -> str:
    """A certificate-bound token: the mTLS client asks the token endpoint alias, presenting `client`."""
    with urllib.request.urlopen(f"{provider.issuer}/.well-known/openid-configuration", timeout=10) as reply:  # noqa: S310
        discovery = json.loads(reply.read())
    assert discovery["tls_client_certificate_bound_access_tokens"] is True
    endpoint = discovery["mtls_endpoint_aliases"]["token_endpoint"]
    response = _token_response(endpoint, MTLS_CLIENT_ID, {}, client_context(ca, client))
    assert response["token_type"] == "Bearer"
    token = str(response["access_token"])
    assert claims_of(token)["cnf"] == {"x5t#S256": client.thumbprint()}
    return token


@dataclass
class Gateway:
    server: GatewayServer
    function_logs: list[tuple[str, str]]
    gateway_log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def authorizer_reasons(self) -> list[str]:
        """The reason codes of the authorizer's own decision lines, in order."""
        return [
            json.loads(line)["reason"]
            for _, line in self.function_logs
            if line.startswith("{") and '"authorizer_decision"' in line
        ]

    def call(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        context: ssl.SSLContext | None = None,
    ) -> Reply:
        parts = urlsplit(self.url)
        assert parts.hostname is not None
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=30, context=context)
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            return Reply(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()


@pytest.fixture
def serve(provider: Provider) -> Iterator[Callable[..., Gateway]]:
    servers: list[GatewayServer] = []

    def start(template: Path, tls: ssl.SSLContext | None = None) -> Gateway:
        """A fresh local gateway (cold containers) for `template`, trusting `provider` via discovery."""
        logs: list[tuple[str, str]] = []
        decisions: list[dict[str, Any]] = []
        server = build_gateway(
            template,
            issuer=provider.issuer,
            log_sink=lambda name, line: logs.append((name, line)),
            decision_log=decisions.append,
            ssl_context=tls,
        ).start()
        servers.append(server)
        return Gateway(server, logs, decisions)

    yield start
    for server in servers:
        server.stop()


def challenge(reply: Reply) -> tuple[int, str]:
    return reply.status, reply.headers["WWW-Authenticate"]


def dpop_headers(token: str, proof: str, scheme: str = "DPoP") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}", "DPoP": proof}


# --- DPoP ------------------------------------------------------------------------------------------------


@pytest.fixture
def key() -> DpopKey:
    return DpopKey.generate()


def test_a_client_making_real_proofs_gets_200(
    serve: Callable[..., Gateway], provider: Provider, key: DpopKey, dpop_required: Path
) -> None:
    api = serve(dpop_required)
    token = dpop_token(provider, key)
    for method, expected in (("GET", "GET /hello"), ("POST", "POST /hello"), ("GET", "GET /hello")):
        proof = key.proof(method, f"{api.url}/hello", access_token=token)
        reply = api.call(method, "/hello", dpop_headers(token, proof))
        assert (reply.status, json.loads(reply.body)["route"]) == (200, expected)
    assert api.authorizer_reasons() == ["ok", "ok", "ok"]


def test_the_htu_ignores_query_and_fragment(
    serve: Callable[..., Gateway], provider: Provider, key: DpopKey, dpop_required: Path
) -> None:
    api = serve(dpop_required)
    token = dpop_token(provider, key)
    proof = key.proof("GET", f"{api.url}/hello?page=2#top", access_token=token)
    assert api.call("GET", "/hello?page=2", dpop_headers(token, proof)).status == 200


def test_a_replayed_proof_is_401(
    serve: Callable[..., Gateway], provider: Provider, key: DpopKey, dpop_required: Path
) -> None:
    api = serve(dpop_required)
    token = dpop_token(provider, key)
    headers = dpop_headers(token, key.proof("GET", f"{api.url}/hello", access_token=token))
    assert api.call("GET", "/hello", headers).status == 200
    assert challenge(api.call("GET", "/hello", headers)) == (401, DPOP_CHALLENGE)
    assert api.authorizer_reasons() == ["ok", "dpop_replayed"]


@pytest.mark.parametrize(
    "target",
    ["{api}/other", "{api}/hello/", "http://localhost:{port}/hello", "https://127.0.0.1:{port}/hello"],
    ids=["another-path", "trailing-slash", "another-host", "another-scheme"],
)
def test_a_proof_for_another_url_is_401(
    serve: Callable[..., Gateway], provider: Provider, key: DpopKey, dpop_required: Path, target: str
) -> None:
    api = serve(dpop_required)
    token = dpop_token(provider, key)
    url = target.format(api=api.url, port=urlsplit(api.url).port)
    reply = api.call("GET", "/hello", dpop_headers(token, key.proof("GET", url, access_token=token)))
    assert challenge(reply) == (401, DPOP_CHALLENGE)
    assert api.authorizer_reasons() == ["dpop_htu_mismatch"]


def test_a_proof_for_another_method_is_401(
    serve: Callable[..., Gateway], provider: Provider, key: DpopKey, dpop_required: Path
) -> None:
    api = serve(dpop_required)
    token = dpop_token(provider, key)
    for proof_method, method in (("POST", "GET"), ("GET", "POST"), ("get", "GET")):
        proof = key.proof(proof_method, f"{api.url}/hello", access_token=token)
        assert challenge(api.call(method, "/hello", dpop_headers(token, proof))) == (401, DPOP_CHALLENGE)
    assert api.authorizer_reasons() == ["dpop_htm_mismatch"] * 3


def test_a_proof_by_another_key_is_401(
    serve: Callable[..., Gateway], provider: Provider, key: DpopKey, dpop_required: Path
) -> None:
    api = serve(dpop_required)
    token = dpop_token(provider, key)
    thief = DpopKey.generate()
    proof = thief.proof("GET", f"{api.url}/hello", access_token=token)
    reply = api.call("GET", "/hello", dpop_headers(token, proof))
    assert challenge(reply) == (401, DPOP_CHALLENGE)
    assert api.authorizer_reasons() == ["dpop_key_mismatch"]


def test_a_proof_for_another_token_is_401(
    serve: Callable[..., Gateway], provider: Provider, key: DpopKey, dpop_required: Path
) -> None:
    api = serve(dpop_required)
    token, other = dpop_token(provider, key), dpop_token(provider, key)
    proof = key.proof("GET", f"{api.url}/hello", access_token=other)
    assert challenge(api.call("GET", "/hello", dpop_headers(token, proof))) == (401, DPOP_CHALLENGE)
    assert api.authorizer_reasons() == ["dpop_ath_mismatch"]


def test_a_stale_proof_is_401(
    serve: Callable[..., Gateway], provider: Provider, key: DpopKey, dpop_required: Path
) -> None:
    api = serve(dpop_required)
    token = dpop_token(provider, key)
    for iat in (time.time() - 120, time.time() + 180):  # DPOP_MAX_AGE_SECONDS 60; LEEWAY_SECONDS 60
        proof = key.proof("GET", f"{api.url}/hello", access_token=token, iat=iat)
        assert challenge(api.call("GET", "/hello", dpop_headers(token, proof))) == (401, DPOP_CHALLENGE)
    assert api.authorizer_reasons() == ["dpop_proof_expired"] * 2


def test_a_bound_token_sent_as_bearer_is_401(
    serve: Callable[..., Gateway], provider: Provider, key: DpopKey, dpop_required: Path
) -> None:
    api = serve(dpop_required)
    token = dpop_token(provider, key)
    proof = key.proof("GET", f"{api.url}/hello", access_token=token)
    reply = api.call("GET", "/hello", dpop_headers(token, proof, scheme="Bearer"))
    assert challenge(reply) == (401, DPOP_CHALLENGE)
    # Without a DPoP header the gateway refuses it before the authorizer: the header is an identity source.
    assert challenge(api.call("GET", "/hello", {"Authorization": f"Bearer {token}"})) == (401, DPOP_CHALLENGE)
    assert api.authorizer_reasons() == ["dpop_bound_token_as_bearer"]
    assert [d["reason"] for d in api.gateway_log] == ["authorizer_unauthorized", "identity_missing"]


def test_an_unbound_token_under_required_is_401(
    serve: Callable[..., Gateway], provider: Provider, key: DpopKey, dpop_required: Path
) -> None:
    api = serve(dpop_required)
    token = unbound_token(provider)
    proof = key.proof("GET", f"{api.url}/hello", access_token=token)
    assert challenge(api.call("GET", "/hello", dpop_headers(token, proof))) == (401, DPOP_CHALLENGE)
    proof = key.proof("GET", f"{api.url}/hello", access_token=token)
    reply = api.call("GET", "/hello", dpop_headers(token, proof, scheme="Bearer"))
    assert challenge(reply) == (401, DPOP_CHALLENGE)
    assert api.authorizer_reasons() == ["dpop_token_not_bound", "dpop_token_not_bound"]


def test_dpop_over_the_mutual_tls_gateway_uses_the_https_url(
    serve: Callable[..., Gateway], provider: Provider, key: DpopKey, dpop_required: Path, ca: DevelopmentCa
) -> None:
    api = serve(dpop_required, tls=server_context(ca))
    assert api.url.startswith("https://127.0.0.1:")
    tls = client_context(ca, ca.client("e2e-dpop"))
    token = dpop_token(provider, key)
    proof = key.proof("GET", f"{api.url}/hello", access_token=token)
    assert api.call("GET", "/hello", dpop_headers(token, proof), tls).status == 200
    plain = key.proof("GET", api.url.replace("https://", "http://") + "/hello", access_token=token)
    assert challenge(api.call("GET", "/hello", dpop_headers(token, plain), tls)) == (401, DPOP_CHALLENGE)
    assert api.authorizer_reasons() == ["ok", "dpop_htu_mismatch"]


def test_allowed_takes_unbound_bearer_tokens_and_refuses_bound_ones_as_bearer(
    serve: Callable[..., Gateway], provider: Provider, key: DpopKey, dpop_allowed: Path
) -> None:
    api = serve(dpop_allowed)
    both = f"{BEARER_CHALLENGE}, {DPOP_CHALLENGE}"
    assert api.call("GET", "/hello", {"Authorization": f"Bearer {unbound_token(provider)}"}).status == 200
    token = dpop_token(provider, key)
    assert challenge(api.call("GET", "/hello", {"Authorization": f"Bearer {token}"})) == (401, both)
    assert challenge(api.call("GET", "/hello", {"Authorization": f"DPoP {token}"})) == (401, both)
    proof = key.proof("GET", f"{api.url}/hello", access_token=token)
    assert api.call("GET", "/hello", dpop_headers(token, proof)).status == 200
    assert api.authorizer_reasons() == ["ok", "dpop_bound_token_as_bearer", "dpop_proof_missing", "ok"]


# --- certificate-bound tokens ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client_a(ca: DevelopmentCa) -> CertificateFiles:
    return ca.client("e2e-client-a")


@pytest.fixture(scope="module")
def client_b(ca: DevelopmentCa) -> CertificateFiles:
    return ca.client("e2e-client-b")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_certificate_bound_token_with_its_certificate_is_200(
    serve: Callable[..., Gateway],
    provider: Provider,
    ca: DevelopmentCa,
    client_a: CertificateFiles,
    mtls_required: Path,
) -> None:
    api = serve(mtls_required, tls=server_context(ca))
    token = certificate_token(provider, ca, client_a)
    for method in ("GET", "POST"):
        assert api.call(method, "/hello", bearer(token), client_context(ca, client_a)).status == 200
    assert api.authorizer_reasons() == ["ok", "ok"]


def test_a_certificate_bound_token_with_another_certificate_is_401(
    serve: Callable[..., Gateway],
    provider: Provider,
    ca: DevelopmentCa,
    client_a: CertificateFiles,
    client_b: CertificateFiles,
    mtls_required: Path,
) -> None:
    api = serve(mtls_required, tls=server_context(ca))
    token = certificate_token(provider, ca, client_a)
    reply = api.call("GET", "/hello", bearer(token), client_context(ca, client_b))
    assert challenge(reply) == (401, BEARER_CHALLENGE)
    assert api.authorizer_reasons() == ["mtls_cert_mismatch"]


def test_a_certificate_bound_token_without_a_certificate_is_401(
    serve: Callable[..., Gateway],
    provider: Provider,
    ca: DevelopmentCa,
    client_a: CertificateFiles,
    mtls_required: Path,
) -> None:
    # Plain HTTP: the execute-api endpoint, which the stack disables for this reason; no clientCert arrives.
    api = serve(mtls_required)
    token = certificate_token(provider, ca, client_a)
    assert challenge(api.call("GET", "/hello", bearer(token))) == (401, BEARER_CHALLENGE)
    assert api.authorizer_reasons() == ["mtls_cert_missing"]


def test_an_unbound_token_under_required_is_401_even_with_a_certificate(
    serve: Callable[..., Gateway],
    provider: Provider,
    ca: DevelopmentCa,
    client_a: CertificateFiles,
    mtls_required: Path,
) -> None:
    api = serve(mtls_required, tls=server_context(ca))
    reply = api.call("GET", "/hello", bearer(unbound_token(provider)), client_context(ca, client_a))
    assert challenge(reply) == (401, BEARER_CHALLENGE)
    assert api.authorizer_reasons() == ["mtls_token_not_bound"]


def test_a_certificate_from_another_ca_never_reaches_the_authorizer(
    serve: Callable[..., Gateway],
    provider: Provider,
    ca: DevelopmentCa,
    client_a: CertificateFiles,
    mtls_required: Path,
    tmp_path: Path,
) -> None:
    api = serve(mtls_required, tls=server_context(ca))
    token = certificate_token(provider, ca, client_a)
    stranger = DevelopmentCa(tmp_path / "other-ca").client("e2e-client-a")
    context = ssl.create_default_context(cafile=str(ca.ca_cert))
    context.load_cert_chain(stranger.cert, stranger.key)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
        api.call("GET", "/hello", bearer(token), context)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
        api.call("GET", "/hello", bearer(token), client_context(ca))  # no certificate at all
    assert api.authorizer_reasons() == []
    assert api.gateway_log == []


def test_allowed_takes_unbound_tokens_and_checks_bound_ones(
    serve: Callable[..., Gateway],
    provider: Provider,
    ca: DevelopmentCa,
    client_a: CertificateFiles,
    client_b: CertificateFiles,
    mtls_allowed: Path,
) -> None:
    api = serve(mtls_allowed, tls=server_context(ca))
    as_b = client_context(ca, client_b)
    assert api.call("GET", "/hello", bearer(unbound_token(provider)), as_b).status == 200
    bound = certificate_token(provider, ca, client_a)
    assert challenge(api.call("GET", "/hello", bearer(bound), as_b)) == (401, BEARER_CHALLENGE)
    assert api.call("GET", "/hello", bearer(bound), client_context(ca, client_a)).status == 200
    assert api.authorizer_reasons() == ["ok", "mtls_cert_mismatch", "ok"]
