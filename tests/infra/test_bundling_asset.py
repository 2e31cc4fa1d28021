"""Real bundling, as `cdk synth` runs it: pip fetches aarch64 wheels, and Docker is never invoked.

Runs app.py in a subprocess (how the CDK CLI calls it) with a fake `docker` first on PATH that records any
call and fails, so a silent fallback to Docker bundling would show up here. The bundle holds bytecode only
when this Python is the runtime's (tests/infra/test_bytecode.py loads such bytecode); else synth says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.python_function import RUNTIME
from tests.infra.conftest import CDK_JSON_CONTEXT, PROJECT_ROOT

ELF_MACHINE_AARCH64 = 183  # e_machine value for ARM aarch64 (EM_AARCH64)
RUNTIME_PYTHON = RUNTIME.name.removeprefix("python")  # "3.14"
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

pytestmark = pytest.mark.bundling


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(cdk.out, docker call log, synth's stderr) after a full synth with bundling."""
    root = tmp_path_factory.mktemp("bundling")
    fake_bin, outdir, calls = root / "bin", root / "cdk.out", root / "docker-calls.log"
    fake_bin.mkdir()
    docker = fake_bin / "docker"
    docker.write_text(f'#!/bin/sh\necho "docker $*" >> "{calls}"\nexit 97\n')
    docker.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}",
        "CDK_CONTEXT_JSON": json.dumps(CDK_JSON_CONTEXT),
        "CDK_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return outdir, calls, result.stderr


def asset_dir(outdir: Path, source_path: str) -> Path:
    template = json.loads((outdir / "JwtGate-dev.template.json").read_text())
    (function,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Metadata"]["JwtGate:SourcePath"] == source_path
    ]
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    return outdir / f"asset.{asset_hash}"


def test_docker_is_never_invoked(bundled):
    _, calls, _ = bundled
    assert not calls.exists()


def test_authorizer_bundle_holds_aarch64_cryptography(bundled):
    bundle = asset_dir(bundled[0], "lambda_src/authorizer")
    assert (
        elf_machine(bundle / "cryptography" / "hazmat" / "bindings" / "_rust.abi3.so") == ELF_MACHINE_AARCH64
    )
    (cffi_backend,) = bundle.glob("_cffi_backend.cpython-314-aarch64-linux-gnu.so")
    assert elf_machine(cffi_backend) == ELF_MACHINE_AARCH64


def test_authorizer_bundle_is_lean_and_holds_the_source(bundled):
    bundle = asset_dir(bundled[0], "lambda_src/authorizer")
    top_level = {p.name for p in bundle.iterdir()}
    assert {"handler.py", "gate", "cryptography", "cffi"} <= top_level
    # PyJWT is the tests' oracle and the bench's reference; the authorizer never imports it.
    assert not {"jwt", "pycparser", "bin", "requirements.txt", "__pycache__"} & top_level
    assert not [name for name in top_level if name.lower().startswith(("pyjwt", "pycparser"))]


def test_bytecode_is_written_exactly_when_this_is_the_runtimes_python(bundled):
    # One test for both hosts (this machine is not Python 3.14, a deploy job is): each checks its own case.
    bundle = asset_dir(bundled[0], "lambda_src/authorizer")
    if HOST_PYTHON == RUNTIME_PYTHON:
        sources = sorted(bundle.rglob("*.py"))
        assert sources
        for source in sources:
            assert (
                source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"
            ).is_file()
        assert len(list(bundle.rglob("*.pyc"))) == len(sources)
        assert "bundled without bytecode" not in bundled[2]
        return
    assert not list(bundle.rglob("__pycache__"))
    assert not list(bundle.rglob("*.pyc"))
    # one line per bundled function (a function without requirements.txt is not bundled: no line)
    notices = [line for line in bundled[2].splitlines() if "jwt-gate: authorizer bundled" in line]
    assert notices == [
        f"jwt-gate: authorizer bundled without bytecode: this is Python {HOST_PYTHON}, the runtime "
        f"python{RUNTIME_PYTHON}, so each cold start compiles the modules it imports (synthesize with Python "
        f"{RUNTIME_PYTHON} to precompile them)"
    ]


def test_hello_asset_is_the_plain_source(bundled):
    bundle = asset_dir(bundled[0], "lambda_src/hello")
    assert sorted(p.name for p in bundle.iterdir()) == ["handler.py"]


def test_lean_dependency_set_signs_and_verifies_without_pycparser():
    """The bundle drops pycparser; prove on the host that the authorizer's modules and cryptography's RSA, EC
    and EdDSA signatures never import it."""
    script = (
        "import pkgutil, sys; sys.modules['pycparser'] = None\n"
        "import gate\n"
        "for module in pkgutil.iter_modules(gate.__path__, 'gate.'):\n"
        "    __import__(module.name)\n"
        "from cryptography.hazmat.primitives import hashes\n"
        "from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa\n"
        "rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n"
        "rsa_key.public_key().verify(rsa_key.sign(b'm', padding.PKCS1v15(), hashes.SHA256()), b'm',\n"
        "                            padding.PKCS1v15(), hashes.SHA256())\n"
        "ec_key = ec.generate_private_key(ec.SECP256R1())\n"
        "ecdsa = ec.ECDSA(hashes.SHA256())\n"
        "ec_key.public_key().verify(ec_key.sign(b'm', ecdsa), b'm', ecdsa)\n"
        "ed_key = ed25519.Ed25519PrivateKey.generate()\n"
        "ed_key.public_key().verify(ed_key.sign(b'm'), b'm')\n"
        "assert 'jwt' not in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT / "lambda_src" / "authorizer",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")
