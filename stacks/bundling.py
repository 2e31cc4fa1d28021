"""Docker-free Lambda bundling: pip fetches wheels for the function's platform, the source is copied, and the
bundle's modules are compiled to bytecode when the build machine runs the runtime's Python.

Why not Docker: synth, deploy and tests must run on a laptop or CI runner without a container engine. pip can
fetch wheels for another platform (`--platform ... --only-binary=:all:`), so an x86_64 host builds a correct
aarch64 bundle as long as every requirement ships a wheel, which cryptography and cffi do.

Why precompile: Lambda's code directory is read-only, so a bundle without `.pyc` files makes every cold start
compile every module it imports and keep nothing (`make bench` measures that share). Bytecode is portable
across platforms but not across Python versions, so it is written only when this interpreter is CPython of the
runtime's major.minor version; otherwise synth says so on stderr and the bundle ships source only. The deploy
workflow sets up the runtime's Python for that reason.

Why the target goes into `BundlingOptions.environment`: CDK hashes the source folder plus the bundling
options, but not the local bundler object. Putting architecture, Python version, platform tags, the
requirements' digest and whether bytecode is precompiled into the (hashed, otherwise unused) environment makes
the asset hash change exactly when the bundle would.
"""

from __future__ import annotations

import hashlib
import importlib.util
import py_compile
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

# Bump when the bundling procedure itself changes so existing asset hashes are invalidated.
BUNDLER_REVISION: Final = "2"
# Excluded from the source fingerprint and never copied: interpreter caches (the host's, for its own Python)
# and files only pip needs. The bundle's own bytecode is compiled into the output after the copy.
SOURCE_EXCLUDES: Final = ("__pycache__", "**/__pycache__", "*.pyc", "**/*.pyc")
REQUIREMENTS_FILE: Final = "requirements.txt"
# Hash-based, because the CDK CLI zips every asset file with the same fixed mtime (1980-01-01, `zipDirectory`
# in aws-cdk's CLI): a timestamp-based .pyc records the build's mtime and would never match its source on
# Lambda. Checked rather than unchecked: the import reads and hashes the source (measured: about 0.3 ms for
# the ~30 modules the authorizer imports from its bundle) and compiles it instead when it no longer matches
# (code edited after the build, e.g. in the Lambda console), where an unchecked .pyc would silently keep
# running the old code.
BYTECODE_INVALIDATION: Final = py_compile.PycInvalidationMode.CHECKED_HASH
# Installed as dependencies but unused at run time: pycparser only parses C declarations when cffi *builds*
# a module; cryptography ships its cffi bindings precompiled, so the bundle does not need it
# (tests/infra proves cryptography signs and verifies with pycparser blocked).
BUILD_ONLY_PACKAGES: Final = ("pycparser",)
# Console-script launchers pip writes to <target>/bin: they point at the build host's Python and Lambda never
# runs them.
SCRIPTS_DIR: Final = "bin"
# The command a Docker-based bundler would run. It is never executed: the local bundler always succeeds or
# raises. If CDK ever tried Docker anyway, this makes the failure explicit instead of silently building.
_NO_DOCKER_COMMAND: Final = [
    "sh",
    "-c",
    "echo 'jwt-gate bundles without Docker; see stacks/bundling.py' >&2; exit 1",
]

# manylinux tags per Lambda architecture, newest first; Lambda's Python 3.12+ runtimes run on Amazon Linux
# 2023 (glibc 2.34), so wheels up to manylinux_2_34 are compatible.
_PLATFORM_TAGS: Final = {
    "arm64": ("manylinux_2_34_aarch64", "manylinux_2_28_aarch64", "manylinux2014_aarch64"),
    "x86_64": ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64"),
}


class BundlingError(RuntimeError):
    """Local bundling failed; raised instead of returning False so CDK never falls back to Docker."""


