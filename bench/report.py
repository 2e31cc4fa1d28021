"""results.md and results.svg from one run's figures. Tables first, then the evidence behind each verdict,
then the method, so a reader can check a claim against the number it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import chart, sizing
from bench.bundle import BundleResult
from bench.cold import ImportTime
from bench.evidence import Hotspot
from bench.stats import Summary
from bench.verdicts import COLD_TARGET, WARM_TARGET, FloodOutcome, Verdict, extra_imports, project_ms

WARM_KEYS = ("limit", "gate", "gate-repeat", "pyjwt", "aws-jwt-verify", "original")
AUTHORIZER_KEYS = ("gate", "pyjwt", "aws-jwt-verify", "original")
AUTHORIZER_NAMES = {
    "gate": "handler.handler",
    "pyjwt": "PyJWT reference",
    "aws-jwt-verify": "aws-jwt-verify (Node.js)",
    "original": "Node.js original",
}
REJECTIONS = ("expired", "bad-signature", "garbage")
COLD_KEYS = ("python", "floor", "gate", "pyjwt", "node", "aws-jwt-verify", "original")
_STATUS = {"met": "**met**", "missed": "**missed**", "not measured": "not measured"}


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
    floods: list[FloodOutcome]
    cooldown: float
    spots: list[Hotspot]
    gate_imports: dict[str, ImportTime]
    floor_imports: dict[str, ImportTime]
    bundle: BundleResult | None
    verdicts: list[Verdict]
    memory: list[sizing.MemoryRow]
    stack: dict[str, int]


def _ratio(summary: Summary) -> str:
    return f"{summary.median:.2f}x ({summary.low:.2f}-{summary.high:.2f})"


def _targets(results: Results) -> list[str]:
    lines = ["## Targets", "", "| Target | Measured | Verdict |", "| --- | --- | --- |"]
    for verdict in results.verdicts:
        status = _STATUS[verdict.status] + (f", {verdict.gap}" if verdict.gap else "")
        lines.append(f"| {verdict.target} | {verdict.measured} | {status} |")
    missed = [verdict for verdict in results.verdicts if verdict.status == "missed"]
    lines.append("")
    if not missed:
        lines.append("Every measured target is met in this run.")
    for verdict in missed:
        lines += [
            f"- **{verdict.target}** — missed {verdict.gap}.",
            f"  Why: {verdict.why}.",
            f"  To close it: {verdict.close}.",
        ]
    return [*lines, ""]


def _warm(results: Results) -> list[str]:
    lines = [
        "## Warm: one authorization with the keys cached",
        "",
        "Distinct valid RS256 (RSA-2048) tokens, none seen before by the contender, except the "
        "repeated-token row. Ratios are per round against the limit measured in the same round, then the "
        "median over rounds.",
        "",
        "| Contender | µs per authorization, median (min-max) | x limit, median (min-max) |",
        "| --- | --- | --- |",
    ]
    for key in WARM_KEYS:
        if key in results.warm_us:
            lines.append(
                f"| {results.labels[key]} | {results.warm_us[key].text(1)} | "
                f"{_ratio(results.warm_ratio[key])} |"
            )
    lines += [
        "",
        "Where handler.handler's warm time goes (cProfile own time over the distinct tokens; profiling "
        "slows every call, so read the shares, and the µs scaled to the unprofiled median):",
        "",
        "| Function | Share of own time | ≈ µs per authorization |",
        "| --- | --- | --- |",
    ]
    gate_us = results.warm_us["gate"].median
    for spot in results.spots:
        lines.append(f"| `{spot.function}` | {spot.share:.0%} | {spot.share * gate_us:.1f} |")
    return [*lines, ""]


def _rejections(results: Results) -> list[str]:
    lines = [
        "## Rejections",
        "",
        "µs per rejected token, median (min-max), and x the limit's cost for a valid token in the same "
        "rounds. Expired tokens carry a valid signature; bad-signature tokens differ from a valid one in "
        "one signature bit; garbage is random text in JWT-like and other shapes.",
        "",
        "| Authorizer | expired | bad signature | garbage |",
        "| --- | --- | --- | --- |",
    ]
    for key in AUTHORIZER_KEYS:
        cells = []
        for kind in REJECTIONS:
            case = f"{key}/{kind}"
            if case not in results.warm_us:
                break
            cells.append(f"{results.warm_us[case].text(1)} · {results.warm_ratio[case].median:.2f}x")
        if cells:
            lines.append(f"| {AUTHORIZER_NAMES[key]} | {' | '.join(cells)} |")
    return [*lines, ""]


FLOOD_MECHANISMS = (
    "How each peer limits refetches: PyJWT's `PyJWKClient` refetches for an unknown kid at most once per "
    "`cooldown_duration` since its last successful fetch (30 s by default in PyJWT 2.15); jwks-rsa, as the "
    "original configures it, allows 10 JWKS requests a minute; aws-jwt-verify's penalty box blocks fetches "
    "for 10 s after a kid was not found."
)


def _floods(results: Results) -> list[str]:
    tokens = results.floods[0].tokens if results.floods else 0
    lines = [
        "## Unknown-kid flood",
        "",
        f"{tokens} well-formed, unexpired tokens signed by a key the JWKS does not list, each with a new "
        "random kid, sent after the key set was cached; JWKS requests are counted at the server. "
        f"handler.handler runs with its default refetch cooldown ({results.cooldown:g} s), and its flood "
        "starts once that cooldown has run out since its last key fetch, so the first unknown kid may "
        "refetch. Then one valid token, which must pass.",
        "",
        "| Authorizer | Last key fetch before the flood | JWKS requests | Time | "
        f"{results.cooldown:g} s windows | Rejected | Other outcomes | Valid token after |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for flood in results.floods:
        other = ", ".join(f"{name}: {count}" for name, count in flood.other.items()) or "none"
        since = "never" if flood.since_last_fetch_s is None else f"{flood.since_last_fetch_s:.1f} s"
        lines.append(
            f"| {flood.label} | {since} | {flood.requests} | {flood.elapsed_s * 1000:.0f} ms | "
            f"{flood.windows} | {flood.rejected}/{flood.tokens} | {other} | {flood.valid_after} |"
        )
    return [*lines, "", FLOOD_MECHANISMS, ""]


def _cold(results: Results) -> list[str]:
    lines = [
        "## Cold start",
        "",
        "A fresh process per sample: start, import, fetch the key set from the loopback server, decide one "
        "token, exit. Wall time from spawn to exit; peak RSS is the child's own high-water mark (VmHWM).",
        "",
        "| Process | Wall ms, median (min-max) | x floor, median (min-max) | Peak RSS MiB, median |",
        "| --- | --- | --- | --- |",
    ]
    for key in COLD_KEYS:
        if key in results.cold_ms:
            lines.append(
                f"| {results.cold_labels[key]} | {results.cold_ms[key].text(1)} | "
                f"{_ratio(results.cold_ratio[key])} | {results.cold_rss[key].median:.1f} |"
            )
    gate_total = sum(timing.self_ms for timing in results.gate_imports.values())
    floor_total = sum(timing.self_ms for timing in results.floor_imports.values())
    lines += [
        "",
        f"Imports (`-X importtime`, one run each, sum of self times): handler {gate_total:.1f} ms, floor "
        f"{floor_total:.1f} ms; the project's own modules {project_ms(results.gate_imports):.1f} ms (their "
        "module-level code, key prefetch included). Dependencies the handler's modules import and the "
        "floor never loads, cumulative:",
        "",
        "| Import | From | ms, cumulative |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| `{entry.module}` | `{entry.importer or '(top level)'}` | {entry.cumulative_ms:.1f} |"
        for entry in extra_imports(results.gate_imports, results.floor_imports)[:8]
    ]
    return [*lines, ""]


def _bundle(results: Results) -> list[str]:
    lines = ["## Bundle", ""]
    found = results.bundle
    if found is None:
        return [*lines, "Not measured in this run (`--bundle skip`).", ""]
    lines += [
        f"Source: {found.source}. Zipped as the CDK CLI zips assets (deflate, zlib's default level).",
        "",
        f"- zipped: {found.zipped_bytes:,} bytes ({found.zipped_bytes / 1e6:.2f} MB)",
        f"- unzipped: {found.unzipped_bytes:,} bytes in {found.files} files",
        "",
        "| Top-level entry | Zipped bytes |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | {size:,} |" for name, size in found.top_entries]
    return [*lines, ""]


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
        "overhead and the real round trip to the identity provider are not included: read the figures as "
        "proportions.",
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
    lines += [
        "",
        "Every size bills a warm authorization as about one millisecond, so the request fee is "
        f"{request_share:.0%} of the warm cost and memory barely moves the bill; it moves latency, above "
        "all the cold start. The smallest size whose cold start stays within "
        f"{sizing.COLD_START_BUDGET_MS:.0f} ms and whose warm call fits one billed millisecond is "
        f"**{pick.memory_mb:,} MB** (cold start ≈ {pick.cold_ms:,.0f} ms, warm ≈ {pick.warm_ms:.2f} ms).",
    ]
    configured = results.stack.get("lambdaMemoryMb")
    if configured is not None:
        match = next((row for row in rows if row.memory_mb == configured), None)
        scaled = sizing.memory_rows(warm_us, cold_ms)
        if match is None:
            share = sizing.cpu_share(configured)
            lines.append(
                f"The stack deploys {configured:,} MB (cdk.json `lambdaMemoryMb`): cold start ≈ "
                f"{cold_ms / share:,.0f} ms, warm ≈ {warm_us / 1000 / share:.2f} ms."
            )
        else:
            lines.append(
                f"The stack deploys {configured:,} MB (cdk.json `lambdaMemoryMb`): cold start ≈ "
                f"{match.cold_ms:,.0f} ms, warm ≈ {match.warm_ms:.2f} ms, ${match.warm_cost_per_million:.4f} "
                "per million warm invocations."
            )
        del scaled
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
        "A longer TTL cuts invocations but keeps a revoked or downgraded token working until its cached "
        "policy expires (never past the token's own `exp` check at the next miss)."
        + (
            f" The stack's TTL is {configured_ttl:,} s (cdk.json `authorizerCacheTtlSeconds`)."
            if configured_ttl is not None
            else ""
        ),
        "",
    ]
    return lines


def _method(results: Results) -> list[str]:
    return [
        "## Method",
        "",
        f"- Run: {results.plan}; {results.seconds:.0f} s in all, on {results.when}.",
        "- Machine: " + ", ".join(f"{name} {value}" for name, value in results.versions.items()) + ".",
        "- Interleaving: every round runs every case once, in an order rotated by the round number; each "
        "case's figure is the median over rounds with min-max, and ratios are taken round by round before "
        "the median.",
        "- Equal work: every batch's outcomes are checked (all valid tokens allowed, all bad ones rejected "
        "with exactly `Unauthorized`); a contender that decides differently stops the run. All authorizers "
        "check signature, expiry, issuer and audience; handler.handler also applies scope rules and builds "
        "the cache-safe policy.",
        "- The limit: one `cryptography` PKCS#1 v1.5 SHA-256 verify with a loaded key plus base64url and "
        "JSON parsing of header and payload. The floor: a fresh Python that imports `cryptography`, "
        "fetches the JWKS with `urllib`, loads the key and does that once.",
        "- Python contenders run in this process with inputs built before the clock starts; "
        "handler.handler's log lines go to /dev/null during timing. Node.js contenders run in a long-lived "
        "worker that times its own loop (`bench/node/worker.js`); aws-jwt-verify gets an http Fetcher for "
        "the loopback JWKS, its documented extension point, because its default fetcher accepts https only.",
        "- Not a test: timings vary with the machine's load; `make test` never depends on them.",
        "",
    ]


def markdown(results: Results) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`python -m bench`) on {results.when}. Ratios to the limit are the "
        "headline: this machine is shared, so absolute figures drift between runs while ratios measured in "
        "the same rounds hold.",
        "",
        "![Benchmark chart](results.svg)",
        "",
    ]
    for section in (_targets, _warm, _rejections, _floods, _cold, _bundle, sizing_section, _method):
        lines += section(results)
    return "\n".join(lines).rstrip() + "\n"


def _kind(key: str) -> str:
    if key in {"limit", "floor"}:
        return "reference"
    return "ours" if key.startswith("gate") else "peer"


CHART_LABELS = {
    "limit": "limit (verify + parse)",
    "gate": "handler, distinct tokens",
    "gate-repeat": "handler, repeated token",
    "pyjwt": "PyJWT reference",
    "aws-jwt-verify": "aws-jwt-verify (Node.js)",
    "original": "Node.js original",
    "gate/expired": "handler: expired",
    "gate/bad-signature": "handler: bad signature",
    "gate/garbage": "handler: garbage",
}


COLD_CHART_LABELS = {
    "python": "Python start only",
    "floor": "floor",
    "gate": "handler",
    "pyjwt": "PyJWT reference",
    "node": "Node.js start only",
    "aws-jwt-verify": "aws-jwt-verify (Node.js)",
    "original": "Node.js original",
}


def svg(results: Results) -> str:
    limit = results.warm_us["limit"].median
    floor = results.cold_ms["floor"].median
    warm = chart.Panel(
        "Warm authorization: µs per call, keys cached",
        "µs",
        [
            chart.Bar(
                CHART_LABELS[key],
                results.warm_us[key],
                f"{results.warm_us[key].median:,.0f} µs · {results.warm_ratio[key].median:.2f}x limit",
                _kind(key),
            )
            for key in WARM_KEYS
            if key in results.warm_us
        ],
        "Distinct RS256 (RSA-2048) tokens; limit = one raw cryptography verify + base64url/JSON parse of "
        "header and payload",
        WARM_TARGET * limit,
        f"target {WARM_TARGET}x limit",
    )
    cold_panel = chart.Panel(
        "Cold start: fresh process to first decision",
        "ms",
        [
            chart.Bar(
                COLD_CHART_LABELS[key],
                results.cold_ms[key],
                f"{results.cold_ms[key].median:,.0f} ms · {results.cold_rss[key].median:.0f} MiB peak",
                _kind(key),
            )
            for key in COLD_KEYS
            if key in results.cold_ms
        ],
        "Includes the JWKS fetch from a loopback server; floor = Python + cryptography import + one urllib "
        "fetch + one verify",
        COLD_TARGET * floor,
        f"target {COLD_TARGET}x floor",
    )
    rejection_keys = ["limit", *(f"gate/{kind}" for kind in REJECTIONS)]
    rejections = chart.Panel(
        "Rejections: µs per bad token",
        "µs",
        [
            chart.Bar(
                CHART_LABELS[key],
                results.warm_us[key],
                f"{results.warm_us[key].median:,.1f} µs · {results.warm_ratio[key].median:.2f}x limit",
                _kind(key),
            )
            for key in rejection_keys
        ],
        "Expired tokens are validly signed; bad-signature tokens differ in one bit; garbage is random text",
    )
    subtitle = f"{results.plan}; {results.versions.get('CPU', '')}, {results.when}"
    return chart.render(
        "JWT authorizer cost: this authorizer against the limit and its peers",
        subtitle,
        [warm, cold_panel, rejections],
    )
