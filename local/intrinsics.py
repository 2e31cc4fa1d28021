"""Resolve the CloudFormation intrinsics a synthesized template uses, with fixed fake account values.

The Lambda environment and the gateway's ARNs contain Ref/Fn::Join/Fn::GetAtt/Fn::Sub; locally there is no
account, so they resolve against documented constants. The values are deliberately stable so that method ARNs
and RESOURCE_ARN stay consistent with each other, which is what the authorizer's policies depend on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FAKE_REGION = "us-east-1"
FAKE_ACCOUNT = "123456789012"
FAKE_PARTITION = "aws"
FAKE_API_ID = "local"
FAKE_STACK_NAME = "JwtApiStack"


class UnsupportedIntrinsicError(ValueError):
    """A template construct the local runner cannot resolve; failing loudly beats guessing."""


@dataclass(frozen=True)
class ResolveContext:
    resources: Mapping[str, Mapping[str, Any]]
    parameters: Mapping[str, Mapping[str, Any]]
    region: str = FAKE_REGION
    account: str = FAKE_ACCOUNT
    partition: str = FAKE_PARTITION
    api_id: str = FAKE_API_ID
    stack_name: str = FAKE_STACK_NAME


def _function_name(logical_id: str, ctx: ResolveContext) -> str:
    props = ctx.resources[logical_id].get("Properties", {})
    name = props.get("FunctionName")
    return name if isinstance(name, str) else logical_id


def _ref(name: str, ctx: ResolveContext) -> Any:
    pseudo = {
        "AWS::Region": ctx.region,
        "AWS::AccountId": ctx.account,
        "AWS::Partition": ctx.partition,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": ctx.stack_name,
        "AWS::StackId": (
            f"arn:{ctx.partition}:cloudformation:{ctx.region}:{ctx.account}:stack/{ctx.stack_name}/local"
        ),
        "AWS::NoValue": None,
    }
    if name in pseudo:
        return pseudo[name]
    if name in ctx.parameters:
        return ctx.parameters[name].get("Default", "")
    resource = ctx.resources.get(name)
    if resource is None:
        raise UnsupportedIntrinsicError(f"Ref to unknown resource {name!r}")
    kind = resource.get("Type")
    if kind == "AWS::ApiGateway::RestApi":
        return ctx.api_id
    if kind == "AWS::ApiGateway::Stage":
        return resolve(resource.get("Properties", {}).get("StageName", name), ctx)
    if kind == "AWS::Lambda::Function":
        return _function_name(name, ctx)
    return name


def _get_att(logical_id: str, attribute: str, ctx: ResolveContext) -> Any:
    resource = ctx.resources.get(logical_id)
    if resource is None:
        raise UnsupportedIntrinsicError(f"Fn::GetAtt on unknown resource {logical_id!r}")
    kind = resource.get("Type")
    if kind == "AWS::Lambda::Function" and attribute == "Arn":
        name = _function_name(logical_id, ctx)
        return f"arn:{ctx.partition}:lambda:{ctx.region}:{ctx.account}:function:{name}"
    if kind == "AWS::ApiGateway::RestApi" and attribute == "RootResourceId":
        return f"{logical_id}.root"
    if kind == "AWS::Logs::LogGroup" and attribute == "Arn":
        return f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account}:log-group:{logical_id}:*"
    if attribute == "Arn":
        return f"arn:{ctx.partition}:local:{ctx.region}:{ctx.account}:{logical_id}"
    return f"{logical_id}.{attribute}"


_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def _sub(template: str, variables: Mapping[str, Any], ctx: ResolveContext) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(resolve(variables[name], ctx))
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return str(_get_att(logical_id, attribute, ctx))
        return str(_ref(name, ctx))

    return _SUB_VARIABLE.sub(replace, template).replace("${!", "${")


def resolve(value: Any, ctx: ResolveContext) -> Any:
    """Return `value` with every intrinsic function replaced by its local value."""
    if isinstance(value, list):
        return [resolve(item, ctx) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return _ref(arg, ctx)
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            return _get_att(parts[0], resolve(parts[1], ctx), ctx)
        if key == "Fn::Join":
            separator, items = arg
            return str(separator).join(str(item) for item in resolve(items, ctx))
        if key == "Fn::Sub":
            if isinstance(arg, str):
                return _sub(arg, {}, ctx)
            return _sub(arg[0], arg[1], ctx)
        if key == "Fn::Select":
            index, items = arg
            return resolve(items, ctx)[int(resolve(index, ctx))]
        if key == "Fn::Split":
            separator, text = arg
            return str(resolve(text, ctx)).split(separator)
        if key.startswith("Fn::") or key == "Condition":
            raise UnsupportedIntrinsicError(f"{key} is not supported by the local runner")
    return {key: resolve(item, ctx) for key, item in value.items()}