@dataclass(frozen=True)
class PythonTarget:
    """The interpreter and platform the bundle is built for."""

    python_version: str  # "3.14"
    architecture: str  # Lambda's name: "arm64" or "x86_64"
    platform_tags: tuple[str, ...]

    @classmethod
    def for_function(cls, runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> PythonTarget:
        name = runtime.name
        if not name.startswith("python3."):
            raise BundlingError(f"{name} is not a Python runtime")
        arch = architecture.name
        if arch not in _PLATFORM_TAGS:
            raise BundlingError(f"no wheel platform tags known for architecture {arch}")
        return cls(
            python_version=name.removeprefix("python"), architecture=arch, platform_tags=_PLATFORM_TAGS[arch]
        )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "none"


def running_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def bytecode_tag(target: PythonTarget) -> str | None:
    """The cache tag (``cpython-314``) of the bytecode this interpreter can precompile for ``target``, or None
    when it cannot: only CPython of exactly the target's major.minor writes bytecode the runtime will load."""
    if sys.implementation.name != "cpython" or running_python() != target.python_version:
        return None
    return sys.implementation.cache_tag


def hashed_bundling_environment(target: PythonTarget, requirements: Path) -> dict[str, str]:
    """Everything that shapes the bundle, as the environment CDK includes in the asset hash."""
    tag = bytecode_tag(target)
    return {
        "JWTGATE_BUNDLER_REVISION": BUNDLER_REVISION,
        "JWTGATE_PYTHON_VERSION": target.python_version,
        "JWTGATE_ARCHITECTURE": target.architecture,
        "JWTGATE_PLATFORM_TAGS": ",".join(target.platform_tags),
        "JWTGATE_REQUIREMENTS_SHA256": _sha256(requirements),
        "JWTGATE_BYTECODE": f"{tag} {BYTECODE_INVALIDATION.name.lower()}" if tag else "none",
    }


def precompile(folder: Path) -> int:
    """Compile every .py under ``folder`` to ``__pycache__/<name>.<cache tag>.pyc`` with this interpreter
    (the layout and optimization level a plain ``python`` looks for), hash-based; returns the file count.
    The file name recorded in the bytecode is relative to the bundle root (the import replaces it with the
    real path), so an unchanged source compiles to the same bytes wherever and whenever it is built."""
    sources = sorted(folder.rglob("*.py"))
    failures = []
    for source in sources:
        try:
            py_compile.compile(
                str(source),
                cfile=importlib.util.cache_from_source(str(source), optimization=""),
                dfile=source.relative_to(folder).as_posix(),
                doraise=True,
                optimize=0,
                invalidation_mode=BYTECODE_INVALIDATION,
            )
        except py_compile.PyCompileError as error:
            failures.append(f"{source.relative_to(folder)}: {error.exc_type_name}")
    if failures:
        raise BundlingError(f"cannot compile {len(failures)} file(s): " + "; ".join(failures[:5]))
    return len(sources)


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Builds the bundle on the host: pip wheels for the target platform + the function's source files."""

    def __init__(
        self, source_dir: Path, target: PythonTarget, extra_files: Mapping[str, Path] | None = None
    ) -> None:
        self._source_dir = source_dir
        self._target = target
        self._extra_files = dict(extra_files or {})  # issue 13, see "Extra files" below

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        """Always True or an exception: returning False would make CDK try Docker."""
        out = Path(output_dir)
        requirements = self._source_dir / REQUIREMENTS_FILE
        if requirements.exists():
            self._pip_install(requirements, out)
            self._drop_build_only_packages(out)
        self._copy_source(out)
        if bytecode_tag(self._target):
            precompile(out)
        else:
            print(
                f"jwt-gate: {self._source_dir.name} bundled without bytecode: this is Python "
                f"{running_python()}, the runtime python{self._target.python_version}, so each cold start "
                f"compiles the modules it imports (synthesize with Python {self._target.python_version} "
                "to precompile them)",
                file=sys.stderr,
                flush=True,
            )
        return True

    def _pip_install(self, requirements: Path, out: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--target",
            str(out),
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            self._target.python_version,
            *(arg for tag in self._target.platform_tags for arg in ("--platform", tag)),
            "--no-compile",
            "--requirement",
            str(requirements),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 (fixed argv)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise BundlingError(
                f"pip could not install {requirements} for {self._target}: " + " | ".join(detail)
            )

    @staticmethod
    def _drop_build_only_packages(out: Path) -> None:
        shutil.rmtree(out / SCRIPTS_DIR, ignore_errors=True)
        for package in BUILD_ONLY_PACKAGES:
            shutil.rmtree(out / package, ignore_errors=True)
            for dist_info in out.glob(f"{package}-*.dist-info"):
                shutil.rmtree(dist_info)

    def _copy_source(self, out: Path) -> None:
        for path in sorted(self._source_dir.rglob("*")):
            relative = path.relative_to(self._source_dir)
            if "__pycache__" in relative.parts or path.suffix == ".pyc" or relative.name == REQUIREMENTS_FILE:
                continue
            destination = out / relative
            if path.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            if destination.exists():
                raise BundlingError(f"{relative} in {self._source_dir} collides with an installed dependency")
            shutil.copy2(path, destination)
        copy_extra_files(out, self._extra_files)


def python_function_code(
    source_dir: Path,
    runtime: lambda_.Runtime,
    architecture: lambda_.Architecture,
    *,
    extra_files: Mapping[str, Path] | None = None,
) -> lambda_.Code:
    """Asset code for a Python function: bundled with its requirements.txt if it has one, else the folder as
    it is (no bundling step, so no bytecode either: such a function is a module or two, compiled in well under
    a millisecond)."""
    requirements = source_dir / REQUIREMENTS_FILE
    if not requirements.exists() and not extra_files:
        return lambda_.Code.from_asset(str(source_dir), exclude=list(SOURCE_EXCLUDES))
    target = PythonTarget.for_function(runtime, architecture)
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=list(SOURCE_EXCLUDES),
        bundling=BundlingOptions(
            # Required by the API; never pulled because the local bundler always succeeds or raises.
            image=runtime.bundling_image,
            command=_NO_DOCKER_COMMAND,
            environment={
                **hashed_bundling_environment(target, requirements),
                **extra_files_environment(extra_files),
            },
            local=PipLocalBundling(source_dir, target, extra_files),
        ),
    )


# ---- Extra files (issue 13): files from outside a function's folder, copied into its asset ----
# The authorizer's key snapshot (a committed JSON file, stacks/key_sources.py) and the key refresher's copy of
# gate/fetch.py and gate/jwks_document.py. Each file's bundle path and content digest join the hashed
# bundling environment, so the asset hash changes exactly when one of them does.


def extra_files_environment(extra_files: Mapping[str, Path] | None) -> dict[str, str]:
    if not extra_files:
        return {}
    digests = ",".join(f"{name}={_sha256(path)}" for name, path in sorted(extra_files.items()))
    return {"JWTGATE_EXTRA_FILES_SHA256": digests}


def copy_extra_files(out: Path, extra_files: Mapping[str, Path]) -> None:
    """Copy each host file to its bundle path; a missing file or a collision is a BundlingError."""
    for name, path in sorted(extra_files.items()):
        destination = out / name
        if destination.exists():
            raise BundlingError(f"{name} (from {path}) collides with a file already in the bundle")
        if not path.is_file():
            raise BundlingError(f"{path} does not exist (it is to be bundled as {name})")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
