"""Per-route decisions (issue 9, docs/routes.md), held to the independent model in route_model.py.

API Gateway caches a REQUEST authorizer's policy per (token, verb, route) and applies it to every
request with that key, so each policy must be exact on its own route and must never open another:

* examples: the page's rule sets where a more general rule must not open a more specific route;
* properties over random rule sets, tokens and requests, each policy checked against the model on
  every request of a finite universe (every verb and path up to depth 3, trailing slashes included);
* a route without a rule is denied as ``route_not_configured``; TOKEN events route by the method ARN.

The model is tested first, on the page's own examples, so a disagreement points at the authorizer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.authorizer import route_model as model
from tests.authorizer.authz_support import API_PREFIX, Harness, KeyRing, MakeHarness, request_event

TokenFor = Callable[..., str]
TokenWith = Callable[[Iterable[str]], str]
Request = tuple[str, str]  # (verb, path as requested)

PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
VERBS = ("GET", "DELETE", "POST")
SEGMENTS = ("a", "b", "ab")  # "ab" shares a prefix with "a": "/a/*" must not reach "/ab"
# Requests also spell "A", which no rule does: resources compare case-sensitively.
UNIVERSE = model.requests((*SEGMENTS, "A"), VERBS)
EMPTY_SEGMENT_UNIVERSE = model.requests(SEGMENTS, VERBS, empty_segments=True)


# --- the model, on the page's own statements ---------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "method", "path", "resource"),
    [
        ("GET /", "GET", "/", "/"),
        ("* /health", "*", "/health", "/health"),
        ("DELETE /items/*", "DELETE", "/items/*", "/items/{proxy+}"),
        ("HEAD /*", "HEAD", "/*", "/{proxy+}"),
        ("PATCH /v1.2/a_b/c-d/e:f", "PATCH", "/v1.2/a_b/c-d/e:f", "/v1.2/a_b/c-d/e:f"),
    ],
)
def test_model_parses_rule_keys(key, method, path, resource):
    rule = model.parse_rule(key, " s1  s2 ")
    assert (rule.method, rule.path, rule.resource, rule.scopes) == (
        method,
        path,
        resource,
        frozenset({"s1", "s2"}),
    )


@pytest.mark.parametrize(
    "key",
    [
        "GET",
        "get /a",
        "ANY /a",
        "OPTIONS /a",
        "GET a",
        "GET /a/",
        "GET //a",
        "GET /a/{id}",
        "GET /a*",
        "GET /a/*/b",
        "GET /*/*",
        "GET /a/~b",
        "GET /./a",
        "GET /a/..",
        "GET  /a",
    ],
)
def test_model_refuses_other_rule_keys(key):
    with pytest.raises(ValueError, match="not a rule key"):
        model.parse_rule(key, "")


@pytest.mark.parametrize(
    ("rules", "verb", "path", "route"),
    [
        ({"GET /items": "", "GET /items/*": ""}, "GET", "/items/", "GET /items"),  # one trailing "/" goes
        ({"GET /items/*": ""}, "GET", "/items/", None),  # /items/{proxy+} needs one more character
        ({"GET /items/*": ""}, "GET", "/items/x/", "GET /items/*"),
        ({"GET /*": ""}, "GET", "/", None),  # /{proxy+} matches every path but "/"
        ({"GET /*": "", "GET /": ""}, "GET", "/", "GET /"),
        ({"GET /*": "", "GET /a/*": ""}, "GET", "/a/b/c", "GET /a/*"),  # longest greedy prefix
        ({"GET /*": "", "GET /a/*": ""}, "GET", "/a", "GET /*"),
        ({"GET /a/*": "", "GET /a/b": ""}, "GET", "/a/b/", "GET /a/b"),  # literal before greedy
        ({"GET /a/*": "", "GET /a/b": ""}, "GET", "/a/bc", "GET /a/*"),
        ({"* /a": "", "GET /a": ""}, "GET", "/a", "GET /a"),  # the verb before ANY
        ({"* /a": "", "GET /a": ""}, "DELETE", "/a", "* /a"),
        ({"GET /*": "", "DELETE /a/*": ""}, "GET", "/a/x", None),  # no fallback to a less specific one
        ({"GET /*": "", "DELETE /a": ""}, "GET", "/a/", None),
        ({"GET /Items": ""}, "GET", "/items", None),
    ],
)
def test_model_selects_the_route_like_api_gateway(rules, verb, path, route):
    selected = model.route_for(rules, verb, path)
    assert (None if selected is None else f"{selected.method} {selected.path}") == route


def test_model_more_general_rule_never_opens_a_more_specific_route():
    rules = {"GET /*": "read", "GET /admin/*": "admin"}
    assert model.allowed(rules, {"read"}, "GET", "/x")
    assert not model.allowed(rules, {"read"}, "GET", "/admin/x")
    assert model.allowed(rules, {"admin"}, "GET", "/admin/x")
    assert not model.allowed(rules, {"read", "admin"}, "POST", "/x")  # no route
    assert model.allowed({"* /health": ""}, set(), "PUT", "/health")


def policy(*statements: tuple[str, str | list[str], list[str]]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": e, "Action": a, "Resource": r} for e, a, r in statements],
    }


@pytest.mark.parametrize(
    ("document", "path", "decision"),
    [
        (policy(("Allow", "execute-api:Invoke", [f"{API_PREFIX}/GET/*"])), "/a/b/c", "allow"),
        (policy(("Allow", "execute-api:Invoke", [f"{API_PREFIX}/GET/*"])), "/", "allow"),  # * matches ""
        (policy(("Allow", "execute-api:Invoke", [f"{API_PREFIX}/GET/?*"])), "/", "implicit_deny"),
        (policy(("Allow", "execute-api:Invoke", [f"{API_PREFIX}/GET/items/?*"])), "/items/", "implicit_deny"),
        (policy(("Allow", "execute-api:Invoke", [f"{API_PREFIX}/GET/items/?*"])), "/items/1", "allow"),
        (policy(("Allow", "execute-api:Invoke", [f"{API_PREFIX}/GET/a?c"])), "/abc", "allow"),
        (policy(("Allow", "execute-api:Invoke", [f"{API_PREFIX}/GET/a?c"])), "/ac", "implicit_deny"),
        (policy(("Allow", "execute-api:Invoke", [f"{API_PREFIX}/GET/a?c"])), "/abbc", "implicit_deny"),
        (policy(("Allow", "execute-api:Invoke", [f"{API_PREFIX}/GET/items"])), "/Items", "implicit_deny"),
        (policy(("Allow", "execute-api:Invoke", [f"{API_PREFIX}/GET/items"])), "/items/", "implicit_deny"),
        (policy(("Allow", "Execute-API:*", [f"{API_PREFIX}/*"])), "/x", "allow"),
        (policy(("Allow", ["s3:*", "execute-api:Invoke*"], [f"{API_PREFIX}/*"])), "/x", "allow"),
        (policy(("Allow", "execute-api:ManageConnections", [f"{API_PREFIX}/*"])), "/x", "implicit_deny"),
        (policy(("Allow", "execute-api:Invoke", [f"{API_PREFIX}/*/x"])), "/x", "allow"),
        (policy(("Allow", "execute-api:Invoke", [f"{API_PREFIX}/*/x"])), "/y/x", "allow"),  # * spans "/"
        # The page's argument against one policy per token: the Deny also takes GET /a/b/c away.
        (
            policy(
                ("Allow", "execute-api:Invoke", [f"{API_PREFIX}/GET/*"]),
                ("Deny", "execute-api:Invoke", [f"{API_PREFIX}/GET/a/*"]),
            ),
            "/a/b/c",
            "explicit_deny",
        ),
        (
            policy(
                ("Deny", "execute-api:Invoke", [f"{API_PREFIX}/POST/*"]),
                ("Allow", "execute-api:Invoke", [f"{API_PREFIX}/GET/*"]),
            ),
            "/a",
            "allow",
        ),
    ],
)
def test_model_evaluates_iam_like_iam(document, path, decision):
    assert model.iam_decision(document, model.method_arn(API_PREFIX, "GET", path)) == decision


def test_model_refuses_policy_elements_it_does_not_evaluate():
    document = policy(("Allow", "execute-api:Invoke", ["*"]))
    document["Statement"][0]["NotResource"] = ["*"]
    with pytest.raises(ValueError, match="does not evaluate"):
        model.iam_decision(document, f"{API_PREFIX}/GET/")


def test_model_universe_spells_paths_as_requested():
    assert model.method_arn(API_PREFIX, "GET", "/") == f"{API_PREFIX}/GET/"
    paths = {path for verb, path in UNIVERSE if verb == "GET"}
    assert {"/", "/a", "/a/", "/A", "/ab/b/a", "/ab/b/a/"} <= paths
    assert not any("//" in path for path in paths)
    assert len(paths) == 1 + 2 * (4 + 16 + 64)
    assert all("//" in path for _, path in EMPTY_SEGMENT_UNIVERSE)
    assert ("GET", "//") in EMPTY_SEGMENT_UNIVERSE


# --- harness --------------------------------------------------------------------------------------


@pytest.fixture
def token_with(ring: KeyRing, token_for: TokenFor) -> TokenWith:
    """A token holding exactly these scopes, signed once per scope set (ES256: cheap to sign)."""
    signed: dict[frozenset[str], str] = {}

    def make(scopes: Iterable[str]) -> str:
        held = frozenset(scopes)
        if held not in signed:
            signed[held] = token_for(ring.es256, scope=" ".join(sorted(held)))
        return signed[held]

    return make


def rule_key(rule: model.Rule) -> str:
    return f"{rule.method} {rule.path}"


def reached(rules: dict[str, str], verb: str, path: str) -> model.Rule:
    route = model.route_for(rules, verb, path)
    assert route is not None, f"{verb} {path} reaches no route: API Gateway would not call the authorizer"
    return route


def decide(harness: Harness, event: dict[str, Any]) -> tuple[dict[str, Any], str, str, str | None]:
    """The returned policy document and the decision line's outcome, reason and route (rule key)."""
    response = harness.authorizer.handle(event)
    assert set(response) == {"principalId", "policyDocument", "context"}
    line = harness.last_decision()
    assert line["method_arn"] == event["methodArn"]
    return response["policyDocument"], line["outcome"], line["reason"], line.get("route")


