"""One run's figures, as the report and the chart read them."""

from __future__ import annotations

from dataclasses import dataclass

from bench import sizing
from bench.bundle import BundleResult
from bench.cold import ImportTime
from bench.evidence import Hotspot
from bench.stats import Summary
from bench.verdicts import FloodOutcome, Verdict

WARM_KEYS = ("limit", "gate", "gate-repeat", "pyjwt", "aws-jwt-verify", "original")
AUTHORIZER_NAMES = {
    "gate": "handler.handler",
    "pyjwt": "PyJWT reference",
    "aws-jwt-verify": "aws-jwt-verify (Node.js)",
    "original": "Node.js original",
}
COLD_KEYS = ("python", "floor", "gate-nocache", "gate", "pyjwt", "node", "aws-jwt-verify", "original")


@dataclass(frozen=True)
class Results:
    plan: str
    when: str
    seconds: float
    versions: dict[str, str]
    labels: dict[str, str]
    warm_us: dict[str, Summary]
    warm_ratio: dict[str, Summary]
    cold_labels: dict[str, str]
    cold_ms: dict[str, Summary]
    cold_rss: dict[str, Summary]
    cold_ratio: dict[str, Summary]
    compile_share: Summary  # per round: (no bytecode - precompiled) / no bytecode, the handler's cold start
    floods: list[FloodOutcome]
    cooldown: float
    spots: list[Hotspot]
    gate_imports: dict[str, ImportTime]
    floor_imports: dict[str, ImportTime]
    bundle: BundleResult | None
    verdicts: list[Verdict]
    memory: list[sizing.MemoryRow]
    stack: dict[str, int]
