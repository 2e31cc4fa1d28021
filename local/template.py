"""Read the synthesized CloudFormation template into the model the local gateway serves.

One source of truth: routes, the authorizer, Lambda handlers and environments, and gateway responses all come
from the template the CDK app wrote, never from a second list kept by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.intrinsics import ResolveContext, UnsupportedIntrinsicError, resolve
from local.native_jwt import JwtAuthorizerConfig, NativeConfigError, parse_authorizer

SOURCE_PATH_METADATA = "JwtGate:SourcePath"
DEFAULT_AUTHORIZER_TTL = 300
DEFAULT_LAMBDA_TIMEOUT = 3
DEFAULT_INTEGRATION_TIMEOUT = 29.0  # API Gateway's maximum and default integration timeout, in seconds
SAMPLE_SOURCE_PATH = "lambda_src/hello"  # the function that stands in for Lambda ARNs outside the template


class TemplateError(ValueError):
    """The template lacks something the local gateway needs; the message names it."""


@dataclass(frozen=True)
class LambdaFunction:
    logical_id: str
    function_name: str
    function_arn: str
    source_dir: Path
    handler: str
    environment: Mapping[str, str]
    timeout_seconds: float
    memory_mb: int


@dataclass(frozen=True)
class IdentitySource:
    """One identity source of an authorizer: `kind` is "header", "querystring" or "context"."""

    kind: str
    name: str

    @property
    def expression(self) -> str:
        prefix = "context." if self.kind == "context" else f"method.request.{self.kind}."
        return prefix + self.name


@dataclass(frozen=True)
class LambdaAuthorizer:
    """A TOKEN authorizer (one header identity source) or a REQUEST authorizer (any of the supported ones)."""

    logical_id: str
    function_id: str
    type: str
    identity_sources: tuple[IdentitySource, ...]
    validation_expression: str | None
    ttl_seconds: int


@dataclass(frozen=True)
class MockIntegration:
    status_code: int
    headers: Mapping[str, str]
    body: str


@dataclass(frozen=True)
class HeaderMapping:
    """`integration.request.header.NAME`: the authorizer context value `context_key`, else `static`."""

    header: str
    context_key: str | None = None
    static: str = ""


@dataclass(frozen=True)
class HttpProxyIntegration:
    """An HTTP_PROXY integration: `uri` may hold `{name}` placeholders filled from `path_mappings`
    ((integration path parameter, method path parameter) pairs); `http_method` ANY means the request's."""

    uri: str
    http_method: str
    headers: tuple[HeaderMapping, ...] = ()
    path_mappings: tuple[tuple[str, str], ...] = ()
    timeout_seconds: float = DEFAULT_INTEGRATION_TIMEOUT


@dataclass(frozen=True)
class Route:
    """One method. Its integration is a Lambda function (`function_id`; `substitute_for` names the ARN outside
    the template that this local function stands in for), a MOCK, or an HTTP proxy. `authorizer_id` names a
    Lambda authorizer (`authorization_type` CUSTOM) or a native JWT authorizer (JWT, with the method's
    `authorization_scopes`)."""

    http_method: str
    resource_path: str
    authorizer_id: str | None
    function_id: str | None
    mock: MockIntegration | None = None
    http: HttpProxyIntegration | None = None
    substitute_for: str | None = None
    authorization_type: str = "NONE"
    authorization_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class GatewayResponse:
    response_type: str
    status_code: int | None
    headers: Mapping[str, str]
    body_template: str | None


@dataclass(frozen=True)
class ApiModel:
    api_id: str
    stage_name: str
    region: str
    account: str
    routes: tuple[Route, ...]
    authorizers: Mapping[str, LambdaAuthorizer]
    functions: Mapping[str, LambdaFunction]
    gateway_responses: Mapping[str, GatewayResponse] = field(default_factory=dict)
    jwt_authorizers: Mapping[str, JwtAuthorizerConfig] = field(default_factory=dict)

    def arn_prefix(self) -> str:
        """The execute-api ARN of the stage, to which API Gateway appends METHOD/path for `methodArn`."""
        return f"arn:aws:execute-api:{self.region}:{self.account}:{self.api_id}/{self.stage_name}"


