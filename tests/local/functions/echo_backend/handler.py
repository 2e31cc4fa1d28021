"""A proxy-integration backend that answers with the event and environment it received.

Module state (an invocation counter and the process id) shows whether the container stayed warm. The
request header X-Echo-Mode selects a failure instead: "raise" (function error) or "malformed" (bad payload).
"""

import json
import os

INVOCATIONS = 0


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    mode = (event.get("headers") or {}).get("X-Echo-Mode")
    if mode == "raise":
        raise RuntimeError("backend failed")
    if mode == "malformed":
        return {"statusCode": "two hundred"}
    print("echo backend invoked")  # must reach the log sink, never the response
    body = {
        "event": event,
        "environ": dict(os.environ),
        "invocation": INVOCATIONS,
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "remaining_ms_positive": context.get_remaining_time_in_millis() > 0,
        "request_id": context.aws_request_id,
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Echo": True},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps(body),
    }
