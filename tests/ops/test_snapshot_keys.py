"""`make snapshot-keys` (ops/snapshot_keys.py) against a real loopback identity provider.

Each failure is one line on stderr, exit status 1, and no file (not even a partial one); success writes the
snapshot the authorizer's cold start accepts (gate/key_sources.py), atomically.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from gate.key_sources import KeySources
from gate.settings import Settings
from ops.snapshot_keys import main
from tests.authorizer.authz_support import Idp

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TARGET = "keys/test.json"


@pytest.fixture(scope="module")
def jwks() -> dict[str, Any]:
    # Private JWKs on purpose: the snapshot must keep only their public members. PyJWT marks them
    # key_ops ["sign"], which no verifier may use; a provider publishes them without key_ops.
    rsa_jwk = RSAAlgorithm.to_jwk(rsa.generate_private_key(65537, 2048), as_dict=True)
    ec_jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)
    for jwk in (rsa_jwk, ec_jwk):
        jwk.pop("key_ops", None)
    return {"keys": [{**rsa_jwk, "kid": "r1", "use": "sig"}, {**ec_jwk, "kid": "e1", "use": "sig"}]}


@pytest.fixture
def idp(jwks: dict[str, Any]) -> Iterator[Idp]:
    server = Idp()
    server.publish(*jwks["keys"])
    yield server
    server.close()


def run(idp: Idp, root: Path, *extra: str) -> int:
    context = [f"issuer={idp.issuer}", "audience=api://orders", f"jwksSnapshot={TARGET}", *extra]
    return main([arg for pair in context for arg in ("-c", pair)] + ["--timeout", "0.3"], root=root)


def test_writes_the_public_keys_with_the_fetch_time(idp: Idp, tmp_path: Path, capsys, jwks):
    assert run(idp, tmp_path) == 0
    document = json.loads((tmp_path / TARGET).read_text())
    assert set(document) == {"fetched_at", "issuers"}
    ((issuer, entry),) = document["issuers"].items()
    assert issuer == idp.issuer
    rsa_key = jwks["keys"][0]
    assert entry["keys"][0] == {"kty": "RSA", "kid": "r1", "use": "sig", "n": rsa_key["n"], "e": rsa_key["e"]}
    assert [k["kty"] for k in entry["keys"]] == ["RSA", "EC"]
    assert all("d" not in key for key in entry["keys"])  # the JWKs above carry private members
    out = capsys.readouterr()
    assert out.err == ""
    assert out.out.startswith(f"snapshot-keys: wrote {TARGET} ({idp.issuer} 2 keys; fetched ")
    assert out.out.endswith("Z); commit it\n")
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["test.json"]  # no temporary left over


def test_the_written_file_passes_the_authorizer_s_cold_start(idp: Idp, tmp_path: Path):
    run(idp, tmp_path)
    env = {"ISSUER": idp.issuer, "AUDIENCE": "api://orders", "JWKS_SNAPSHOT_FILE": TARGET}
    sources = KeySources.from_env(env, Settings.from_env(env), root=str(tmp_path))
    assert len(sources.snapshots[idp.issuer].keys) == 2


def failure(idp: Idp, tmp_path: Path, capsys, *extra: str) -> str:
    (tmp_path / "keys").mkdir()
    previous = '{"fetched_at": 1, "issuers": {}}'
    (tmp_path / TARGET).write_text(previous)
    assert run(idp, tmp_path, *extra) == 1
    assert (tmp_path / TARGET).read_text() == previous  # nothing written
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["test.json"]
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1
    return str(out.err)


def test_an_unreachable_idp_fails_with_one_line(idp: Idp, tmp_path: Path, capsys):
    idp.mode = "drop"
    err = failure(idp, tmp_path, capsys)
    assert err == (
        f"snapshot-keys: {idp.base}/.well-known/openid-configuration: "
        "connection closed before the response ended\n"
    )


def test_an_idp_answering_503_fails_with_one_line(idp: Idp, tmp_path: Path, capsys):
    idp.mode = "down"
    err = failure(idp, tmp_path, capsys)
    assert err == f"snapshot-keys: {idp.base}/.well-known/openid-configuration: HTTP 503\n"


def test_garbage_fails_with_one_line(idp: Idp, tmp_path: Path, capsys):
    idp.mode = "garbage"
    assert (
        failure(idp, tmp_path, capsys)
        == f"snapshot-keys: {idp.base}/jwks: response is not JSON (JSONDecodeError)\n"
    )


def test_a_jwks_that_is_not_a_key_set_fails_with_one_line(idp: Idp, tmp_path: Path, capsys):
    idp.jwks = {"error": "maintenance"}
    assert failure(idp, tmp_path, capsys) == (
        f"snapshot-keys: JWKS of {idp.issuer}: not a JSON object with a 'keys' array\n"
    )


def test_no_public_key_fails_with_one_line(idp: Idp, tmp_path: Path, capsys):
    idp.publish({"kty": "oct", "k": "c2VjcmV0"})
    assert failure(idp, tmp_path, capsys) == (
        f"snapshot-keys: JWKS of {idp.issuer}: no usable public key (1 published)\n"
    )


def test_no_key_usable_with_the_configured_algorithms_fails_with_one_line(
    idp: Idp, tmp_path: Path, capsys, jwks
):
    idp.publish(jwks["keys"][1])  # EC only, algorithms RS256 (cdk.json)
    assert failure(idp, tmp_path, capsys) == (
        f"snapshot-keys: JWKS of {idp.issuer}: no key usable with the configured algorithms (RS256)\n"
    )


def test_without_jwks_snapshot_configured_it_fails_with_one_line(idp: Idp, tmp_path: Path, capsys):
    code = main(["-c", f"issuer={idp.issuer}", "-c", "audience=api://orders"], root=tmp_path)
    assert code == 1
    assert capsys.readouterr().err == (
        'snapshot-keys: jwksSnapshot is not configured: set it (cdk.json "jwksSnapshot": "keys/dev.json", in '
        "the stage's block) or pass -c jwksSnapshot=keys/dev.json\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_config_error_is_its_one_line(tmp_path: Path, capsys):
    assert main(["-c", "keySource=vault"], root=tmp_path) == 1
    assert capsys.readouterr().err == (
        "snapshot-keys: invalid config \"keySource\": must be one of idp, ssm, got 'vault' "
        "(example: -c keySource=ssm)\n"
    )


def test_every_additional_issuer_is_snapshotted(idp: Idp, tmp_path: Path):
    partner = f"{idp.base}/partner"
    extra = json.dumps([{"issuer": partner, "audience": ["api://orders"], "jwksUri": idp.jwks_uri}])
    assert run(idp, tmp_path, f"additionalIssuers={extra}") == 0
    document = json.loads((tmp_path / TARGET).read_text())
    assert list(document["issuers"]) == [idp.issuer, partner]


def test_make_snapshot_keys_runs_the_module_with_the_cdk_context():
    dry = subprocess.run(
        [
            "make",
            "-n",
            "--no-print-directory",
            "snapshot-keys",
            "STAGE=prod",
            "CONTEXT=-c jwksSnapshot=keys/p.json",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert dry.stdout.splitlines()[-1].split() == [
        ".venv/bin/python",
        "-m",
        "ops.snapshot_keys",
        "-c",
        "stage=prod",
        "-c",
        "jwksSnapshot=keys/p.json",
    ]
