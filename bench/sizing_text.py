"""The README-ready "Sizing" section, every figure computed from this run by bench.sizing's model."""

from __future__ import annotations

from bench import sizing
from bench.results import Results


def sizing_section(results: Results) -> list[str]:
    """README-ready text: every figure below comes from this run."""
    warm_us = results.warm_us["gate"].median
    cold_ms = results.cold_ms["gate"].median
    rows = results.memory
    pick = sizing.recommended(rows)
    lines = [
        "## Sizing",
        "",
        f"From this run: a warm authorization costs {warm_us:.0f} µs of one CPU core and a cold start "
        f"{cold_ms:.0f} ms (fresh process to first decision, loopback key fetch). Lambda gives a function "
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
        "API Gateway caches the authorizer's policy per token for the TTL (0 to 3,600 s; the policy allows "
        "every route the token is entitled to, so one cached policy serves all of them). For one caller "
        "reusing one token, a cache miss serves the next ceil(TTL / interval) requests. Lambda invocations "
        f"and Lambda cost per million API requests at {pick.memory_mb:,} MB (warm invocations; API "
        "Gateway's own request price is separate and unchanged by the TTL):",
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
    ]
    return lines
