"""The unknown-kid flood: how many JWKS requests 50 tokens with unknown kids cause, counted at the server."""

from __future__ import annotations

import time
from collections.abc import Mapping

from bench import verdicts
from bench.contenders import Contender
from bench.jwks_server import JwksServer
from bench.lineup import AUTHORIZERS, LABELS, Tokens


def run_floods(
    server: JwksServer, contenders: Mapping[str, Contender], tokens: Tokens, cooldown: float
) -> list[verdicts.FloodOutcome]:
    """Each authorizer, keys cached, meets 50 unknown kids; its JWKS requests are counted at the server.

    handler.handler has seen no unknown kid before the flood; its cooldown counts from unknown-kid refetches
    only, so its first unknown kid refetches at once and the rest fall inside the cooldown: the flood tests
    the limit itself. The peers meet the flood as they are; the table shows how long ago each last fetched.
    """
    outcomes = []
    for index, key in enumerate(k for k in AUTHORIZERS if k in contenders):
        contender = contenders[key]
        last = server.last_request(key)
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
