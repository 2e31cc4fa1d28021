"""One rule set per concept: synth (stacks/rules.py) and the authorizer (gate/routes.py, gate/settings.py).

The authorizer cannot import stacks/ from inside its asset, so the agreement is a property: over generated
route keys and scope strings, each side accepts exactly what the other accepts. `TokenRules`, the construct's
input, validates exactly like `scopeRules` in cdk.json, and the construct refuses at synth a method that
carries it without a rule.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigateway as apigw
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gate.errors import ConfigError as GateConfigError
from gate.routes import RuleError, parse_route
from gate.settings import API_GATEWAY_CONTEXT_KEYS as GATE_SIDE_API_KEYS
from gate.settings import GATE_CONTEXT_KEYS as GATE_SIDE_OWN_KEYS
from gate.settings import PRINCIPAL_ID_FORMATS as GATE_SIDE_FORMATS
from gate.settings import Settings
from stacks import rules
from stacks.config import ConfigError, TokenRules
from stacks.jwt_authorizer import JwtAuthorizer
from tests.infra.test_config_validation import MINIMAL, load

ROUTE_ALPHABET = st.sampled_from([*"ab/*.-_:~{}? ", "GET", "DELETE", "OPTIONS", "get", "..", "//"])
ROUTES = st.lists(ROUTE_ALPHABET, min_size=1, max_size=10).map("".join)
SCOPES = st.text(alphabet=st.sampled_from(list('ab: \t"\\\x7f~!')), max_size=8)


def stacks_accepts_route(key: str) -> bool:
    try:
        rules.route(key)
    except rules.InvalidValueError:
        return False
    return True


def gate_accepts_route(key: str) -> bool:
    try:
        parse_route(key)
    except RuleError:
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(ROUTES)
@example("GET /a~b")
@example("GET /orders*")
@example("GET /orders/{id}")
@example("OPTIONS /a")
@example("GET /a/..")
@example("* /a:b/*")
@example("GET /")
def test_route_keys_are_accepted_by_both_sides_or_by_neither(key):
    assert stacks_accepts_route(key) == gate_accepts_route(key)


def stacks_accepts_scopes(scopes: str) -> bool:
    try:
        rules.scope_rules({"GET /a": scopes})
    except rules.InvalidValueError:
        return False
    return True


def gate_accepts_scopes(scopes: str) -> bool:
    try:
        Settings.from_env({**MINIMAL_ENV, "SCOPE_RULES": json.dumps({"GET /a": scopes})})
    except GateConfigError:
        return False
    return True


MINIMAL_ENV = {"ISSUER": "https://idp.example.com/", "AUDIENCE": "api://orders"}


@settings(max_examples=300, deadline=None)
@given(SCOPES)
@example('a"b')
@example("a\tb")
def test_scope_strings_are_accepted_by_both_sides_or_by_neither(scopes):
    assert stacks_accepts_scopes(scopes) == gate_accepts_scopes(scopes)


def test_reserved_context_keys_and_principal_formats_are_the_same_lists():
    assert rules.GATE_CONTEXT_KEYS == GATE_SIDE_OWN_KEYS
    assert rules.API_GATEWAY_CONTEXT_KEYS == GATE_SIDE_API_KEYS
    assert rules.PRINCIPAL_ID_FORMATS == GATE_SIDE_FORMATS


@pytest.mark.parametrize(
    "scope_rules",
    [
        {"GET /orders*": "orders:read"},
        {"GET /orders/{id}": "orders:read"},
        {"GET /a~b": "x"},
        {"FETCH /orders": "x"},
        {"GET /orders": 'a"b'},
        {},
    ],
)
def test_token_rules_validate_exactly_like_scope_rules_in_cdk_json(scope_rules):
    with pytest.raises(ConfigError) as from_cdk_json:
        load({**MINIMAL, "scopeRules": scope_rules, "publicRoutes": ["GET /health"]})
    with pytest.raises(ConfigError) as from_construct:
        TokenRules(issuer="https://idp.example.com/", audience=("api://orders",), scope_rules=scope_rules)
    assert str(from_construct.value) == str(from_cdk_json.value)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"context_claims": ("email", "sub")}, "contextClaims"),
        ({"issuer": "http://idp.example.com/"}, "issuer"),
        ({"audience": ()}, "audience"),
        ({"algorithms": ("HS256",)}, "algorithms"),
        ({"principal_id_format": "issuer"}, "principalIdFormat"),
    ],
)
def test_token_rules_refuse_what_cdk_json_refuses(overrides, key):
    fields = {
        "issuer": "https://idp.example.com/",
        "audience": ("api://orders",),
        "scope_rules": {"GET /a": ""},
    }
    with pytest.raises(ConfigError) as caught:
        TokenRules(**{**fields, **overrides})
    assert caught.value.key == key


def test_a_method_carrying_the_authorizer_without_a_rule_fails_synth():
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "Unruled")
    api = apigw.RestApi(stack, "Api", deploy_options=apigw.StageOptions(stage_name="prod"))
    gate = JwtAuthorizer(
        stack,
        "Jwt",
        rest_api=api,
        stage_name="prod",
        token_rules=TokenRules(
            issuer="https://idp.example.com/", audience=("api://orders",), scope_rules={"GET /orders": "r"}
        ),
    )
    orders = api.root.add_resource("orders")
    orders.add_method("GET", apigw.MockIntegration(), authorizer=gate.authorizer)
    orders.add_resource("{id}").add_method("DELETE", apigw.MockIntegration(), authorizer=gate.authorizer)
    with pytest.raises(RuntimeError) as caught:
        app.synth()
    message = str(caught.value)
    assert "DELETE /orders/{id} carries the JwtAuthorizer, but its scope rules name no such route" in message
    assert "GET /orders carries" not in message
