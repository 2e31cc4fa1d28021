"""Runs inside each emulated Lambda container: import the handler once, then serve invocations forever.

Started as `python _lambda_bootstrap.py <module.function>` with cwd = the function's source folder. The parent
talks JSON lines over a private pipe: this process's original stdout is kept for the protocol and fd 1
points at stderr, so the function's own prints and logs can never corrupt a response. Importing at
start and looping keeps module-level state (the authorizer's key cache) across
invocations, as a warm Lambda container does.
This file must not import anything from the `local` package: it runs with the function's folder on sys.path.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes of the Lambda Python context object that handlers commonly read."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.invoked_function_arn = os.environ.get("LOCAL_FUNCTION_ARN", "")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.aws_request_id = request_id
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_exception(exc),
    }


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", encoding="utf-8", buffering=1, closefd=False)
    sys.path.insert(0, os.getcwd())
    module_name, _, function_name = sys.argv[1].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as Lambda's init error
        protocol.write(json.dumps({"init_error": _error(exc)}) + "\n")
        return
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(request["request_id"], request["deadline_ms"])
        try:
            reply: dict[str, Any] = {"result": handler(request["event"], context)}
        except Exception as exc:  # noqa: BLE001 - a function error is a normal Lambda outcome
            reply = {"error": _error(exc)}
        try:
            encoded = json.dumps(reply)
        except (TypeError, ValueError) as exc:
            encoded = json.dumps({"error": _error(exc)})
        sys.stdout.flush()
        sys.stderr.flush()
        protocol.write(encoded + "\n")


if __name__ == "__main__":
    main()
