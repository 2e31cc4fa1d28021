"""results.md from one run's figures. Tables first, then the evidence behind each verdict, then the method,
so a reader can check a claim against the number it came from.
"""

from __future__ import annotations

from bench import dpop
from bench.lineup import AUTHORIZERS, REJECTION_KINDS
from bench.results import AUTHORIZER_NAMES, COLD_KEYS, WARM_KEYS, Results
from bench.sizing_text import route_cost_table, sizing_section
from bench.stats import Summary
from bench.verdicts import extra_imports, project_ms

_STATUS = {"met": "**met**", "missed": "**missed**", "not measured": "not measured"}


def _ratio(summary: Summary) -> str:
    return f"{summary.median:.2f}x ({summary.low:.2f}-{summary.high:.2f})"


def targets_section(results: Results) -> list[str]:
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
    return [*lines, "", *_dpop(results)]


def _dpop(results: Results) -> list[str]:
    """Issue 12: the DPoP path against its own limit (bench/dpop.py)."""
    if not all(key in results.warm_us for key in dpop.KEYS):
        return []
    lines = [
        "DPoP (RFC 9449, `DPOP=required`): each call a distinct DPoP-bound RS256 token with a fresh ES256 "
        "proof (new `jti`), against its own limit, the two signature verifications plus parsing. With DPoP "
        "the stack turns API Gateway's result cache off, so every request pays this.",
        "",
        "| Contender | µs per authorization, median (min-max) | x DPoP limit, median (min-max) |",
        "| --- | --- | --- |",
    ]
    for key in dpop.KEYS:
        lines.append(
            f"| {results.labels[key]} | {results.warm_us[key].text(1)} | {_ratio(results.warm_ratio[key])} |"
        )
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
    for key in AUTHORIZERS:
        cells = []
        for kind in REJECTION_KINDS:
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
        f"handler.handler runs with its default refetch cooldown ({results.cooldown:g} s), which counts "
        "from unknown-kid refetches only; it has seen no unknown kid before, so its first unknown kid "
        "refetches at once and the rest fall inside the cooldown. Then one valid token, which must pass.",
        "",
        f"| Authorizer | Last key fetch before the flood | JWKS requests | Time | {results.cooldown:g} s "
        "windows | Rejected | Other outcomes | Valid token after |",
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
        "token, exit. Wall time from spawn to exit; peak RSS is the child's own high-water mark (VmHWM). "
        "Every Python process runs with `PYTHONDONTWRITEBYTECODE=1`. The handler runs from a read-only copy "
        "of the bundle as Lambda unpacks it (its source plus this venv's installed files of the "
        "distributions its requirements.txt pins, no interpreter caches): once without bytecode, so every "
        "import compiles its module as on Lambda with a source-only bundle, and once with checked-hash "
        "bytecode compiled into the copy as the stack's bundler does. The floor and the others load this "
        "venv's cached bytecode.",
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
    share = results.compile_share
    no_bytecode, precompiled = results.cold_ms["gate-nocache"].median, results.cold_ms["gate"].median
    gate_total = sum(timing.self_ms for timing in results.gate_imports.values())
    floor_total = sum(timing.self_ms for timing in results.floor_imports.values())
    lines += [
        "",
        f"Compile share (no bytecode minus precompiled, as a share of no bytecode, round by round): "
        f"{share.median:.0%} ({share.low:.0%} to {share.high:.0%}); medians {no_bytecode:.1f} ms and "
        f"{precompiled:.1f} ms.",
        "",
        f"Imports, precompiled handler (`-X importtime`, one run each, sum of self times): handler "
        f"{gate_total:.1f} ms, floor "
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
        f"- precompiled bytecode: {found.bytecode_files} .pyc files"
        if found.bytecode_files
        else "- precompiled bytecode: none (stacks/bundling.py writes it only when synth runs the runtime's "
        "Python, as the deploy workflow does); with this Python's bytecode compiled in, standing in for it: "
        f"{found.deployed_bytes:,} bytes zipped ({found.deployed_bytes / 1e6:.2f} MB)",
        "",
        "| Top-level entry | Zipped bytes |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | {size:,} |" for name, size in found.top_entries]
    return [*lines, ""]


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
        "the per-route policy.",
        "- Events: handler.handler gets the REQUEST event the stack's authorizer receives (`GET /orders`, "
        "resource `/orders`, the bearer token in `headers` and `multiValueHeaders` among the eight other "
        "headers a regional endpoint passes on), warm, cold and rejected alike; the PyJWT reference "
        "and the Node.js peers get the TOKEN event they were written for, the DPoP gate the REQUEST "
        "event with `Authorization: DPoP` and a `DPoP` header beside the same eight. Python contenders get "
        "each event deserialized from JSON, as Lambda's runtime delivers it: no two events share a string.",
        "- The limit: one `cryptography` PKCS#1 v1.5 SHA-256 verify with a loaded key plus base64url and "
        "JSON parsing of header and payload. The floor: a fresh Python that imports `cryptography`, "
        "fetches the JWKS with `urllib`, loads the key and does that once.",
        "- The DPoP limit: that, plus one ECDSA P-256 verify of the proof with its key loaded (the raw "
        "signature converted to DER) and parsing of the proof's header and payload. The DPoP gate is a "
        "second authorizer in this process with `DPOP=required` and a 600 s proof window (every proof is "
        "minted before the first round); one client key signs every proof, as a real client's does.",
        "- Python contenders run in this process with inputs built before the clock starts, each batch after "
        "a full garbage collection (untimed), so it pays for collecting its own garbage and not what earlier "
        "batches left; "
        "handler.handler writes its log lines to fd 1 as on Lambda, and fd 1 is /dev/null during timing. "
        "Node.js contenders run in a long-lived worker that times its own loop (`bench/node/worker.js`); "
        "aws-jwt-verify gets an http Fetcher for the loopback JWKS, its documented extension point, because "
        "its default fetcher accepts https only.",
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
    sections = (
        targets_section,
        _warm,
        _rejections,
        _floods,
        _cold,
        _bundle,
        sizing_section,
        route_cost_table,
    )
    for section in (*sections, _method):
        lines += section(results)
    return "\n".join(lines).rstrip() + "\n"
