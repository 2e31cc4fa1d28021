"""The bundler's precompiled bytecode, built for a runtime of this host's Python so this host can load it.

Lambda unpacks the bundle read-only (every file dated 1980-01-01 by the CDK CLI's zip) and writes no cache.
Each load here does the same: a read-only copy, `python -B` with PYTHONDONTWRITEBYTECODE, and a recorder
around the loader's source compiler, so "loaded from the bundle's .pyc" is observed, not inferred from
`__cached__` (which names the cache path whether or not it was used). No pip: the sources have no
requirements.txt, and the authorizer's own dependencies come from this venv.
"""

from __future__ import annotations

import importlib.util
import json
import os
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
from aws_cdk import aws_lambda as lambda_

from stacks.bundling import (
    BYTECODE_INVALIDATION,
    BundlingError,
    PipLocalBundling,
    PythonTarget,
    bytecode_tag,
    hashed_bundling_environment,
    precompile,
)
from tests.infra.conftest import PROJECT_ROOT

HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
HOST_RUNTIME = lambda_.Runtime(f"python{HOST_PYTHON}", lambda_.RuntimeFamily.PYTHON)
OTHER_RUNTIME = lambda_.Runtime.PYTHON_3_13 if HOST_PYTHON == "3.14" else lambda_.Runtime.PYTHON_3_14
CDK_ZIP_MTIME = 315532800  # 1980-01-01 00:00:00 UTC, the date the CDK CLI gives every zipped asset file
# pyc header (PEP 552): magic, flags, then for hash-based files the source hash. Flags: bit 0 hash-based,
# bit 1 check the source.
CHECKED_HASH_FLAGS = 0b11

# Imports the named modules from the bundle given as argv[1] and reports which sources were compiled on the
# way (the loader calls source_to_code only when it does not use a .pyc), each module's __cached__ and VALUE.
LOADER = """
import importlib.machinery, json, sys
compiled = []
original = importlib.machinery.SourceFileLoader.source_to_code
def recording(self, data, path, *args, **kwargs):
    compiled.append(str(path))
    return original(self, data, path, *args, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = recording
sys.path.insert(0, sys.argv[1])
modules = {name: __import__(name, fromlist=["_"]) for name in sys.argv[2:]}
print(json.dumps({
    "compiled": compiled,
    "cached": {name: module.__cached__ for name, module in modules.items()},
    "values": {name: getattr(module, "VALUE", None) for name, module in modules.items()},
}))
"""


def bundle(source: Path, out: Path, runtime: lambda_.Runtime = HOST_RUNTIME) -> Path:
    out.mkdir()
    target = PythonTarget.for_function(runtime, lambda_.Architecture.ARM_64)
    assert PipLocalBundling(source, target).try_bundle(str(out), image=runtime.bundling_image)
    return out


def files(tree: Path) -> dict[str, bytes]:
    return {p.relative_to(tree).as_posix(): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}


def read_only_copy(tree: Path, destination: Path) -> Path:
    shutil.copytree(tree, destination)
    for path in [destination, *destination.rglob("*")]:
        path.chmod(path.stat().st_mode & 0o555)
    return destination


class Loaded(NamedTuple):
    compiled: list[str]  # sources compiled at import, relative to the tree
    cached: dict[str, str]  # module -> __cached__
    values: dict[str, str | None]  # module -> its VALUE, if any


def load(tree: Path, *modules: str) -> Loaded:
    """Import ``modules`` from ``tree`` in a fresh interpreter that writes no bytecode; the tree must not
    change (the test may run as root, which a read-only mode does not stop)."""
    before = files(tree)
    result = subprocess.run(
        [sys.executable, "-B", "-c", LOADER, str(tree), *modules],
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        cwd=tree.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert files(tree) == before
    report = json.loads(result.stdout)
    compiled = sorted(Path(path).relative_to(tree).as_posix() for path in report["compiled"])
    return Loaded(compiled, report["cached"], report["values"])


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "fn"
    (folder / "pkg").mkdir(parents=True)
    (folder / "handler.py").write_text(
        "from pkg.mod import VALUE\n\n\ndef handler(event, context):\n    return VALUE\n"
    )
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "pkg" / "mod.py").write_text('VALUE = "as built"\n')
    # The host's own caches are never copied: the bundle's bytecode is compiled for the target.
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "handler.cpython-30.pyc").write_bytes(b"\x00stale")
    return folder


def test_every_module_gets_checked_hash_bytecode_where_python_looks_for_it(source, tmp_path):
    out = bundle(source, tmp_path / "out")
    tag = sys.implementation.cache_tag
    assert sorted(files(out)) == sorted(
        [
            f"__pycache__/handler.{tag}.pyc",
            "handler.py",
            f"pkg/__pycache__/__init__.{tag}.pyc",
            f"pkg/__pycache__/mod.{tag}.pyc",
            "pkg/__init__.py",
            "pkg/mod.py",
        ]
    )
    for module in ("handler.py", "pkg/__init__.py", "pkg/mod.py"):
        cached = Path(importlib.util.cache_from_source(str(out / module)))
        header = cached.read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(header[4:8], "little") == CHECKED_HASH_FLAGS
        assert header[8:16] == importlib.util.source_hash((out / module).read_bytes())


