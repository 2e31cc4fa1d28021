"""ops/smoke_test.py against a real HTTP server on 127.0.0.1 that answers like the deployed gate.

Differences from AWS: the server stands in for API Gateway (it knows one valid token); `aws` is a small
script on PATH that prints a describe-stacks document, since there is no AWS account here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_ROOT / "ops" / "smoke_test.py"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzbW9rZSJ9.c2lnbmF0dXJl"


class Gate:
    """Answers GET /prod/hello 200 with the token, 401 without; POST /prod/hello 403 with the token."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        self.broken_401 = False
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                auth = self.headers.get("Authorization")
                gate.requests.append((self.command, self.path, auth))
                valid = auth == f"Bearer {TOKEN}"
                if self.path != "/prod/hello":
                    status = 404
                elif not valid and not gate.broken_401:
                    status = 401
                elif self.command == "GET":
                    status = 200
                else:
                    status = 403
                body = b"{}"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer  # noqa: N815 - BaseHTTPRequestHandler's naming
            do_POST = _answer  # noqa: N815 - BaseHTTPRequestHandler's naming

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/prod/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def gate() -> Iterator[Gate]:
    server = Gate()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def cdk_outputs(tmp_path: Path, url: str, stack: str = "JwtGate-prod") -> Path:
    path = tmp_path / "cdk-outputs.json"
    path.write_text(json.dumps({stack: {"ApiUrl": url, "AuthorizerFunctionName": "fn"}}))
    return path


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def token_command(token: str = TOKEN) -> str:
    return f"printf '%s\\n' {token}"


def test_all_checks_pass_against_a_correct_gate(gate, tmp_path):
    result = run("--outputs-file", str(cdk_outputs(tmp_path, gate.url)), "--token-command", token_command())
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "PASS allowed route with token: GET /hello -> 200 (expected 200)",
        "PASS allowed route without token: GET /hello -> 401 (expected 401)",
        "PASS forbidden route with token: POST /hello -> 403 (expected 403)",
    ]
    assert gate.requests == [
        ("GET", "/prod/hello", f"Bearer {TOKEN}"),
        ("GET", "/prod/hello", None),
        ("POST", "/prod/hello", f"Bearer {TOKEN}"),
    ]
    assert TOKEN not in result.stdout + result.stderr


def test_a_gate_that_lets_anonymous_callers_in_fails(gate, tmp_path):
    gate.broken_401 = True
    result = run("--outputs-file", str(cdk_outputs(tmp_path, gate.url)), "--token-command", token_command())
    assert result.returncode == 1
    assert (
        result.stdout.splitlines()[1] == "FAIL allowed route without token: GET /hello -> 200 (expected 401)"
    )


def test_a_token_the_gate_rejects_fails_the_allowed_check(gate, tmp_path):
    result = run(
        "--outputs-file", str(cdk_outputs(tmp_path, gate.url)), "--token-command", token_command("a.b.c")
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "FAIL allowed route with token: GET /hello -> 401 (expected 200)",
        "PASS allowed route without token: GET /hello -> 401 (expected 401)",
        "FAIL forbidden route with token: POST /hello -> 401 (expected 403)",
    ]


def test_routes_are_configurable(gate, tmp_path):
    result = run(
        "--outputs-file",
        str(cdk_outputs(tmp_path, gate.url)),
        "--allowed-route",
        "GET /missing",
        "--forbidden-route",
        "POST /hello",
        env={"SMOKE_TOKEN_COMMAND": token_command()},
    )
    assert (
        result.stdout.splitlines()[0] == "FAIL allowed route with token: GET /missing -> 404 (expected 200)"
    )


def test_unreachable_api_fails_each_check(tmp_path):
    result = run(
        "--outputs-file", str(cdk_outputs(tmp_path, "http://127.0.0.1:9/prod/")), "--token-command", "echo t"
    )
    assert result.returncode == 1
    assert all(line.startswith("FAIL ") and "no response" in line for line in result.stdout.splitlines())


def test_describe_stacks_output_is_read_through_the_aws_cli(gate, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    document = {
        "Stacks": [
            {"StackName": "JwtGate-prod", "Outputs": [{"OutputKey": "ApiUrl", "OutputValue": gate.url}]},
        ]
    }
    (bin_dir / "aws").write_text(
        f"#!/bin/sh\necho \"$@\" > {tmp_path / 'aws-args'}\ncat <<'EOF'\n{json.dumps(document)}\nEOF\n"
    )
    (bin_dir / "aws").chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SMOKE_TOKEN_COMMAND": token_command()}
    result = run("--stack-name", "JwtGate-prod", env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert (tmp_path / "aws-args").read_text() == (
        "cloudformation describe-stacks --stack-name JwtGate-prod --output json\n"
    )


def test_describe_stacks_file_is_accepted(gate, tmp_path):
    path = tmp_path / "stacks.json"
    path.write_text(
        json.dumps(
            {
                "Stacks": [
                    {
                        "StackName": "JwtGate-dev",
                        "Outputs": [{"OutputKey": "ApiUrl", "OutputValue": gate.url}],
                    }
                ]
            }
        )
    )
    result = run(
        "--outputs-file", str(path), "--stack-name", "JwtGate-dev", "--token-command", token_command()
    )
    assert result.returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--token-command", "exit 3"],
            "ERROR the token command failed (exit 3) or printed no single token\n",
        ),
        (["--token-command", "true"], "ERROR the token command failed (exit 0) or printed no single token\n"),
        ([], "ERROR set SMOKE_TOKEN_COMMAND (or --token-command) to a command printing an access token\n"),
    ],
)
def test_token_command_problems_exit_2(gate, tmp_path, args, message):
    env = {k: v for k, v in os.environ.items() if k != "SMOKE_TOKEN_COMMAND"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--outputs-file", str(cdk_outputs(tmp_path, gate.url)), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message)
    assert gate.requests == []


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({"JwtGate-prod": {"AuthorizerFunctionName": "fn"}}, "ERROR no https ApiUrl output found\n"),
        (
            {"JwtGate-prod": {"ApiUrl": "http://api.acme-corp.com/prod/"}},
            "ERROR no https ApiUrl output found\n",
        ),
        (
            {"A": {"ApiUrl": "https://a/"}, "B": {"ApiUrl": "https://b/"}},
            "ERROR the outputs file must hold exactly one stack (or pass --stack-name)\n",
        ),
    ],
)
def test_missing_or_unsafe_api_url_exits_2(tmp_path, outputs, message):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    result = run("--outputs-file", str(path), "--token-command", token_command())
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message)
