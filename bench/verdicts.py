"""The targets of the issues, judged from this run's figures: met or missed, by how much, why, and what
would close the gap. Every sentence is built from measured numbers; nothing here knows the answer in advance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bench.bundle import BundleResult
from bench.cold import ImportTime
from bench.evidence import Hotspot
from bench.stats import Summary

WARM_TARGET = 1.1  # issue 13 (it was 1.5), and ahead of every peer: see warm_peers
# Issue 12: a warm DPoP authorization against its own limit, the two signature verifications plus parsing.
DPOP_TARGET = 1.3
COLD_TARGET = 1.0  # with the bytecode the bundler precompiles
# Without bytecode, as Lambda runs a source-only bundle: the cold target the bench used to judge against
# cached bytecode, now held to the figure Lambda actually pays.
COLD_NO_BYTECODE_TARGET = 1.4
FLOOD_TARGET_PER_COOLDOWN = 1
BUNDLE_TARGET_BYTES = 6_000_000
# cProfile's names for the signature primitives, the limit's own work: cryptography's verify, and the
# recover_data_from_signature the gate verifies RS* signatures with (gate/verify.py _pkcs1).
_VERIFY_PRIMITIVE = ("method 'verify' of", "method 'recover_data_from_signature' of")


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    status: str  # "met", "missed" or "not measured"
    gap: str
    why: str
    close: str


@dataclass(frozen=True)
class FloodOutcome:
    key: str
    label: str
    tokens: int
    since_last_fetch_s: float | None
    requests: int
    elapsed_s: float
    windows: int
    rejected: int
    other: dict[str, int]
    valid_after: str


def _over(ratio: float, target: float) -> str:
    return f"by {ratio - target:.2f}x ({(ratio / target - 1) * 100:.0f}% over the target)"


def warm(gate_ratio: Summary, gate_us: float, limit_us: float, spots: list[Hotspot]) -> Verdict:
    target = f"warm distinct-token authorization ≤ {WARM_TARGET}x the limit"
    return _against_limit(target, WARM_TARGET, gate_ratio, gate_us, limit_us, spots, "the RSA verify")


def warm_peers(gate_ratio: Summary, peers: Mapping[str, Summary]) -> Verdict:
    """Issue 13: the gate's warm median below every peer's, each against the limit of its own round."""
    target = "warm distinct-token authorization ahead of every peer in the same run"
    if not peers:
        return Verdict(target, "no peer ran (--no-node and no PyJWT reference)", "not measured", "", "", "")
    label, fastest = min(peers.items(), key=lambda item: item[1].median)
    measured = f"{gate_ratio.median:.2f}x the limit; the fastest peer, {label}: {fastest.median:.2f}x"
    if gate_ratio.median < fastest.median:
        lead = (1 - gate_ratio.median / fastest.median) * 100
        return Verdict(target, measured, "met", f"{lead:.0f}% ahead of {label}", "", "")
    behind = gate_ratio.median - fastest.median
    return Verdict(
        target,
        measured,
        "missed",
        f"by {behind:.2f}x behind {label}",
        f"{label} decides a distinct token in {behind:.2f}x of the limit less than the gate",
        "take that much off the gate's per-call overhead (see the warm target's profile)",
    )


def dpop(gate_ratio: Summary, gate_us: float, limit_us: float, spots: list[Hotspot]) -> Verdict:
    """Issue 12: DPoP-bound token plus fresh ES256 proof, against both verifications plus parsing."""
    target = (
        f"warm DPoP authorization (bound RS256 token, fresh ES256 proof) ≤ {DPOP_TARGET}x the limit of its "
        "two verifications"
    )
    return _against_limit(target, DPOP_TARGET, gate_ratio, gate_us, limit_us, spots, "the two verifies")


def _against_limit(
    target: str,
    target_ratio: float,
    gate_ratio: Summary,
    gate_us: float,
    limit_us: float,
    spots: list[Hotspot],
    beside: str,
) -> Verdict:
    measured = (
        f"{gate_ratio.median:.2f}x (rounds {gate_ratio.low:.2f}-{gate_ratio.high:.2f}x): {gate_us:.1f} µs "
        f"against {limit_us:.1f} µs"
    )
    if gate_ratio.median <= target_ratio:
        headroom = (1 - gate_ratio.median / target_ratio) * 100
        return Verdict(target, measured, "met", f"{headroom:.0f}% headroom", "", "")
    excess = gate_us - target_ratio * limit_us
    others = [spot for spot in spots if not spot.function.startswith(_VERIFY_PRIMITIVE)][:3]
    listed = ", ".join(f"{spot.function} ({spot.share:.0%} of own time)" for spot in others)
    why = (
        f"{gate_us - limit_us:.1f} µs per call above the limit; beside {beside}, the most own time "
        f"goes to {listed}"
    )
    close = (
        f"remove {excess:.1f} µs per call (≤ {target_ratio * limit_us:.1f} µs); start with "
        f"{others[0].function if others else 'the largest own-time entry'}, e.g. by caching per key what is "
        "recomputed per token or by parsing once"
    )
    return Verdict(target, measured, "missed", _over(gate_ratio.median, target_ratio), why, close)


PROJECT_MODULES = ("handler", "gate")


def _is_project(name: str | None) -> bool:
    return name is not None and name.split(".", 1)[0] in PROJECT_MODULES


@dataclass(frozen=True)
class ExtraImport:
    module: str
    importer: str | None
    cumulative_ms: float


def extra_imports(handler: Mapping[str, ImportTime], floor: Mapping[str, ImportTime]) -> list[ExtraImport]:
    """Where the handler's cold start loads what the floor never does: each dependency import made directly by
    the project's own modules (the project's modules themselves are counted by :func:`project_ms`), largest
    first."""
    entries = [
        ExtraImport(name, timing.importer, timing.cumulative_ms)
        for name, timing in handler.items()
        if name not in floor
        and not _is_project(name)
        and (timing.importer is None or _is_project(timing.importer))
    ]
    return sorted(entries, key=lambda entry: entry.cumulative_ms, reverse=True)


def project_ms(handler: Mapping[str, ImportTime]) -> float:
    """Self time of the project's own modules: their module-level code, the key prefetch included."""
    return sum(timing.self_ms for name, timing in handler.items() if _is_project(name))


