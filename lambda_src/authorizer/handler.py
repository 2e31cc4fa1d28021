"""Lambda entry point for the API Gateway REST authorizer (TOKEN or REQUEST).

Everything is built once, at import (the Lambda init phase): settings are parsed (a bad
configuration fails the init loudly), and the primary issuer's key set is prefetched
(ADDITIONAL_ISSUERS' key sets fill on first use, see Authorizer.prefetch_keys). Prefetching moves the JWKS
(and discovery) round trips off the first request: with provisioned concurrency or SnapStart
they leave the request path entirely, and for on-demand cold starts the init phase runs them
while the runtime would otherwise idle. A prefetch failure is swallowed and leaves no refetch
cooldown behind, so the first request simply tries again; it is bounded by JWKS_TIMEOUT_SECONDS.

The handler stays thin: a rejection becomes exactly ``Exception("Unauthorized")`` (API Gateway
401); :class:`gate.errors.KeysUnavailable` propagates unchanged (API Gateway 500
AUTHORIZER_FAILURE), so clients never discard a good token because the identity provider is down, and
so does :class:`gate.errors.ReplayStoreUnavailable` (DPoP's replay table cannot be reached).

Decision lines go straight to file descriptor 1, where Lambda's runtime sends ``sys.stdout`` after flushing
every write (gate/decision_log.py says why): ``print`` output and the lines still arrive in order there.
"""

from __future__ import annotations

import os
from typing import Any

from gate.authorizer import Authorizer
from gate.decision_log import fd_writer
from gate.errors import Rejection

AUTHORIZER = Authorizer.from_env(os.environ, write=fd_writer(1))
AUTHORIZER.prefetch_keys()


def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        return AUTHORIZER.handle(event)
    except Rejection:
        raise Exception("Unauthorized") from None  # the exact message API Gateway maps to 401
