"""handler.handler as Lambda calls it: built at import from os.environ, fed API Gateway events.

Events are JSON fixtures in events/ with ``{token}`` where API Gateway would put the header value.
Tokens here use the real clock, since the handler module does.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gate.errors import KeysUnavailable
from tests.authorizer.authz_support import API_PREFIX, Clock, Idp, KeyRing, base_env

EVENTS = Path(__file__).parent / "events"
CONTRACT = [
    "ISSUER", "AUDIENCE", "JWKS_URI", "ALGORITHMS", "LEEWAY_SECONDS", "TOKEN_TYPES", "REQUIRED_CLAIMS",
    "SCOPE_RULES", "JWKS_CACHE_SECONDS", "JWKS_MAX_STALE_SECONDS", "JWKS_TIMEOUT_SECONDS",
    "JWKS_REFETCH_COOLDOWN_SECONDS", "RESOURCE_ARN", "CONTEXT_CLAIMS",
]  # fmt: skip
TokenFor = Callable[..., str]
LoadHandler = Callable[..., ModuleType]


def event(name: str, token: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text().replace("{token}", token))
    return loaded


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch, idp: Idp, clock: Clock) -> Iterator[LoadHandler]:
    clock.now = time.time()  # token_for signs with this clock; the handler reads the real one

    def load(**env: str) -> ModuleType:
        for name in CONTRACT:
            monkeypatch.delenv(name, raising=False)
        for name, value in base_env(idp, **env).items():
            monkeypatch.setenv(name, value)
        sys.modules.pop("handler", None)
        return importlib.import_module("handler")

    yield load
    sys.modules.pop("handler", None)


def test_token_event_allowed(load_handler: LoadHandler, ring: KeyRing, token_for: TokenFor, idp: Idp, capfd):
    handler = load_handler()
    response = handler.handler(event("token.json", token_for(ring.rsa)), None)
    assert response == {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [f"{API_PREFIX}/*"]}
            ],
        },
        "context": {"sub": "user-1", "scope": "orders:read", "client_id": "app-1", "iss": idp.issuer},
    }
    assert json.loads(capfd.readouterr().out.splitlines()[-1])["outcome"] == "allow"


@pytest.mark.parametrize("name", ["request.json", "request_lowercase_header.json"])
def test_request_events_allowed(load_handler: LoadHandler, ring: KeyRing, token_for: TokenFor, name):
    handler = load_handler()
    assert handler.handler(event(name, token_for(ring.es256)), None)["principalId"] == "user-1"


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("token.json", "Bearer"),
        ("token.json", "Basic dXNlcjpwYXNz"),
        ("token.json", "Bearer\t{t}"),
        ("token.json", "Bearer {t} "),
        ("token.json", "Bearer {t} {t}"),
        ("token.json", " Bearer {t}"),
        ("token.json", "Bearerr {t}"),
        ("token.json", "{t}"),
        ("token.json", ""),
        ("request_two_authorization_headers.json", "{t}"),
        ("request_without_authorization.json", "{t}"),
    ],
)
def test_unauthorized_is_exactly_that_exception(
    load_handler: LoadHandler, ring: KeyRing, token_for: TokenFor, name, header
):
    handler = load_handler()
    token = token_for(ring.rsa)
    payload = event(name, token)
    if name == "token.json":
        payload["authorizationToken"] = header.replace("{t}", token)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the exact type and message are asserted below
        handler.handler(payload, None)
    assert type(caught.value) is Exception
    assert caught.value.args == ("Unauthorized",)


def test_expired_token_is_unauthorized(load_handler: LoadHandler, ring: KeyRing, token_for: TokenFor, capfd):
    handler = load_handler()
    expired = token_for(ring.rsa, iat=int(time.time()) - 3600, exp=int(time.time()) - 61)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        handler.handler(event("token.json", expired), None)
    line = json.loads(capfd.readouterr().out.splitlines()[-1])
    assert (line["outcome"], line["reason"]) == ("unauthorized", "expired")


@pytest.mark.parametrize(
    "broken",
    [
        None,
        [],
        "text",
        {"type": "TOKEN"},
        {"type": "OTHER", "methodArn": "x"},
        {"methodArn": f"{API_PREFIX}/GET/x"},
    ],
)
def test_malformed_events_are_unauthorized(load_handler: LoadHandler, broken):
    handler = load_handler()
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        handler.handler(broken, None)


def test_decision_lines_go_to_file_descriptor_1_not_through_sys_stdout(
    load_handler: LoadHandler, ring: KeyRing, token_for: TokenFor, capfd, monkeypatch: pytest.MonkeyPatch
):
    """On Lambda, sys.stdout is the runtime's flush-every-write wrapper around fd 1: the handler skips it."""
    handler = load_handler()
    capfd.readouterr()  # the key fetch at import logs nothing, but start from an empty capture anyway
    replaced = io.StringIO()
    monkeypatch.setattr(sys, "stdout", replaced)
    handler.handler(event("token.json", token_for(ring.rsa)), None)
    assert replaced.getvalue() == ""
    assert capfd.readouterr().out == (
        '{"event":"authorizer_decision","outcome":"allow","reason":"ok","sub":"user-1","kid":"rsa-1",'
        f'"method_arn":"{API_PREFIX}/GET/orders"}}\n'
    )


def test_keys_are_prefetched_at_import(
    load_handler: LoadHandler, idp: Idp, ring: KeyRing, token_for: TokenFor
):
    handler = load_handler()
    assert idp.requests == {"/.well-known/openid-configuration": 1, "/jwks": 1}
    handler.handler(event("token.json", token_for(ring.rsa)), None)
    assert idp.requests == {"/.well-known/openid-configuration": 1, "/jwks": 1}


def test_failed_prefetch_does_not_crash_init_and_the_first_call_retries(
    load_handler: LoadHandler, idp: Idp, ring: KeyRing, token_for: TokenFor
):
    idp.mode = "down"
    handler = load_handler()
    idp.mode = "ok"
    assert handler.handler(event("token.json", token_for(ring.rsa)), None)["principalId"] == "user-1"


def test_keys_unavailable_propagates_unchanged(
    load_handler: LoadHandler, idp: Idp, ring: KeyRing, token_for: TokenFor
):
    idp.mode = "garbage"
    handler = load_handler(JWKS_URI=idp.jwks_uri)
    with pytest.raises(KeysUnavailable) as caught:
        handler.handler(event("token.json", token_for(ring.rsa)), None)
    assert str(caught.value).startswith("Signing keys unavailable: ")
    assert "not JSON" in str(caught.value)


def test_invalid_configuration_fails_the_import(load_handler: LoadHandler):
    from gate.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^ALGORITHMS: "):
        load_handler(ALGORITHMS="HS256")
