"""Which route a request reaches (docs/routes.md): one trailing `/` stripped, the most specific resource
(literal, then {param}, then the greedy {proxy+} with the longest prefix), its exact verb before ANY, and no
fallback to a less specific resource when that one has neither.

The route a request reached is read from the gateway's decision line ("VERB /resource"), the path parameters
from the event the echo backend received.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.local.conftest import Harness, allow_all_response, assert_unauthorized, scripted_token

ROUTES = (
    ("GET", "/{proxy+}", False),
    ("ANY", "/admin/{proxy+}", True),
    ("GET", "/items", False),
    ("GET", "/items/special", False),
    ("GET", "/items/{id}", False),
    ("ANY", "/items/{proxy+}", False),
    ("ANY", "/orders/{proxy+}", False),
    ("DELETE", "/orders/{proxy+}", True),
)


@pytest.fixture
def routed(start_gateway: Callable[..., Harness]) -> Harness:
    return start_gateway(authorizer_type="REQUEST", routes=ROUTES)


@pytest.mark.parametrize(
    ("method", "path", "route", "path_parameters"),
    [
        pytest.param("GET", "/items", "GET /items", None, id="literal"),
        pytest.param("GET", "/items/special", "GET /items/special", None, id="literal-over-param-and-greedy"),
        pytest.param("GET", "/items/7", "GET /items/{id}", {"id": "7"}, id="param-over-greedy"),
        pytest.param("GET", "/items/a/b", "ANY /items/{proxy+}", {"proxy": "a/b"}, id="longer-greedy"),
        pytest.param(
            "POST", "/items/a/b", "ANY /items/{proxy+}", {"proxy": "a/b"}, id="any-without-the-verb"
        ),
        pytest.param("GET", "/itemsx", "GET /{proxy+}", {"proxy": "itemsx"}, id="prefix-is-whole-segments"),
        pytest.param("GET", "/orders/1", "ANY /orders/{proxy+}", {"proxy": "1"}, id="any-when-no-verb-route"),
        pytest.param("GET", "/items/", "GET /items", None, id="trailing-slash"),
        pytest.param("GET", "/items/7/", "GET /items/{id}", {"id": "7"}, id="trailing-slash-param"),
        pytest.param("GET", "/items//", "GET /{proxy+}", {"proxy": "items/"}, id="only-one-slash-stripped"),
        pytest.param("GET", "/admin/", "GET /{proxy+}", {"proxy": "admin"}, id="greedy-needs-a-character"),
        pytest.param("GET", "/a/b/c/", "GET /{proxy+}", {"proxy": "a/b/c"}, id="root-greedy"),
    ],
)
def test_request_reaches_the_most_specific_route(
    routed: Harness, method: str, path: str, route: str, path_parameters: dict[str, str] | None
) -> None:
    reply = routed.get(path, method=method)
    assert (reply.status, routed.decisions[-1]["route"]) == (200, route)
    assert reply.json()["event"]["pathParameters"] == path_parameters


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", "/items/special", id="literal-without-verb-or-any"),
        pytest.param("POST", "/items/7", id="param-without-verb-or-any"),
        pytest.param("POST", "/x", id="greedy-without-verb-or-any"),
        pytest.param("GET", "/", id="root-greedy-does-not-match-root"),
    ],
)
def test_no_fallback_to_a_less_specific_resource(routed: Harness, method: str, path: str) -> None:
    reply = routed.get(path, method=method)
    assert (reply.status, reply.json()) == (403, {"message": "Missing Authentication Token"})
    assert routed.decisions[-1]["reason"] == "no_route"


def test_protected_greedy_route_wins_over_a_public_catch_all(routed: Harness) -> None:
    """Issue 9: a public `GET /{proxy+}` used to answer `GET /admin/x` instead of `ANY /admin/{proxy+}`."""
    assert_unauthorized(routed.get("/admin/x"))
    assert routed.decisions[-1]["route"] == "ANY /admin/{proxy+}"
    reply = routed.get("/admin/x", authorization=scripted_token({"return": allow_all_response()}))
    assert (reply.status, reply.json()["event"]["resource"]) == (200, "/admin/{proxy+}")
    assert [(e["httpMethod"], e["resource"]) for e in routed.invocations()] == [("GET", "/admin/{proxy+}")]


def test_exact_verb_wins_over_any_on_the_same_resource(routed: Harness) -> None:
    assert_unauthorized(routed.get("/orders/1", method="DELETE"))
    assert routed.decisions[-1]["route"] == "DELETE /orders/{proxy+}"
