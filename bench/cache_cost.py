"""What per-route authorizer caching costs in Lambda invocations, on replayed seeded workloads.

API Gateway's authorizer result cache, emulated: a result stored at time t serves the requests with the same
key until t + TTL; a request whose key has no live entry invokes the authorizer, which stores a new one. Each
workload is replayed under two keys: the token alone (what a TOKEN authorizer caches by) and (token, verb,
route) (what the stack's REQUEST authorizer caches by: Authorization header, httpMethod, resourcePath).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

HOUR = 3600
ROUTES = tuple(
    f"{verb} /{path}" for path in ("orders", "items", "users", "carts", "files") for verb in ("GET", "POST")
)
SINGLE_CLIENT_ROUTES = (1, 3, 10)
SINGLE_CLIENT_INTERVALS = (1, 10)
MIXED_CLIENTS = 50
MIXED_INTERVALS = (1, 10, 60)
SEED = 9
DEPLOYED_TTL = 300  # cdk.json authorizerCacheTtlSeconds, used when the stack's value cannot be read


class Request(NamedTuple):
    at: float  # seconds
    token: str
    route: str  # "VERB /resource"


@dataclass(frozen=True)
class Cost:
    workload: str
    requests: int
    token_only: int  # authorizer invocations with the cache keyed by token
    per_route: int  # ... keyed by (token, verb, route)

    def per_thousand(self, invocations: int) -> float:
        return 1000 * invocations / self.requests

    def hit_ratio(self, invocations: int) -> float:
        return 1 - invocations / self.requests

    @property
    def ratio(self) -> float:
        return self.per_route / self.token_only


def invocations(requests: Iterable[Request], ttl: float, *, per_route: bool) -> int:
    """Authorizer invocations for ``requests`` (in time order) with the given cache key."""
    expires: dict[tuple[str, str], float] = {}
    count = 0
    for at, token, route in requests:
        key = (token, route if per_route else "")
        if expires.get(key, at) <= at:  # no entry, or one stored a TTL or more ago
            expires[key] = at + ttl
            count += 1
    return count


def one_client(routes: int, interval: int, *, shuffled: bool, seconds: int = HOUR) -> list[Request]:
    """One token calling ``routes`` distinct routes, round-robin or at random, every ``interval`` seconds."""
    pick = random.Random(SEED)
    return [
        Request(at, "token-0", ROUTES[pick.randrange(routes) if shuffled else index % routes])
        for index, at in enumerate(range(0, seconds, interval))
    ]


def mixed(clients: int = MIXED_CLIENTS, seconds: int = HOUR) -> list[Request]:
    """``clients`` tokens, each with 1 to 10 routes, an interval from MIXED_INTERVALS and a random start."""
    pick = random.Random(SEED)
    requests = []
    for client in range(clients):
        routes = pick.sample(ROUTES, pick.randint(1, len(ROUTES)))
        interval = pick.choice(MIXED_INTERVALS)
        for at in range(pick.randrange(interval), seconds, interval):
            requests.append(Request(at, f"token-{client}", pick.choice(routes)))
    return sorted(requests)


def workloads() -> list[tuple[str, list[Request]]]:
    found = []
    for interval in SINGLE_CLIENT_INTERVALS:
        for routes in SINGLE_CLIENT_ROUTES:
            orders = (False, True) if routes > 1 else (False,)
            for shuffled in orders:
                how = "" if routes == 1 else (" at random" if shuffled else " round-robin")
                name = f"1 client, {routes} route{'s' if routes > 1 else ''}{how}, every {interval} s"
                found.append((name, one_client(routes, interval, shuffled=shuffled)))
    found.append((f"{MIXED_CLIENTS} clients, each 1-10 routes at random every 1, 10 or 60 s", mixed()))
    return found


def cost(workload: str, requests: list[Request], ttl: float) -> Cost:
    return Cost(
        workload,
        len(requests),
        invocations(requests, ttl, per_route=False),
        invocations(requests, ttl, per_route=True),
    )


def costs(ttl: float) -> list[Cost]:
    return [cost(name, requests, ttl) for name, requests in workloads()]
