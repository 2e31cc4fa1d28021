"""The README-ready "Sizing" section, every figure computed from this run by bench.sizing's model."""

from __future__ import annotations

from bench import cache_cost, sizing
from bench.results import Results


def sizing_section(results: Results) -> list[str]:
    """README-ready text: every figure below comes from this run."""
    warm_us = results.warm_us["gate"].median
    cold_ms = results.cold_ms["gate"].median
    rows = results.memory
    pick = sizing.recommended(rows)
    no_bytecode_ms = results.cold_ms["gate-nocache"].median
    lines = [
        "## Sizing",
        "",
        f"From this run: a warm authorization costs {warm_us:.0f} µs of one CPU core and a cold start "
        f"{cold_ms:.0f} ms (fresh process to first decision with precompiled bytecode, loopback key fetch; "
        f"{no_bytecode_ms:.0f} ms from a bundle without bytecode). Lambda gives a function "
        f"CPU in proportion to its memory, one full vCPU at {sizing.FULL_VCPU_MEMORY_MB:,} MB, and the "
        "authorizer is single-threaded and CPU-bound once its keys are cached, so below that size its time "
        f"grows as {sizing.FULL_VCPU_MEMORY_MB:,} / memory and above it does not shrink. Prices assumed: "
        f"AWS Lambda on Arm (Graviton), US East (N. Virginia), ${sizing.ARM_PRICE_PER_GB_SECOND:.10f} per "
        f"GB-second (first 7.5 billion GB-seconds a month) and ${sizing.PRICE_PER_MILLION_REQUESTS:.2f} per "
        "million requests; duration billed per started millisecond, INIT (cold start) billed too since 1 "
        "August 2025. This machine's core stands in for a Graviton vCPU, and Lambda's own per-invoke "
        "overhead and the real round trip to the identity provider are not included, and INIT is scaled "
        "like the rest (an upper bound if Lambda runs it faster): read the figures as proportions.",
        "",
        "| Memory | CPU share | Warm authorization | Cold start | Lambda cost per million warm invocations "
        "| Cost of one cold start |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row.memory_mb:,} MB | {row.cpu_share:.0%} | {row.warm_ms:.2f} ms | {row.cold_ms:,.0f} ms | "
            f"${row.warm_cost_per_million:.4f} | ${row.cold_start_cost:.7f} |"
        )
    request_share = sizing.PRICE_PER_MILLION_REQUESTS / pick.warm_cost_per_million
    billed = sorted({sizing.billed_ms(row.warm_ms) for row in rows})
    billed_text = (
        f"as {billed[0]} started millisecond{'s' if billed[0] > 1 else ''}"
        if len(billed) == 1
        else f"as {billed[0]} to {billed[-1]} started milliseconds"
    )
    lines += [
        "",
        f"Every size bills a warm authorization {billed_text}; at {pick.memory_mb:,} MB the request fee is "
        f"{request_share:.0%} of the warm cost, so memory moves latency, above all the cold start, more "
        f"than the bill. The smallest size whose cold start stays within {sizing.COLD_START_BUDGET_MS:.0f} "
        f"ms and whose warm call fits one billed millisecond is **{pick.memory_mb:,} MB** (cold start ≈ "
        f"{pick.cold_ms:,.0f} ms, warm ≈ {pick.warm_ms:.2f} ms).",
    ]
    configured = results.stack.get("lambdaMemoryMb")
    if configured is not None:
        (row,) = sizing.memory_rows(warm_us, cold_ms, sizes=(configured,))
        lines.append(
            f"The stack deploys {configured:,} MB (cdk.json `lambdaMemoryMb`): cold start ≈ "
            f"{row.cold_ms:,.0f} ms, warm ≈ {row.warm_ms:.2f} ms, ${row.warm_cost_per_million:.4f} per "
            "million warm invocations."
        )
    per_invocation = pick.warm_cost_per_million / 1_000_000
    ttl_rows = sizing.ttl_rows(per_invocation)
    header_cells = " | ".join(
        f"a request every {interval} s" for interval in sizing.REQUEST_INTERVALS_SECONDS
    )
    lines += [
        "",
        "API Gateway caches the authorizer's decision for the TTL (0 to 3,600 s) per token, verb and route: "
        "the stack's REQUEST authorizer keys its cache on the Authorization header, the HTTP method and the "
        "resource path, so a cached policy only serves later requests with the same token to the same "
        "route. For one caller reusing one token on one route, a cache miss serves the next ceil(TTL / "
        "interval) requests there. Lambda invocations and Lambda cost per million API requests at "
        f"{pick.memory_mb:,} MB (warm invocations; API Gateway's own request price is separate and unchanged "
        "by the TTL):",
        "",
        f"| Cache TTL | {header_cells} |",
        "| --- | " + " | ".join("---" for _ in sizing.REQUEST_INTERVALS_SECONDS) + " |",
    ]
    for ttl in ttl_rows:
        cells = " | ".join(
            f"{count:,.0f} invocations, ${cost:.4f}"
            for count, cost in zip(ttl.invocations_per_million, ttl.cost_per_million, strict=True)
        )
        lines.append(f"| {ttl.ttl_seconds:,} s | {cells} |")
    configured_ttl = results.stack.get("authorizerCacheTtlSeconds")
    lines += [
        "",
        "A longer TTL cuts invocations, but a cached Allow keeps serving until the TTL runs out: a revoked "
        "or downgraded token, or one whose `exp` passes meanwhile, keeps working for up to one TTL after "
        "the decision."
        + (
            f" The stack's TTL is {configured_ttl:,} s (cdk.json `authorizerCacheTtlSeconds`)."
            if configured_ttl is not None
            else ""
        ),
        "",
        route_cost_summary(_ttl_of(results)),
        "",
    ]
    return lines


