"""The Lambda asset hash tracks exactly what shapes the bundle (issue 2, item 4; bytecode, issue 13); no
bundling needed."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from stacks import bundling
from stacks.bundling import python_function_code
from tests.infra.conftest import SKIP_BUNDLING


def asset_hash(
    source: Path,
    outdir: Path,
    runtime: lambda_.Runtime = lambda_.Runtime.PYTHON_3_14,
    architecture: lambda_.Architecture = lambda_.Architecture.ARM_64,
) -> str:
    app = cdk.App(context=SKIP_BUNDLING, outdir=str(outdir))
    stack = cdk.Stack(app, "AssetHash")
    location = python_function_code(source, runtime, architecture).bind(stack).s3_location
    assert location is not None
    return location.object_key


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "fn"
    (folder / "pkg").mkdir(parents=True)
    (folder / "handler.py").write_text("def handler(event, context):\n    return event\n")
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "requirements.txt").write_text("cryptography==50.0.2\n")
    return folder


def test_same_inputs_give_the_same_hash_across_apps(source, tmp_path):
    # Each app gets its own local-bundler object: equal hashes prove that object is not hashed.
    assert asset_hash(source, tmp_path / "a") == asset_hash(source, tmp_path / "b")


def test_interpreter_caches_do_not_change_the_hash(source, tmp_path):
    before = asset_hash(source, tmp_path / "a")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\x00cache")
    (source / "pkg" / "__pycache__").mkdir()
    (source / "pkg" / "__pycache__" / "__init__.cpython-314.pyc").write_bytes(b"\x00cache")
    (source / "stray.pyc").write_bytes(b"\x00")
    assert asset_hash(source, tmp_path / "b") == before


def test_requirements_change_the_hash(source, tmp_path):
    before = asset_hash(source, tmp_path / "a")
    (source / "requirements.txt").write_text("cryptography==50.0.1\n")
    assert asset_hash(source, tmp_path / "b") != before


def test_source_change_changes_the_hash(source, tmp_path):
    before = asset_hash(source, tmp_path / "a")
    (source / "pkg" / "__init__.py").write_text("VERSION = 2\n")
    assert asset_hash(source, tmp_path / "b") != before


def test_architecture_changes_the_hash(source, tmp_path):
    arm = asset_hash(source, tmp_path / "a", architecture=lambda_.Architecture.ARM_64)
    x86 = asset_hash(source, tmp_path / "b", architecture=lambda_.Architecture.X86_64)
    assert arm != x86


def test_python_version_changes_the_hash(source, tmp_path):
    py314 = asset_hash(source, tmp_path / "a", runtime=lambda_.Runtime.PYTHON_3_14)
    py313 = asset_hash(source, tmp_path / "b", runtime=lambda_.Runtime.PYTHON_3_13)
    assert py314 != py313


def test_precompiled_bytecode_changes_the_hash(source, tmp_path, monkeypatch):
    # Whether bytecode is precompiled depends on the synthesizing Python, not on the source: same inputs,
    # a different bundle, so a different hash (tests/infra/test_bytecode.py tests the mechanism).
    monkeypatch.setattr(bundling, "bytecode_tag", lambda target: None)
    source_only = asset_hash(source, tmp_path / "a")
    monkeypatch.setattr(bundling, "bytecode_tag", lambda target: "cpython-314")
    assert asset_hash(source, tmp_path / "b") != source_only
