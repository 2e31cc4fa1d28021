#!/usr/bin/env python3
"""CDK app entry point: reads the configuration once, then builds the stack from it.

A configuration mistake ends synth with one line naming the key and a valid example (exit status 1), not a
Python or jsii stack trace, because that line is all a user needs to fix it.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from stacks.config import ConfigError, StackConfig
from stacks.jwt_api_stack import JwtApiStack

STACK_NAME = "JwtGate"


def main() -> int:
    app = cdk.App()
    try:
        config = StackConfig.from_context(app.node.try_get_context)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    JwtApiStack(
        app, STACK_NAME, config=config, description="JWT access-token gate for API Gateway (jwt-gate)"
    )
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