def _ttl_of(results: Results) -> int:
    return results.stack.get("authorizerCacheTtlSeconds", cache_cost.DEPLOYED_TTL)


def route_cost_summary(ttl: int) -> str:
    """Two sentences on what caching per route instead of per token costs, from cache_cost's replays."""
    three, ten = (
        cache_cost.cost("", cache_cost.one_client(routes, 1, shuffled=False), ttl) for routes in (3, 10)
    )
    mixed = cache_cost.cost("", cache_cost.mixed(), ttl)

    def pair(cost: cache_cost.Cost) -> str:
        return f"{cost.per_thousand(cost.per_route):.1f} instead of {cost.per_thousand(cost.token_only):.1f}"

    return (
        "What caching per route costs: a client that calls k distinct routes with one token causes up to k "
        "authorizer invocations per TTL instead of one (up to k times the figures above). Replayed through "
        f"an emulation of the cache at a TTL of {ttl:,} s (one hour, `bench/cache_cost.py`), invocations per "
        "1,000 requests keyed per route instead of per token: one client calling 3 routes once a second "
        f"{pair(three)}, 10 routes {pair(ten)}, {cache_cost.MIXED_CLIENTS} clients with 1 to 10 routes each "
        f"{pair(mixed)} ({mixed.ratio:.1f}x; cache hits {mixed.hit_ratio(mixed.per_route):.1%} instead of "
        f"{mixed.hit_ratio(mixed.token_only):.1%})."
    )


def route_cost_table(results: Results) -> list[str]:
    """results.md only: every replayed workload, after the Sizing section's text."""
    ttl = _ttl_of(results)
    lines = [
        f"Every replayed workload (TTL {ttl:,} s, one hour each, seeded): a request invokes the authorizer "
        "unless an entry for its cache key was stored less than one TTL earlier; the same requests are "
        "replayed with the token as the key (a TOKEN authorizer) and with token, verb and route (this "
        "stack).",
        "",
        "| Workload | Requests | Keyed by token: invocations per 1,000 requests (cache hits) "
        "| Keyed by token, verb and route | Per route / per token |",
        "| --- | --- | --- | --- | --- |",
    ]
    for cost in cache_cost.costs(ttl):
        cells = [
            f"{cost.per_thousand(count):.1f} ({cost.hit_ratio(count):.1%})"
            for count in (cost.token_only, cost.per_route)
        ]
        lines.append(f"| {cost.workload} | {cost.requests:,} | {' | '.join(cells)} | {cost.ratio:.2f}x |")
    return [*lines, ""]
