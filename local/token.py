"""`python -m local.token`: print one fresh access token for an API that `python -m local` is serving.

It signs with that instance's issuer key in `.local/port-PORT/` and uses the issuer URL and audience the
instance recorded there, so the token verifies against that instance and no other. `--port` picks the
instance (`make token PORT=...`); without it, the one running instance. `--rotate-key` rotates the issuer
key first; the running issuer publishes the new key at once (new first, old kept), which exercises the
authorizer's key refetch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from local.bound_token import bound_token
from local.issuer import (
    DEFAULT_CLIENT_ID,
    DEFAULT_SUBJECT,
    DEFAULT_TOKEN_TTL_SECONDS,
    KeyStore,
    mint_access_token,
)
from local.state import DEFAULT_STATE_ROOT, RunState, instance_dir, running_instances
from local.tls import DEFAULT_CLIENT

NOT_RUNNING = "no running local API found; start it with `make local`"


class _NoInstanceError(Exception):
    """Which instance to mint for cannot be told; str() is the one line for the user."""


def _ports(ports: list[int]) -> str:
    return ", ".join(map(str, ports))


def _state_dir(args: argparse.Namespace) -> Path:
    """The folder of the instance this token is for: --state-dir, else --port, else the only one running."""
    if args.state_dir is not None:
        return Path(args.state_dir)
    running = running_instances(args.state_root)
    if args.port is not None:
        folder = instance_dir(args.state_root, args.port)
        if RunState.load(folder) is not None:
            return folder
        if running:
            raise _NoInstanceError(
                f"no local API on port {args.port}; running on port {_ports(list(running))}: "
                f"make token PORT={next(iter(running))}"
            )
        raise _NoInstanceError(
            f"no local API on port {args.port}; start it with `make local PORT={args.port}`"
        )
    if not running:
        raise _NoInstanceError(NOT_RUNNING)
    if len(running) > 1:
        raise _NoInstanceError(
            f"{len(running)} local APIs are running (ports {_ports(list(running))}); "
            f"choose one: make token PORT={next(iter(running))}"
        )
    return next(iter(running.values()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.token", description=__doc__)
    parser.add_argument(
        "--scopes", default="", help="space-separated scopes (default: enough for GET /hello)"
    )
    parser.add_argument("--sub", default=DEFAULT_SUBJECT)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--ttl", type=int, default=DEFAULT_TOKEN_TTL_SECONDS, help="lifetime in seconds")
    parser.add_argument("--rotate-key", action="store_true", help="rotate the issuer's signing key first")
    parser.add_argument("--port", type=int, help="the local API's port (default: the one running instance)")
    parser.add_argument(
        "--state-root", type=Path, default=DEFAULT_STATE_ROOT, help="folder with one folder per instance"
    )
    parser.add_argument("--state-dir", type=Path, help="one instance's folder (instead of --port)")
    bound = parser.add_argument_group("sender-constrained tokens (issue 12; local/bound_token.py)")
    bound.add_argument("--dpop", action="store_true", help="bind to the DPoP client key; print both headers")
    bound.add_argument("--method", default="GET", help="the DPoP proof's htm (default GET)")
    bound.add_argument("--url", help="the DPoP proof's htu (default: the local API's /hello)")
    bound.add_argument("--dpop-key", type=Path, help="PEM P-256 key (default STATE_ROOT/dpop-client-key.pem)")
    bound.add_argument("--mtls", action="store_true", help="bind to the development client certificate")
    bound.add_argument("--client-cert", default=DEFAULT_CLIENT, help="its name (default local-client)")
    args = parser.parse_args(argv)

    try:
        state_dir = _state_dir(args)
    except _NoInstanceError as exc:
        print(f"local.token: {exc}", file=sys.stderr)
        return 1
    state = RunState.load(state_dir)
    if state is None:
        print(f"local.token: {NOT_RUNNING}", file=sys.stderr)
        return 1
    if not state.process_alive():
        print(f"local.token: warning: the local API (pid {state.pid}) is not running", file=sys.stderr)
    key_store = KeyStore(state_dir)
    if args.rotate_key:
        kid = key_store.rotate().kid
        print(f"local.token: rotated the issuer key; new kid {kid}", file=sys.stderr)
    scopes = args.scopes.split() or list(state.default_scopes)
    if args.dpop or args.mtls:
        result = bound_token(
            key_store.signing_key(),
            state,
            scopes=scopes,
            subject=args.sub,
            client_id=args.client_id,
            ttl_seconds=args.ttl,
            state_root=args.state_root,
            dpop=args.dpop,
            mtls=args.mtls,
            method=args.method,
            url=args.url,
            client_cert=args.client_cert,
            dpop_key_path=args.dpop_key,
        )
        print("\n".join(result.stderr), file=sys.stderr)
        print("\n".join(result.stdout))
        return 0
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
