"""The synthesized stack with issue 13's key sources, served locally: keys from SSM through the extension's
stand-in (the authorizer never fetches the issuer's JWKS itself), and a bundled snapshot that a local run
sets aside (it holds the real issuer's keys)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.issuer import IssuerServer, KeyStore
from local.key_sources import local_key_sources
from local.parameters_extension import ParametersExtensionStandIn
from local.server import GatewayServer, build_gateway
from local.template import load_api_model
from tests.local.conftest import call
from tests.local.synth import PROJECT_ROOT, synthesize

AUDIENCE = "api://jwt-gate-example"
LAYER = "arn:aws:lambda:eu-west-1:015030872274:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:4"


@pytest.fixture(scope="module")
def ssm_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"), keySource="ssm", parametersExtensionLayerArn=LAYER)


@pytest.fixture(scope="module")
def snapshot_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = PROJECT_ROOT / ".local" / "test-key-snapshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.json"
    key = {"kty": "RSA", "kid": "real-idp", "n": "sXch", "e": "AQAB"}
    path.write_text(
        json.dumps(
            {"fetched_at": int(time.time()), "issuers": {"https://example.auth0.com/": {"keys": [key]}}}
        )
    )
    try:
        yield synthesize(
            tmp_path_factory.mktemp("cdk.out"), jwksSnapshot=path.relative_to(PROJECT_ROOT).as_posix()
        )
    finally:
        path.unlink(missing_ok=True)


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[IssuerServer]:
    server = IssuerServer(KeyStore(tmp_path / "state")).start()
    yield server
    server.stop()


def serve(template: Path, issuer: IssuerServer, lines: list[str]) -> GatewayServer:
    return build_gateway(
        template,
        issuer=issuer.issuer,
        jwks_uri=issuer.jwks_uri,
        log_sink=lambda _name, line: lines.append(line),
        decision_log=lambda _: None,
    ).start()


def test_keys_come_from_the_extension_stand_in(ssm_template: Path, issuer: IssuerServer):
    lines: list[str] = []
    api = serve(ssm_template, issuer, lines)
    try:
        token = issuer.mint(AUDIENCE, ["items:read"])
        reply = call(api.url, "GET", "/hello", {"Authorization": f"Bearer {token}"})
        assert reply.status == 200
        (close,) = api.closers  # the stand-in's stop
        stand_in = getattr(close, "__self__", None)
        assert isinstance(stand_in, ParametersExtensionStandIn)
        assert stand_in.requests == [("/JwtGate-dev/jwks/0", 200)]
        assert issuer.requests_served == 1  # the stand-in's read of the local JWKS, not the authorizer's
    finally:
        api.stop()
    decisions = [json.loads(line) for line in lines if '"authorizer_decision"' in line]
    assert [(d["outcome"], d.get("key_source")) for d in decisions] == [("allow", None)]


def test_the_authorizer_gets_the_extension_s_port_and_token(ssm_template: Path, issuer: IssuerServer):
    model = load_api_model(ssm_template, PROJECT_ROOT)
    overrides: dict[str, dict[str, str]] = {}
    extension = local_key_sources(model, overrides, issuer=issuer.issuer, jwks_uri=issuer.jwks_uri)
    assert extension is not None
    try:
        (authorizer,) = model.authorizers.values()
        assert (
            model.functions[authorizer.function_id].environment["JWKS_SSM_PARAMETER"] == "/JwtGate-dev/jwks/0"
        )
        assert overrides == {
            authorizer.function_id: {
                "AWS_SESSION_TOKEN": extension.token,
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(extension.port),
            }
        }
    finally:
        extension.stop()


def test_the_refresher_is_in_the_template_but_never_invoked(ssm_template: Path):
    model = load_api_model(ssm_template, PROJECT_ROOT)
    sources = sorted(f.source_dir.relative_to(PROJECT_ROOT).as_posix() for f in model.functions.values())
    assert sources == ["lambda_src/authorizer", "lambda_src/hello", "lambda_src/key_refresher"]


def test_a_bundled_snapshot_is_set_aside_locally(snapshot_template: Path, issuer: IssuerServer):
    model = load_api_model(snapshot_template, PROJECT_ROOT)
    (authorizer,) = model.authorizers.values()
    assert model.functions[authorizer.function_id].environment["JWKS_SNAPSHOT_FILE"] == "jwks-snapshot.json"
    lines: list[str] = []
    api = serve(snapshot_template, issuer, lines)
    try:
        token = issuer.mint(AUDIENCE, ["items:read"])
        assert call(api.url, "GET", "/hello", {"Authorization": f"Bearer {token}"}).status == 200
        assert api.closers == []
    finally:
        api.stop()


def test_a_token_the_extension_refuses_is_503_not_401(ssm_template: Path, issuer: IssuerServer):
    model = load_api_model(ssm_template, PROJECT_ROOT)
    (authorizer,) = model.authorizers.values()
    api = build_gateway(
        ssm_template,
        issuer=issuer.issuer,
        jwks_uri=issuer.jwks_uri,
        env_overrides={authorizer.function_id: {"AWS_SESSION_TOKEN": "not-the-session-token"}},
        log_sink=lambda *_: None,
        decision_log=lambda _: None,
    ).start()
    try:
        token = issuer.mint(AUDIENCE, ["items:read"])
        reply = call(api.url, "GET", "/hello", {"Authorization": f"Bearer {token}"})
        assert (reply.status, reply.headers["Retry-After"]) == (503, "5")
        assert json.loads(reply.body)["error"] == "temporarily_unavailable"
    finally:
        api.stop()
