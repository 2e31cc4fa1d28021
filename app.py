#!/usr/bin/env python3
"""CDK app entry point: reads the configuration once (stage, preset, keys), then builds that stage's stack.

A configuration mistake ends synth with one line naming the key and a valid example (exit status 1), not a
Python or jsii stack trace, because that line is all a user needs to fix it.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from stacks.config import ConfigError
from stacks.jwt_api_stack import create_stack
from stacks.stages import load_config


def main() -> int:
    app = cdk.App()
    try:
        config = load_config(app.node.try_get_context, context_keys=app.node.get_all_context())
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    create_stack(app, config)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
