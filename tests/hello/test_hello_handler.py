"""The sample endpoint echoes the caller and the authorizer's context claims (Lambda proxy payload 1.0)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HANDLER = Path(__file__).resolve().parents[2] / "lambda_src" / "hello" / "handler.py"
EVENTS = Path(__file__).resolve().parent / "events"


def load_handler(monkeypatch: pytest.MonkeyPatch, cors_origins: str) -> ModuleType:
    """Import a fresh copy: the module reads its environment once, at cold start, like Lambda."""
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", cors_origins)
    spec = importlib.util.spec_from_file_location("hello_handler_under_test", HANDLER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def test_authorized_request_gets_principal_and_claims(monkeypatch):
    response = load_handler(monkeypatch, "").handler(event("get_hello_authorized.json"), None)
    assert response == {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(
            {
                "claims": {
                    "client_id": "client-abc",
                    "iss": "https://example.auth0.com/",
                    "scope": "items:read",
                    "sub": "auth0|user-123",
                },
                "principalId": "auth0|user-123",
                "route": "GET /hello",
            },
            sort_keys=True,
        ),
    }


def test_public_route_has_no_principal(monkeypatch):
    response = load_handler(monkeypatch, "").handler(event("get_health_public.json"), None)
    assert json.loads(response["body"]) == {"claims": {}, "principalId": None, "route": "GET /health"}


def test_allowed_origin_is_echoed(monkeypatch):
    module = load_handler(monkeypatch, "https://admin.example.com,https://app.example.com")
    headers = module.handler(event("get_hello_authorized.json"), None)["headers"]
    assert headers == {
        "Content-Type": "application/json",
        "Cache-Control": "no-store",
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Vary": "Origin",
    }


def test_other_origin_gets_no_cors_headers(monkeypatch):
    module = load_handler(monkeypatch, "https://admin.example.com")
    headers = module.handler(event("get_hello_authorized.json"), None)["headers"]
    assert headers == {"Content-Type": "application/json", "Cache-Control": "no-store"}


def test_wildcard_origin_allows_any_origin(monkeypatch):
    module = load_handler(monkeypatch, "*")
    headers = module.handler(event("get_hello_authorized.json"), None)["headers"]
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_behind_the_native_authorizer_the_claims_object_is_shown_as_is(monkeypatch):
    native = event("get_hello_authorized.json")
    claims = {"sub": "auth0|user-123", "scope": "items:read", "aud": ["api://orders"]}
    native["requestContext"]["authorizer"] = {"claims": claims}
    response = load_handler(monkeypatch, "").handler(native, None)
    assert json.loads(response["body"]) == {"claims": claims, "principalId": None, "route": "GET /hello"}
