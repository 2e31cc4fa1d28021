"""`python -m local`: serve the synthesized stack on 127.0.0.1 with the embedded development issuer.

Prints a ready-to-paste curl with a valid token; Ctrl-C (or SIGTERM) stops the gateway, the issuer and every
Lambda container it started.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from pathlib import Path
from types import FrameType

from local.issuer import IssuerServer, KeyStore
from local.server import PROJECT_ROOT, GatewayServer, build_gateway
from local.state import DEFAULT_STATE_DIR, RUN_STATE_FILE, RunState, scopes_for, token_audience
from local.template import ApiModel, Route, TemplateError, find_stack_template

PREFERRED_DEMO_PATH = "/hello"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument(
        "--issuer-port", type=int, default=None, help="port of the development issuer (default: port + 1)"
    )
    parser.add_argument("--assembly", type=Path, default=PROJECT_ROOT / "cdk.out", help="cloud assembly dir")
    parser.add_argument("--template", type=Path, help="a template file instead of the assembly's stack")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="issuer key and run state")
    parser.add_argument("--rotate-key", action="store_true", help="rotate the issuer's signing key first")
    return parser.parse_args(argv)


def demo_route(model: ApiModel) -> Route | None:
    """A protected GET route for the printed curl: /hello when it exists."""
    protected = [r for r in model.routes if r.authorizer_id and r.http_method in ("GET", "ANY")]
    preferred = [r for r in protected if r.resource_path == PREFERRED_DEMO_PATH]
    candidates = preferred or [r for r in protected if "{" not in r.resource_path]
    return candidates[0] if candidates else None


def _banner(gateway: GatewayServer, issuer: IssuerServer, template: Path, curl: str | None) -> str:
    model = gateway.gateway.model
    lines = [
        f"Local API  {gateway.url}  (stage {model.stage_name}, from {template})",
        f"Issuer     {issuer.issuer}  (development keys in {issuer.key_store.directory})",
        "Routes",
    ]
    for route in model.routes:
        guard = "authorizer" if route.authorizer_id else "public"
        lines.append(f"  {route.http_method:<7} {route.resource_path:<24} {guard}")
    if curl:
        lines += ["", "Try it (token valid for one hour):", f"  {curl}"]
    lines += ["", 'More tokens: make token SCOPES="..."   Stop: Ctrl-C']
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        template = args.template or find_stack_template(args.assembly)
    except TemplateError as exc:
        print(f"local: {exc}", file=sys.stderr)
        return 2
    key_store = KeyStore(args.state_dir)
    if args.rotate_key:
        print(f"Rotated the issuer key; new kid {key_store.rotate().kid}", file=sys.stderr)
    issuer_port = args.issuer_port if args.issuer_port is not None else (args.port + 1 if args.port else 0)
    issuer = IssuerServer(key_store, port=issuer_port).start()
    try:
        gateway = build_gateway(template, issuer=issuer.issuer, jwks_uri=issuer.jwks_uri, port=args.port)
    except (TemplateError, OSError) as exc:
        issuer.stop()
        print(f"local: {exc}", file=sys.stderr)
        return 2
    model = gateway.gateway.model
    route = demo_route(model)
    audience = token_audience(model)
    scopes = scopes_for(model, "GET", route.resource_path) if route else ()
    RunState(gateway.url, issuer.issuer, audience, scopes, os.getpid()).save(args.state_dir)
    curl = None
    if route is not None:
        token = issuer.mint(audience, scopes)
        curl = (
            f"curl -i -H {shlex.quote('Authorization: Bearer ' + token)} {gateway.url}{route.resource_path}"
        )

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Explicit for SIGINT too: a shell that starts us in the background sets SIGINT to ignored.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(_banner(gateway, issuer, template, curl), flush=True)
    try:
        gateway.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C (or make forwarding one) must not cut the cleanup short and orphan containers.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        gateway.server_close()
        gateway.gateway.close()
        issuer.stop()
        (args.state_dir / RUN_STATE_FILE).unlink(missing_ok=True)
        print("Stopped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
