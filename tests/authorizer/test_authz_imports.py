"""What a cold start imports: a fresh interpreter imports the handler (which prefetches the key set
from the loopback IdP) and decides one token, then reports the modules it loaded.

The runtime path must not load PyJWT (gate.jwk parses JWKs; PyJWT stays the tests' oracle) nor the
heavy modules that only it or rare configurations need: each costs every cold start milliseconds.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.authorizer.authz_support import Idp, KeyRing, SigningKey, base_env, method_arn

TokenFor = Callable[..., str]
AUTHORIZER_ROOT = Path(__file__).resolve().parents[2] / "lambda_src" / "authorizer"
CHILD = """
import json, sys, time
import handler
event = {"type": "TOKEN", "authorizationToken": "Bearer " + sys.argv[1], "methodArn": sys.argv[2]}
effect = handler.handler(event, None)["policyDocument"]["Statement"][0]["Effect"]
print(json.dumps({"effect": effect, "modules": sorted(sys.modules)}))
"""
# encodings.idna, stringprep, unicodedata: what a str host name costs the resolver; http.client and the
# email package it parses headers with: ~15 ms of a cold start (both in gate/fetch.py's docstring)
NEVER_ON_THE_RUNTIME_PATH = (
    "jwt",
    "dataclasses",
    "inspect",
    "cryptography.x509",
    "http.client",
    "email",
    "encodings.idna",
    "stringprep",
    "unicodedata",
)
ONLY_FOR_OTHER_KEY_TYPES = (
    "cryptography.hazmat.primitives.asymmetric.ec",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    "cryptography.hazmat.primitives.asymmetric.ed448",
    "cryptography.hazmat.backends.openssl.backend",
)


def child(env: dict[str, str], code: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh, isolated interpreter with the authorizer first on sys.path and ``env`` only."""
    return subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(AUTHORIZER_ROOT)!r})\n{code}",
            *args,
        ],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def cold_start(env: dict[str, str], token: str) -> dict[str, object]:
    done = child(env, CHILD, token, method_arn())
    loaded: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def now_valid(token_for: TokenFor, key: SigningKey) -> str:
    """A token valid by the wall clock, which is the child's clock."""
    now = int(time.time())
    return token_for(key, iat=now, exp=now + 300)


def loaded_prefixes(modules: object, prefixes: tuple[str, ...]) -> list[str]:
    assert isinstance(modules, list)
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


@pytest.fixture
def rs256_cold_start(idp: Idp, ring: KeyRing, token_for: TokenFor) -> dict[str, object]:
    idp.publish(ring.rsa)
    return cold_start(base_env(idp, ALGORITHMS="RS256"), now_valid(token_for, ring.rsa))


def test_a_cold_rs256_decision_allows(rs256_cold_start: dict[str, object]):
    assert rs256_cold_start["effect"] == "Allow"


def test_a_cold_start_does_not_import_pyjwt_or_heavy_stdlib_modules(rs256_cold_start: dict[str, object]):
    assert loaded_prefixes(rs256_cold_start["modules"], NEVER_ON_THE_RUNTIME_PATH) == []


def test_without_dpop_or_mtls_their_modules_are_never_imported(rs256_cold_start: dict[str, object]):
    assert loaded_prefixes(rs256_cold_start["modules"], ("gate.dpop", "gate.binding", "gate.replay")) == []


def test_an_rs256_only_cold_start_does_not_import_other_key_types(rs256_cold_start: dict[str, object]):
    assert loaded_prefixes(rs256_cold_start["modules"], ONLY_FOR_OTHER_KEY_TYPES) == []


def test_a_cold_start_with_every_algorithm_still_does_not_import_pyjwt(
    idp: Idp, ring: KeyRing, token_for: TokenFor
):
    loaded = cold_start(base_env(idp, ALGORITHMS="RS256,ES256,EdDSA"), now_valid(token_for, ring.es256))
    assert loaded["effect"] == "Allow"
    assert loaded_prefixes(loaded["modules"], NEVER_ON_THE_RUNTIME_PATH) == []


def test_without_a_key_source_its_module_and_threading_are_never_imported(
    rs256_cold_start: dict[str, object],
):
    # gate.key_sources loads only with JWKS_SNAPSHOT_FILE / JWKS_SSM_PARAMETER and friends set; the key set's
    # lock comes from _thread, so threading (~1.3 ms) stays unloaded.
    assert (
        loaded_prefixes(rs256_cold_start["modules"], ("gate.key_sources", "gate.jwks_document", "threading"))
        == []
    )


def test_a_key_source_variable_loads_its_module_and_is_validated(
    idp: Idp, ring: KeyRing, token_for: TokenFor
):
    idp.publish(ring.rsa)
    env = base_env(idp, ALGORITHMS="RS256", PARAMETERS_SECRETS_EXTENSION_HTTP_PORT="not-a-port")
    done = child(env, "import handler", check=False)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "gate.errors.ConfigError: PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: "
        "must be a port number from 1 to 65535, got 'not-a-port'"
    )


def test_cold_path_modules_with_named_tuples_do_not_postpone_annotations(rs256_cold_start: dict[str, object]):
    # typing.NamedTuple compiles each string annotation when it builds the class: with
    # "from __future__ import annotations" every such class costs a cold start ~0.1 ms more.
    modules = rs256_cold_start["modules"]
    assert isinstance(modules, list)
    offending = []
    for name in sorted(m for m in modules if m.startswith("gate.")):
        source = (AUTHORIZER_ROOT / (name.replace(".", "/") + ".py")).read_text()
        tree = ast.parse(source)
        named_tuples = [
            node
            for node in tree.body
            if isinstance(node, ast.ClassDef) and any(ast.unparse(b) == "NamedTuple" for b in node.bases)
        ]
        postponed = any(
            isinstance(node, ast.ImportFrom) and node.module == "__future__" for node in tree.body
        )
        if named_tuples and postponed:
            offending.append(name)
    assert offending == []
