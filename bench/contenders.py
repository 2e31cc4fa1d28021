"""The things being measured, behind one interface: run a batch of tokens, say how long and what came out.

Python contenders run in this process with inputs built before the clock starts; Node.js contenders run in a
long-lived worker (bench/node/worker.js) that times its own loop, so neither pays for the other's plumbing.
Each batch also reports its outcomes: a contender that rejects a valid token is not doing equal work, and the
run stops.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

NODE_DIR = Path(__file__).resolve().parent / "node"


@dataclass(frozen=True)
class BatchResult:
    elapsed_ns: int
    calls: int
    allowed: int
    rejected: int
    failures: Mapping[str, int] = field(default_factory=dict)

    @property
    def per_call_us(self) -> float:
        return self.elapsed_ns / self.calls / 1000


class Contender(Protocol):
    name: str
    label: str

    def run(self, tokens: list[str]) -> BatchResult: ...

    def close(self) -> None: ...


class LambdaStdout:
    """stdout as Lambda's Python runtime sets it up: the runtime interface client wraps sys.stdout so that
    every write is flushed at once, so each decision line costs a write(2), whatever PYTHONUNBUFFERED says."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        self._stream.flush()
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def quiet_output() -> Iterator[None]:
    """Send fds 1 and 2 to /dev/null while a batch runs: the handler's one-log-line-per-decision is real work
    and stays in the measurement (written as on Lambda, see LambdaStdout), but a terminal full of log lines
    is not."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    stdout = sys.stdout
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        sys.stdout = LambdaStdout(stdout)
        yield
    finally:
        sys.stdout = stdout
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _is_allow(result: object) -> bool:
    if result is True:
        return True
    if not isinstance(result, dict):
        return False
    statements = result.get("policyDocument", {}).get("Statement", [])
    return any(statement.get("Effect") == "Allow" for statement in statements)


def _tally(started: int, finished: int, outcomes: list[object]) -> BatchResult:
    allowed = sum(1 for outcome in outcomes if _is_allow(outcome))
    rejected = sum(1 for o in outcomes if isinstance(o, Exception) and str(o) == "Unauthorized")
    failures: Counter[str] = Counter()
    for outcome in outcomes:
        if isinstance(outcome, Exception) and str(outcome) != "Unauthorized":
            failures[f"{type(outcome).__name__}: {str(outcome)[:80]}"] += 1
        elif not isinstance(outcome, Exception) and not _is_allow(outcome):
            failures["deny policy"] += 1
    return BatchResult(finished - started, len(outcomes), allowed, rejected, dict(failures))


def as_delivered(event: Any) -> Any:
    """``event`` as Lambda's runtime hands it to a handler: deserialized from the JSON the service sent.

    Each event then holds strings of its own, as on Lambda. Events built from dict literals share their names
    and values (the same objects, with their hashes cached) from one event to the next, which flatters any
    handler that compares or hashes them: the gate measured about 4% faster on them.
    """
    return json.loads(json.dumps(event))


class InProcessContender:
    """A Python decision function; ``event`` (if given) wraps each token in the API Gateway event the
    contender takes, delivered as Lambda delivers it (:func:`as_delivered`), before timing.

    Each batch starts after a full garbage collection, outside the clock: all contenders share this process,
    so a batch would otherwise pay for collecting what earlier batches left behind (PyJWT's garbage raised the
    gate's ratio by about 0.02), where on Lambda a handler only ever collects its own.
    """

    def __init__(
        self,
        name: str,
        label: str,
        decide: Callable[[Any], object],
        *,
        event: Callable[[str], object] | None,
    ) -> None:
        self.name = name
        self.label = label
        self._decide = decide
        self._event = event

    def run(self, tokens: list[str]) -> BatchResult:
        wrap = self._event
        inputs: list[Any] = list(tokens) if wrap is None else [as_delivered(wrap(token)) for token in tokens]
        outcomes: list[object] = []
        append = outcomes.append
        decide = self._decide
        with quiet_output():
            gc.collect()  # untimed: see the class docstring
            started = time.perf_counter_ns()
            for item in inputs:
                try:
                    append(decide(item))
                except Exception as error:  # noqa: BLE001 - every outcome is tallied, none may stop the bench
                    append(error)
            finished = time.perf_counter_ns()
        return _tally(started, finished, outcomes)

    def close(self) -> None:
        """Nothing to release: the decision function lives in this process."""


class NodeContender:
    """A Node.js authorizer in a worker process, driven one batch per JSON line over stdin/stdout."""

    def __init__(self, name: str, label: str, implementation: str, env: Mapping[str, str]) -> None:
        self.name = name
        self.label = label
        self._process = subprocess.Popen(
            ["node", str(NODE_DIR / "worker.js"), implementation],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        ready = self._read()
        if ready.get("ready") is not True:
            raise RuntimeError(f"{label} worker did not start: {ready}")

    def _streams(self) -> tuple[IO[str], IO[str]]:
        if self._process.stdin is None or self._process.stdout is None:
            raise RuntimeError("worker pipes are missing")
        return self._process.stdin, self._process.stdout

    def _read(self) -> dict[str, Any]:
        line = self._streams()[1].readline()
        if not line:
            raise RuntimeError(f"{self.label} worker exited with {self._process.wait()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def run(self, tokens: list[str]) -> BatchResult:
        stdin = self._streams()[0]
        stdin.write(json.dumps({"tokens": tokens}) + "\n")
        stdin.flush()
        reply = self._read()
        return BatchResult(
            int(reply["ns"]),
            int(reply["calls"]),
            int(reply["allowed"]),
            int(reply["rejected"]),
            {str(key): int(value) for key, value in reply["failures"].items()},
        )

    def close(self) -> None:
        stdin = self._streams()[0]
        stdin.close()
        self._process.wait(timeout=10)
