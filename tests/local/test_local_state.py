"""The printed demo curl mints a token with the scopes of the route it calls, chosen as API Gateway would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.state import scopes_for
from local.template import load_api_model
from tests.local.conftest import build_template

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RULES = {"GET /*": "r", "GET /items": "a", "* /items/*": "any", "DELETE /items/*": "admin"}


@pytest.mark.parametrize(
    ("method", "resource", "scopes"),
    [
        ("GET", "/items", ("a",)),  # the literal route, not the catch-all listed first
        ("GET", "/{proxy+}", ("r",)),
        ("GET", "/items/{proxy+}", ("any",)),
        ("DELETE", "/items/{proxy+}", ("admin",)),  # the exact verb before *
        ("POST", "/nowhere", ()),
    ],
)
def test_scopes_for_follow_the_route_api_gateway_runs(tmp_path: Path, method, resource, scopes):
    template = build_template(tmp_path / "invocations.jsonl", authorizer_type="REQUEST")
    variables = template["Resources"]["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    variables["SCOPE_RULES"] = json.dumps(RULES)
    template_path = tmp_path / "template.json"
    template_path.write_text(json.dumps(template))
    model = load_api_model(template_path, PROJECT_ROOT)
    assert scopes_for(model, method, resource) == scopes
