"""Issue 9, "scope rules mean what they say", end to end: the real synthesized stack (REQUEST authorizer,
per-route policies), the real authorizer code and real tokens from the development issuer.

Each rule set is synthesized once (module-scoped); its gateway and issuer are shared by the rows, each of
which mints its own token (a fresh `jti`, so no row sees another row's cached decision). A 403 is asserted
to be the stack's ACCESS_DENIED response, never a "Missing Authentication Token" for a route that is absent;
a 200 names the route the backend saw.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from local.issuer import IssuerServer, KeyStore
from local.server import GatewayServer, build_gateway
from tests.local.conftest import Reply, call
from tests.local.synth import synthesize

AUDIENCE = "api://jwt-gate-example"  # cdk.json's example audience, which the template carries

RULE_SETS: dict[str, dict[str, str]] = {
    "general-and-admin": {"GET /*": "read", "GET /admin/*": "admin"},
    "any-and-delete": {"* /items/*": "items:read", "DELETE /items/*": "items:admin"},
    "open-health-and-orders": {"* /health": "", "DELETE /orders/*": "orders:admin"},
    "literal-and-greedy": {"GET /items": "admin", "GET /items/*": "read"},
    "three-levels": {"GET /*": "r", "GET /a/*": "a", "GET /a/b/*": "b"},
}

Api = Callable[[str], tuple[GatewayServer, IssuerServer]]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One synthesized stack, gateway and issuer per rule set, started on first use."""
    started: dict[str, tuple[GatewayServer, IssuerServer]] = {}

    def start(rule_set: str) -> tuple[GatewayServer, IssuerServer]:
        if rule_set not in started:
            template = synthesize(
                tmp_path_factory.mktemp(f"cdk.out-{rule_set}"),
                scopeRules=RULE_SETS[rule_set],
                publicRoutes=[],
            )
            issuer = IssuerServer(KeyStore(tmp_path_factory.mktemp(f"state-{rule_set}"))).start()
            gateway = build_gateway(
                template,
                issuer=issuer.issuer,
                jwks_uri=issuer.jwks_uri,
                log_sink=lambda *_: None,
                decision_log=lambda _: None,
            ).start()
            started[rule_set] = (gateway, issuer)
        return started[rule_set]

    yield start
    for gateway, issuer in started.values():
        gateway.stop()
        issuer.stop()


def request(gateway: GatewayServer, method: str, path: str, authorization: str) -> Reply:
    return call(gateway.url, method, path, {"Authorization": authorization})


def outcome(reply: Reply) -> tuple[int, str]:
    """(status, the route the backend saw) for a 200; (status, the gateway's error type) otherwise."""
    if reply.status == 200:
        return 200, json.loads(reply.body)["route"]
    return reply.status, reply.headers.get("x-amzn-ErrorType", "")


DENIED = (403, "AccessDeniedException")


@pytest.mark.parametrize(
    ("rule_set", "scopes", "method", "path", "expected"),
    [
        ("general-and-admin", "read", "GET", "/admin/x", DENIED),
        ("general-and-admin", "read", "GET", "/x", (200, "GET /{proxy+}")),
        ("any-and-delete", "items:read", "DELETE", "/items/1", DENIED),
        ("any-and-delete", "items:read", "GET", "/items/1", (200, "GET /items/{proxy+}")),
        ("open-health-and-orders", "", "DELETE", "/orders/health", DENIED),
        ("open-health-and-orders", "", "GET", "/health", (200, "GET /health")),
        ("literal-and-greedy", "read", "GET", "/items/", DENIED),
        ("literal-and-greedy", "read", "GET", "/items/1", (200, "GET /items/{proxy+}")),
        ("three-levels", "r b", "GET", "/a/b/c", (200, "GET /a/b/{proxy+}")),
        ("three-levels", "r b", "GET", "/a/x", DENIED),
        ("three-levels", "r b", "GET", "/z", (200, "GET /{proxy+}")),
    ],
)
def test_scope_rule_row(
    api: Api, rule_set: str, scopes: str, method: str, path: str, expected: tuple[int, str]
) -> None:
    gateway, issuer = api(rule_set)
    token = f"Bearer {issuer.mint(AUDIENCE, scopes.split())}"
    assert outcome(request(gateway, method, path, token)) == expected


@pytest.mark.parametrize(
    ("rule_set", "scopes", "sequence"),
    [
        pytest.param(
            "three-levels",
            "r b",
            [("/a/b/c", 200), ("/z", 200), ("/a/x", 403), ("/a/b/c", 200), ("/a/x", 403), ("/z", 200)],
            id="three-levels",
        ),
        pytest.param(
            "general-and-admin",
            "read admin",
            [("/admin/x", 200), ("/x", 200), ("/admin/y", 200), ("/y", 200)],
            id="general-and-admin",
        ),
        pytest.param(
            "general-and-admin", "read", [("/x", 200), ("/admin/x", 403), ("/y", 200)], id="read-only"
        ),
    ],
)
def test_one_token_on_several_routes_in_a_row(
    api: Api, rule_set: str, scopes: str, sequence: list[tuple[str, int]]
) -> None:
    """The cached decision for one route never answers for the next one (no "403 on the second route")."""
    gateway, issuer = api(rule_set)
    token = f"Bearer {issuer.mint(AUDIENCE, scopes.split())}"
    assert [(path, request(gateway, "GET", path, token).status) for path, _ in sequence] == sequence
