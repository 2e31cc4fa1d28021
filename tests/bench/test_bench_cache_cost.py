"""The authorizer-cache replay behind the per-route cost figures: exact counts, so they cannot drift."""

from __future__ import annotations

import pytest

from bench import cache_cost, sizing
from bench.cache_cost import Request, invocations, one_client


def test_tiny_round_robin_workload_costs_one_invocation_per_ttl_per_key() -> None:
    requests = one_client(3, 1, shuffled=False, seconds=30)
    assert len(requests) == 30
    assert [request.route for request in requests[:4]] == [
        "GET /orders",
        "POST /orders",
        "GET /items",
        "GET /orders",
    ]
    assert invocations(requests, 10, per_route=False) == 3  # t = 0, 10, 20
    assert invocations(requests, 10, per_route=True) == 9  # each route at its first request, +12 s, +24 s


def test_an_entry_serves_until_exactly_ttl_after_it_was_stored() -> None:
    requests = [Request(0, "a", "GET /x"), Request(9.5, "a", "GET /x"), Request(10, "a", "GET /x")]
    assert invocations(requests, 10, per_route=True) == 2
    assert invocations(requests, 0, per_route=True) == 3


def test_keys_separate_tokens_always_and_routes_only_per_route() -> None:
    requests = [Request(0, "a", "GET /x"), Request(1, "b", "GET /x"), Request(2, "a", "POST /x")]
    assert invocations(requests, 300, per_route=False) == 2
    assert invocations(requests, 300, per_route=True) == 3


@pytest.mark.parametrize("interval", [1, 7, 10, 60])
def test_one_route_replay_agrees_with_the_sizing_formula(interval: int) -> None:
    requests = one_client(1, interval, shuffled=False)
    per_million = 1_000_000 * invocations(requests, 300, per_route=True) / len(requests)
    assert per_million == pytest.approx(sizing.invocations_per_million(300, interval), rel=0.02)


def test_deployed_ttl_figures_are_pinned() -> None:
    assert [(c.workload, c.requests, c.token_only, c.per_route) for c in cache_cost.costs(300)] == [
        ("1 client, 1 route, every 1 s", 3600, 12, 12),
        ("1 client, 3 routes round-robin, every 1 s", 3600, 12, 36),
        ("1 client, 3 routes at random, every 1 s", 3600, 12, 36),
        ("1 client, 10 routes round-robin, every 1 s", 3600, 12, 120),
        ("1 client, 10 routes at random, every 1 s", 3600, 12, 120),
        ("1 client, 1 route, every 10 s", 360, 12, 12),
        ("1 client, 3 routes round-robin, every 10 s", 360, 12, 36),
        ("1 client, 3 routes at random, every 10 s", 360, 12, 35),
        ("1 client, 10 routes round-robin, every 10 s", 360, 12, 120),
        ("1 client, 10 routes at random, every 10 s", 360, 12, 90),
        ("50 clients, each 1-10 routes at random every 1, 10 or 60 s", 68880, 600, 3023),
    ]


def test_cost_ratios_and_hit_ratios() -> None:
    cost = cache_cost.Cost("w", 3600, 12, 120)
    assert (cost.per_thousand(cost.token_only), cost.per_thousand(cost.per_route)) == pytest.approx(
        (10 / 3, 100 / 3)
    )
    assert cost.hit_ratio(cost.per_route) == pytest.approx(1 - 120 / 3600)
    assert cost.ratio == 10
