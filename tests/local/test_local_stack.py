"""The real synthesized stack and the real authorizer code, served locally with the embedded issuer.

This is what `make local` runs; the last test drives `python -m local` and `python -m local.token` as a user
would: the printed curl's token works, a token from the CLI works, and Ctrl-C stops everything.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.issuer import IssuerServer, KeyStore
from local.server import GatewayServer, build_gateway
from tests.local.conftest import call
from tests.local.synth import PROJECT_ROOT, synthesize

AUDIENCE = "api://jwt-gate-example"  # cdk.json's example audience, which the template carries


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[IssuerServer]:
    server = IssuerServer(KeyStore(tmp_path / "state")).start()
    yield server
    server.stop()


@pytest.fixture
def api(template: Path, issuer: IssuerServer) -> Iterator[GatewayServer]:
    server = build_gateway(
        template,
        issuer=issuer.issuer,
        jwks_uri=issuer.jwks_uri,
        log_sink=lambda *_: None,
        decision_log=lambda _: None,
    ).start()
    yield server
    server.stop()


def bearer(issuer: IssuerServer, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.mint(AUDIENCE, scopes)}"}


def test_valid_token_reaches_hello_with_its_claims(api: GatewayServer, issuer: IssuerServer) -> None:
    reply = call(api.url, "GET", "/hello", bearer(issuer, "items:read"))
    body = json.loads(reply.body)
    assert (reply.status, body["principalId"]) == (200, "local-developer")
    assert (body["claims"]["sub"], body["claims"]["scope"]) == ("local-developer", "items:read")


def test_write_route_needs_the_write_scope(api: GatewayServer, issuer: IssuerServer) -> None:
    read_only = bearer(issuer, "items:read")
    assert call(api.url, "GET", "/hello", read_only).status == 200
    denied = call(api.url, "POST", "/hello", read_only)
    assert (denied.status, denied.headers["WWW-Authenticate"]) == (
        403,
        'Bearer realm="jwt-gate", error="insufficient_scope"',
    )
    assert call(api.url, "POST", "/hello", bearer(issuer, "items:write")).status == 200


def test_missing_token_is_401_with_the_stack_s_challenge(api: GatewayServer) -> None:
    reply = call(api.url, "GET", "/hello")
    assert (reply.status, reply.headers["WWW-Authenticate"]) == (
        401,
        'Bearer realm="jwt-gate", error="invalid_token"',
    )


def test_health_is_public(api: GatewayServer) -> None:
    assert call(api.url, "GET", "/health").status == 200


def test_token_from_a_rotated_key_is_accepted(api: GatewayServer, issuer: IssuerServer) -> None:
    """Rotated right after the authorizer's first key fetch, with the stack's own refetch cooldown."""
    old_token, old_unused = bearer(issuer, "items:read"), bearer(issuer, "items:read")
    assert call(api.url, "GET", "/hello", old_token).status == 200
    issuer.key_store.rotate()
    assert call(api.url, "GET", "/hello", bearer(issuer, "items:read")).status == 200
    assert call(api.url, "GET", "/hello", old_unused).status == 200  # the old key is still published
    assert call(api.url, "POST", "/hello", bearer(issuer, "items:write")).status == 200


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found |= {int(p) for p in (task / "children").read_text().split()}
        except FileNotFoundError:  # a server thread that ended while we looked has no children to report
            continue
    return found


def test_python_m_local_serves_prints_a_working_curl_and_stops_on_ctrl_c(
    template: Path, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local",
            "--port",
            "0",
            "--template",
            str(template),
            "--state-dir",
            str(state_dir),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(9)]
        curl = next(line for line in lines if line.strip().startswith("curl "))
        match = re.fullmatch(
            r"\s*curl -i -H 'Authorization: (Bearer [^']+)' (http://127\.0\.0\.1:\d+)(/\S+)\n", curl
        )
        assert match is not None, curl
        authorization, url, path = match.groups()
        assert (path, call(url, "GET", path, {"Authorization": authorization}).status) == ("/hello", 200)

        token = subprocess.run(
            [sys.executable, "-m", "local.token", "--state-dir", str(state_dir), "--scopes", "items:write"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert call(url, "POST", "/hello", {"Authorization": f"Bearer {token}"}).status == 200
        containers = _children(process.pid)
        assert len(containers) == 2  # the authorizer and the hello function, warm
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    assert not (state_dir / "local-run.json").exists()
    assert [pid for pid in containers if Path(f"/proc/{pid}").exists() and _is_running(pid)] == []


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status").read_text()
    return "State:\tZ" not in status
