"""Cold starts: each sample is a fresh process that starts, fetches the key set from the loopback server and
decides one token, timed from spawn to exit. Peak RSS is the child's own VmHWM, which it reports itself: the
kernel's rusage for a child spawned with vfork (posix_spawn, subprocess) starts from the parent's high-water
mark.

The handler runs from a read-only copy of what Lambda unpacks (:func:`lambda_copy`) with no bytecode writes,
twice: without bytecode, so every import compiles its module, as Lambda does with a source-only bundle; and
with the bytecode the stack's bundler precompiles. The difference is the compile share.
"""

from __future__ import annotations

import compileall
import os
import py_compile
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path

from bench.contenders import NODE_DIR

CHILD = Path(__file__).resolve().parent / "cold_child.py"
# As stacks/bundling.py writes it (tests/bench checks they agree); not imported from there, because importing
# aws_cdk starts a jsii kernel the timed rounds should not share the machine with.
BYTECODE_INVALIDATION = py_compile.PycInvalidationMode.CHECKED_HASH
NO_BYTECODE_WRITES = {"PYTHONDONTWRITEBYTECODE": "1"}
_BASE_ENV_KEYS = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
_RSS_PREFIX = "peak_rss_kib="


@dataclass(frozen=True)
class ColdCase:
    key: str
    label: str
    argv: tuple[str, ...]
    expect: str


@dataclass(frozen=True)
class ColdSample:
    wall_ms: float
    peak_rss_mib: float


@dataclass(frozen=True)
class ChildRun:
    sample: ColdSample
    decision: str
    stderr: str


class ColdStartError(RuntimeError):
    """A cold child did not decide as expected; its timing would not be a cold start of that contender."""


def lambda_copy(authorizer_root: Path, destination: Path, *, precompiled: bool) -> Path:
    """The authorizer as Lambda unpacks it, built from this venv: its source plus the installed files of each
    distribution its requirements.txt pins, without interpreter caches; with ``precompiled``, bytecode
    compiled into it first. Then made read-only, as Lambda's code directory is."""
    caches = ("__pycache__", "*.pyc")
    shutil.copytree(authorizer_root, destination, ignore=shutil.ignore_patterns(*caches, "requirements.txt"))
    for line in (authorizer_root / "requirements.txt").read_text().splitlines():
        name, _, version = line.split("#", 1)[0].strip().partition("==")
        if not name:
            continue
        found = distribution(name)
        if found.version != version:
            raise ColdStartError(f"{name} {found.version} is installed, the bundle pins {version}")
        for file in found.files or ():
            if file.parts[0] == ".." or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue  # console scripts outside site-packages; caches
            (destination / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(str(found.locate_file(file))), destination / file)
    if precompiled and not compileall.compile_dir(
        destination, quiet=1, invalidation_mode=BYTECODE_INVALIDATION
    ):
        raise ColdStartError(f"could not compile {destination}")
    for path in [destination, *destination.rglob("*")]:
        path.chmod(path.stat().st_mode & 0o555)
    return destination


def python_case(key: str, label: str, mode: str, flags: tuple[str, ...] = ()) -> ColdCase:
    expect = "bare" if mode == "bare" else "allowed"
    return ColdCase(key, label, (sys.executable, *flags, str(CHILD), mode), expect)


def node_case(key: str, label: str, implementation: str) -> ColdCase:
    node = shutil.which("node")
    if node is None:
        raise ColdStartError("node is not on PATH")
    expect = "bare" if implementation == "bare" else "allowed"
    return ColdCase(key, label, (node, str(NODE_DIR / "cold.js"), implementation), expect)


def spawn(case: ColdCase, env: Mapping[str, str], argv: tuple[str, ...] | None = None) -> ChildRun:
    """posix_spawn + waitpid: the least parent-side work between the two clock readings."""
    full_env = {key: os.environ[key] for key in _BASE_ENV_KEYS if key in os.environ} | dict(env)
    args = argv or case.argv
    read_fd, write_fd = os.pipe()
    with tempfile.TemporaryFile() as stderr_file:
        actions = [
            (os.POSIX_SPAWN_DUP2, write_fd, 1),
            (os.POSIX_SPAWN_DUP2, stderr_file.fileno(), 2),
            (os.POSIX_SPAWN_CLOSE, read_fd),
        ]
        started = time.perf_counter_ns()
        pid = os.posix_spawn(args[0], list(args), full_env, file_actions=actions)
        os.close(write_fd)
        _, status = os.waitpid(pid, 0)
        finished = time.perf_counter_ns()
        with os.fdopen(read_fd, "rb") as stdout:
            output = stdout.read().decode(errors="replace")
        stderr_file.seek(0)
        stderr = stderr_file.read().decode(errors="replace")
    lines = [line for line in output.splitlines() if line.strip()]
    decision = lines[-1] if lines else ""
    peak_kib = next(
        (int(line.split("=", 1)[1]) for line in reversed(lines) if line.startswith(_RSS_PREFIX)), 0
    )
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        decision = f"exit {code}: {stderr.strip()[-300:]}"
    return ChildRun(ColdSample((finished - started) / 1e6, peak_kib / 1024), decision, stderr)


def run_cold(
    cases: list[ColdCase], rounds: int, env_for: Mapping[str, Mapping[str, str]]
) -> dict[str, list[ColdSample]]:
    """One unrecorded start per case (page cache, bytecode caches), then interleaved rotated rounds."""
    for case in cases:
        _checked(case, env_for[case.key])
    samples: dict[str, list[ColdSample]] = {case.key: [] for case in cases}
    for round_index in range(rounds):
        shift = round_index % len(cases)
        for case in cases[shift:] + cases[:shift]:
            samples[case.key].append(_checked(case, env_for[case.key]))
        print(f"  cold round {round_index + 1}/{rounds}", file=sys.stderr, flush=True)
    return samples


def _checked(case: ColdCase, env: Mapping[str, str]) -> ColdSample:
    run = spawn(case, env)
    if run.decision != case.expect:
        raise ColdStartError(f"{case.label}: expected {case.expect!r}, got {run.decision!r}")
    return run.sample


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")


@dataclass(frozen=True)
class ImportTime:
    self_ms: float
    cumulative_ms: float
    importer: str | None  # the module whose import statement loaded this one; None at top level


def import_times(case: ColdCase, env: Mapping[str, str]) -> dict[str, ImportTime]:
    """Every module a cold start imports, with ``-X importtime``'s self and cumulative milliseconds."""
    argv = (case.argv[0], "-X", "importtime", *case.argv[1:])
    return parse_importtime(spawn(case, env, argv).stderr)


def parse_importtime(stderr: str) -> dict[str, ImportTime]:
    """importtime prints a module after everything it imported, one indent level deeper than its importer, so
    reading backwards, a line's importer is the nearest earlier-read line one level up."""
    found: dict[str, ImportTime] = {}
    stack: list[tuple[int, str]] = []
    for line in reversed(stderr.splitlines()):
        match = _IMPORT_LINE.match(line)
        if not match:
            continue
        depth, name = len(match.group(3)), match.group(4)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        importer = stack[-1][1] if stack else None
        timing = ImportTime(int(match.group(1)) / 1000, int(match.group(2)) / 1000, importer)
        # A submodule can appear twice (`from pkg.sub import x` logs pkg.sub again once pkg is loaded):
        # the entry with the larger cumulative time is the import statement that paid for it.
        if name not in found or timing.cumulative_ms > found[name].cumulative_ms:
            found[name] = timing
        stack.append((depth, name))
    return found
