"""`python -m local.token`: print one fresh access token for the API that `python -m local` is serving.

It signs with the issuer key in `.local/` and uses the issuer URL and audience the running server recorded
there, so the token verifies against that server. `--rotate-key` rotates the issuer key first; the running
issuer publishes the new key at once (new first, old kept), which exercises the authorizer's key refetch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from local.issuer import (
    DEFAULT_CLIENT_ID,
    DEFAULT_SUBJECT,
    DEFAULT_TOKEN_TTL_SECONDS,
    KeyStore,
    mint_access_token,
)
from local.state import DEFAULT_STATE_DIR, RunState


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.token", description=__doc__)
    parser.add_argument(
        "--scopes", default="", help="space-separated scopes (default: enough for GET /hello)"
    )
    parser.add_argument("--sub", default=DEFAULT_SUBJECT)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--ttl", type=int, default=DEFAULT_TOKEN_TTL_SECONDS, help="lifetime in seconds")
    parser.add_argument("--rotate-key", action="store_true", help="rotate the issuer's signing key first")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)

    state = RunState.load(args.state_dir)
    if state is None:
        print("local.token: no running local API found; start it with `make local`", file=sys.stderr)
        return 1
    if not state.process_alive():
        print(f"local.token: warning: the local API (pid {state.pid}) is not running", file=sys.stderr)
    key_store = KeyStore(args.state_dir)
    if args.rotate_key:
        kid = key_store.rotate().kid
        print(f"local.token: rotated the issuer key; new kid {kid}", file=sys.stderr)
    scopes = args.scopes.split() or list(state.default_scopes)
    token = mint_access_token(
        key_store.signing_key(),
        issuer=state.issuer,
        audience=state.audience,
        scopes=scopes,
        subject=args.sub,
        client_id=args.client_id,
        ttl_seconds=args.ttl,
    )
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
