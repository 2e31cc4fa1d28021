"""`make snapshot-keys`: fetch the configured issuers' public keys now and write the `jwksSnapshot` file.

The configuration is read exactly as `app.py` reads it (cdk.json's context, then `-c key=value` as the CDK
CLI takes them: `make snapshot-keys STAGE=prod`, `CONTEXT='-c ...'`), so the snapshot holds the issuers the
stack trusts. For each issuer: its discovery document (unless `jwksUri` is set) and its JWKS, through the
authorizer's own bounded client and rules (gate/fetch.py, gate/jwks_document.py); only public members are
kept, and at least one key must be usable with the configured `algorithms` (gate/keys.py decides, as the
authorizer will). The file is the snapshot format of gate/jwks_document.py, with the fetch time.

Any failure (no `jwksSnapshot` configured, an unreachable identity provider, a response that is not a JWKS,
no usable key) ends with one line on stderr and exit status 1, and writes nothing: the file is replaced
atomically, only once every issuer succeeded. Commit the file; the authorizer never uses it once it is
older than `jwksSnapshotMaxAgeSeconds`, so run this again before that (and after an issuer rotates keys).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from stacks.config import ConfigError, StackConfig
from stacks.key_config import PROJECT_ROOT
from stacks.stages import load_config

AUTHORIZER_ROOT: Final = PROJECT_ROOT / "lambda_src" / "authorizer"
DEFAULT_TIMEOUT_SECONDS: Final = 5.0
Fetch = Callable[..., Any]


class SnapshotError(Exception):
    """Why no snapshot was written; str() is the one line for the user."""


def _gate() -> None:
    """Make the authorizer's package importable (it lives in the Lambda asset folder, not on sys.path)."""
    if str(AUTHORIZER_ROOT) not in sys.path:
        sys.path.insert(0, str(AUTHORIZER_ROOT))


def context_from(argv_context: Sequence[str], cdk_json: Path) -> dict[str, object]:
    """cdk.json's context with `-c key=value` pairs on top (strings, as the CDK CLI passes them)."""
    context: dict[str, object] = dict(json.loads(cdk_json.read_text())["context"])
    for pair in argv_context:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise SnapshotError(f"-c {pair!r}: expected key=value")
        context[key] = value
    return context


def snapshot(
    config: StackConfig, *, timeout: float, fetch: Fetch | None = None, now: float | None = None
) -> dict[str, Any]:
    """The snapshot document of every trusted issuer, or SnapshotError naming the first that failed."""
    _gate()
    from gate.fetch import FetchError, fetch_json
    from gate.jwks_document import DocumentError, fetch_issuer_jwks, public_keys, snapshot_document
    from gate.keys import VerificationKey, parse_jwk

    rules = config.token_rules
    algorithms = frozenset(rules.algorithms)
    sources = [(rules.issuer, rules.jwks_uri)] + [(e.issuer, e.jwks_uri) for e in rules.additional_issuers]
    fetched_at = int(time.time() if now is None else now)
    issuers: dict[str, list[dict[str, Any]]] = {}
    for issuer, jwks_uri in sources:
        try:
            document = fetch_issuer_jwks(issuer, jwks_uri, timeout=timeout, fetch=fetch or fetch_json)
            keys, _ignored = public_keys(document, f"JWKS of {issuer}")
        except (FetchError, DocumentError) as err:
            raise SnapshotError(str(err)) from None
        if not any(isinstance(parse_jwk(key, algorithms), VerificationKey) for key in keys):
            configured = ", ".join(rules.algorithms)
            raise SnapshotError(
                f"JWKS of {issuer}: no key usable with the configured algorithms ({configured})"
            )
        issuers[issuer] = keys
    return snapshot_document(fetched_at, issuers)


def write_atomically(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ops.snapshot_keys", description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds per request")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, *, root: Path = PROJECT_ROOT, fetch: Fetch | None = None) -> int:
    args = _arguments(argv)
    try:
        context = context_from(args.context, PROJECT_ROOT / "cdk.json")
        try:
            config = load_config(context.get, context_keys=context)
        except ConfigError as err:
            raise SnapshotError(str(err)) from None
        relative = config.key_delivery.snapshot
        if relative is None:
            raise SnapshotError(
                'jwksSnapshot is not configured: set it (cdk.json "jwksSnapshot": "keys/dev.json", in the '
                "stage's block) or pass -c jwksSnapshot=keys/dev.json"
            )
        document = snapshot(config, timeout=args.timeout, fetch=fetch)
    except SnapshotError as err:
        print(f"snapshot-keys: {err}", file=sys.stderr)
        return 1
    write_atomically(root / relative, document)
    when = datetime.fromtimestamp(document["fetched_at"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    counts = ", ".join(f"{issuer} {len(entry['keys'])} keys" for issuer, entry in document["issuers"].items())
    print(f"snapshot-keys: wrote {relative} ({counts}; fetched {when}); commit it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
