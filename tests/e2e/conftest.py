"""Run panva's oidc-provider (tests/e2e/provider.mjs) on loopback and get real tokens from it over HTTP."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from local.server import GatewayServer, build_gateway
from local.template import load_api_model
from tests.local.synth import PROJECT_ROOT, synthesize

PROVIDER_SCRIPT = Path(__file__).with_name("provider.mjs")
CLIENT_ID = "e2e-client"
CLIENT_SECRET = "e2e-client-secret-that-is-long-enough"
RESOURCE = "https://jwt-gate.e2e.test/"
SCOPES = "items:read items:write"
START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rsa_jwk(kid: str) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key))
    # PyJWT marks a private JWK key_ops ["sign"], and oidc-provider would publish that on the public key,
    # which the authorizer rightly refuses for verification; providers' JWKS normally carry no key_ops.
    jwk.pop("key_ops", None)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class Provider:
    """One oidc-provider process; restartable on the same port (so the same issuer) with other keys."""

    port: int
    audience: str
    workdir: Path
    process: subprocess.Popen[str] | None = None
    started: int = field(default=0)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(
        self,
        keys: list[dict[str, Any]],
        clock_offset_seconds: int = 0,
        environment: Mapping[str, str] | None = None,
    ) -> Provider:
        """`environment`: provider.mjs's further options (PROVIDER_DPOP, PROVIDER_MTLS_*)."""
        self.started += 1
        jwks_file = self.workdir / f"provider-{self.port}-{self.started}.json"
        jwks_file.write_text(json.dumps({"keys": keys}))
        env = {
            **os.environ,
            "PROVIDER_PORT": str(self.port),
            "PROVIDER_JWKS_FILE": str(jwks_file),
            "PROVIDER_AUDIENCE": self.audience,
            "PROVIDER_RESOURCE": RESOURCE,
            "PROVIDER_SCOPES": SCOPES,
            "PROVIDER_CLIENT_ID": CLIENT_ID,
            "PROVIDER_CLIENT_SECRET": CLIENT_SECRET,
            "PROVIDER_CLOCK_OFFSET_SECONDS": str(clock_offset_seconds),
            **(environment or {}),
        }
        self.process = subprocess.Popen(
            ["node", str(PROVIDER_SCRIPT)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # provider.mjs prints READY once listening, or exits
        if line.strip() != f"READY {self.issuer}":
            self.stop()
            raise RuntimeError(f"oidc-provider did not start: {line!r}")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=START_TIMEOUT_SECONDS)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def token(self, scopes: str) -> str:
        """client_credentials with a resource indicator, over real HTTP, as an API client does."""
        form = urllib.parse.urlencode(
            {"grant_type": "client_credentials", "scope": scopes, "resource": RESOURCE}
        ).encode()
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - a loopback http URL built from our own port
            f"{self.issuer}/token",
            data=form,
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - same loopback URL
            return str(json.loads(response.read())["access_token"])


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def audience(template: Path) -> str:
    function_id = next(iter(load_api_model(template, PROJECT_ROOT).authorizers.values())).function_id
    environment = load_api_model(template, PROJECT_ROOT).functions[function_id].environment
    return environment["AUDIENCE"].split(",")[0]


@pytest.fixture
def new_provider(tmp_path: Path, audience: str) -> Iterator[Callable[[], Provider]]:
    providers: list[Provider] = []

    def make() -> Provider:
        provider = Provider(free_port(), audience, tmp_path)
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.stop()


@dataclass
class Api:
    server: GatewayServer
    function_logs: list[tuple[str, str]]

    @property
    def url(self) -> str:
        return self.server.url

    def authorizer_decisions(self) -> list[dict[str, Any]]:
        """The authorizer's own JSON decision lines: evidence of what ran inside the function."""
        decisions = []
        for _, line in self.function_logs:
            if line.startswith("{") and '"authorizer_decision"' in line:
                decisions.append(json.loads(line))
        return decisions


@pytest.fixture
def start_api(template: Path) -> Iterator[Callable[..., Api]]:
    servers: list[GatewayServer] = []

    def start(provider: Provider, **environment: str) -> Api:
        """A fresh gateway (cold containers) whose authorizer trusts `provider`, via OIDC discovery."""
        model = load_api_model(template, PROJECT_ROOT)
        overrides = {a.function_id: dict(environment) for a in model.authorizers.values()}
        logs: list[tuple[str, str]] = []
        server = build_gateway(
            template,
            issuer=provider.issuer,
            env_overrides=overrides,
            log_sink=lambda name, line: logs.append((name, line)),
            decision_log=lambda _: None,
        ).start()
        servers.append(server)
        return Api(server, logs)

    yield start
    for server in servers:
        server.stop()
