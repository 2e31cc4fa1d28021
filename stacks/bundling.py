"""Docker-free Lambda bundling: pip fetches wheels for the function's platform, then the source is copied.

Why not Docker: synth, deploy and tests must run on a laptop or CI runner without a container engine. pip can
fetch wheels for another platform (`--platform ... --only-binary=:all:`), so an x86_64 host builds a correct
aarch64 bundle as long as every requirement ships a wheel, which PyJWT and cryptography do.

Why the target goes into `BundlingOptions.environment`: CDK hashes the source folder plus the bundling
options, but not the local bundler object. Putting architecture, Python version, platform tags and the
requirements' digest into the (hashed, otherwise unused) environment makes the asset hash change exactly when
the bundle would.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

# Bump when the bundling procedure itself changes so existing asset hashes are invalidated.
BUNDLER_REVISION: Final = "1"
# Excluded from the source fingerprint and never copied: interpreter caches and files only pip needs.
SOURCE_EXCLUDES: Final = ("__pycache__", "**/__pycache__", "*.pyc", "**/*.pyc")
REQUIREMENTS_FILE: Final = "requirements.txt"
# Installed as dependencies but unused at run time: pycparser only parses C declarations when cffi *builds*
# a module; cryptography ships its cffi bindings precompiled, so the bundle does not need it
# (tests/infra proves JWT signing and verification work with pycparser blocked).
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


def hashed_bundling_environment(target: PythonTarget, requirements: Path) -> dict[str, str]:
    """Everything that shapes the bundle, as the environment CDK includes in the asset hash."""
    return {
        "JWTGATE_BUNDLER_REVISION": BUNDLER_REVISION,
        "JWTGATE_PYTHON_VERSION": target.python_version,
        "JWTGATE_ARCHITECTURE": target.architecture,
        "JWTGATE_PLATFORM_TAGS": ",".join(target.platform_tags),
        "JWTGATE_REQUIREMENTS_SHA256": _sha256(requirements),
    }


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Builds the bundle on the host: pip wheels for the target platform + the function's source files."""

    def __init__(self, source_dir: Path, target: PythonTarget) -> None:
        self._source_dir = source_dir
        self._target = target

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        """Always True or an exception: returning False would make CDK try Docker."""
        out = Path(output_dir)
        requirements = self._source_dir / REQUIREMENTS_FILE
        if requirements.exists():
            self._pip_install(requirements, out)
            self._drop_build_only_packages(out)
        self._copy_source(out)
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


def python_function_code(
    source_dir: Path, runtime: lambda_.Runtime, architecture: lambda_.Architecture
) -> lambda_.Code:
    """Asset code for a Python function: bundled with its requirements.txt if it has one, else the folder."""
    requirements = source_dir / REQUIREMENTS_FILE
    if not requirements.exists():
        return lambda_.Code.from_asset(str(source_dir), exclude=list(SOURCE_EXCLUDES))
    target = PythonTarget.for_function(runtime, architecture)
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=list(SOURCE_EXCLUDES),
        bundling=BundlingOptions(
            # Required by the API; never pulled because the local bundler always succeeds or raises.
            image=runtime.bundling_image,
            command=_NO_DOCKER_COMMAND,
            environment=hashed_bundling_environment(target, requirements),
            local=PipLocalBundling(source_dir, target),
        ),
    )
