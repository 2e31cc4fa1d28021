"""Cold starts: each sample is a fresh process that starts, fetches the key set from the loopback server and decides
one token, timed from spawn to exit, with the peak RSS the kernel recorded for exactly that child (``wait4``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.contenders import NODE_DIR

CHILD = Path(__file__).resolve().parent / "cold_child.py"
_BASE_ENV_KEYS = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")


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
    """posix_spawn + wait4 rather than subprocess: the rusage must be this child's own, not all children's."""
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
        _, status, usage = os.wait4(pid, 0)
        finished = time.perf_counter_ns()
        with os.fdopen(read_fd, "rb") as stdout:
            output = stdout.read().decode(errors="replace")
        stderr_file.seek(0)
        stderr = stderr_file.read().decode(errors="replace")
    lines = [line for line in output.splitlines() if line.strip()]
    decision = lines[-1] if lines else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        decision = f"exit {code}: {stderr.strip()[-300:]}"
    sample = ColdSample((finished - started) / 1e6, usage.ru_maxrss / 1024)
    return ChildRun(sample, decision, stderr)


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


def top_level_imports(case: ColdCase, env: Mapping[str, str]) -> dict[str, float]:
    """Milliseconds per top-level import (``-X importtime`` cumulative), to say where a cold start's time goes."""
    argv = (case.argv[0], "-X", "importtime", *case.argv[1:])
    run = spawn(case, env, argv)
    totals: dict[str, float] = {}
    for line in run.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match and len(match.group(3)) == 1:
            name = match.group(4)
            totals[name] = totals.get(name, 0.0) + int(match.group(2)) / 1000
    return totals
