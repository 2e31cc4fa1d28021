"""The interleaved repetition scheme shared by the warm, rejection and flood measurements.

Every round runs every case once, in an order rotated by the round number, so slow and fast moments of the
shared machine fall on all cases alike; a ratio taken within one round compares two figures measured seconds
apart.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from bench.contenders import BatchResult, Contender

ALLOWED = "allowed"
REJECTED = "rejected"


class UnequalWorkError(RuntimeError):
    """A contender decided otherwise than the tokens call for: its timing would compare unequal work."""


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    contender: Contender
    tokens_for_round: Callable[[int], list[str]]
    expect: str  # ALLOWED or REJECTED


def check_outcome(case: Case, result: BatchResult) -> None:
    got = result.allowed if case.expect == ALLOWED else result.rejected
    if got != result.calls:
        raise UnequalWorkError(
            f"{case.label}: expected {result.calls} {case.expect}, got {result.allowed} allowed, "
            f"{result.rejected} rejected, other outcomes {dict(result.failures)}"
        )


def run_rounds(
    cases: list[Case],
    rounds: int,
    *,
    warmup_batches: int,
    warmup_tokens: Callable[[int, Case], list[str]],
) -> dict[str, list[BatchResult]]:
    """Warm every case up (unrecorded: JIT, caches, first key fetch), then run the recorded rounds."""
    for batch in range(warmup_batches):
        for case in cases:
            check_outcome(case, case.contender.run(warmup_tokens(batch, case)))
    results: dict[str, list[BatchResult]] = {case.key: [] for case in cases}
    for round_index in range(rounds):
        shift = round_index % len(cases)
        for case in cases[shift:] + cases[:shift]:
            result = case.contender.run(case.tokens_for_round(round_index))
            check_outcome(case, result)
            results[case.key].append(result)
        print(f"  round {round_index + 1}/{rounds}", file=sys.stderr, flush=True)
    return results
