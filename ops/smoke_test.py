#!/usr/bin/env python3
"""Post-deploy smoke test: the deployed gate lets a real token in, keeps no token out, and enforces scopes.

Run after `cdk deploy` (the CD workflow does). It needs only the standard library and:

* the stack outputs: a `cdk deploy --outputs-file` JSON, a saved `aws cloudformation describe-stacks` JSON,
  or (with neither) it runs `aws cloudformation describe-stacks --stack-name NAME` itself;
* a command that prints an access token for a test client (SMOKE_TOKEN_COMMAND or --token-command), e.g. a
  client-credentials `curl ... | jq -r .access_token`. The token holds the scopes of the allowed route but
  not those of the forbidden one.

Three checks, one line each: the allowed route answers 200 with the token, 401 without it, and the
forbidden route answers 403 with it. Exit status: 0 all passed, 1 a check failed, 2 the test could not run
(outputs or token missing). Why the token is never printed: CI logs are widely readable.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

API_URL_OUTPUT: Final = "ApiUrl"
TOKEN_COMMAND_ENV: Final = "SMOKE_TOKEN_COMMAND"  # noqa: S105 - a variable name, not a secret
DEFAULT_TIMEOUT_SECONDS: Final = 10.0


class SmokeError(Exception):
    """The smoke test cannot run (as opposed to a check that ran and failed)."""


@dataclass(frozen=True)
class Check:
    name: str
    method: str
    path: str
    with_token: bool
    expected_status: int


@dataclass(frozen=True)
class Result:
    check: Check
    status: int | None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == self.check.expected_status

    def line(self) -> str:
        outcome = "PASS" if self.passed else "FAIL"
        got = self.error if self.status is None else str(self.status)
        route = f"{self.check.method} {self.check.path}"
        return f"{outcome} {self.check.name}: {route} -> {got} (expected {self.check.expected_status})"


def parse_route(text: str) -> tuple[str, str]:
    method, _, path = text.strip().partition(" ")
    if not method.isalpha() or not path.startswith("/"):
        raise SmokeError(f'route {text!r} must look like "GET /hello"')
    return method.upper(), path


def checks_for(allowed: str, forbidden: str) -> list[Check]:
    allowed_method, allowed_path = parse_route(allowed)
    forbidden_method, forbidden_path = parse_route(forbidden)
    return [
        Check("allowed route with token", allowed_method, allowed_path, True, 200),
        Check("allowed route without token", allowed_method, allowed_path, False, 401),
        Check("forbidden route with token", forbidden_method, forbidden_path, True, 403),
    ]


def api_url_from_outputs(document: object, stack_name: str | None) -> str:
    """ApiUrl from a `cdk deploy --outputs-file` or an `aws cloudformation describe-stacks` document."""
    outputs: dict[str, str] = {}
    if isinstance(document, dict) and isinstance(document.get("Stacks"), list):
        stacks = [s for s in document["Stacks"] if stack_name is None or s.get("StackName") == stack_name]
        if len(stacks) != 1:
            raise SmokeError(f"expected one stack named {stack_name!r} in the describe-stacks output")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    elif isinstance(document, dict):
        names = [stack_name] if stack_name is not None else list(document)
        if len(names) != 1 or not isinstance(document.get(names[0]), dict):
            raise SmokeError("the outputs file must hold exactly one stack (or pass --stack-name)")
        outputs = document[names[0]]
    url = outputs.get(API_URL_OUTPUT)
    if not isinstance(url, str) or not _sends_tokens_safely(url):
        raise SmokeError(f"no https {API_URL_OUTPUT} output found")
    return url


def _sends_tokens_safely(url: str) -> bool:
    """https, or plain http to a loopback host (the local gateway, tests): a token never crosses a network
    in clear text."""
    parts = urllib.parse.urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return parts.scheme == "https" or (parts.scheme == "http" and loopback)


def load_api_url(outputs_file: Path | None, stack_name: str | None) -> str:
    if outputs_file is not None:
        try:
            return api_url_from_outputs(json.loads(outputs_file.read_text()), stack_name)
        except (OSError, json.JSONDecodeError) as err:
            raise SmokeError(f"cannot read {outputs_file}: {err}") from None
    if stack_name is None:
        raise SmokeError("pass --outputs-file or --stack-name")
    command = ["aws", "cloudformation", "describe-stacks", "--stack-name", stack_name, "--output", "json"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603 - fixed argv, no shell
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SmokeError(f"aws cloudformation describe-stacks failed: {err}") from None
    if done.returncode != 0:
        raise SmokeError(f"aws cloudformation describe-stacks failed: {done.stderr.strip()}")
    return api_url_from_outputs(json.loads(done.stdout), stack_name)


def fetch_token(command: str | None) -> str:
    if not command:
        raise SmokeError(
            f"set {TOKEN_COMMAND_ENV} (or --token-command) to a command printing an access token"
        )
    try:
        # The user's own command line from CI configuration: a shell is the point (pipes, jq, variables).
        done = subprocess.run(  # noqa: S603 - runs the operator's configured command by design
            ["/bin/sh", "-c", command], capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        raise SmokeError("the token command timed out") from None
    token = done.stdout.strip()
    if done.returncode != 0 or not token or any(c.isspace() for c in token):
        # Its stderr may hold secrets too; report only the exit status.
        raise SmokeError(f"the token command failed (exit {done.returncode}) or printed no single token")
    return token


def run_check(api_url: str, check: Check, token: str, timeout: float) -> Result:
    url = api_url.rstrip("/") + check.path
    request = urllib.request.Request(url, method=check.method)  # noqa: S310 - https URL from stack outputs
    if check.with_token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - see above
            return Result(check, response.status)
    except urllib.error.HTTPError as err:
        return Result(check, err.code)
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return Result(check, None, f"no response ({reason})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outputs-file", type=Path, help="cdk --outputs-file or describe-stacks JSON")
    parser.add_argument("--stack-name", help="stack to read (e.g. JwtGate-prod)")
    parser.add_argument("--token-command", default=os.environ.get(TOKEN_COMMAND_ENV))
    parser.add_argument("--allowed-route", default="GET /hello", help="route the token may call")
    parser.add_argument("--forbidden-route", default="POST /hello", help="route the token may not call")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS)
    args = parser.parse_args(argv)
    try:
        checks = checks_for(args.allowed_route, args.forbidden_route)
        api_url = load_api_url(args.outputs_file, args.stack_name)
        token = fetch_token(args.token_command)
    except SmokeError as err:
        print(f"ERROR {err}", file=sys.stderr)
        return 2
    results = [run_check(api_url, check, token, args.timeout) for check in checks]
    for result in results:
        print(result.line())
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
