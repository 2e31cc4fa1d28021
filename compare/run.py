"""Run the corpus on both sides and write the report (`python -m compare`, `make compare`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from compare.corpus import CASES, Case, Minter
from compare.jose import KeyRing
from compare.world import PROJECT_ROOT, Observation, World

DEFAULT_OUT = PROJECT_ROOT / "docs" / "native-vs-lambda.md"
KINDS = ("lambda", "native")


@dataclass(frozen=True)
class SideResult:
    observation: Observation
    idp_requests: int | None  # identity-provider requests since the case's mark, when the case counts them


@dataclass(frozen=True)
class CaseResult:
    case: Case
    gate: SideResult
    native: SideResult

    @property
    def verdict(self) -> str:
        """`native-allows` (native lets through what the gate refuses), `gate-allows`, `different` (both
        refuse, with different statuses) or `same`."""
        gate_ok = self.gate.observation.status < 300
        native_ok = self.native.observation.status < 300
        if native_ok and not gate_ok:
            return "native-allows"
        if gate_ok and not native_ok:
            return "gate-allows"
        if self.gate.observation.status != self.native.observation.status:
            return "different"
        return "same"


def run_case(world: World, case: Case) -> CaseResult:
    results: list[SideResult] = []
    for kind in KINDS:
        side = world.side(kind, idp_down=case.idp_down)
        observation = case.run(side, Minter(world.keys, side.idp.issuer, side.clock))
        results.append(SideResult(observation, side.requests_since_mark() if case.counted else None))
    return CaseResult(case, results[0], results[1])


def run_corpus(cases: Sequence[Case] = CASES, keys: KeyRing | None = None) -> list[CaseResult]:
    world = World(keys or KeyRing.generate())
    try:
        return [run_case(world, case) for case in cases]
    finally:
        world.close()


def main(argv: list[str] | None = None) -> int:
    from compare.report import render

    parser = argparse.ArgumentParser(prog="python -m compare", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the report to write")
    parser.add_argument("--check", action="store_true", help="fail if the report on disk differs")
    args = parser.parse_args(argv)
    text = render(run_corpus())
    if args.check:
        current = args.out.read_text() if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is stale: run `make compare`", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
