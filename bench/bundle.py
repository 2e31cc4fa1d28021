"""Zipped size of the authorizer asset as Lambda receives it.

Two sources, named in the report: the asset folder already synthesized into cdk.out (exactly what `cdk deploy`
uploads) if it was built from the authorizer as it is now, or else a fresh build by the stack's own bundler
(stacks/bundling.py, for the stack's runtime and architecture), so the figure can never drift from what
deploys. A bundle without bytecode (synthesized by another Python than the runtime's) is also zipped with
this Python's bytecode compiled in, standing in for what a synth on the runtime's Python (the deploy workflow)
adds; the size target is judged on that larger figure. The build runs in a child process
(``python -m bench.bundle OUT``) because importing aws_cdk starts a jsii kernel the timed rounds should not
share the machine with. Either folder is zipped as the CDK CLI does: deflate at zlib's default level, every
file.
"""

from __future__ import annotations

import compileall
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.cold import BYTECODE_INVALIDATION

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BundleResult:
    source: str
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    top_entries: list[tuple[str, int]]  # (top-level name, compressed bytes), largest first
    bytecode_files: int = 0  # precompiled .pyc files among ``files``
    with_bytecode_bytes: int | None = None  # zipped, this Python's bytecode added (when the bundle had none)

    @property
    def deployed_bytes(self) -> int:
        """The zipped size as the deploy workflow, synthesizing on the runtime's Python, ships it."""
        return self.with_bytecode_bytes or self.zipped_bytes


def find_cdk_out_asset(repo: Path) -> Path | None:
    """The synthesized authorizer asset: a cdk.out/asset.* folder holding handler.py and the gate package."""
    cdk_out = repo / "cdk.out"
    if not cdk_out.is_dir():
        return None
    candidates = [
        folder
        for folder in cdk_out.glob("asset.*")
        if folder.is_dir() and (folder / "handler.py").is_file() and (folder / "gate").is_dir()
    ]
    return max(candidates, key=lambda folder: folder.stat().st_mtime) if candidates else None


def is_current(asset: Path, authorizer_root: Path) -> bool:
    """Whether a synthesized asset holds the authorizer's source files as they are now and exactly the
    distributions its requirements.txt pins (a cdk.out from before a change would report an old bundle)."""
    for path in authorizer_root.rglob("*"):
        relative = path.relative_to(authorizer_root)
        if not path.is_file() or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        if relative.name != "requirements.txt" and (
            not (asset / relative).is_file() or (asset / relative).read_bytes() != path.read_bytes()
        ):
            return False
    pins = set()
    for line in (authorizer_root / "requirements.txt").read_text().splitlines():
        name, _, version = line.split("#", 1)[0].strip().partition("==")
        if name:
            pins.add(f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}")
    return {info.name.removesuffix(".dist-info").lower() for info in asset.glob("*.dist-info")} == pins


def zip_folder(folder: Path, archive: Path) -> tuple[int, int, int, list[tuple[str, int]]]:
    per_entry: Counter[str] = Counter()
    unzipped = files = 0
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            name = path.relative_to(folder).as_posix()
            zipped.write(path, name)
            info = zipped.getinfo(name)
            per_entry[name.split("/", 1)[0]] += info.compress_size
            unzipped += info.file_size
            files += 1
    return archive.stat().st_size, unzipped, files, per_entry.most_common(6)


def measure_bundle(repo: Path, authorizer_root: Path, mode: str) -> BundleResult | None:
    """``mode``: auto (cdk.out if present, else build), cdk-out, build or skip."""
    if mode == "skip":
        return None
    asset = find_cdk_out_asset(repo) if mode in {"auto", "cdk-out"} else None
    if mode == "cdk-out" and (asset is None or not is_current(asset, authorizer_root)):
        raise FileNotFoundError("no current authorizer asset in cdk.out: run `make synth` first")
    if asset is not None and not is_current(asset, authorizer_root):
        print(f"  {asset.relative_to(repo)} predates the authorizer's source: building", file=sys.stderr)
        asset = None
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as scratch:
        workdir = Path(scratch)
        if asset is None:
            folder = workdir / "asset"
            built = subprocess.run(
                [sys.executable, "-m", "bench.bundle", str(authorizer_root), str(folder)],
                cwd=repo,
                capture_output=True,
                text=True,
                check=False,
            )
            if built.returncode != 0:
                raise RuntimeError(f"the stack's bundler failed: {built.stderr.strip()[-2000:]}")
            source = "built by the stack's bundler (stacks/bundling.py) for its runtime and architecture"
        else:
            folder = asset
            source = f"{asset.relative_to(repo).as_posix()} (the synthesized asset `cdk deploy` uploads)"
        zipped, unzipped, files, top = zip_folder(folder, workdir / "asset.zip")
        bytecode = len(list(folder.rglob("*.pyc")))
        with_bytecode = None
        if not bytecode:
            compiled = Path(shutil.copytree(folder, workdir / "compiled"))
            compileall.compile_dir(compiled, quiet=2, invalidation_mode=BYTECODE_INVALIDATION)
            with_bytecode = zip_folder(compiled, workdir / "compiled.zip")[0]
    return BundleResult(source, zipped, unzipped, files, top, bytecode, with_bytecode)


def _build_with_stack_bundler(authorizer_root: Path, out: Path) -> None:
    from stacks.bundling import PipLocalBundling, PythonTarget
    from stacks.python_function import ARCHITECTURE, RUNTIME

    out.mkdir(parents=True)
    bundler = PipLocalBundling(authorizer_root, PythonTarget.for_function(RUNTIME, ARCHITECTURE))
    bundler.try_bundle(str(out), image=RUNTIME.bundling_image)
    print(f"bundled for {RUNTIME.name} {ARCHITECTURE.name}", file=sys.stderr)


if __name__ == "__main__":
    _build_with_stack_bundler(Path(sys.argv[1]), Path(sys.argv[2]))
