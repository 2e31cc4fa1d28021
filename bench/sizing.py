"""Lambda sizing from the measured figures: memory (and so CPU share) against cold and warm cost, and the
authorizer cache TTL against invocations and cost per million requests.

The model, stated so it can be checked: Lambda gives a function CPU in proportion to its memory, one full vCPU
at 1,769 MB; the authorizer is single-threaded and CPU-bound once its keys are cached, so below 1,769 MB its
time scales with 1,769 / memory and above it does not shrink. This machine's core stands in for one Graviton
vCPU. Duration is billed per started millisecond; since 1 August 2025 the INIT phase (cold start) is billed
too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# AWS Lambda pricing, Arm (Graviton), US East (N. Virginia), first 7.5 billion GB-seconds per month.
ARM_PRICE_PER_GB_SECOND = 0.0000133334
PRICE_PER_MILLION_REQUESTS = 0.20
FULL_VCPU_MEMORY_MB = 1769
MEMORY_SIZES_MB = (128, 256, 512, 1024, 1769, 3008)
CACHE_TTLS_SECONDS = (0, 60, 300, 3600)
REQUEST_INTERVALS_SECONDS = (1, 10, 60)
COLD_START_BUDGET_MS = 500.0  # the cold start a caller may notice now and then, used to pick a memory size


@dataclass(frozen=True)
class MemoryRow:
    memory_mb: int
    cpu_share: float
    warm_ms: float
    cold_ms: float
    warm_cost_per_million: float  # USD for one million warm invocations, request fee included
    cold_start_cost: float  # USD for one cold start's INIT duration


@dataclass(frozen=True)
class TtlRow:
    ttl_seconds: int
    invocations_per_million: list[float]  # one per REQUEST_INTERVALS_SECONDS entry
    cost_per_million: list[float]


def cpu_share(memory_mb: int) -> float:
    return min(1.0, memory_mb / FULL_VCPU_MEMORY_MB)


def billed_ms(milliseconds: float) -> int:
    return max(1, math.ceil(milliseconds))


def duration_cost(memory_mb: int, milliseconds: float) -> float:
    return memory_mb / 1024 * billed_ms(milliseconds) / 1000 * ARM_PRICE_PER_GB_SECOND


def memory_rows(warm_us: float, cold_ms: float, sizes: tuple[int, ...] = MEMORY_SIZES_MB) -> list[MemoryRow]:
    rows = []
    for memory in sizes:
        share = cpu_share(memory)
        warm_ms = warm_us / 1000 / share
        scaled_cold = cold_ms / share
        warm_cost = PRICE_PER_MILLION_REQUESTS + 1_000_000 * duration_cost(memory, warm_ms)
        rows.append(
            MemoryRow(memory, share, warm_ms, scaled_cold, warm_cost, duration_cost(memory, scaled_cold))
        )
    return rows


def recommended(rows: list[MemoryRow]) -> MemoryRow:
    """The smallest size whose cold start fits the budget and whose warm call fits one billed millisecond."""
    for row in rows:
        if row.cold_ms <= COLD_START_BUDGET_MS and row.warm_ms <= 1.0:
            return row
    return rows[-1]


def invocations_per_million(ttl_seconds: int, interval_seconds: int) -> float:
    """One caller reusing one token on one route every ``interval`` seconds: a cache miss serves the next
    ceil(ttl/interval) requests, so a million requests cost a million / that many invocations
    (bench.cache_cost replays callers that use several routes)."""
    if ttl_seconds == 0:
        return 1_000_000.0
    return 1_000_000 / max(1, math.ceil(ttl_seconds / interval_seconds))


def ttl_rows(per_invocation_cost: float) -> list[TtlRow]:
    rows = []
    for ttl in CACHE_TTLS_SECONDS:
        invocations = [invocations_per_million(ttl, interval) for interval in REQUEST_INTERVALS_SECONDS]
        rows.append(TtlRow(ttl, invocations, [count * per_invocation_cost for count in invocations]))
    return rows
