#!/usr/bin/env python3
"""CDK app entry point: reads the configuration once (stage, preset, keys), then builds that stage's stack.

A configuration mistake ends synth with one line naming the key and a valid example (exit status 1), not a
Python or jsii stack trace, because that line is all a user needs to fix it. That includes a setting that
`gate=native` cannot enforce (stacks/native_authorizer.py).

With `gate=native` or `gate=auto`, synth prints the gate plan, one line per route to stderr (the CDK CLI shows
an app's stderr), e.g. `gate: GET /hello -> native (scope items:read)`. Every synth writes the same plan as a
table to `gate-plan.md` in the output directory (cdk.out/), so a stale plan never outlives its template.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

import aws_cdk as cdk

from stacks.config import ConfigError
from stacks.jwt_api_stack import create_stack
from stacks.key_sources import check_key_files
from stacks.stages import load_config

GATE_PLAN_FILE: Final = "gate-plan.md"


def main() -> int:
    app = cdk.App()
    try:
        config = load_config(app.node.try_get_context, context_keys=app.node.get_all_context())
        check_key_files(config)  # issue 13: the committed key snapshot (make snapshot-keys skips this)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    stack = create_stack(app, config)
    plan = stack.gate_plan
    if config.gate != "lambda":
        for line in plan.lines():
            print(line, file=sys.stderr)
    app.synth()
    Path(app.outdir, GATE_PLAN_FILE).write_text(plan.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