def check_own_decision(
    rules: dict[str, str], scopes: frozenset[str], request: Request, harness: Harness, event: dict[str, Any]
) -> dict[str, Any]:
    """(i) the policy decides ``request`` itself as the model does, and the log names its route."""
    document, outcome, reason, logged_route = decide(harness, event)
    own = model.iam_decision(document, event["methodArn"])
    if model.allowed(rules, scopes, *request):
        assert (own, outcome, reason) == ("allow", "allow", "ok")
    else:  # "not granted: Deny on the route's request ARNs for this verb"
        assert (own, outcome, reason) == ("explicit_deny", "deny", "insufficient_scope")
    assert logged_route == rule_key(reached(rules, *request))
    return document


def arn(request: Request) -> str:
    return model.method_arn(API_PREFIX, *request)


def check_route_policy(
    rules: dict[str, str],
    scopes: frozenset[str],
    request: Request,
    document: dict[str, Any],
    universe: Iterable[Request],
) -> None:
    """(ii) the policy allows nothing but ``request``'s route with its verb, where the model allows;
    (iii) on every request with the same cache key (verb, route) it decides exactly as the model."""
    verb, path = request
    route = reached(rules, verb, path)
    for other in universe:
        decision = model.iam_decision(document, arn(other))
        other_route = model.route_for(rules, *other)
        if decision == "allow":
            leak = f"the policy for {verb} {route.resource} also allows {other}, which reaches " + (
                "no route" if other_route is None else rule_key(other_route)
            )
            assert other[0] == verb, leak
            assert other_route == route, leak
            assert model.allowed(rules, scopes, *other)
        if other[0] == verb and other_route is not None and other_route.resource == route.resource:
            expected = "allow" if model.allowed(rules, scopes, *other) else "explicit_deny"
            assert decision == expected, f"cached policy for {verb} {route.resource} is wrong on {other}"


