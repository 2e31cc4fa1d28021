"""`python -m local`: serve the synthesized stack on 127.0.0.1 with the embedded development issuer.

Prints a ready-to-paste curl with a valid token; Ctrl-C (or SIGTERM) stops the gateway, the issuer and every
Lambda container it started. Each instance keeps its issuer keys and run state in `.local/port-PORT/`, so
several can run side by side on different ports (`make local PORT=...`, `make token PORT=...`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from local.gateway import DecisionLog, stderr_decision_log
from local.issuer import IssuerServer, KeyStore, discovery_document
from local.lambda_runtime import LogSink, stderr_log_sink
from local.sender_constraints import demo_curl
from local.sender_constraints import notices as sender_notices
from local.server import PROJECT_ROOT, GatewayServer, PortUnavailableError, build_gateway, free_port_pair
from local.state import (
    DEFAULT_STATE_ROOT,
    RUN_STATE_FILE,
    RunState,
    instance_dir,
    scopes_for,
    token_audience,
)
from local.template import ApiModel, Route, TemplateError, find_stack_template
from local.tls import DevelopmentCa, server_context

PREFERRED_DEMO_PATH = "/hello"
LOOPBACK = "127.0.0.1"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument(
        "--issuer-port", type=int, default=None, help="port of the development issuer (default: port + 1)"
    )
    parser.add_argument("--assembly", type=Path, default=PROJECT_ROOT / "cdk.out", help="cloud assembly dir")
    parser.add_argument("--template", type=Path, help="a template file instead of the assembly's stack")
    parser.add_argument(
        "--state-root", type=Path, default=DEFAULT_STATE_ROOT, help="folder with one folder per instance"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="this instance's issuer key and run state (default: STATE_ROOT/port-PORT)",
    )
    parser.add_argument("--rotate-key", action="store_true", help="rotate the issuer's signing key first")
    parser.add_argument(
        "--mtls",
        action="store_true",
        help="serve HTTPS requiring client certificates from the development CA in STATE_ROOT/tls",
    )
    return parser.parse_args(argv)


def demo_route(model: ApiModel) -> Route | None:
    """A protected GET route for the printed curl: /hello when it exists."""
    protected = [r for r in model.routes if r.authorizer_id and r.http_method in ("GET", "ANY")]
    preferred = [r for r in protected if r.resource_path == PREFERRED_DEMO_PATH]
    candidates = preferred or [r for r in protected if "{" not in r.resource_path]
    return candidates[0] if candidates else None


@dataclass
class LocalInstance:
    """One running local API: the gateway, its development issuer and its folder of state."""

    gateway: GatewayServer
    issuer: IssuerServer
    state_dir: Path
    template: Path
    curl: str | None
    sender_notices: tuple[str, ...] = ()

    @property
    def port(self) -> int:
        return int(self.gateway.server_address[1])

    def banner(self) -> str:
        model = self.gateway.gateway.model
        lines = [
            f"Local API  {self.gateway.url}  (stage {model.stage_name}, from {self.template})",
            f"Issuer     {self.issuer.issuer}  (development keys in {self.issuer.key_store.directory})",
            "Routes",
        ]
        for route in model.routes:
            guard = "public"
            if route.authorizer_id:
                guard = "native JWT" if route.authorization_type == "JWT" else "authorizer"
            lines.append(f"  {route.http_method:<7} {route.resource_path:<24} {guard}")
        notices = self.gateway.gateway.backend_notices()
        if notices:
            lines += ["Backends", *(f"  {notice}" for notice in notices)]
        if self.sender_notices:
            lines += ["Sender-constrained tokens", *(f"  {notice}" for notice in self.sender_notices)]
        if self.curl:
            lines += ["", "Try it (token valid for one hour):", f"  {self.curl}"]
        lines += ["", f'More tokens: make token PORT={self.port} SCOPES="..."   Stop: Ctrl-C']
        return "\n".join(lines)

    def stop(self) -> None:
        """Stop serving, end every Lambda container and the issuer, and remove the run state."""
        self.gateway.stop()
        self.issuer.stop()
        (self.state_dir / RUN_STATE_FILE).unlink(missing_ok=True)


def _suggestion(port: int, issuer_port_given: bool) -> str:
    if issuer_port_given:
        return "make local PORT=... (or another --issuer-port)"
    free = free_port_pair(port + 2)
    return f"make local PORT={free if free is not None else '...'}"


def start_instance(
    template: Path,
    *,
    port: int,
    issuer_port: int | None = None,
    state_root: Path = DEFAULT_STATE_ROOT,
    state_dir: Path | None = None,
    rotate_key: bool = False,
    log_sink: LogSink = stderr_log_sink,
    decision_log: DecisionLog = stderr_decision_log,
    mtls: bool = False,
) -> LocalInstance:
    """Bind the gateway and the issuer (PortUnavailableError names a busy port), then record the run state.

    Port 0 picks free ports (tests). The gateway is bound first when its issuer's port is known in advance,
    so a busy API port is the one reported.
    """
    issuer_port_given = issuer_port is not None
    if issuer_port is None:
        issuer_port = port + 1 if port else 0

    def bind_issuer(key_store: KeyStore) -> IssuerServer:
        try:
            return IssuerServer(key_store, host=LOOPBACK, port=issuer_port)
        except OSError as exc:
            role = " (the development issuer's: PORT + 1)" if not issuer_port_given else " (the issuer's)"
            raise PortUnavailableError(issuer_port, role, exc, _suggestion(port, issuer_port_given)) from None

    def bind_gateway(issuer_url: str) -> GatewayServer:
        jwks_uri = str(discovery_document(issuer_url)["jwks_uri"])
        try:
            return build_gateway(
                template,
                issuer=issuer_url,
                jwks_uri=jwks_uri,
                port=port,
                log_sink=log_sink,
                decision_log=decision_log,
                ssl_context=tls_context,
            )
        except OSError as exc:
            raise PortUnavailableError(port, "", exc, _suggestion(port, issuer_port_given)) from None

    # Issue 12: HTTPS with client certificates from the development CA (local/tls.py).
    tls_context = server_context(DevelopmentCa.under(state_root)) if mtls else None
    # The key store's folder depends on the gateway's port, known only once bound when port is 0.
    pending = KeyStore(state_dir or state_root)
    if issuer_port:
        gateway = bind_gateway(f"http://{LOOPBACK}:{issuer_port}")
        try:
            issuer = bind_issuer(pending)
        except BaseException:
            gateway.stop()
            raise
    else:
        issuer = bind_issuer(pending)
        try:
            gateway = bind_gateway(issuer.issuer)
        except BaseException:
            issuer.stop()
            raise
    folder = state_dir or instance_dir(state_root, int(gateway.server_address[1]))
    issuer.key_store = KeyStore(folder)
    if rotate_key:
        print(f"Rotated the issuer key; new kid {issuer.key_store.rotate().kid}", file=sys.stderr)
    issuer.start()
    model = gateway.gateway.model
    route = demo_route(model)
    audience = token_audience(model)
    scopes = scopes_for(model, "GET", route.resource_path) if route else ()
    RunState(gateway.url, issuer.issuer, audience, scopes, os.getpid()).save(folder)
    curl = None
    if route is not None:
        url = f"{gateway.url}{route.resource_path}"
        curl = demo_curl(model, issuer, audience, scopes, url, state_root, mtls)
    sender = tuple(sender_notices(model, gateway.url, mtls=mtls))
    return LocalInstance(gateway, issuer, folder, template, curl, sender)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        template = args.template or find_stack_template(args.assembly)
        instance = start_instance(
            template,
            port=args.port,
            issuer_port=args.issuer_port,
            state_root=args.state_root,
            state_dir=args.state_dir,
            rotate_key=args.rotate_key,
            mtls=args.mtls,
        )
    except (TemplateError, PortUnavailableError) as exc:
        print(f"local: {exc}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Explicit for SIGINT too: a shell that starts us in the background sets SIGINT to ignored.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(instance.banner(), flush=True)
    try:
        instance.gateway.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C (or make forwarding one) must not cut the cleanup short and orphan containers.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        instance.stop()
        print("Stopped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