def cold(
    gate_ratio: Summary,
    gate_ms: float,
    floor_ms: float,
    gate_imports: Mapping[str, ImportTime],
    floor_imports: Mapping[str, ImportTime],
) -> Verdict:
    target = f"cold start, precompiled bytecode ≤ {COLD_TARGET}x the floor"
    measured = (
        f"{gate_ratio.median:.2f}x (rounds {gate_ratio.low:.2f}-{gate_ratio.high:.2f}x): {gate_ms:.0f} ms "
        f"against {floor_ms:.0f} ms"
    )
    if gate_ratio.median <= COLD_TARGET:
        headroom = (1 - gate_ratio.median / COLD_TARGET) * 100
        return Verdict(target, measured, "met", f"{headroom:.0f}% headroom", "", "")
    extra = extra_imports(gate_imports, floor_imports)
    listed = ", ".join(
        f"`{entry.module}` {entry.cumulative_ms:.1f} ms (from `{entry.importer}`)" for entry in extra[:3]
    )
    why = (
        f"{gate_ms - floor_ms:.0f} ms above the floor; per `-X importtime`, the imports the floor does "
        f"without are led by {listed or 'nothing'}, and the project's own modules run "
        f"{project_ms(gate_imports):.1f} ms at import (key prefetch included)"
    )
    close = (
        f"take {gate_ms - COLD_TARGET * floor_ms:.0f} ms off the cold path (≤ {COLD_TARGET * floor_ms:.0f} "
        "ms): keep those imports off the way to the first decision (import narrower modules, or defer what "
        "only rare paths use)"
    )
    return Verdict(target, measured, "missed", _over(gate_ratio.median, COLD_TARGET), why, close)


