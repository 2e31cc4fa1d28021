"""The embedded development issuer: discovery, JWKS, RFC 9068 token shape, key persistence and rotation."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from local.issuer import IssuerServer, KeyStore, mint_access_token
from local.state import RunState
from tests.local.conftest import call

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[IssuerServer]:
    server = IssuerServer(KeyStore(tmp_path / "state")).start()
    yield server
    server.stop()


def fetch_json(url: str, path: str) -> dict[str, Any]:
    reply = call(url, "GET", path)
    assert reply.status == 200
    document: dict[str, Any] = json.loads(reply.body)
    return document


def verify(token: str, issuer_url: str, audience: str) -> tuple[dict[str, Any], dict[str, Any]]:
    jwks = jwt.PyJWKSet.from_dict(fetch_json(issuer_url, "/.well-known/jwks.json"))
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwks.keys if k.key_id == header["kid"])
    return header, jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=issuer_url)


def test_discovery_names_the_issuer_and_its_jwks(issuer: IssuerServer) -> None:
    assert fetch_json(issuer.issuer, "/.well-known/openid-configuration") == {
        "issuer": issuer.issuer,
        "jwks_uri": f"{issuer.issuer}/.well-known/jwks.json",
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "grant_types_supported": ["client_credentials"],
    }


def test_jwks_publishes_one_public_rsa_signing_key(issuer: IssuerServer) -> None:
    (key,) = fetch_json(issuer.issuer, "/.well-known/jwks.json")["keys"]
    assert sorted(key) == ["alg", "e", "kid", "kty", "n", "use"]
    assert (key["kty"], key["alg"], key["use"], key["e"]) == ("RSA", "RS256", "sig", "AQAB")


def test_access_token_has_the_rfc_9068_shape(issuer: IssuerServer) -> None:
    token = mint_access_token(
        issuer.key_store.signing_key(),
        issuer=issuer.issuer,
        audience="api://test",
        scopes=["items:read", "items:write"],
        now=1_900_000_000,
    )
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": issuer.key_store.signing_key().kid}
    jti = claims.pop("jti")
    assert len(jti) >= 16
    assert claims == {
        "iss": issuer.issuer,
        "aud": "api://test",
        "sub": "local-developer",
        "client_id": "local-cli",
        "iat": 1_900_000_000,
        "exp": 1_900_003_600,
        "scope": "items:read items:write",
    }


def test_minted_token_verifies_against_the_served_jwks(issuer: IssuerServer) -> None:
    header, claims = verify(issuer.mint("api://test", ["items:read"]), issuer.issuer, "api://test")
    assert (header["typ"], claims["scope"]) == ("at+jwt", "items:read")


def test_key_is_kept_private_on_disk_and_reused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "state")
    kid = store.signing_key().kid
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert KeyStore(tmp_path / "state").signing_key().kid == kid


def test_rotation_publishes_the_new_key_first_and_keeps_the_old(issuer: IssuerServer) -> None:
    old = issuer.key_store.signing_key().kid
    old_token = issuer.mint("api://test", [])
    new = KeyStore(issuer.key_store.directory).rotate().kid  # another process, as `local.token --rotate-key`
    kids = [k["kid"] for k in fetch_json(issuer.issuer, "/.well-known/jwks.json")["keys"]]
    assert kids == [new, old]
    assert jwt.get_unverified_header(issuer.mint("api://test", []))["kid"] == new
    verify(old_token, issuer.issuer, "api://test")


def test_rotation_keeps_only_the_previous_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "state")
    first = store.signing_key().kid
    second = store.rotate().kid
    third = store.rotate().kid
    assert [k.kid for k in store.published()] == [third, second]
    assert len({first, second, third}) == 3


def run_token_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.token", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_token_cli_mints_for_the_recorded_issuer_and_audience(issuer: IssuerServer) -> None:
    state_dir = issuer.key_store.directory
    RunState("http://127.0.0.1:1", issuer.issuer, "api://test", ("items:read",), 1).save(state_dir)
    result = run_token_cli("--state-dir", str(state_dir), "--scopes", "items:write admin")
    _, claims = verify(result.stdout.strip(), issuer.issuer, "api://test")
    assert claims["scope"] == "items:write admin"
    default = run_token_cli("--state-dir", str(state_dir), "--scopes", "")
    assert verify(default.stdout.strip(), issuer.issuer, "api://test")[1]["scope"] == "items:read"


def test_token_cli_rotates_the_key(issuer: IssuerServer) -> None:
    state_dir = issuer.key_store.directory
    old = issuer.key_store.signing_key().kid
    RunState("http://127.0.0.1:1", issuer.issuer, "api://test", (), 1).save(state_dir)
    result = run_token_cli("--state-dir", str(state_dir), "--rotate-key")
    header, _ = verify(result.stdout.strip(), issuer.issuer, "api://test")
    assert header["kid"] != old
    assert [k["kid"] for k in fetch_json(issuer.issuer, "/.well-known/jwks.json")["keys"]] == [
        header["kid"],
        old,
    ]


def test_token_cli_without_a_running_api_explains_what_to_do(tmp_path: Path) -> None:
    result = run_token_cli("--state-dir", str(tmp_path))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "local.token: no running local API found; start it with `make local`\n"
