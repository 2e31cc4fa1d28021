"""Key refresher (issue 13, `keySource: ssm`): the issuers' public keys from their IdPs into SSM parameters.

Runs on an EventBridge schedule (`keyRefreshMinutes`), outside any VPC: it needs egress to the identity
providers, the authorizer does not. For each entry of REFRESH_TARGETS (`[{"issuer", "jwksUri" | null,
"parameter"}]`) it fetches the discovery document and the JWKS with the authorizer's own bounded client
(gate/fetch.py and gate/jwks_document.py are copied into this asset; the same rules: the discovery issuer
must match, https only, size cap, one deadline of JWKS_TIMEOUT_SECONDS per request), keeps only the public
members and writes `{"issuer", "fetched_at", "keys"}` (gate/jwks_document.py) to the parameter, every run,
so ``fetched_at`` says how fresh the keys are. A response without any usable public key is a failure and
leaves the parameter as it was (a broken endpoint must not erase good keys).

One JSON line per issuer and run: ``{"event": "key_refresh_ok", "issuer", "parameter", "keys",
"ignored"}`` or ``{"event": "key_refresh_failed", "issuer", "parameter", "detail"}``; the stack counts the
failures in a metric with an alarm. One issuer's failure never stops the others.

boto3 comes with the Lambda Python runtime (this asset bundles no dependencies).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from gate.fetch import FetchError, fetch_json
from gate.jwks_document import DocumentError, fetch_issuer_jwks, parameter_value, public_keys

# SSM's limits on a parameter value: 4 KB standard, 8 KB advanced. "Intelligent-Tiering" makes a parameter
# advanced only when its value needs it (several large RSA keys), and leaves it standard otherwise.
MAX_PARAMETER_VALUE: Final = 8192
TIER: Final = "Intelligent-Tiering"

Put = Callable[..., Any]
Write = Callable[[str], object]


def _line(event: str, **fields: object) -> str:
    return json.dumps({"event": event, **fields})


def refresh(
    targets: Sequence[Mapping[str, Any]],
    *,
    put: Put,
    timeout: float,
    fetch: Callable[..., Any] = fetch_json,
    now: Callable[[], float] = time.time,
    write: Write = print,
) -> dict[str, int]:
    """Refresh every target; returns how many were written and how many failed."""
    written = failed = 0
    for target in targets:
        issuer, parameter = str(target["issuer"]), str(target["parameter"])
        jwks_uri = target.get("jwksUri")
        try:
            document = fetch_issuer_jwks(issuer, jwks_uri, timeout=timeout, fetch=fetch)
            keys, ignored = public_keys(document, f"JWKS of {issuer}")
            value = parameter_value(issuer, int(now()), keys)
            if len(value.encode()) > MAX_PARAMETER_VALUE:
                raise DocumentError(
                    f"JWKS of {issuer}: {len(keys)} public keys take {len(value.encode())} bytes, "
                    f"more than an SSM parameter holds ({MAX_PARAMETER_VALUE})"
                )
            put(Name=parameter, Value=value, Type="String", Overwrite=True, Tier=TIER)
        except (FetchError, DocumentError) as err:
            failed += 1
            write(_line("key_refresh_failed", issuer=issuer, parameter=parameter, detail=str(err)))
            continue
        except Exception as err:  # noqa: BLE001 - SSM errors (access, throttling): reported, next issuer
            failed += 1
            detail = f"SSM PutParameter: {type(err).__name__}: {err}"
            write(_line("key_refresh_failed", issuer=issuer, parameter=parameter, detail=detail))
            continue
        written += 1
        write(_line("key_refresh_ok", issuer=issuer, parameter=parameter, keys=len(keys), ignored=ignored))
    return {"written": written, "failed": failed}


def _ssm_put() -> Put:
    import boto3  # type: ignore[import-untyped]  # imported at first run: the runtime ships it

    return boto3.client("ssm").put_parameter  # type: ignore[no-any-return]


TARGETS: Final[list[dict[str, Any]]] = json.loads(os.environ.get("REFRESH_TARGETS", "[]"))
TIMEOUT: Final = float(os.environ.get("JWKS_TIMEOUT_SECONDS", "2"))
_PUT: list[Put] = []


def handler(event: Any, context: Any) -> dict[str, int]:
    if not _PUT:
        _PUT.append(_ssm_put())
    return refresh(TARGETS, put=_PUT[0], timeout=TIMEOUT)
