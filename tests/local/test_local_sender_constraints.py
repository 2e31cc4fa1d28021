"""Issue 12 in `make local` and `make token`: DPoP and certificate-bound tokens against the real stack.

The stack is synthesized with the real config keys; instances start as `python -m local [--mtls]` starts them,
and tokens come from `python -m local.token --dpop/--mtls` as `make token DPOP=1` / `MTLS=1` print them. The
printed curl commands are run as a user would paste them (curl is part of the machine, like make).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from gate.dpop import jwk_thumbprint
from local.__main__ import LocalInstance, start_instance
from local.sender_constraints import DpopKey, htu_of, local_sender_constraint_environment
from local.server import build_gateway
from local.template import load_api_model
from local.tls import DevelopmentCa, client_context
from local.token import main as token_main
from tests.local.conftest import Reply, call
from tests.local.synth import PROJECT_ROOT, synthesize
from tests.local.test_local_tls import https_call

DPOP_CHALLENGE = 'DPoP realm="jwt-gate", error="invalid_token", algs="ES256 PS256 EdDSA"'
BEARER_CHALLENGE = 'Bearer realm="jwt-gate", error="invalid_token"'
MTLS_DOMAIN = {
    "domainName": "api.local.test",
    "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b",
    "truststoreUri": "s3://local-truststores/truststore.pem",
}


@pytest.fixture(scope="module")
def dpop_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out"),
        dpop="required",
        authorizerCacheTtlSeconds=0,
        dpopReplayTable=True,
        publicBaseUrl="https://api.acme-corp.com/v1",
    )


@pytest.fixture(scope="module")
def mtls_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out"),
        mtls=MTLS_DOMAIN,
        mtlsBoundTokens="required",
        authorizerCacheTtlSeconds=0,
    )


def authorizer_function(template: Path) -> str:
    model = load_api_model(template, PROJECT_ROOT)
    (authorizer,) = model.authorizers.values()
    return authorizer.function_id


# --- the authorizer's environment in a local run ---------------------------------------------------------


def test_public_base_url_is_the_local_url_and_the_replay_table_is_cleared(dpop_template: Path) -> None:
    function_id = authorizer_function(dpop_template)
    template_env = load_api_model(dpop_template, PROJECT_ROOT).functions[function_id].environment
    assert template_env["PUBLIC_BASE_URL"] == "https://api.acme-corp.com/v1"
    assert template_env["DPOP_REPLAY_TABLE"]
    server = build_gateway(dpop_template, log_sink=lambda *_: None, decision_log=lambda _: None)
    try:
        environment = server.gateway.pools[function_id].environment  # type: ignore[attr-defined]
        assert environment["PUBLIC_BASE_URL"] == server.url
        assert server.url.startswith("http://127.0.0.1:")
        assert environment["DPOP_REPLAY_TABLE"] == ""
        assert environment["DPOP"] == "required"
    finally:
        server.stop()


def test_explicit_overrides_still_win(dpop_template: Path) -> None:
    function_id = authorizer_function(dpop_template)
    overrides = {function_id: {"DPOP_REPLAY_TABLE": "replay-e2e", "PUBLIC_BASE_URL": "http://localhost:1"}}
    server = build_gateway(
        dpop_template, env_overrides=overrides, log_sink=lambda *_: None, decision_log=lambda _: None
    )
    try:
        environment = server.gateway.pools[function_id].environment  # type: ignore[attr-defined]
        assert (environment["DPOP_REPLAY_TABLE"], environment["PUBLIC_BASE_URL"]) == (
            "replay-e2e",
            "http://localhost:1",
        )
    finally:
        server.stop()


def test_nothing_changes_without_a_sender_constraint(tmp_path: Path) -> None:
    template = synthesize(tmp_path / "cdk.out")
    model = load_api_model(template, PROJECT_ROOT)
    assert local_sender_constraint_environment(model, "http://127.0.0.1:3000") == {}


# --- make local + make token -----------------------------------------------------------------------------


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[LocalInstance]]:
    instances: list[LocalInstance] = []
    yield instances
    for instance in instances:
        instance.stop()


def start(
    started: list[LocalInstance], template: Path, state_root: Path, *, mtls: bool = False
) -> LocalInstance:
    instance = start_instance(
        template,
        port=0,
        state_root=state_root,
        log_sink=lambda *_: None,
        decision_log=lambda _: None,
        mtls=mtls,
    )
    instance.gateway.start()
    started.append(instance)
    return instance


def make_token(
    capsys: pytest.CaptureFixture[str], state_root: Path, port: int, *args: str
) -> tuple[str, str]:
    assert token_main(["--state-root", str(state_root), "--port", str(port), *args]) == 0
    out, err = capsys.readouterr()
    return out, err


def header_lines(out: str) -> dict[str, str]:
    headers = {}
    for line in out.strip().splitlines():
        name, _, value = line.partition(": ")
        headers[name] = value
    return headers


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_make_token_dpop_prints_the_two_headers_of_a_valid_request(
    started: list[LocalInstance], dpop_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = start(started, dpop_template, tmp_path)
    # DPOP required: a single-use proof is no use in the banner; it says how to get one instead.
    banner = instance.banner()
    assert "Try it" not in banner
    assert f"PUBLIC_BASE_URL is {instance.gateway.url}" in banner
    assert "make token DPOP=1" in banner
    out, err = make_token(capsys, tmp_path, instance.port, "--dpop")
    headers = header_lines(out)
    assert list(headers) == ["Authorization", "DPoP"]
    scheme, _, token = headers["Authorization"].partition(" ")
    assert scheme == "DPoP"
    key = DpopKey.load_or_create(tmp_path / "dpop-client-key.pem")
    assert claims_of(token)["cnf"] == {"jkt": key.thumbprint()}
    # The proof, read with PyJWT and the gate's own thumbprint code rather than local/'s.
    proof_header = jwt.get_unverified_header(headers["DPoP"])
    assert (proof_header["typ"], proof_header["alg"]) == ("dpop+jwt", "ES256")
    assert jwk_thumbprint(proof_header["jwk"]) == (proof_header["jwk"], key.thumbprint())
    public = jwt.PyJWK(proof_header["jwk"], "ES256").key
    proof = jwt.decode(headers["DPoP"], public, algorithms=["ES256"])
    digest = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
    assert (proof["htm"], proof["htu"], proof["ath"]) == ("GET", f"{instance.gateway.url}/hello", digest)
    assert "within 60 s" in err
    reply = call(instance.gateway.url, "GET", "/hello", headers)
    assert reply.status == 200
    replayed = call(instance.gateway.url, "GET", "/hello", headers)
    assert (replayed.status, replayed.headers["WWW-Authenticate"]) == (401, DPOP_CHALLENGE)
    # The key is kept: the next token is bound to the same key.
    out, _ = make_token(
        capsys, tmp_path, instance.port, "--dpop", "--method", "POST", "--scopes", "items:write"
    )
    headers = header_lines(out)
    assert claims_of(headers["Authorization"].split(" ")[1])["cnf"] == {"jkt": key.thumbprint()}
    assert call(instance.gateway.url, "POST", "/hello", headers).status == 200


def test_make_token_dpop_proofs_name_the_url_given(
    started: list[LocalInstance], dpop_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = start(started, dpop_template, tmp_path)
    other = f"{instance.gateway.url.replace('127.0.0.1', 'localhost')}/hello?x=1"
    out, err = make_token(capsys, tmp_path, instance.port, "--dpop", "--url", other)
    headers = header_lines(out)
    assert jwt.decode(headers["DPoP"], options={"verify_signature": False})["htu"] == htu_of(other)
    assert shlex.split(err.strip().splitlines()[-1])[-1] == other
    # localhost is not the URL the gateway's PUBLIC_BASE_URL names: dpop_htu_mismatch.
    assert call(instance.gateway.url, "GET", "/hello", headers).status == 401


def test_the_printed_dpop_curl_works_once(
    started: list[LocalInstance], dpop_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = start(started, dpop_template, tmp_path)
    _, err = make_token(capsys, tmp_path, instance.port, "--dpop")
    command = shlex.split(err.strip().splitlines()[-1])
    assert command[:2] == ["curl", "-i"]
    first = subprocess.run(command, capture_output=True, text=True, check=True, timeout=30)
    assert first.stdout.startswith("HTTP/1.1 200")
    second = subprocess.run(command, capture_output=True, text=True, check=True, timeout=30)
    assert second.stdout.startswith("HTTP/1.1 401")


def test_make_local_mtls_serves_https_and_make_token_mtls_binds_to_the_client_certificate(
    started: list[LocalInstance], mtls_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = start(started, mtls_template, tmp_path, mtls=True)
    url = instance.gateway.url
    assert url.startswith("https://127.0.0.1:")
    ca = DevelopmentCa.under(tmp_path)
    client = ca.client()
    out, err = make_token(capsys, tmp_path, instance.port, "--mtls")
    token = out.strip()
    assert claims_of(token)["cnf"] == {"x5t#S256": client.thumbprint()}
    command = shlex.split(err.strip().splitlines()[-1])
    for option, path in (("--cacert", ca.ca_cert), ("--cert", client.cert), ("--key", client.key)):
        assert Path(command[command.index(option) + 1]).resolve() == path.resolve()
    ok = https_call(url, "/hello", {"Authorization": f"Bearer {token}"}, client_context(ca, client))
    assert ok.status == 200
    other = client_context(ca, ca.client("someone-else"))
    refused: Reply = https_call(url, "/hello", {"Authorization": f"Bearer {token}"}, other)
    assert (refused.status, refused.headers["WWW-Authenticate"]) == (401, BEARER_CHALLENGE)
    # The banner's curl presents the client certificate, with a token bound to it.
    banner = instance.banner()
    assert "Certificate-bound tokens required" in banner
    curl = shlex.split(banner.split("Try it (token valid for one hour):\n", 1)[1].splitlines()[0])
    banner_token = curl[curl.index("-H") + 1].removeprefix("Authorization: Bearer ")
    assert claims_of(banner_token)["cnf"] == {"x5t#S256": client.thumbprint()}
    result = subprocess.run(curl, capture_output=True, text=True, check=True, timeout=30)
    assert result.stdout.startswith("HTTP/1.1 200")
    assert json.loads(result.stdout.split("\n\n", 1)[1])["route"] == "GET /hello"


def test_make_token_mtls_warns_when_the_api_is_plain_http(
    started: list[LocalInstance], mtls_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = start(started, mtls_template, tmp_path)
    assert "make local MTLS=1" in instance.banner()
    _, err = make_token(capsys, tmp_path, instance.port, "--mtls")
    assert "is not https, so no client certificate is sent" in err
