"""The deployable stack: a regional RestApi guarded by JwtAuthorizer, the sample endpoint and RFC 6750 errors.

Routes come from config only (scope rule keys + public routes), so the API, the authorizer's scope rules and
the local gateway can never disagree about which routes exist or which are protected. Which authorizer guards
each protected route follows the `gate` plan (stacks/native_authorizer.py): the Lambda, API Gateway's native
JWT authorizer, or per route (`auto`); the Lambda and its monitoring exist only when some route uses it.
"""

from __future__ import annotations

import json
from typing import Any, Final

import aws_cdk as cdk
from aws_cdk import Acknowledgment, CfnOutput, Duration, Stack, Tags, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.backends import SAMPLE_BACKEND
from stacks.config import Route, StackConfig
from stacks.integrations import wire
from stacks.jwt_authorizer import JwtAuthorizer
from stacks.key_sources import watch_keys
from stacks.monitoring import GateMonitoring
from stacks.native_authorizer import NATIVE, GatePlan, NativeJwtAuthorizer, plan_gate
from stacks.python_function import PROJECT_ROOT, PythonFunction, retention
from stacks.sender_constraint import MutualTlsDomain
from stacks.stages import stack_name

HELLO_SOURCE: Final = PROJECT_ROOT / "lambda_src" / "hello"
RETRY_AFTER_SECONDS: Final = 5
# One JSON object per request. Identity fields only; never headers, so tokens cannot reach the logs.
ACCESS_LOG_FIELDS: Final = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "errorType": "$context.error.responseType",
    "principalId": "$context.authorizer.principalId",
    "authorizerStatus": "$context.authorizer.status",
    "authorizerLatency": "$context.authorizer.latency",
    "authorizerError": "$context.authorizer.error",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "xrayTraceId": "$context.xrayTraceId",
}


def create_stack(app: cdk.App, config: StackConfig) -> JwtApiStack:
    """The stage's stack: named after the stage, pinned to an account/region only if the stage is."""
    stage = config.stage
    env = None
    if stage.account is not None or stage.region is not None:
        env = cdk.Environment(account=stage.account, region=stage.region)
    return JwtApiStack(
        app,
        stack_name(config),
        config=config,
        env=env,
        description=f"JWT access-token gate for API Gateway (jwt-gate), stage {stage.name}",
    )


def _quoted(value: str) -> str:
    """A static gateway-response header value (API Gateway wants literals in single quotes)."""
    return f"'{value}'"