def find_stack_template(assembly_dir: Path, stack_name: str | None = None) -> Path:
    """Locate the stack template through the cloud assembly's manifest, as the CDK CLI does."""
    manifest_path = assembly_dir / "manifest.json"
    if not manifest_path.is_file():
        raise TemplateError(f"{manifest_path} not found: run `make synth` first")
    manifest = json.loads(manifest_path.read_text())
    candidates: list[tuple[str, Path]] = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_file = artifact.get("properties", {}).get("templateFile")
        if template_file:
            name = artifact.get("displayName", artifact_id)
            candidates.append((name, assembly_dir / template_file))
    if stack_name is not None:
        candidates = [c for c in candidates if c[0] == stack_name or c[1].stem.startswith(stack_name)]
    with_api = [c for c in candidates if _has_rest_api(c[1])]
    if len(with_api) != 1:
        names = ", ".join(name for name, _ in with_api) or "none"
        raise TemplateError(f"expected exactly one stack with a REST API in {assembly_dir}, found: {names}")
    return with_api[0][1]


def _has_rest_api(template_path: Path) -> bool:
    resources = json.loads(template_path.read_text()).get("Resources", {})
    return any(r.get("Type") == "AWS::ApiGateway::RestApi" for r in resources.values())


def _of_type(resources: Mapping[str, Any], kind: str) -> dict[str, Mapping[str, Any]]:
    return {lid: r for lid, r in resources.items() if r.get("Type") == kind}


def _lambda_target(value: Any, functions: Mapping[str, Any]) -> str | None:
    """Find which function an integration or authorizer URI invokes (an Fn::GetAtt [fn, Arn] inside it)."""
    if isinstance(value, dict):
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att and get_att[0] in functions:
            return str(get_att[0])
        for item in value.values():
            found = _lambda_target(item, functions)
            if found:
                return found
    if isinstance(value, list):
        for item in value:
            found = _lambda_target(item, functions)
            if found:
                return found
    return None


def _resource_paths(resources: Mapping[str, Any], api_logical_id: str) -> dict[str, str]:
    """Map each resource id (and the root's GetAtt form) to its full path by walking ParentId links."""
    api_resources = _of_type(resources, "AWS::ApiGateway::Resource")
    paths: dict[str, str] = {f"{api_logical_id}.RootResourceId": "/"}

    def path_of(logical_id: str, seen: frozenset[str] = frozenset()) -> str:
        if logical_id in paths:
            return paths[logical_id]
        if logical_id in seen or logical_id not in api_resources:
            raise TemplateError(f"cannot resolve the path of API resource {logical_id!r}")
        props = api_resources[logical_id]["Properties"]
        parent = _resource_ref(props["ParentId"])
        parent_path = path_of(parent, seen | {logical_id})
        paths[logical_id] = parent_path.rstrip("/") + "/" + props["PathPart"]
        return paths[logical_id]

    for logical_id in api_resources:
        path_of(logical_id)
    return paths


def _resource_ref(value: Any) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target, attribute = value["Fn::GetAtt"]
        return f"{target}.{attribute}"
    raise TemplateError(f"unsupported API resource reference {value!r}")


def _static_value(expression: str) -> str | None:
    """Gateway and method response parameters are 'quoted' static values; other mappings are not emulated."""
    if len(expression) >= 2 and expression.startswith("'") and expression.endswith("'"):
        return expression[1:-1]
    return None