def universe_for(rules: dict[str, str], request: Request) -> tuple[Request, ...]:
    """Every verb and path (depth 3) over the segments the rules and the request mention, plus one."""
    segments = {"x"}
    for text in [*(key.split(" ", 1)[1] for key in rules), request[1]]:
        segments.update(s for s in text.split("/") if s and s != "*")
    return model.requests(sorted(segments), (*VERBS, request[0]))


# --- examples -------------------------------------------------------------------------------------

EXAMPLES = [
    pytest.param({"GET /*": "read", "GET /admin/*": "admin"}, "read", "GET", "/admin/x", 403, id="admin"),
    pytest.param(
        {"* /items/*": "items:read", "DELETE /items/*": "items:admin"},
        "items:read",
        "DELETE",
        "/items/1",
        403,
        id="verb-over-any",
    ),
    pytest.param(
        {"* /health": "", "DELETE /orders/*": "orders:admin"},
        "",
        "DELETE",
        "/orders/health",
        403,
        id="public-suffix",
    ),
    pytest.param({"GET /items": "admin", "GET /items/*": "read"}, "read", "GET", "/items/", 403, id="slash"),
    pytest.param({"GET /*": "r", "GET /a/*": "a", "GET /a/b/*": "b"}, "r b", "GET", "/a/b/c", 200, id="abc"),
    pytest.param({"GET /*": "r", "GET /a/*": "a", "GET /a/b/*": "b"}, "r b", "GET", "/a/x", 403, id="ax"),
]


