"""Key delivery in the stack (issue 13): the bundled key snapshot, keys from SSM, the authorizer's VPC.

* `jwksSnapshot`: the committed snapshot file is copied into the authorizer's asset as `jwks-snapshot.json`
  (stacks/bundling.py's extra-files hook; its digest is in the asset hash, so a new snapshot is a new
  asset) and named by JWKS_SNAPSHOT_FILE, with JWKS_SNAPSHOT_MAX_AGE_SECONDS.
* `keySource: ssm`: one String parameter per issuer, `/<stack name>/jwks/<n>` (n = 0 for the primary issuer,
  then `additionalIssuers` in order), created holding a placeholder (`"fetched_at": null`) and never
  changed by CloudFormation afterwards; a refresher function (lambda_src/key_refresher, outside any VPC: it
  needs egress to the identity providers) on an EventBridge schedule every `keyRefreshMinutes` writes the
  issuers' public keys to them. Least privilege: the refresher may `ssm:PutParameter` on exactly those
  parameters, the authorizer `ssm:GetParameter` on exactly those, through the AWS Parameters and Secrets
  Lambda Extension layer (`parametersExtensionLayerArn`, else stacks/key_config.py's table). Until the
  refresher's first run after the first deploy the parameters hold no keys (a snapshot covers that gap).
* `vpc`: the authorizer runs in the given subnets (the VPC is referenced by id, no lookup at synth), with
  the given security groups or a new one allowing all egress; `createSsmEndpoint` adds an SSM interface
  endpoint that admits the authorizer's security groups on 443.

Monitoring (stacks/monitoring.py `watch_log_event`): a metric and an alarm on the authorizer's
`jwks_snapshot_in_use` event lines, and on the refresher's `key_refresh_failed` lines.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from aws_cdk import Acknowledgment, Annotations, ArnFormat, CfnOutput, Duration, Fn, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.config import StackConfig, TokenRules
from stacks.key_config import (
    SNAPSHOT_ASSET_NAME,
    KeyDelivery,
    check_snapshot_file,
    issuers_of,
    vpc_warning,
)
from stacks.python_function import PROJECT_ROOT, PythonFunction

if TYPE_CHECKING:
    from stacks.jwt_authorizer import JwtAuthorizer
    from stacks.monitoring import GateMonitoring

REFRESHER_SOURCE: Final = PROJECT_ROOT / "lambda_src" / "key_refresher"
AUTHORIZER_GATE: Final = PROJECT_ROOT / "lambda_src" / "authorizer" / "gate"
# The refresher reuses the authorizer's bounded fetch and the snapshot/parameter formats (standard library
# only), copied into its asset next to its handler; it never imports cryptography.
REFRESHER_SHARED_FILES: Final = ("__init__.py", "fetch.py", "jwks_document.py")
EXTENSION_PORT: Final = 2773
# The extension caches a parameter this long (SSM_PARAMETER_STORE_TTL, default 300 s): kept short so a key
# the refresher publishes reaches the authorizer's unknown-kid refetch within a minute.
EXTENSION_CACHE_SECONDS: Final = 60
SNAPSHOT_IN_USE_PATTERN: Final = '{ $.event = "jwks_snapshot_in_use" }'
REFRESH_FAILED_PATTERN: Final = '{ $.event = "key_refresh_failed" }'


def placeholder_value(issuer: str) -> str:
    """What a parameter holds until the refresher first writes it (gate/jwks_document.py's format)."""
    return json.dumps({"issuer": issuer, "fetched_at": None, "keys": []}, separators=(",", ":"))


def parameter_names(stack_name: str, rules: TokenRules) -> dict[str, str]:
    """Issuer -> its SSM parameter's name."""
    return {issuer: f"/{stack_name}/jwks/{index}" for index, issuer in enumerate(issuers_of(rules))}


def _parameter_arn(scope: Construct, name: str) -> str:
    return Stack.of(scope).format_arn(
        service="ssm",
        resource="parameter",
        resource_name=name.lstrip("/"),
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def check_key_files(config: StackConfig) -> None:
    """Synth-time checks of committed files (the snapshot): one ConfigError line, like every config error."""
    check_snapshot_file(config, now=time.time())


class AuthorizerKeys:
    """What the authorizer function takes from the key delivery: asset files, environment, network, layer,
    and afterwards (`bind`) its permissions and the refresher."""

    def __init__(self, scope: Construct, delivery: KeyDelivery, rules: TokenRules) -> None:
        self._scope = scope
        self.delivery = delivery
        self.rules = rules
        self.parameters = (
            parameter_names(Stack.of(scope).stack_name, rules) if delivery.key_source == "ssm" else {}
        )
        self.asset_files: dict[str, Path] = {}
        self.environment: dict[str, str] = {}
        snapshot = delivery.snapshot_path
        if snapshot is not None:
            self.asset_files[SNAPSHOT_ASSET_NAME] = snapshot
            self.environment["JWKS_SNAPSHOT_FILE"] = SNAPSHOT_ASSET_NAME
            self.environment["JWKS_SNAPSHOT_MAX_AGE_SECONDS"] = str(delivery.snapshot_max_age_seconds)
        if self.parameters:
            names = list(self.parameters.values())
            self.environment["JWKS_SSM_PARAMETER"] = (
                names[0] if len(names) == 1 else json.dumps(self.parameters, separators=(",", ":"))
            )
            self.environment["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] = str(EXTENSION_PORT)
            self.environment["SSM_PARAMETER_STORE_TTL"] = str(EXTENSION_CACHE_SECONDS)
        self.vpc: ec2.IVpc | None = None
        self.subnets: list[ec2.ISubnet] = []
        self.security_groups: list[ec2.ISecurityGroup] = []
        warning = vpc_warning(delivery, rules)
        if warning is not None:
            print(warning, file=sys.stderr, flush=True)

    def function_options(self) -> dict[str, Any]:
        """Keyword arguments for the authorizer's lambda_.Function (its network placement)."""
        placement = self.delivery.vpc
        if placement is None:
            return {}
        scope = self._scope
        # Referenced by id, never looked up: synth makes no AWS calls. The AZ list is only used to select
        # subnet groups, and these subnets are selected explicitly.
        self.vpc = ec2.Vpc.from_vpc_attributes(
            scope, "Vpc", vpc_id=placement.vpc_id, availability_zones=Fn.get_azs()
        )
        Annotations.of(self.vpc).acknowledge_warning(
            "@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones",
            "Only the explicitly listed subnets are used; no construct selects subnets by zone.",
        )
        self.subnets = [
            ec2.Subnet.from_subnet_id(scope, f"Subnet{index}", subnet_id)
            for index, subnet_id in enumerate(placement.subnet_ids)
        ]
        for subnet in self.subnets:
            Annotations.of(subnet).acknowledge_warning(
                "@aws-cdk/aws-ec2:noSubnetRouteTableId", "Route tables are not managed by this stack."
            )
        self.security_groups = [
            ec2.SecurityGroup.from_security_group_id(scope, f"SecurityGroup{index}", group_id, mutable=False)
            for index, group_id in enumerate(placement.security_group_ids)
        ]
        options: dict[str, Any] = {"vpc": self.vpc, "vpc_subnets": ec2.SubnetSelection(subnets=self.subnets)}
        if self.security_groups:
            options["security_groups"] = self.security_groups
        return options

    def bind(
        self,
        function: PythonFunction,
        *,
        key_set_timeout_seconds: float,
        memory_size_mb: int,
        log_retention: logs.RetentionDays,
        tracing: bool,
    ) -> KeyRefresher | None:
        """Layer, permissions, VPC endpoint and the refresher, once the authorizer function exists."""
        scope = self._scope
        if self.delivery.vpc is not None:
            # The project's roles carry no managed policies, but a function in a VPC needs Lambda's network
            # interface permissions before it can be created; this is AWS's own policy for exactly that.
            function.role.add_managed_policy(
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
            )
            Validations.of(function.role).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaVPCAccessExecutionRole]",
                    reason="The AWS-managed policy CDK attaches to a function placed in a VPC (the vpc "
                    "config key): Lambda needs it to create and delete the function's network interfaces.",
                )
            )
        if not self.parameters:
            return None
        layer_arn = self.delivery.extension_layer_arn
        assert layer_arn is not None  # stacks/key_config.py resolves it for keySource ssm
        function.function.add_layers(
            lambda_.LayerVersion.from_layer_version_arn(scope, "ParametersExtension", layer_arn)
        )
        function.role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[_parameter_arn(scope, name) for name in self.parameters.values()],
            )
        )
        placement = self.delivery.vpc
        if placement is not None and placement.create_ssm_endpoint:
            assert self.vpc is not None
            endpoint = ec2.InterfaceVpcEndpoint(
                scope,
                "SsmEndpoint",
                vpc=self.vpc,
                service=ec2.InterfaceVpcEndpointAwsService.SSM,
                subnets=ec2.SubnetSelection(subnets=self.subnets),
                private_dns_enabled=True,
                open=False,
            )
            endpoint.connections.allow_default_port_from(function.function, "The authorizer reads SSM")
        return KeyRefresher(
            scope,
            "KeyRefresher",
            rules=self.rules,
            parameters=self.parameters,
            minutes=self.delivery.refresh_minutes,
            timeout_seconds=key_set_timeout_seconds,
            memory_size_mb=memory_size_mb,
            log_retention=log_retention,
            tracing=tracing,
        )


