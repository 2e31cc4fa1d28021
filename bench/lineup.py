"""The line-up of one run: which contenders, which cases, and the tokens each round feeds them.

Keys name contenders throughout (``gate`` is this authorizer's handler.handler); a case key adds the kind of
token for rejections (``gate/expired``). Every token is minted before the first timed batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from bench import cold, dpop
from bench.contenders import Contender, InProcessContender, NodeContender
from bench.fixtures import (
    AUDIENCE,
    ISSUER,
    METHOD_ARN,
    SCOPE_RULES,
    TokenFactory,
    new_signing_key,
    request_event,
    token_event,
    with_bad_signature,
)
from bench.jwks_server import JwksServer
from bench.limit import make_limit
from bench.pyjwt_reference import make_handler
from bench.rounds import ALLOWED, REJECTED, Case

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
    dpop_batch: int = 100  # DPoP requests per round (bench/dpop.py): each one a token and a proof to mint


FULL = Plan(
    "full", rounds=41, batch=500, reject_batch=80, warmup_batches=3, cold_rounds=25, profile_tokens=500
)
QUICK = Plan(
    "quick",
    rounds=3,
    batch=20,
    reject_batch=6,
    warmup_batches=1,
    cold_rounds=2,
    profile_tokens=20,
    dpop_batch=6,
)


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
    # The DPoP path (bench/dpop.py): "rounds" and "warmup" batches of "<token> <proof>", and a profile set.
    dpop: dict[str, list[list[str]]] = field(default_factory=dict)
    dpop_profile: list[str] = field(default_factory=list)


def mint(factory: TokenFactory, plan: Plan, client: dpop.DpopClient | None = None) -> Tokens:
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

    dpop_sets: dict[str, list[list[str]]] = {}
    if client is not None:
        dpop_sets = {
            "rounds": [client.requests(plan.dpop_batch) for _ in range(plan.rounds)],
            "warmup": [client.requests(plan.dpop_batch) for _ in range(plan.warmup_batches)],
        }
    return Tokens(
        rounds=sets(plan.rounds),
        warmup=sets(plan.warmup_batches),
        repeated=factory.valid(1)[0],
        flood=factory.unknown_kid(FLOOD_TOKENS, attacker),
        cold=factory.valid(1)[0],
        after_flood=factory.valid(4),
        profile=factory.valid(plan.profile_tokens),
        dpop=dpop_sets,
        dpop_profile=client.requests(plan.dpop_batch) if client is not None else [],
    )


def common_env(jwks_uri: str) -> dict[str, str]:
    return {
        "ISSUER": ISSUER,
        "AUDIENCE": AUDIENCE,
        "JWKS_URI": jwks_uri,
        "ALGORITHMS": "RS256",
        "SCOPE_RULES": json.dumps(SCOPE_RULES),
        "RESOURCE_ARN": METHOD_ARN.rsplit("/", 2)[0],  # the API and stage, as the stack sets it
        "BENCH_METHOD_ARN": METHOD_ARN,
    }


def build_contenders(
    server: JwksServer, handler_module: ModuleType, public_key: Any, node: bool
) -> dict[str, Contender]:
    gate_handler = handler_module.handler
    pyjwt_handler = make_handler(server.uri("pyjwt"), ISSUER, AUDIENCE)
    contenders: dict[str, Contender] = {
        "limit": InProcessContender("limit", "limit: raw verify + parse", make_limit(public_key), event=None),
        # the gate gets the REQUEST event the deployed authorizer receives, the peers the TOKEN event
        "gate": InProcessContender(
            "gate", "handler.handler", lambda e: gate_handler(e, None), event=request_event
        ),
        "pyjwt": InProcessContender(
            "pyjwt", "PyJWT reference", lambda e: pyjwt_handler(e, None), event=token_event
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
    if all(key in contenders for key in dpop.KEYS):  # the DPoP limit and the gate get the same requests
        cases += [
            Case(
                key,
                contenders[key].label,
                contenders[key],
                lambda index: tokens.dpop["rounds"][index],
                ALLOWED,
            )
            for key in dpop.KEYS
        ]
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
        if case.key in dpop.KEYS:
            return tokens.dpop["warmup"][batch]
        kind = case.key.split("/", 1)[1] if "/" in case.key else "valid"
        return tokens.warmup[kind][batch]

    return pick


COLD_LABELS = {
    "python": "Python start, no imports",
    "floor": "floor: Python + cryptography + urllib fetch + 1 verify",
    "gate-nocache": "handler, no bytecode: import, key fetch, 1 decision",
    "gate": "handler, precompiled bytecode: import, key fetch, 1 decision",
    "pyjwt": "PyJWT reference",
    "node": "Node.js start, no requires",
    "aws-jwt-verify": "aws-jwt-verify (Node.js)",
    "original": "Node.js original",
}


def cold_cases(node: bool) -> list[cold.ColdCase]:
    cases = [
        cold.python_case("python", COLD_LABELS["python"], "bare"),
        cold.python_case("floor", COLD_LABELS["floor"], "floor"),
        cold.python_case("gate-nocache", COLD_LABELS["gate-nocache"], "gate"),
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
