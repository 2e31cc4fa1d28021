"""The key refresher (lambda_src/key_refresher/handler.py) against the real loopback IdP.

SSM's PutParameter is the one thing faked: a recording function with its keyword arguments (the boto3 client
method's signature). What it records is then served by the extension stand-in to a real Authorizer, so the
refresher's output is proven to be what the authorizer reads.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gate.authorizer import Authorizer
from gate.key_sources import KeySources
from gate.settings import Settings
from local.parameters_extension import ParametersExtensionStandIn
from tests.authorizer.authz_support import NOW, Clock, Idp, KeyRing, base_env

TokenFor = Callable[..., str]
HANDLER = Path(__file__).resolve().parents[2] / "lambda_src" / "key_refresher" / "handler.py"


def load_refresher(monkeypatch: pytest.MonkeyPatch, targets: list[dict[str, Any]]) -> ModuleType:
    monkeypatch.setenv("REFRESH_TARGETS", json.dumps(targets))
    monkeypatch.setenv("JWKS_TIMEOUT_SECONDS", "0.2")
    spec = importlib.util.spec_from_file_location("key_refresher_under_test", HANDLER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Ssm:
    """Records put_parameter calls; `fail` makes the next ones raise like a boto3 ClientError would."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail: Exception | None = None

    def put(self, **kwargs: Any) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        self.calls.append(kwargs)
        return {"Version": len(self.calls), "Tier": "Standard"}

    def value(self, name: str) -> str | None:
        found = [c["Value"] for c in self.calls if c["Name"] == name]
        return found[-1] if found else None


@pytest.fixture
def ssm() -> Ssm:
    return Ssm()