def cold_no_bytecode(
    ratio: Summary, no_bytecode_ms: float, floor_ms: float, precompiled_ms: float, compile_share: Summary
) -> Verdict:
    """The cold start every import pays to compile its module: published beside the precompiled one."""
    target = (
        f"cold start, no bytecode (a source-only bundle, as Lambda runs it) ≤ {COLD_NO_BYTECODE_TARGET}x the "
        "floor"
    )
    measured = (
        f"{ratio.median:.2f}x (rounds {ratio.low:.2f}-{ratio.high:.2f}x): {no_bytecode_ms:.0f} ms against "
        f"{floor_ms:.0f} ms; compiling is {compile_share.median:.0%} of it (rounds "
        f"{compile_share.low:.0%} to {compile_share.high:.0%})"
    )
    if ratio.median <= COLD_NO_BYTECODE_TARGET:
        headroom = (1 - ratio.median / COLD_NO_BYTECODE_TARGET) * 100
        return Verdict(target, measured, "met", f"{headroom:.0f}% headroom", "", "")
    why = (
        f"{no_bytecode_ms - floor_ms:.0f} ms above the floor, {no_bytecode_ms - precompiled_ms:.0f} ms of it "
        "compiling the bundle's modules at import (Lambda's code directory is read-only, so nothing is kept)"
    )
    close = (
        "deploy the precompiled bytecode: synthesize with the runtime's Python (the deploy workflow does), "
        "then the precompiled row applies"
    )
    return Verdict(target, measured, "missed", _over(ratio.median, COLD_NO_BYTECODE_TARGET), why, close)


def flood(outcome: FloodOutcome, cooldown_s: float) -> Verdict:
    target = f"unknown-kid flood: ≤ {FLOOD_TARGET_PER_COOLDOWN} JWKS request per cooldown ({cooldown_s:g} s)"
    allowed = FLOOD_TARGET_PER_COOLDOWN * outcome.windows
    measured = (
        f"{outcome.requests} request(s) for {outcome.tokens} unknown kids in {outcome.elapsed_s * 1000:.0f} "
        f"ms ({outcome.windows} cooldown window(s)); a valid token afterwards: {outcome.valid_after}"
    )
    if outcome.requests <= allowed and outcome.valid_after == "allowed":
        return Verdict(target, measured, "met", "", "", "")
    why = (
        f"{outcome.requests} JWKS requests where {allowed} were allowed"
        if outcome.requests > allowed
        else f"a valid token after the flood was {outcome.valid_after}"
    )
    close = (
        "refetch on an unknown kid at most once per JWKS_REFETCH_COOLDOWN_SECONDS and keep serving known "
        "keys while the cooldown runs"
    )
    gap = (
        f"by {outcome.requests - allowed} request(s)"
        if outcome.requests > allowed
        else "valid caller locked out"
    )
    return Verdict(target, measured, "missed", gap, why, close)


def bundle(result: BundleResult | None) -> Verdict:
    target = f"authorizer asset ≤ {BUNDLE_TARGET_BYTES / 1e6:g} MB zipped"
    if result is None:
        return Verdict(target, "not measured in this run (--bundle skip)", "not measured", "", "", "")
    bytecode = f"{result.bytecode_files} of them bytecode" if result.bytecode_files else "no bytecode"
    measured = (
        f"{result.zipped_bytes / 1e6:.2f} MB zipped ({result.unzipped_bytes / 1e6:.1f} MB unzipped, "
        f"{result.files} files, {bytecode})"
    )
    if result.with_bytecode_bytes is not None:
        measured += (
            f"; {result.with_bytecode_bytes / 1e6:.2f} MB with bytecode, as a synth on the runtime's Python "
            "ships it"
        )
    judged = result.deployed_bytes
    if judged <= BUNDLE_TARGET_BYTES:
        headroom = (1 - judged / BUNDLE_TARGET_BYTES) * 100
        return Verdict(target, measured, "met", f"{headroom:.0f}% headroom", "", "")
    over = judged - BUNDLE_TARGET_BYTES
    listed = ", ".join(f"`{name}` {size / 1e6:.2f} MB" for name, size in result.top_entries[:3])
    return Verdict(
        target,
        measured,
        "missed",
        f"by {over / 1e6:.2f} MB ({over / BUNDLE_TARGET_BYTES:.0%})",
        f"largest zipped entries: {listed}",
        f"drop {over / 1e6:.2f} MB: leave out files the runtime never loads from the largest entries, or a "
        "dependency the handler does not import",
    )
