"""The README's "Use the construct in your own stack" snippet, run as written.

A reference architecture is copied from its README; if the snippet drifts from the construct's real signature,
this test fails instead of the reader's first `cdk synth`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from gate.routes import RouteTable
from gate.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Use the construct in your own stack"


def _readme_snippet() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme[readme.index(SECTION) :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the section has no python block"
    return match.group(1)


def _backend(stack: cdk.Stack, name: str) -> lambda_.Function:
    return lambda_.Function(
        stack,
        name,
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {'statusCode': 200}\n"),
    )


def test_readme_construct_snippet_synthesizes_protected_methods() -> None:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "ReadmeExample")
    namespace: dict[str, Any] = {
        "self": stack,
        "list_orders": _backend(stack, "ListOrders"),
        "create_order": _backend(stack, "CreateOrder"),
    }
    exec(compile(_readme_snippet(), "README.md", "exec"), namespace)  # noqa: S102 - the README's own example

    template = Template.from_stack(stack)
    template.resource_count_is("AWS::ApiGateway::Authorizer", 1)
    template.has_resource_properties("AWS::ApiGateway::Authorizer", {"Type": "REQUEST"})
    methods = template.find_resources("AWS::ApiGateway::Method")
    assert sorted(m["Properties"]["HttpMethod"] for m in methods.values()) == ["GET", "POST"]
    assert {m["Properties"]["AuthorizationType"] for m in methods.values()} == {"CUSTOM"}
    # A working authorizer: its environment passes the cold start's own validation, and every method that
    # carries it reaches a rule (otherwise every call would be denied as route_not_configured).
    (function,) = (f for f in template.find_resources("AWS::Lambda::Function").values() if "ISSUER" in str(f))
    environment = {
        **function["Properties"]["Environment"]["Variables"],
        "RESOURCE_ARN": "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod",
    }
    settings = Settings.from_env(environment)
    assert settings.scope_rules is not None
    routes = RouteTable(settings.scope_rules)
    for verb in ("GET", "POST"):
        assert routes.for_resource("/orders", verb) is not None
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handler.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "ISSUER": "https://idp.example.com/",
                        "AUDIENCE": "api://orders",
                        "SCOPE_RULES": '{"GET /orders":"orders:read","POST /orders":"orders:write"}',
                    }
                )
            },
        },
    )
