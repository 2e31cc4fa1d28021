"""Emulated Lambda execution environments: one long-lived Python subprocess per concurrent invocation.

Why subprocesses: each function gets exactly its template environment, its own source folder on sys.path and
its own module state, and a warm container keeps that state between invocations (the authorizer's key cache
must behave as it will in Lambda). A crash or timeout kills only that container; the next call cold-starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from local.template import LambdaFunction

BOOTSTRAP = Path(__file__).with_name("_lambda_bootstrap.py")
INIT_TIMEOUT_SECONDS = 10.0
MAX_CONTAINERS_PER_FUNCTION = 4

LogSink = Callable[[str, str], None]


def stderr_log_sink(function_name: str, line: str) -> None:
    sys.stderr.write(f"[{function_name}] {line}\n")


@dataclass(frozen=True)
class InvocationResult:
    """What Lambda reports back: a payload, or a function error (errorType/errorMessage) with no payload."""

    payload: Any = None
    error_type: str | None = None
    error_message: str | None = None

    @property
    def failed(self) -> bool:
        return self.error_type is not None


def lambda_environment(function: LambdaFunction, overrides: Mapping[str, str]) -> dict[str, str]:
    """The template's variables plus the ones Lambda reserves; nothing leaks in from the host environment."""
    env = {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
        "LAMBDA_TASK_ROOT": str(function.source_dir),
        "LOCAL_FUNCTION_ARN": function.function_arn,
        "TZ": ":UTC",
        "LANG": "C.UTF-8",  # Lambda sets en_US.UTF-8, which many hosts lack (Python would then coerce)
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(function.environment)
    env.update(overrides)
    return env


class Container:
    """One warm execution environment; it runs one invocation at a time, like a Lambda sandbox."""

    def __init__(self, function: LambdaFunction, env: Mapping[str, str], log_sink: LogSink) -> None:
        self.function = function
        self._process = subprocess.Popen(  # noqa: S603 - our own bootstrap with the host interpreter
            # -P keeps the bootstrap's folder off sys.path: local/token.py would shadow the stdlib
            [sys.executable, "-u", "-P", str(BOOTSTRAP), function.handler],
            cwd=function.source_dir,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            start_new_session=True,  # Ctrl-C reaches `python -m local`, which then stops its containers
        )
        self._log_thread = threading.Thread(
            target=self._pump_logs, args=(self._process.stderr, log_sink), daemon=True
        )
        self._log_thread.start()
        self.init_error: InvocationResult | None = None
        ready = self._read_line(INIT_TIMEOUT_SECONDS)
        if ready is None or "init_error" in ready:
            details = (ready or {}).get("init_error", {})
            self.init_error = InvocationResult(
                error_type=details.get("errorType", "Runtime.InitError"),
                error_message=details.get("errorMessage", "the function did not initialize"),
            )
            self.kill()

    def _pump_logs(self, stream: IO[str] | None, log_sink: LogSink) -> None:
        if stream is None:
            return
        for line in stream:
            log_sink(self.function.function_name, line.rstrip("\n"))

    def _read_line(self, timeout: float) -> dict[str, Any] | None:
        """Read one protocol line, or None on timeout/EOF; a thread keeps the timeout portable."""
        box: list[str] = []
        stdout = self._process.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: box.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            return None
        decoded = json.loads(box[0])
        return decoded if isinstance(decoded, dict) else None

    @property
    def alive(self) -> bool:
        return self.init_error is None and self._process.poll() is None

    def invoke(self, event: Any) -> InvocationResult:
        timeout = self.function.timeout_seconds
        request = {
            "event": event,
            "request_id": str(uuid.uuid4()),
            "deadline_ms": int((time.time() + timeout) * 1000),
        }
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            return InvocationResult(error_type="Runtime.ExitError", error_message="the runtime exited")
        reply = self._read_line(timeout)
        if reply is None:
            self.kill()
            return InvocationResult(
                error_type="Sandbox.Timedout", error_message=f"Task timed out after {timeout:.2f} seconds"
            )
        if "error" in reply:
            error = reply["error"]
            return InvocationResult(error_type=error["errorType"], error_message=error["errorMessage"])
        return InvocationResult(payload=reply.get("result"))

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()


class FunctionPool:
    """Reuses idle warm containers and starts new ones under concurrency, as Lambda scales out."""

    def __init__(
        self,
        function: LambdaFunction,
        env_overrides: Mapping[str, str] | None = None,
        log_sink: LogSink = stderr_log_sink,
    ) -> None:
        self.function = function
        self._env = lambda_environment(function, env_overrides or {})
        self._log_sink = log_sink
        self._idle: list[Container] = []
        self._all: list[Container] = []
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(MAX_CONTAINERS_PER_FUNCTION)
        self.invocations = 0
        self.cold_starts = 0

    @property
    def environment(self) -> Mapping[str, str]:
        return self._env

    def invoke(self, event: Any) -> InvocationResult:
        with self._slots:
            with self._lock:
                self.invocations += 1
                container = self._idle.pop() if self._idle else None
            if container is None or not container.alive:
                container = Container(self.function, self._env, self._log_sink)
                with self._lock:
                    self.cold_starts += 1
                    self._all.append(container)
                if container.init_error is not None:
                    return container.init_error
            result = container.invoke(event)
            if container.alive:
                with self._lock:
                    self._idle.append(container)
            return result

    def close(self) -> None:
        with self._lock:
            containers, self._all, self._idle = self._all, [], []
        for container in containers:
            container.kill()
