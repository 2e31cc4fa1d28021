"""results.svg: the run's headline figures as three chart panels (warm, cold start, rejections)."""

from __future__ import annotations

from bench import chart
from bench.lineup import REJECTION_KINDS
from bench.results import COLD_KEYS, WARM_KEYS, Results
from bench.verdicts import COLD_TARGET, WARM_TARGET


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
    "gate-nocache": "handler, no bytecode",
    "gate": "handler, precompiled",
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
        "Includes a loopback JWKS fetch; floor = Python + cryptography + urllib fetch + 1 verify; handler "
        "from a read-only bundle",
        COLD_TARGET * floor,
        f"target {COLD_TARGET}x floor, precompiled",
    )
    rejection_keys = ["limit", *(f"gate/{kind}" for kind in REJECTION_KINDS)]
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