@pytest.mark.parametrize(("rules", "scope", "verb", "path", "status"), EXAMPLES)
def test_a_route_is_decided_by_its_own_rule(
    make_harness: MakeHarness, token_with: TokenWith, rules, scope, verb, path, status
):
    scopes = frozenset(scope.split())
    assert model.allowed(rules, scopes, verb, path) == (status == 200)  # the model reads the page alike
    route = reached(rules, verb, path)
    harness = make_harness(SCOPE_RULES=json.dumps(rules))
    event = request_event(token_with(scopes), verb, path, route.resource)
    document = check_own_decision(rules, scopes, (verb, path), harness, event)
    check_route_policy(rules, scopes, (verb, path), document, universe_for(rules, (verb, path)))


@pytest.mark.parametrize(
    ("verb", "path", "resource"),
    [
        ("GET", "/other", "/other"),  # a resource no rule names (e.g. added to the API by hand)
        ("POST", "/items", "/items"),  # a rule's resource, but neither POST nor ANY on it
        ("GET", "/items/1", "/items/{proxy+}"),
        ("GET", "/", "/"),
    ],
)
def test_a_route_without_a_rule_is_denied_everywhere(
    make_harness: MakeHarness, token_with: TokenWith, verb, path, resource
):
    rules = {"GET /items": "read", "DELETE /items/*": "read"}
    harness = make_harness(SCOPE_RULES=json.dumps(rules))
    event = request_event(token_with({"read"}), verb, path, resource)
    document, outcome, reason, _ = decide(harness, event)
    assert (outcome, reason) == ("deny", "route_not_configured")
    # Deny <api>/<stage>/*: whatever request this cached policy meets, it refuses.
    for request in universe_for(rules, (verb, path)):
        assert model.iam_decision(document, arn(request)) == "explicit_deny", request


# --- properties -----------------------------------------------------------------------------------

methods = st.sampled_from(["GET", "DELETE", "*"])
segment_lists = st.lists(st.sampled_from(SEGMENTS), max_size=3)
literal_paths = segment_lists.map(lambda segs: "/" + "/".join(segs))
greedy_paths = st.lists(st.sampled_from(SEGMENTS), max_size=2).map(
    lambda segs: "".join("/" + s for s in segs) + "/*"
)
rule_keys = st.builds(lambda method, path: f"{method} {path}", methods, literal_paths | greedy_paths)
rule_scopes = st.sets(st.sampled_from(["r", "w", "x"]), max_size=2).map(lambda s: " ".join(sorted(s)))
rule_sets = st.dictionaries(rule_keys, rule_scopes, min_size=1, max_size=6)


