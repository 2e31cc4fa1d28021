"""Zipped size of the authorizer asset as Lambda receives it.

Two sources, named in the report: the asset folder already synthesized into cdk.out (exactly what `cdk deploy`
uploads), or, without one, a fresh build by the stack's own bundler (stacks/bundling.py, for the stack's
runtime and architecture), so the figure can never drift from what deploys. The build runs in a child process
(``python -m bench.bundle OUT``) because importing aws_cdk starts a jsii kernel the timed rounds should not
share the machine with. Either folder is zipped as the CDK CLI does: deflate at zlib's default level, every
file.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BundleResult:
    source: str
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    top_entries: list[tuple[str, int]]  # (top-level name, compressed bytes), largest first


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
    if mode == "cdk-out" and asset is None:
        raise FileNotFoundError("no authorizer asset in cdk.out: run `make synth` first")
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
    return BundleResult(source, zipped, unzipped, files, top)


def _build_with_stack_bundler(authorizer_root: Path, out: Path) -> None:
    from stacks.bundling import PipLocalBundling, PythonTarget
    from stacks.python_function import ARCHITECTURE, RUNTIME

    out.mkdir(parents=True)
    bundler = PipLocalBundling(authorizer_root, PythonTarget.for_function(RUNTIME, ARCHITECTURE))
    bundler.try_bundle(str(out), image=RUNTIME.bundling_image)
    print(f"bundled for {RUNTIME.name} {ARCHITECTURE.name}", file=sys.stderr)


if __name__ == "__main__":
    _build_with_stack_bundler(Path(sys.argv[1]), Path(sys.argv[2]))