def _header_params(params: Mapping[str, Any], prefix: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in params.items():
        if key.startswith(prefix) and isinstance(value, str):
            static = _static_value(value)
            if static is not None:
                headers[key[len(prefix) :]] = static
    return headers


def _mock_integration(integration: Mapping[str, Any]) -> MockIntegration:
    responses = integration.get("IntegrationResponses") or [{"StatusCode": "200"}]
    first = responses[0]
    templates = first.get("ResponseTemplates") or {}
    return MockIntegration(
        status_code=int(first.get("StatusCode", "200")),
        headers=_header_params(first.get("ResponseParameters") or {}, "method.response.header."),
        body=str(templates.get("application/json", "")),
    )


_LAMBDA_INVOCATION = re.compile(
    r"arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/"
    r"(?P<arn>arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(?::[A-Za-z0-9_$-]+)?)/invocations"
)


def _outside_function_arn(logical_id: str, uri: Any, ctx: ResolveContext) -> str:
    """The literal Lambda function ARN an AWS_PROXY integration invokes when the function is not in the
    template (a `backends` entry); anything else is not emulated."""
    try:
        resolved = resolve(uri, ctx)
    except UnsupportedIntrinsicError as exc:
        raise TemplateError(f"method {logical_id}: AWS_PROXY integration URI: {exc}") from None
    match = _LAMBDA_INVOCATION.fullmatch(resolved) if isinstance(resolved, str) else None
    if match is None:
        raise TemplateError(f"method {logical_id}: AWS_PROXY integration names no Lambda function ({uri!r})")
    return match["arn"]


def _sample_function(logical_id: str, arn: str, functions: Mapping[str, Any]) -> str:
    """The function that answers locally for a Lambda outside the template: the sample (lambda_src/hello)."""
    for function_id, resource in functions.items():
        source = str(resource.get("Metadata", {}).get(SOURCE_PATH_METADATA, "")).rstrip("/")
        if source == SAMPLE_SOURCE_PATH:
            return function_id
    raise TemplateError(
        f"method {logical_id}: invokes {arn}, which is not in the template, and no function with "
        f"{SOURCE_PATH_METADATA} {SAMPLE_SOURCE_PATH} is there to stand in for it locally"
    )


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
HEADER_TARGET = "integration.request.header."
PATH_TARGET = "integration.request.path."
PATH_SOURCE = "method.request.path."
AUTHORIZER_CONTEXT_SOURCE = "context.authorizer."


def _http_proxy(logical_id: str, integration: Mapping[str, Any], resource_path: str) -> HttpProxyIntegration:
    """An HTTP_PROXY integration with a literal http(s) URI, header mappings from the authorizer context or
    static values, and path parameters from the method's path parameters; anything else is not emulated."""
    uri = integration.get("Uri")
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
        raise TemplateError(
            f"method {logical_id}: HTTP_PROXY integration URI {uri!r} is not a literal http(s) URL"
        )
    if integration.get("ConnectionType", "INTERNET") != "INTERNET":
        raise TemplateError(
            f"method {logical_id}: HTTP_PROXY over {integration['ConnectionType']} is not emulated"
        )
    method_parameters = {
        segment.strip("{}+") for segment in resource_path.split("/") if segment.startswith("{")
    }
    headers: list[HeaderMapping] = []
    path_mappings: list[tuple[str, str]] = []
    for target, raw_source in (integration.get("RequestParameters") or {}).items():
        source = raw_source if isinstance(raw_source, str) else ""
        static = _static_value(source)
        if target.startswith(HEADER_TARGET) and static is not None:
            headers.append(HeaderMapping(target.removeprefix(HEADER_TARGET), static=static))
        elif target.startswith(HEADER_TARGET) and source.startswith(AUTHORIZER_CONTEXT_SOURCE):
            key = source.removeprefix(AUTHORIZER_CONTEXT_SOURCE)
            headers.append(HeaderMapping(target.removeprefix(HEADER_TARGET), context_key=key))
        elif target.startswith(PATH_TARGET) and source in {PATH_SOURCE + name for name in method_parameters}:
            path_mappings.append((target.removeprefix(PATH_TARGET), source.removeprefix(PATH_SOURCE)))
        else:
            raise TemplateError(
                f"method {logical_id}: request parameter {target} <- {raw_source!r} is not emulated"
            )
    mapped = {name for name, _ in path_mappings}
    unmapped = [name for name in _PLACEHOLDER.findall(uri) if name not in mapped]
    if unmapped:
        raise TemplateError(f"method {logical_id}: HTTP_PROXY URI {uri} has no mapping for {{{unmapped[0]}}}")
    timeout_ms = integration.get("TimeoutInMillis")
    return HttpProxyIntegration(
        uri=uri,
        http_method=str(integration.get("IntegrationHttpMethod", "ANY")).upper(),
        headers=tuple(headers),
        path_mappings=tuple(path_mappings),
        timeout_seconds=int(timeout_ms) / 1000 if timeout_ms is not None else DEFAULT_INTEGRATION_TIMEOUT,
    )


def load_api_model(
    template_path: Path,
    project_root: Path,
    api_id: str | None = None,
) -> ApiModel:
    """Build the gateway model from a template; SourcePath metadata is resolved against `project_root`."""
    template = json.loads(template_path.read_text())
    resources: Mapping[str, Any] = template.get("Resources", {})
    apis = _of_type(resources, "AWS::ApiGateway::RestApi")
    if len(apis) != 1:
        raise TemplateError(f"expected exactly one AWS::ApiGateway::RestApi, found {len(apis)}")
    api_logical_id = next(iter(apis))
    ctx = ResolveContext(resources=resources, parameters=template.get("Parameters", {}))
    if api_id is not None:
        ctx = ResolveContext(resources=resources, parameters=ctx.parameters, api_id=api_id)

    raw_functions = _of_type(resources, "AWS::Lambda::Function")
    functions = {lid: _load_function(lid, r, ctx, project_root) for lid, r in raw_functions.items()}

    all_authorizers = _of_type(resources, "AWS::ApiGateway::Authorizer")
    authorizers = {
        logical_id: _load_authorizer(logical_id, resource["Properties"], raw_functions)
        for logical_id, resource in all_authorizers.items()
        if resource["Properties"].get("Type") != "JWT"
    }
    jwt_authorizers = {
        logical_id: _load_jwt_authorizer(logical_id, resource["Properties"], ctx)
        for logical_id, resource in all_authorizers.items()
        if resource["Properties"].get("Type") == "JWT"
    }

    paths = _resource_paths(resources, api_logical_id)
    routes: list[Route] = []
    for logical_id, resource in _of_type(resources, "AWS::ApiGateway::Method").items():
        props = resource["Properties"]
        integration = props.get("Integration") or {}
        kind = integration.get("Type")
        authorization = props.get("AuthorizationType", "NONE")
        if authorization not in ("NONE", "CUSTOM", "JWT"):
            raise TemplateError(f"method {logical_id}: AuthorizationType {authorization} is not emulated")
        authorizer_id = _resource_ref(props["AuthorizerId"]) if authorization != "NONE" else None
        known = authorizers if authorization == "CUSTOM" else jwt_authorizers
        if authorizer_id is not None and authorizer_id not in known:
            raise TemplateError(f"method {logical_id}: unknown {authorization} authorizer {authorizer_id}")
        scopes = _authorization_scopes(logical_id, props) if authorization == "JWT" else ()
        resource_path = paths[_resource_ref(props["ResourceId"])]
        function_id = substitute_for = None
        if kind == "AWS_PROXY":
            function_id = _lambda_target(integration.get("Uri"), raw_functions)
            if function_id is None:
                substitute_for = _outside_function_arn(logical_id, integration.get("Uri"), ctx)
                function_id = _sample_function(logical_id, substitute_for, raw_functions)
        elif kind not in ("MOCK", "HTTP_PROXY"):
            raise TemplateError(f"method {logical_id}: integration type {kind} is not emulated")
        routes.append(
            Route(
                http_method=str(props["HttpMethod"]).upper(),
                resource_path=resource_path,
                authorizer_id=authorizer_id,
                function_id=function_id,
                mock=_mock_integration(integration) if kind == "MOCK" else None,
                http=_http_proxy(logical_id, integration, resource_path) if kind == "HTTP_PROXY" else None,
                substitute_for=substitute_for,
                authorization_type=authorization,
                authorization_scopes=scopes,
            )
        )

    responses: dict[str, GatewayResponse] = {}
    for resource in _of_type(resources, "AWS::ApiGateway::GatewayResponse").values():
        props = resolve(resource["Properties"], ctx)
        templates = props.get("ResponseTemplates") or {}
        status = props.get("StatusCode")
        responses[props["ResponseType"]] = GatewayResponse(
            response_type=props["ResponseType"],
            status_code=int(status) if status is not None else None,
            headers=_header_params(props.get("ResponseParameters") or {}, "gatewayresponse.header."),
            body_template=templates.get("application/json"),
        )

    return ApiModel(
        api_id=ctx.api_id,
        stage_name=_stage_name(resources, ctx),
        region=ctx.region,
        account=ctx.account,
        routes=tuple(sorted(routes, key=lambda r: (r.resource_path, r.http_method))),
        authorizers=authorizers,
        functions=functions,
        gateway_responses=responses,
        jwt_authorizers=jwt_authorizers,
    )


def _load_jwt_authorizer(
    logical_id: str, props: Mapping[str, Any], ctx: ResolveContext
) -> JwtAuthorizerConfig:
    """A native JWT authorizer (local/native_jwt.py enforces it), its properties as the API accepts them."""
    try:
        return parse_authorizer(logical_id, resolve(props, ctx))
    except (NativeConfigError, UnsupportedIntrinsicError) as exc:
        raise TemplateError(str(exc)) from None


def _authorization_scopes(logical_id: str, props: Mapping[str, Any]) -> tuple[str, ...]:
    scopes = props.get("AuthorizationScopes") or []
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
        raise TemplateError(f"method {logical_id}: AuthorizationScopes {scopes!r} is not a list of scopes")
    return tuple(scopes)


HEADER_SOURCE = "method.request.header."
QUERY_SOURCE = "method.request.querystring."
CONTEXT_SOURCES = ("context.httpMethod", "context.resourcePath")


def _identity_source(logical_id: str, expression: str) -> IdentitySource:
    if expression.startswith(HEADER_SOURCE) and len(expression) > len(HEADER_SOURCE):
        return IdentitySource("header", expression[len(HEADER_SOURCE) :])
    if expression.startswith(QUERY_SOURCE) and len(expression) > len(QUERY_SOURCE):
        return IdentitySource("querystring", expression[len(QUERY_SOURCE) :])
    if expression in CONTEXT_SOURCES:
        return IdentitySource("context", expression.removeprefix("context."))
    raise TemplateError(f"authorizer {logical_id}: identity source {expression!r} is not emulated")


def _load_authorizer(
    logical_id: str, props: Mapping[str, Any], functions: Mapping[str, Any]
) -> LambdaAuthorizer:
    """TOKEN: one header and an optional validation expression. REQUEST: comma-separated identity sources
    (headers, query strings, context.httpMethod, context.resourcePath); API Gateway ignores a validation
    expression there."""
    kind = props.get("Type")
    raw_source = props.get("IdentitySource", "")
    if not isinstance(raw_source, str):
        raise TemplateError(f"authorizer {logical_id}: IdentitySource {raw_source!r} is not a string")
    ttl = int(props.get("AuthorizerResultTtlInSeconds", DEFAULT_AUTHORIZER_TTL))
    sources: tuple[IdentitySource, ...]
    if kind == "TOKEN":
        if not raw_source.startswith(HEADER_SOURCE) or "," in raw_source:
            raise TemplateError(f"authorizer {logical_id}: identity source {raw_source!r} is not a header")
        sources = (_identity_source(logical_id, raw_source.strip()),)
        expression = props.get("IdentityValidationExpression")
    elif kind == "REQUEST":
        # CDK joins the sources with ","; a template written by hand may add spaces after the commas.
        entries = [entry.strip() for entry in raw_source.split(",")] if raw_source.strip() else []
        sources = tuple(_identity_source(logical_id, entry) for entry in entries)
        if not sources and ttl > 0:
            raise TemplateError(f"authorizer {logical_id}: REQUEST with caching needs an identity source")
        expression = None
    else:
        raise TemplateError(f"authorizer {logical_id}: only TOKEN and REQUEST authorizers are emulated")
    function_id = _lambda_target(props.get("AuthorizerUri"), functions)
    if function_id is None:
        raise TemplateError(f"authorizer {logical_id}: AuthorizerUri names no Lambda function")
    return LambdaAuthorizer(
        logical_id=logical_id,
        function_id=function_id,
        type=kind,
        identity_sources=sources,
        validation_expression=expression,
        ttl_seconds=ttl,
    )


def _stage_name(resources: Mapping[str, Any], ctx: ResolveContext) -> str:
    stages = _of_type(resources, "AWS::ApiGateway::Stage")
    if stages:
        return str(resolve(next(iter(stages.values()))["Properties"]["StageName"], ctx))
    for deployment in _of_type(resources, "AWS::ApiGateway::Deployment").values():
        name = deployment.get("Properties", {}).get("StageName")
        if name:
            return str(resolve(name, ctx))
    return "prod"


def _load_function(
    logical_id: str, resource: Mapping[str, Any], ctx: ResolveContext, project_root: Path
) -> LambdaFunction:
    source = resource.get("Metadata", {}).get(SOURCE_PATH_METADATA)
    if not source:
        raise TemplateError(f"function {logical_id} has no {SOURCE_PATH_METADATA} metadata")
    source_dir = (project_root / source).resolve()
    if not source_dir.is_dir():
        raise TemplateError(f"function {logical_id}: source folder {source_dir} does not exist")
    props = resource.get("Properties", {})
    raw_env = (props.get("Environment") or {}).get("Variables") or {}
    environment = {str(k): str(v) for k, v in resolve(raw_env, ctx).items()}
    function_name = str(resolve({"Ref": logical_id}, ctx))
    return LambdaFunction(
        logical_id=logical_id,
        function_name=function_name,
        function_arn=str(resolve({"Fn::GetAtt": [logical_id, "Arn"]}, ctx)),
        source_dir=source_dir,
        handler=str(props.get("Handler", "handler.handler")),
        environment=environment,
        timeout_seconds=float(props.get("Timeout", DEFAULT_LAMBDA_TIMEOUT)),
        memory_mb=int(props.get("MemorySize", 128)),
    )
