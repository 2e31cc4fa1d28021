"""CDK integrations for the backends of stacks/backends.py (why headers and explicit permissions: there)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.backends import CONTEXT_HEADERS, Backend
from stacks.rules import Route


@dataclass(frozen=True)
class MethodWiring:
    """What `Resource.add_method` needs for one route: the integration and the method's request parameters."""

    integration: apigw.Integration
    request_parameters: dict[str, bool]


def wire(
    scope: Construct,
    *,
    route: Route,
    backend: Backend,
    sample: apigw.Integration,
    protected: bool,
    api: apigw.RestApi,
    stage_name: str,
) -> MethodWiring:
    """The integration of `route` with `backend` (the sample integration is shared by all its routes)."""
    if backend.kind == "http":
        return _http(route, backend, protected=protected)
    if backend.kind == "lambda":
        return MethodWiring(_lambda(scope, route, backend, api=api, stage_name=stage_name), {})
    return MethodWiring(sample, {})


def _http(route: Route, backend: Backend, *, protected: bool) -> MethodWiring:
    greedy = route.path.endswith("/*")
    url = f"{backend.target}/{{proxy}}" if greedy else backend.target
    parameters = {
        f"integration.request.header.{header}": f"context.authorizer.{key}" if protected else "''"
        for header, key in CONTEXT_HEADERS
    }
    method_parameters: dict[str, bool] = {}
    if greedy:
        parameters["integration.request.path.proxy"] = "method.request.path.proxy"
        method_parameters["method.request.path.proxy"] = True
    integration = apigw.HttpIntegration(
        url,
        http_method="ANY",
        proxy=True,
        options=apigw.IntegrationOptions(request_parameters=parameters),
    )
    return MethodWiring(integration, method_parameters)


def _lambda(
    scope: Construct, route: Route, backend: Backend, *, api: apigw.RestApi, stage_name: str
) -> apigw.Integration:
    stack = Stack.of(scope)
    uri = (
        f"arn:{stack.partition}:apigateway:{backend.lambda_region}:lambda:path/2015-03-31/functions/"
        f"{backend.target}/invocations"
    )
    path = route.api_path.replace("{proxy+}", "*")
    lambda_.CfnPermission(
        scope,
        f"Invoke{route.api_method}{_id_part(route.path)}",
        action="lambda:InvokeFunction",
        function_name=backend.target,
        principal="apigateway.amazonaws.com",
        source_arn=api.arn_for_execute_api(
            route.api_method if route.method != "*" else "*", path, stage_name
        ),
    )
    return apigw.Integration(type=apigw.IntegrationType.AWS_PROXY, integration_http_method="POST", uri=uri)


def _id_part(path: str) -> str:
    """A construct-id fragment for a route path ("/" -> "Root", "/a/*" -> "AProxy")."""
    words = [segment for segment in path.split("/") if segment]
    if not words:
        return "Root"
    return "".join("Proxy" if w == "*" else "".join(c for c in w.title() if c.isalnum()) for w in words)
