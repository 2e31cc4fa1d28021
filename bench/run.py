"""One bench run, start to finish: mint tokens, serve the key set, measure warm, rejection, flood and cold
costs side by side, size the bundle, judge the targets and write results.md plus the chart.

Usage: ``python -m bench [--quick] [--out DIR] [--no-node] [--bundle auto|build|cdk-out|skip]``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import bundle, cold, evidence, report, sizing, verdicts
from bench.contenders import Contender, InProcessContender, NodeContender, quiet_output
from bench.fixtures import (
    AUDIENCE,
    ISSUER,
    METHOD_ARN,
    SCOPE_RULES,
    TokenFactory,
    jwks_document,
    new_signing_key,
    token_event,
    with_bad_signature,
)
from bench.jwks_server import JwksServer
from bench.limit import make_limit
from bench.pyjwt_reference import make_handler
from bench.rounds import ALLOWED, REJECTED, Case, run_rounds
from bench.stats import paired_ratios, summarize

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
NODE_MODULES = BENCH_DIR / "node_modules"
REJECTION_KINDS = ("expired", "bad-signature", "garbage")
FLOOD_TOKENS = 50


@dataclass(frozen=True)
class Plan:
    name: str
    rounds: int
    batch: int
    reject_batch: int
    warmup_batches: int
    cold_rounds: int
    profile_tokens: int


FULL = Plan(
    "full", rounds=41, batch=500, reject_batch=80, warmup_batches=3, cold_rounds=25, profile_tokens=500
)
QUICK = Plan("quick", rounds=3, batch=20, reject_batch=6, warmup_batches=1, cold_rounds=2, profile_tokens=20)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a few small rounds: checks the run, not the figures"
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR, help="where results.md and results.svg go")
    parser.add_argument("--no-node", action="store_true", help="leave out the Node.js peers")
    parser.add_argument("--bundle", choices=("auto", "build", "cdk-out", "skip"), default="auto")
    parser.add_argument("--authorizer-root", type=Path, default=REPO / "lambda_src" / "authorizer")
    return parser.parse_args(argv)


@dataclass
class Tokens:
    """Every token of the run, minted up front so no signing happens between timed batches."""

    rounds: dict[str, list[list[str]]]
    warmup: dict[str, list[list[str]]]
    repeated: str
    flood: list[str]
    cold: str
    after_flood: list[str]
    profile: list[str]


def mint(factory: TokenFactory, plan: Plan) -> Tokens:
    attacker = new_signing_key("attacker")

    def sets(count: int) -> dict[str, list[list[str]]]:
        return {
            "valid": [factory.valid(plan.batch) for _ in range(count)],
            "expired": [factory.expired(plan.reject_batch) for _ in range(count)],
            "bad-signature": [
                [with_bad_signature(t) for t in factory.valid(plan.reject_batch)] for _ in range(count)
            ],
            "garbage": [factory.garbage(plan.reject_batch) for _ in range(count)],
        }

    return Tokens(
        rounds=sets(plan.rounds),
        warmup=sets(plan.warmup_batches),
        repeated=factory.valid(1)[0],
        flood=factory.unknown_kid(FLOOD_TOKENS, attacker),
        cold=factory.valid(1)[0],
        after_flood=factory.valid(4),
        profile=factory.valid(plan.profile_tokens),
    )


def common_env(jwks_uri: str) -> dict[str, str]:
    return {
        "ISSUER": ISSUER,
        "AUDIENCE": AUDIENCE,
        "JWKS_URI": jwks_uri,
        "ALGORITHMS": "RS256",
        "SCOPE_RULES": json.dumps(SCOPE_RULES),
        "RESOURCE": METHOD_ARN,
        "BENCH_METHOD_ARN": METHOD_ARN,
    }


def import_handler(authorizer_root: Path, env: Mapping[str, str]) -> ModuleType:
    """Import the authorizer as Lambda does: its folder first on sys.path, configuration in os.environ."""
    os.environ.update(env)
    sys.path.insert(0, str(authorizer_root))
    with quiet_output():
        return importlib.import_module("handler")


def refetch_cooldown(env: Mapping[str, str]) -> float:
    """The cooldown the handler runs with (its default, as the issue asks), read from its own settings."""
    settings = importlib.import_module("gate.settings").Settings.from_env(env)
    return float(settings.jwks_refetch_cooldown_seconds)


def build_contenders(
    server: JwksServer, handler_module: ModuleType, public_key: Any, node: bool
) -> dict[str, Contender]:
    gate_handler = handler_module.handler
    pyjwt_handler = make_handler(server.uri("pyjwt"), ISSUER, AUDIENCE)
    contenders: dict[str, Contender] = {
        "limit": InProcessContender(
            "limit", "limit: raw verify + parse", make_limit(public_key), as_event=False
        ),
        "gate": InProcessContender("gate", "handler.handler", lambda e: gate_handler(e, None), as_event=True),
        "pyjwt": InProcessContender(
            "pyjwt", "PyJWT reference", lambda e: pyjwt_handler(e, None), as_event=True
        ),
    }
    if node:
        for key, label in (("aws-jwt-verify", "aws-jwt-verify (Node.js)"), ("original", "Node.js original")):
            contenders[key] = NodeContender(key, label, key, common_env(server.uri(key)))
    return contenders


LABELS = {
    "limit": "limit: raw verify + parse",
    "gate": "handler.handler, distinct tokens",
    "gate-repeat": "handler.handler, one repeated token",
    "pyjwt": "PyJWT reference",
    "aws-jwt-verify": "aws-jwt-verify (Node.js)",
    "original": "Node.js original (jsonwebtoken + jwks-rsa)",
}
AUTHORIZERS = ("gate", "pyjwt", "aws-jwt-verify", "original")


def build_cases(contenders: Mapping[str, Contender], tokens: Tokens) -> list[Case]:
    def round_tokens(kind: str) -> Callable[[int], list[str]]:
        return lambda index: tokens.rounds[kind][index]

    cases = [
        Case(key, LABELS[key], contenders[key], round_tokens("valid"), ALLOWED)
        for key in ("limit", "gate", "pyjwt", "aws-jwt-verify", "original")
        if key in contenders
    ]
    batch = len(tokens.rounds["valid"][0])
    cases.insert(
        2,
        Case(
            "gate-repeat",
            LABELS["gate-repeat"],
            contenders["gate"],
            lambda _: [tokens.repeated] * batch,
            ALLOWED,
        ),
    )
    for key in AUTHORIZERS:
        if key in contenders:
            for kind in REJECTION_KINDS:
                label = f"{LABELS[key].split(',')[0]}: {kind}"
                cases.append(Case(f"{key}/{kind}", label, contenders[key], round_tokens(kind), REJECTED))
    return cases


def warmup_tokens(tokens: Tokens) -> Callable[[int, Case], list[str]]:
    def pick(batch: int, case: Case) -> list[str]:
        if case.key == "gate-repeat":
            return [tokens.repeated] * len(tokens.warmup["valid"][batch])
        kind = case.key.split("/", 1)[1] if "/" in case.key else "valid"
        return tokens.warmup[kind][batch]

    return pick


def run_floods(
    server: JwksServer, contenders: Mapping[str, Contender], tokens: Tokens, cooldown: float
) -> list[verdicts.FloodOutcome]:
    """Each authorizer, keys cached, meets 50 unknown kids; its JWKS requests are counted at the server.

    handler.handler's flood starts once its cooldown since the last key fetch has run out, so its first
    unknown kid may refetch and the flood tests the limit itself rather than a cooldown still running from
    start-up. The peers meet the flood as they are; the table shows how long ago each last fetched.
    """
    outcomes = []
    for index, key in enumerate(k for k in AUTHORIZERS if k in contenders):
        contender = contenders[key]
        last = server.last_request(key)
        if key == "gate" and last is not None:
            time.sleep(max(0.0, last + cooldown + 0.25 - time.monotonic()))
        before = server.count(key)
        started = time.monotonic()
        result = contender.run(tokens.flood)
        elapsed = time.monotonic() - started
        requests = server.count(key) - before
        after = contender.run([tokens.after_flood[index]])
        valid_after = "allowed" if after.allowed == 1 else (", ".join(after.failures) or "rejected")
        outcomes.append(
            verdicts.FloodOutcome(
                key,
                LABELS[key].split(",")[0],
                len(tokens.flood),
                None if last is None else started - last,
                requests,
                elapsed,
                int(elapsed // cooldown) + 1,
                result.rejected,
                dict(result.failures) | ({"allowed": result.allowed} if result.allowed else {}),
                valid_after,
            )
        )
    return outcomes


COLD_LABELS = {
    "python": "Python start, no imports",
    "floor": "floor: Python + cryptography + urllib fetch + 1 verify",
    "gate": "handler: import, key fetch, 1 decision",
    "pyjwt": "PyJWT reference",
    "node": "Node.js start, no requires",
    "aws-jwt-verify": "aws-jwt-verify (Node.js)",
    "original": "Node.js original",
}


def cold_cases(node: bool) -> list[cold.ColdCase]:
    cases = [
        cold.python_case("python", COLD_LABELS["python"], "bare"),
        cold.python_case("floor", COLD_LABELS["floor"], "floor"),
        cold.python_case("gate", COLD_LABELS["gate"], "gate"),
        cold.python_case("pyjwt", COLD_LABELS["pyjwt"], "pyjwt"),
    ]
    if node:
        cases += [
            cold.node_case("node", COLD_LABELS["node"], "bare"),
            cold.node_case("aws-jwt-verify", COLD_LABELS["aws-jwt-verify"], "aws-jwt-verify"),
            cold.node_case("original", COLD_LABELS["original"], "original"),
        ]
    return cases


def versions(node: bool) -> dict[str, str]:
    from importlib.metadata import version

    found = {
        "Python": platform.python_version(),
        "PyJWT": version("PyJWT"),
        "cryptography": version("cryptography"),
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
    }
    if node:
        found["Node.js"] = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        for package in ("jsonwebtoken", "jwks-rsa", "aws-jwt-verify"):
            manifest = json.loads((NODE_MODULES / package / "package.json").read_text())
            found[package] = str(manifest["version"])
    return found


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def stack_defaults() -> dict[str, int]:
    """The memory and cache TTL the stack deploys with (cdk.json context), so the sizing can price them."""
    try:
        context = json.loads((REPO / "cdk.json").read_text()).get("context", {})
    except (OSError, ValueError):
        context = {}
    found = {}
    for name in ("lambdaMemoryMb", "authorizerCacheTtlSeconds"):
        if isinstance(context.get(name), int):
            found[name] = int(context[name])
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    node = not args.no_node
    if node and not (NODE_MODULES / "aws-jwt-verify").is_dir():
        print(
            "bench/node_modules is missing: run `npm ci --prefix bench` (or pass --no-node)", file=sys.stderr
        )
        return 2
    if node and shutil.which("node") is None:
        print("node is not on PATH (or pass --no-node)", file=sys.stderr)
        return 2
    started = time.monotonic()
    print(f"bench ({plan.name}): minting tokens", file=sys.stderr, flush=True)
    key = new_signing_key("bench-key-1")
    tokens = mint(TokenFactory(key), plan)

    with JwksServer(jwks_document([key])) as server:
        gate_env = common_env(server.uri("gate"))
        handler_module = import_handler(args.authorizer_root.resolve(), gate_env)
        cooldown = refetch_cooldown(gate_env)
        contenders = build_contenders(server, handler_module, key.private_key.public_key(), node)
        try:
            cases = build_cases(contenders, tokens)
            print(f"warm and rejection rounds: {len(cases)} cases", file=sys.stderr, flush=True)
            warm = run_rounds(
                cases, plan.rounds, warmup_batches=plan.warmup_batches, warmup_tokens=warmup_tokens(tokens)
            )
            with quiet_output():
                spots = evidence.hotspots(
                    lambda e: handler_module.handler(e, None), [token_event(t) for t in tokens.profile]
                )
            print("unknown-kid flood", file=sys.stderr, flush=True)
            floods = run_floods(server, contenders, tokens, cooldown)
        finally:
            for contender in contenders.values():
                contender.close()

        print("cold starts", file=sys.stderr, flush=True)
        cases_cold = cold_cases(node)
        env_for = {
            case.key: common_env(server.uri(f"cold-{case.key}"))
            | {"BENCH_TOKEN": tokens.cold, "BENCH_AUTHORIZER_ROOT": str(args.authorizer_root.resolve())}
            for case in cases_cold
        }
        cold_samples = cold.run_cold(cases_cold, plan.cold_rounds, env_for)
        by_key = {case.key: case for case in cases_cold}
        gate_imports = cold.import_times(by_key["gate"], env_for["gate"])
        floor_imports = cold.import_times(by_key["floor"], env_for["floor"])

    print(f"bundle ({args.bundle})", file=sys.stderr, flush=True)
    bundle_result = bundle.measure_bundle(REPO, args.authorizer_root.resolve(), args.bundle)

    limit_us = [r.per_call_us for r in warm["limit"]]
    warm_us = {key: summarize([r.per_call_us for r in results]) for key, results in warm.items()}
    warm_ratio = {
        key: summarize(paired_ratios([r.per_call_us for r in results], limit_us))
        for key, results in warm.items()
    }
    floor_ms = [s.wall_ms for s in cold_samples["floor"]]
    cold_ms = {key: summarize([s.wall_ms for s in samples]) for key, samples in cold_samples.items()}
    cold_rss = {key: summarize([s.peak_rss_mib for s in samples]) for key, samples in cold_samples.items()}
    cold_ratio = {
        key: summarize(paired_ratios([s.wall_ms for s in samples], floor_ms))
        for key, samples in cold_samples.items()
    }
    gate_flood = next(outcome for outcome in floods if outcome.key == "gate")
    judged = [
        verdicts.warm(warm_ratio["gate"], warm_us["gate"].median, warm_us["limit"].median, spots),
        verdicts.cold(
            cold_ratio["gate"], cold_ms["gate"].median, cold_ms["floor"].median, gate_imports, floor_imports
        ),
        verdicts.flood(gate_flood, cooldown),
        verdicts.bundle(bundle_result),
    ]
    memory = sizing.memory_rows(warm_us["gate"].median, cold_ms["gate"].median)
    results = report.Results(
        plan=f"{plan.name}: {plan.rounds} interleaved rounds x {plan.batch} distinct tokens per warm case "
        f"({plan.reject_batch} per rejection case), {plan.cold_rounds} cold rounds",
        when=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        seconds=time.monotonic() - started,
        versions=versions(node),
        labels={case.key: case.label for case in cases},
        warm_us=warm_us,
        warm_ratio=warm_ratio,
        cold_labels={case.key: case.label for case in cases_cold},
        cold_ms=cold_ms,
        cold_rss=cold_rss,
        cold_ratio=cold_ratio,
        floods=floods,
        cooldown=cooldown,
        spots=spots,
        gate_imports=gate_imports,
        floor_imports=floor_imports,
        bundle=bundle_result,
        verdicts=judged,
        memory=memory,
        stack=stack_defaults(),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(report.markdown(results))
    (args.out / "results.svg").write_text(report.svg(results))
    print(
        f"wrote {args.out / 'results.md'} and {args.out / 'results.svg'} in {results.seconds:.0f} s",
        file=sys.stderr,
    )
    for verdict in judged:
        print(f"  {verdict.status:>12}  {verdict.target}: {verdict.measured}", file=sys.stderr)
    return 0