def draw_case(data: st.DataObject) -> tuple[dict[str, str], frozenset[str], Request]:
    rules = data.draw(rule_sets, label="rules")
    parse(rules)  # the strategy only makes rules the page accepts
    held = sorted({s for scopes in rules.values() for s in scopes.split()})
    scopes = frozenset(data.draw(st.sets(st.sampled_from(held)) if held else st.just(set()), label="scopes"))
    reachable = [request for request in UNIVERSE if model.route_for(rules, *request) is not None]
    request = data.draw(st.sampled_from(reachable), label="request")
    route = reached(rules, *request)
    nested = any(
        rule.resource != route.resource
        and route.greedy
        and len(rule.path) > len(route.stem)
        and rule.path.startswith(route.stem)
        for rule in parse(rules)
    )
    kind = "greedy" if route.greedy else "literal"
    hypothesis.event(f"{kind} route with nested resources" if nested else f"{kind} route")
    hypothesis.event("allowed" if model.allowed(rules, scopes, *request) else "insufficient scope")
    return rules, scopes, request


def parse(rules: dict[str, str]) -> tuple[model.Rule, ...]:
    return model.parse_rules(rules)


@PROPERTY
@given(data=st.data())
def test_request_policies_are_exact_for_their_cache_key(
    make_harness: MakeHarness, token_with: TokenWith, data: st.DataObject
):
    rules, scopes, request = draw_case(data)
    verb, path = request
    route = reached(rules, verb, path)
    harness = make_harness(SCOPE_RULES=json.dumps(rules))
    event = request_event(token_with(scopes), verb, path, route.resource)
    document = check_own_decision(rules, scopes, request, harness, event)  # (i)
    # (ii) nothing on another route or verb, (iii) exact on its own cache key
    check_route_policy(rules, scopes, request, document, UNIVERSE)
    # Paths with an empty segment may be refused on their own cache key, never opened (the page's edge).
    for other in EMPTY_SEGMENT_UNIVERSE:
        other_route = model.route_for(rules, *other)
        same_key = other[0] == verb and other_route is not None and other_route.resource == route.resource
        if same_key and model.iam_decision(document, arn(other)) == "allow":
            assert model.allowed(rules, scopes, *other), other


@PROPERTY
@given(data=st.data())
def test_token_events_route_by_the_method_arn(
    make_harness: MakeHarness, token_with: TokenWith, data: st.DataObject
):
    rules, scopes, request = draw_case(data)
    verb, path = request
    route = reached(rules, verb, path)
    harness = make_harness(SCOPE_RULES=json.dumps(rules))
    token = token_with(scopes)
    by_request = check_own_decision(
        rules, scopes, request, harness, request_event(token, verb, path, route.resource)
    )
    by_token = check_own_decision(
        rules,
        scopes,
        request,
        harness,
        {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": arn(request)},
    )
    # The same per-route policy: the same decision on every request.
    for other in UNIVERSE:
        assert model.iam_decision(by_token, arn(other)) == model.iam_decision(by_request, arn(other)), other


def test_a_token_event_that_reaches_no_route_is_denied(make_harness: MakeHarness, token_with: TokenWith):
    rules = {"GET /*": "read", "DELETE /a/*": "read"}
    assert model.route_for(rules, "GET", "/a/x") is None
    harness = make_harness(SCOPE_RULES=json.dumps(rules))
    event = {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {token_with({'read'})}",
        "methodArn": arn(("GET", "/a/x")),
    }
    document, outcome, reason, _ = decide(harness, event)
    assert (model.iam_decision(document, event["methodArn"]), outcome, reason) == (
        "explicit_deny",
        "deny",
        "route_not_configured",
    )