def test_an_unchanged_source_compiles_to_the_same_bytes_in_any_build_folder(source, tmp_path):
    first, second = bundle(source, tmp_path / "one"), bundle(source, tmp_path / "two")
    assert files(first) == files(second)


def test_bytecode_loads_read_only_without_compiling_anything(source, tmp_path):
    out = read_only_copy(bundle(source, tmp_path / "out"), tmp_path / "task")
    loaded = load(out, "handler", "pkg.mod")
    assert loaded.compiled == []
    assert loaded.cached == {
        "handler": importlib.util.cache_from_source(str(out / "handler.py")),
        "pkg.mod": importlib.util.cache_from_source(str(out / "pkg" / "mod.py")),
    }
    assert loaded.values["handler"] == "as built"


def test_without_bytecode_every_import_compiles(source, tmp_path):
    """The control: the same load, on the source alone, records every module as compiled."""
    plain = tmp_path / "plain"
    shutil.copytree(source, plain, ignore=shutil.ignore_patterns("__pycache__"))
    loaded = load(read_only_copy(plain, tmp_path / "task"), "handler", "pkg.mod")
    assert loaded.compiled == ["handler.py", "pkg/__init__.py", "pkg/mod.py"]


def test_source_dates_do_not_matter_but_source_content_does(source, tmp_path):
    out = bundle(source, tmp_path / "out")
    for path in out.rglob("*.py"):
        os.utime(path, (CDK_ZIP_MTIME, CDK_ZIP_MTIME))
    assert load(read_only_copy(out, tmp_path / "dated"), "handler").compiled == []
    # Checked-hash: a source edited after the build (the Lambda console's editor) runs as edited.
    (out / "pkg" / "mod.py").write_text('VALUE = "edited"\n')
    loaded = load(read_only_copy(out, tmp_path / "edited"), "handler")
    assert (loaded.compiled, loaded.values["handler"]) == (["pkg/mod.py"], "edited")


def test_timestamp_bytecode_would_be_recompiled_after_the_zip(source, tmp_path):
    """Why hash-based: default (timestamp) bytecode records the build's mtimes, which the zip replaces."""
    plain = tmp_path / "plain"
    shutil.copytree(source, plain, ignore=shutil.ignore_patterns("__pycache__"))
    for path in plain.rglob("*.py"):
        py_compile.compile(
            str(path), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP
        )
        os.utime(path, (CDK_ZIP_MTIME, CDK_ZIP_MTIME))
    loaded = load(read_only_copy(plain, tmp_path / "task"), "handler")
    assert loaded.compiled == ["handler.py", "pkg/__init__.py", "pkg/mod.py"]


def test_the_authorizers_own_modules_load_from_their_bytecode(tmp_path):
    source = tmp_path / "authorizer"
    shutil.copytree(
        PROJECT_ROOT / "lambda_src" / "authorizer",
        source,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "requirements.txt"),
    )
    out = read_only_copy(bundle(source, tmp_path / "out"), tmp_path / "task")
    modules = sorted(f"gate.{path.stem}" for path in (out / "gate").glob("*.py") if path.stem != "__init__")
    loaded = load(out, *modules)
    assert loaded.compiled == []
    assert set(loaded.cached) == set(modules)


def test_another_python_writes_no_bytecode_and_says_so_on_one_line(source, tmp_path, capsys):
    out = bundle(source, tmp_path / "out", runtime=OTHER_RUNTIME)
    assert not list(out.rglob("__pycache__"))
    version = OTHER_RUNTIME.name.removeprefix("python")
    assert capsys.readouterr().err == (
        f"jwt-gate: fn bundled without bytecode: this is Python {HOST_PYTHON}, the runtime python{version}, "
        f"so each cold start compiles the modules it imports (synthesize with Python {version} to precompile "
        "them)\n"
    )


def test_the_hashed_environment_names_the_bytecode(source):
    host = PythonTarget.for_function(HOST_RUNTIME, lambda_.Architecture.ARM_64)
    other = PythonTarget.for_function(OTHER_RUNTIME, lambda_.Architecture.ARM_64)
    assert (bytecode_tag(host), bytecode_tag(other)) == (sys.implementation.cache_tag, None)
    requirements = source / "requirements.txt"
    assert hashed_bundling_environment(host, requirements)["JWTGATE_BYTECODE"] == (
        f"{sys.implementation.cache_tag} checked_hash"
    )
    assert hashed_bundling_environment(other, requirements)["JWTGATE_BYTECODE"] == "none"
    assert BYTECODE_INVALIDATION is py_compile.PycInvalidationMode.CHECKED_HASH


def test_a_source_that_does_not_compile_fails_the_bundle(source, tmp_path):
    (source / "pkg" / "broken.py").write_text("def f(:\n")
    with pytest.raises(BundlingError, match=r"cannot compile 1 file\(s\): pkg/broken.py: SyntaxError"):
        precompile(shutil.copytree(source, tmp_path / "copy"))