class JwtApiStack(Stack):
    """RestApi (regional) + JwtAuthorizer + sample endpoint, configured entirely by StackConfig."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        Tags.of(self).add("jwt-gate:stage", config.stage.name)

        access_logs = logs.LogGroup(self, "AccessLogs", retention=retention(config.log_retention_days))
        self.api = apigw.RestApi(
            self,
            "Api",
            # The stack name carries the stage, so each stage's API (and its metrics' ApiName) is distinct.
            rest_api_name=self.stack_name,
            description="REST API behind a JWT access-token authorizer",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Issue 12: with `mtls` the custom domain is the only way in (else clients bypass mutual TLS).
            disable_execute_api_endpoint=True if config.sender_constraint.mtls is not None else None,
            cloud_watch_role=config.api_gateway_account_log_role,
            default_cors_preflight_options=self._cors_preflight(),
            deploy_options=apigw.StageOptions(
                stage_name=config.stage_name,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                # Data tracing would log full requests, Authorization header included.
                data_trace_enabled=False,
                tracing_enabled=config.tracing,
                throttling_rate_limit=config.throttling_rate_limit,
                throttling_burst_limit=config.throttling_burst_limit,
            ),
        )
        self.gate_plan: GatePlan = plan_gate(config)
        self.jwt: JwtAuthorizer | None = None
        if self.gate_plan.uses_lambda:
            self.jwt = JwtAuthorizer(
                self,
                "JwtAuthorizer",
                rest_api=self.api,
                stage_name=config.stage_name,
                token_rules=config.token_rules,
                key_set=config.key_set,
                results_cache_ttl=Duration.seconds(config.authorizer_cache_ttl_seconds),
                memory_size_mb=config.lambda_memory_mb,
                log_retention=retention(config.log_retention_days),
                tracing=config.tracing,
                key_delivery=config.key_delivery,
                sender_constraint=config.sender_constraint,
            )
        self.native: NativeJwtAuthorizer | None = None
        if self.gate_plan.uses_native:
            self.native = NativeJwtAuthorizer(
                self, "NativeJwtAuthorizer", rest_api=self.api, token_rules=config.token_rules
            )
        self.hello = PythonFunction(
            self,
            "Hello",
            source_dir=HELLO_SOURCE,
            description="Sample endpoint: echoes the caller and the authorizer's claims",
            memory_size_mb=config.lambda_memory_mb,
            timeout=Duration.seconds(5),
            log_retention=retention(config.log_retention_days),
            tracing=config.tracing,
            environment={"CORS_ALLOW_ORIGINS": ",".join(config.cors_origins)},
        ).function
        self._add_routes()
        self._add_gateway_responses()
        self.mtls_domain: MutualTlsDomain | None = None
        if config.sender_constraint.mtls is not None:  # issue 12 (stacks/sender_constraint.py)
            self.mtls_domain = MutualTlsDomain(
                self, "MutualTlsDomain", settings=config.sender_constraint.mtls, rest_api=self.api
            )
            # The RestApi's own "Endpoint" output names the execute-api URL, which is disabled: drop it.
            self.api.node.try_remove_child("Endpoint")
        self._acknowledge_findings()
        self.monitoring = GateMonitoring(
            self,
            "Monitoring",
            settings=config.alarms,
            stage=self.api.deployment_stage,
            authorizer=self.jwt.function if self.jwt is not None else None,
            authorizer_logs=self.jwt.log_group if self.jwt is not None else None,
            backend=self.hello,
            access_logs=access_logs,
        )
        if self.jwt is not None:  # issue 13: the key sources' alarms (stacks/key_sources.py)
            watch_keys(self, self.monitoring, self.jwt, alarms=config.alarms.enabled)

        if self.mtls_domain is None:
            CfnOutput(self, "ApiUrl", value=self.api.url, description="Invoke URL of the API stage")
        else:
            CfnOutput(
                self,
                "ApiUrl",
                value=self.mtls_domain.url,
                description="Invoke URL of the API stage: its mutual-TLS custom domain (execute-api is off)",
            )
            CfnOutput(
                self,
                "CustomDomainTarget",
                value=self.mtls_domain.domain.domain_name_alias_domain_name,
                description="Point the custom domain's DNS record (CNAME or alias) here",
            )
        if self.jwt is not None:
            CfnOutput(
                self,
                "AuthorizerFunctionName",
                value=self.jwt.function.function_name,
                description="Lambda authorizer (logs: one JSON decision line per request)",
            )
        CfnOutput(self, "StageName", value=config.stage.name, description="Deployment stage (-c stage)")
        CfnOutput(
            self,
            "DashboardName",
            value=self.monitoring.dashboard.dashboard_name,
            description="CloudWatch dashboard of this stage",
        )
        # Log groups have generated names; `aws logs tail` needs these (README, "Logs and metrics").
        if self.jwt is not None:
            CfnOutput(
                self,
                "AuthorizerLogGroupName",
                value=self.jwt.log_group.log_group_name,
                description="Authorizer decisions, one JSON line per request (aws logs tail NAME --follow)",
            )
        CfnOutput(
            self,
            "AccessLogGroupName",
            value=access_logs.log_group_name,
            description="API Gateway access log, one JSON line per request",
        )

    def _cors_preflight(self) -> apigw.CorsOptions | None:
        origins = self.config.cors_origins
        if not origins:
            return None
        methods = sorted({route.api_method for route in self.config.routes} - {"ANY"} | {"OPTIONS"})
        if any(route.api_method == "ANY" for route in self.config.routes):
            methods = list(apigw.Cors.ALL_METHODS)
        return apigw.CorsOptions(
            allow_origins=list(origins),
            allow_methods=methods,
            allow_headers=["Authorization", "Content-Type", *self._dpop_header()],
            max_age=Duration.hours(1),
        )

    def _dpop_header(self) -> list[str]:
        """Browsers send a DPoP proof as the `DPoP` request header: preflights must allow it (issue 12)."""
        return ["DPoP"] if self.config.sender_constraint.dpop_on else []

    def _resource(self, route: Route) -> apigw.IResource:
        if route.api_path == "/":
            return self.api.root
        return self.api.root.resource_for_path(route.api_path.lstrip("/"))

    def _add_routes(self) -> None:
        sample = apigw.LambdaIntegration(self.hello, allow_test_invoke=False)
        protected = {route.key for route in self.config.token_rules.protected_routes}
        for route in self.config.routes:
            wiring = wire(
                self,
                route=route,
                backend=self.config.backends.get(route.key, SAMPLE_BACKEND),
                sample=sample,
                protected=route.key in protected,
                api=self.api,
                stage_name=self.config.stage_name,
            )
            if route.key in protected:
                plan = self.gate_plan.engine_of(route)
                if plan.engine == NATIVE and self.native is not None:
                    # Created without authorization, then switched to AuthorizationType JWT by the construct
                    # that owns the escape hatches (stacks/native_authorizer.py).
                    method = self._resource(route).add_method(
                        route.api_method,
                        wiring.integration,
                        authorization_type=apigw.AuthorizationType.NONE,
                        request_parameters=wiring.request_parameters or None,
                    )
                    self.native.protect(method, plan.scopes)
                    continue
                assert self.jwt is not None  # the plan puts every other protected route on the Lambda
                self._resource(route).add_method(
                    route.api_method,
                    wiring.integration,
                    authorizer=self.jwt.authorizer,
                    authorization_type=apigw.AuthorizationType.CUSTOM,
                    request_parameters=wiring.request_parameters or None,
                )
                continue
            method = self._resource(route).add_method(
                route.api_method,
                wiring.integration,
                authorization_type=apigw.AuthorizationType.NONE,
                request_parameters=wiring.request_parameters or None,
            )
            Validations.of(method).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-APIG4",
                    reason=f'"{route.key}" is listed in the publicRoutes config key; every other route '
                    "carries the JWT authorizer (asserted by the infrastructure tests).",
                )
            )

    def _cors_headers(self) -> dict[str, str]:
        origins = self.config.cors_origins
        if not origins:
            return {}
        # Gateway responses are static, so several allowed origins cannot be matched here; echoing the
        # request's Origin is safe because these bodies are fixed error texts and credentials are not allowed.
        allow_origin = _quoted(origins[0]) if len(origins) == 1 else "method.request.header.Origin"
        return {
            "Access-Control-Allow-Origin": allow_origin,
            "Access-Control-Expose-Headers": _quoted("WWW-Authenticate,Retry-After"),
            "Vary": _quoted("Origin"),
        }

    def _add_gateway_responses(self) -> None:
        realm = self.config.realm
        cors = self._cors_headers()
        challenge = self.config.sender_constraint.challenge  # Bearer; with DPoP its challenge too (issue 12)

        def body(error: str, message: str) -> dict[str, str]:
            return {"application/json": json.dumps({"error": error, "message": message})}

        self.api.add_gateway_response(
            "Unauthorized",
            type=apigw.ResponseType.UNAUTHORIZED,
            status_code="401",
            response_headers={
                "WWW-Authenticate": _quoted(challenge(realm, "invalid_token")),
                **cors,
            },
            templates=body(
                "invalid_token", "The access token is missing, malformed, expired or not trusted."
            ),
        )
        self.api.add_gateway_response(
            "AccessDenied",
            type=apigw.ResponseType.ACCESS_DENIED,
            status_code="403",
            response_headers={
                "WWW-Authenticate": _quoted(challenge(realm, "insufficient_scope")),
                **cors,
            },
            templates=body("insufficient_scope", "The access token does not grant this route."),
        )
        # API Gateway answers a method and path that match no route with MISSING_AUTHENTICATION_TOKEN, a 403
        # "Missing Authentication Token" that reads like an auth failure; it is a 404. (Methods here are never
        # IAM-authorized, the other source of this type, and a missing bearer token is UNAUTHORIZED.)
        self.api.add_gateway_response(
            "MissingAuthenticationToken",
            type=apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
            status_code="404",
            response_headers=cors or None,
            templates=body("not_found", "No route matches this method and path."),
        )
        # A Lambda error other than "Unauthorized" (e.g. the IdP's keys cannot be fetched) surfaces as one of
        # these two types depending on how it failed; both mean "retry later", never "your token is bad".
        for construct_id, response_type in (
            ("AuthorizerFailure", apigw.ResponseType.AUTHORIZER_FAILURE),
            ("AuthorizerConfigurationError", apigw.ResponseType.AUTHORIZER_CONFIGURATION_ERROR),
        ):
            self.api.add_gateway_response(
                construct_id,
                type=response_type,
                status_code="503",
                response_headers={"Retry-After": _quoted(str(RETRY_AFTER_SECONDS)), **cors},
                templates=body("temporarily_unavailable", "Authorization is temporarily unavailable."),
            )
        if cors:
            # Throttling (429), unknown routes and other gateway errors must be readable by browsers too.
            for construct_id, response_type in (
                ("Default4xx", apigw.ResponseType.DEFAULT_4_XX),
                ("Default5xx", apigw.ResponseType.DEFAULT_5_XX),
            ):
                self.api.add_gateway_response(construct_id, type=response_type, response_headers=cors)

    def _acknowledge_findings(self) -> None:
        """cdk-nag AwsSolutions findings that are deliberate, each with the reason it is acceptable here."""
        authorized_by = "the JwtAuthorizer Lambda, which validates"
        if self.gate_plan.uses_native:
            authorized_by = "API Gateway's native JWT authorizer, which validates"
            if self.gate_plan.uses_lambda:
                authorized_by = (
                    "API Gateway's native JWT authorizer and, where the gate plan needs it, the "
                    "JwtAuthorizer Lambda; both validate"
                )
        cognito_reason = (
            f"Methods are authorized by {authorized_by} OAuth2/OIDC access tokens from any identity "
            "provider; a Cognito user pool authorizer would tie the API to Cognito."
        )
        Validations.of(self.api).acknowledge(
            Acknowledgment(id="AwsSolutions-COG4", reason=cognito_reason),
            Acknowledgment(
                id="AwsSolutions-APIG2",
                reason="The sample endpoint takes no parameters and validates its own input; request "
                "validation belongs to the real integrations users put behind the authorizer.",
            ),
        )
        Validations.of(self.api.deployment_stage).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="A WAFv2 web ACL is account-specific and billed per ACL; attach one with a "
                "WebACLAssociation where needed. Stage throttling from config bounds request rates "
                "meanwhile.",
            )
        )
        cloud_watch_role = self.api.node.try_find_child("CloudWatchRole")
        if cloud_watch_role is not None:
            Validations.of(cloud_watch_role).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AmazonAPIGatewayPushToCloudWatchLogs]",
                    reason="The AWS-managed policy AWS documents for API Gateway's account-level logging "
                    "role; API Gateway needs it to write the stage's access and execution logs.",
                )
            )
