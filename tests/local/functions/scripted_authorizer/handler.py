"""A Lambda authorizer whose verdict each test writes into the token, to drive every gateway branch.

The token after "Bearer " (a TOKEN event's authorizationToken, a REQUEST event's Authorization header) is
base64url JSON: {"return": <authorizer response>}, {"raise": "<message>"} or {"sleep": seconds}. Every
invocation appends its event to the file named by INVOCATION_LOG, so tests count invocations at the function
itself rather than trusting the emulator's own counters.
"""

import base64
import json
import os
import time


def handler(event, context):
    with open(os.environ["INVOCATION_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(event) + "\n")
    if event["type"] == "TOKEN":
        authorization = event["authorizationToken"]
    else:
        authorization = next(v for k, v in event["headers"].items() if k.lower() == "authorization")
    token = authorization.split(" ", 1)[1].strip()
    script = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    if "sleep" in script:
        time.sleep(script["sleep"])
    if "raise" in script:
        raise Exception(script["raise"])
    return script["return"]
