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
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from bench import bundle, cold, dpop, evidence, figure, readme, report, sizing, verdicts
from bench.contenders import as_delivered, quiet_output
from bench.fixtures import TokenFactory, jwks_document, new_signing_key, request_event
from bench.flood import run_floods
from bench.jwks_server import JwksServer
from bench.lineup import (
    AUTHORIZERS,
    FULL,
    LABELS,
    QUICK,
    build_cases,
    build_contenders,
    cold_cases,
    common_env,
    mint,
    warmup_tokens,
)
from bench.results import Results
from bench.rounds import run_rounds
from bench.stats import paired_ratios, summarize

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
NODE_MODULES = BENCH_DIR / "node_modules"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a few small rounds: checks the run, not the figures"
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR, help="where results.md and results.svg go")
    parser.add_argument("--no-node", action="store_true", help="leave out the Node.js peers")
    parser.add_argument("--bundle", choices=("auto", "build", "cdk-out", "skip"), default="auto")
    parser.add_argument("--authorizer-root", type=Path, default=REPO / "lambda_src" / "authorizer")
    parser.add_argument(
        "--readme",
        type=Path,
        default=None,
        help="also rewrite the bench markers' section of this file (make bench: docs/benchmarks.md)",
    )
    return parser.parse_args(argv)


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
    dpop_client = dpop.DpopClient(key)
    tokens = mint(TokenFactory(key), plan, dpop_client)

    with JwksServer(jwks_document([key])) as server:
        gate_env = common_env(server.uri("gate"))
        handler_module = import_handler(args.authorizer_root.resolve(), gate_env)
        cooldown = refetch_cooldown(gate_env)
        contenders = build_contenders(server, handler_module, key.private_key.public_key(), node)
        with quiet_output():  # issue 12: the DPoP path, a second authorizer with DPOP=required
            dpop_gate = dpop.make_gate(dpop.gate_env(common_env(server.uri("gate-dpop"))))
        contenders |= dpop.build_contenders(dpop_client, key.private_key.public_key(), dpop_gate)
        try:
            cases = build_cases(contenders, tokens)
            print(f"warm and rejection rounds: {len(cases)} cases", file=sys.stderr, flush=True)
            warm = run_rounds(
                cases, plan.rounds, warmup_batches=plan.warmup_batches, warmup_tokens=warmup_tokens(tokens)
            )
            with quiet_output():
                spots = evidence.hotspots(
                    lambda e: handler_module.handler(e, None),
                    [as_delivered(request_event(t)) for t in tokens.profile],
                )
                dpop_spots = evidence.hotspots(
                    dpop_gate, [as_delivered(dpop.dpop_event(r)) for r in tokens.dpop_profile]
                )
            print("unknown-kid flood", file=sys.stderr, flush=True)
            floods = run_floods(server, contenders, tokens, cooldown)
        finally:
            for contender in contenders.values():
                contender.close()

        print("cold starts", file=sys.stderr, flush=True)
        cases_cold = cold_cases(node)
        with tempfile.TemporaryDirectory(prefix="bench-cold-") as scratch:
            root = args.authorizer_root.resolve()
            bundles = {
                "gate-nocache": cold.lambda_copy(root, Path(scratch) / "no-bytecode", precompiled=False),
                "gate": cold.lambda_copy(root, Path(scratch) / "precompiled", precompiled=True),
            }
            env_for = {
                case.key: common_env(server.uri(f"cold-{case.key}"))
                | cold.NO_BYTECODE_WRITES
                | {
                    "BENCH_TOKEN": tokens.cold,
                    "BENCH_REQUEST_EVENT": json.dumps(request_event(tokens.cold)),
                    "BENCH_AUTHORIZER_ROOT": str(bundles.get(case.key, root)),
                }
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
    dpop_limit_us = [r.per_call_us for r in warm["limit-dpop"]]
    for case_key in dpop.KEYS:  # the DPoP rows are against their own limit: both verifications plus parsing
        warm_ratio[case_key] = summarize(
            paired_ratios([r.per_call_us for r in warm[case_key]], dpop_limit_us)
        )
    floor_ms = [s.wall_ms for s in cold_samples["floor"]]
    cold_ms = {key: summarize([s.wall_ms for s in samples]) for key, samples in cold_samples.items()}
    cold_rss = {key: summarize([s.peak_rss_mib for s in samples]) for key, samples in cold_samples.items()}
    cold_ratio = {
        key: summarize(paired_ratios([s.wall_ms for s in samples], floor_ms))
        for key, samples in cold_samples.items()
    }
    compile_share = summarize(
        [
            1 - ratio
            for ratio in paired_ratios(
                [s.wall_ms for s in cold_samples["gate"]], [s.wall_ms for s in cold_samples["gate-nocache"]]
            )
        ]
    )
    gate_flood = next(outcome for outcome in floods if outcome.key == "gate")
    judged = [
        verdicts.warm(warm_ratio["gate"], warm_us["gate"].median, warm_us["limit"].median, spots),
        verdicts.warm_peers(
            warm_ratio["gate"],
            {LABELS[key]: warm_ratio[key] for key in AUTHORIZERS if key != "gate" and key in warm_ratio},
        ),
        verdicts.dpop(
            warm_ratio["gate-dpop"], warm_us["gate-dpop"].median, warm_us["limit-dpop"].median, dpop_spots
        ),
        verdicts.cold(
            cold_ratio["gate"], cold_ms["gate"].median, cold_ms["floor"].median, gate_imports, floor_imports
        ),
        verdicts.cold_no_bytecode(
            cold_ratio["gate-nocache"],
            cold_ms["gate-nocache"].median,
            cold_ms["floor"].median,
            cold_ms["gate"].median,
            compile_share,
        ),
        verdicts.flood(gate_flood, cooldown),
        verdicts.bundle(bundle_result),
    ]
    memory = sizing.memory_rows(warm_us["gate"].median, cold_ms["gate"].median)
    results = Results(
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
        compile_share=compile_share,
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
    (args.out / "results.svg").write_text(figure.svg(results))
    if args.readme is not None:
        readme.update(args.readme, results)
    print(
        f"wrote {args.out / 'results.md'} and {args.out / 'results.svg'} in {results.seconds:.0f} s",
        file=sys.stderr,
    )
    for verdict in judged:
        print(f"  {verdict.status:>12}  {verdict.target}: {verdict.measured}", file=sys.stderr)
    return 0