def run(
    module: ModuleType, ssm: Ssm, targets: list[dict[str, Any]]
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    lines: list[str] = []
    result = module.refresh(targets, put=ssm.put, timeout=0.2, now=lambda: NOW, write=lines.append)
    return result, [json.loads(line) for line in lines]


def target(idp: Idp, parameter: str = "/p/0", **extra: Any) -> dict[str, Any]:
    return {"issuer": idp.issuer, "jwksUri": None, "parameter": parameter, **extra}


def test_writes_the_public_keys_with_the_fetch_time(monkeypatch, idp: Idp, ring: KeyRing, ssm: Ssm):
    leaky = {**ring.rsa.jwk, "d": "AQAB", "x5c": ["MIIB"], "x5t": "abc"}
    idp.publish(leaky, {"kty": "oct", "kid": "shared", "k": "c2VjcmV0"})
    module = load_refresher(monkeypatch, [target(idp)])
    result, lines = run(module, ssm, [target(idp)])
    assert result == {"written": 1, "failed": 0}
    (call,) = ssm.calls
    public = {k: ring.rsa.jwk[k] for k in ("kty", "kid", "use", "n", "e")}
    assert call == {
        "Name": "/p/0",
        "Value": json.dumps(
            {"issuer": idp.issuer, "fetched_at": int(NOW), "keys": [public]}, separators=(",", ":")
        ),
        "Type": "String",
        "Overwrite": True,
        "Tier": "Intelligent-Tiering",
    }
    assert lines == [
        {
            "event": "key_refresh_ok",
            "issuer": idp.issuer,
            "parameter": "/p/0",
            "keys": 1,
            "ignored": ["'shared': kty 'oct' is not a public-key type (RSA, EC, OKP)"],
        }
    ]
    assert idp.requests == {"/.well-known/openid-configuration": 1, "/jwks": 1}


def test_a_configured_jwks_uri_skips_discovery(monkeypatch, idp: Idp, ssm: Ssm):
    module = load_refresher(monkeypatch, [])
    run(module, ssm, [target(idp, jwksUri=idp.jwks_uri)])
    assert idp.requests == {"/jwks": 1}


@pytest.mark.parametrize(
    ("mode", "detail"),
    [
        ("down", "{base}/.well-known/openid-configuration: HTTP 503"),
        ("garbage", "{base}/jwks: response is not JSON (JSONDecodeError)"),
        ("slow", "{base}/.well-known/openid-configuration: timed out after 0.2 s"),
    ],
)
def test_an_unreachable_or_broken_idp_is_reported_and_writes_nothing(
    monkeypatch, idp: Idp, ssm: Ssm, mode: str, detail: str
):
    idp.mode = mode
    module = load_refresher(monkeypatch, [])
    result, lines = run(module, ssm, [target(idp)])
    assert (result, ssm.calls) == ({"written": 0, "failed": 1}, [])
    assert lines == [
        {
            "event": "key_refresh_failed",
            "issuer": idp.issuer,
            "parameter": "/p/0",
            "detail": detail.format(base=idp.base),
        }
    ]


def test_a_jwks_without_a_public_key_leaves_the_parameter_alone(monkeypatch, idp: Idp, ssm: Ssm):
    idp.publish({"kty": "oct", "k": "c2VjcmV0"})
    module = load_refresher(monkeypatch, [])
    result, lines = run(module, ssm, [target(idp)])
    assert (result, ssm.calls) == ({"written": 0, "failed": 1}, [])
    assert lines[0]["detail"] == f"JWKS of {idp.issuer}: no usable public key (1 published)"


def test_a_discovery_document_for_another_issuer_is_refused(monkeypatch, idp: Idp, ssm: Ssm):
    idp.discovery_issuer = "https://evil.example.com/"
    module = load_refresher(monkeypatch, [])
    _, lines = run(module, ssm, [target(idp)])
    assert lines[0]["detail"] == (
        f"{idp.base}/.well-known/openid-configuration: discovery issuer 'https://evil.example.com/' != "
        f"{idp.issuer!r}"
    )


def test_an_ssm_failure_is_reported_and_the_next_issuer_still_refreshed(
    monkeypatch, idp: Idp, ssm: Ssm, ring: KeyRing
):
    module = load_refresher(monkeypatch, [])
    ssm.fail = PermissionError("AccessDeniedException: not authorized to perform ssm:PutParameter")
    result, lines = run(module, ssm, [target(idp)])
    assert result == {"written": 0, "failed": 1}
    assert lines[0]["detail"] == (
        "SSM PutParameter: PermissionError: AccessDeniedException: not authorized to perform ssm:PutParameter"
    )
    ssm.fail = None
    idp_down = {"issuer": "http://127.0.0.1:9/", "jwksUri": None, "parameter": "/p/1"}
    result, lines = run(module, ssm, [idp_down, target(idp)])
    assert result == {"written": 1, "failed": 1}
    assert [line["event"] for line in lines] == ["key_refresh_failed", "key_refresh_ok"]


def test_a_key_set_too_large_for_a_parameter_is_a_failure(monkeypatch, idp: Idp, ring: KeyRing, ssm: Ssm):
    idp.publish(*[ring.rsa.with_kid(f"rsa-{i}") for i in range(30)])
    module = load_refresher(monkeypatch, [])
    _, lines = run(module, ssm, [target(idp)])
    assert ssm.calls == []
    assert lines[0]["detail"].startswith(f"JWKS of {idp.issuer}: 30 public keys take ")
    assert lines[0]["detail"].endswith(" bytes, more than an SSM parameter holds (8192)")


@pytest.fixture
def extension(ssm: Ssm) -> Iterator[ParametersExtensionStandIn]:
    server = ParametersExtensionStandIn(ssm.value).start()
    yield server
    server.stop()


def test_what_the_refresher_writes_is_what_the_authorizer_reads(
    monkeypatch, idp: Idp, ring: KeyRing, ssm: Ssm, extension, clock: Clock, token_for: TokenFor
):
    module = load_refresher(monkeypatch, [])
    run(module, ssm, [target(idp)])
    idp.mode = "down"  # the authorizer never asks the IdP
    env = base_env(idp, JWKS_SSM_PARAMETER="/p/0", **extension.environment())
    settings = Settings.from_env(env)
    log: list[str] = []
    authorizer = Authorizer(
        settings, clock=clock, write=log.append, key_sources=KeySources.from_env(env, settings, now=clock)
    )
    event = {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {token_for(ring.rsa)}",
        "methodArn": ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/orders"),
    }
    assert authorizer.handle(event)["principalId"] == "user-1"
    assert extension.requests == [("/p/0", 200)]


def test_the_handler_reads_its_targets_once_and_uses_ssm(monkeypatch, idp: Idp, ssm: Ssm):
    module = load_refresher(monkeypatch, [target(idp)])
    monkeypatch.setattr(module, "_ssm_put", lambda: ssm.put)
    assert module.handler({}, None) == {"written": 1, "failed": 0}
    assert module.TIMEOUT == 0.2