class KeyRefresher(Construct):
    """The SSM parameters and the scheduled function that fills them from the identity providers."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rules: TokenRules,
        parameters: Mapping[str, str],
        minutes: int,
        timeout_seconds: float,
        memory_size_mb: int,
        log_retention: logs.RetentionDays,
        tracing: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.parameters = [
            ssm.StringParameter(
                self,
                f"Jwks{index}",
                parameter_name=name,
                string_value=placeholder_value(issuer),
                description=f"Public signing keys of {issuer}, written by the jwt-gate key refresher",
                tier=ssm.ParameterTier.STANDARD,
            )
            for index, (issuer, name) in enumerate(parameters.items())
        ]
        jwks_uris = {rules.issuer: rules.jwks_uri}
        jwks_uris.update({extra.issuer: extra.jwks_uri for extra in rules.additional_issuers})
        targets_json = json.dumps(
            [
                {"issuer": issuer, "jwksUri": jwks_uris[issuer], "parameter": name}
                for issuer, name in parameters.items()
            ],
            separators=(",", ":"),
        )
        self.function = PythonFunction(
            self,
            "Function",
            source_dir=REFRESHER_SOURCE,
            description="jwt-gate key refresher: identity providers' public keys to SSM",
            memory_size_mb=min(memory_size_mb, 256),
            timeout=Duration.seconds(30),
            log_retention=log_retention,
            tracing=tracing,
            environment={"REFRESH_TARGETS": targets_json, "JWKS_TIMEOUT_SECONDS": f"{timeout_seconds:g}"},
            extra_files={f"gate/{name}": AUTHORIZER_GATE / name for name in REFRESHER_SHARED_FILES},
        )
        self.function.role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:PutParameter"],
                resources=[_parameter_arn(self, name) for name in parameters.values()],
            )
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            description=f"Refresh the issuers' public keys every {minutes} minutes",
            schedule=events.Schedule.rate(Duration.minutes(minutes)),
            targets=[targets.LambdaFunction(self.function.function, retry_attempts=0)],
        )
        self.log_group = self.function.log_group


def watch_keys(stack: Stack, monitoring: GateMonitoring, jwt: JwtAuthorizer, *, alarms: bool) -> None:
    """The key sources' metrics and alarms, and the refresher's name as a stack output."""
    if jwt.keys.delivery.snapshot is not None:
        monitoring.watch_log_event(
            "SnapshotKeysInUse",
            log_group=jwt.log_group,
            pattern=SNAPSHOT_IN_USE_PATTERN,
            description="An authorizer container serves the deploy-time key snapshot: it never fetched the "
            "identity provider's keys (outage or no route to it).",
            alarm=alarms,
        )
    refresher = jwt.key_refresher
    if refresher is not None:
        monitoring.watch_log_event(
            "KeyRefreshFailures",
            log_group=refresher.log_group,
            pattern=REFRESH_FAILED_PATTERN,
            description="The key refresher could not fetch an issuer's keys or write its SSM parameter.",
            alarm=alarms,
        )
        CfnOutput(
            stack,
            "KeyRefresherFunctionName",
            value=refresher.function.function.function_name,
            description="Writes the issuers' public keys to SSM on a schedule (invoke it once after the "
            "first deploy)",
        )
